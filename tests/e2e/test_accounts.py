"""A shopper signs up, signs out, signs back in, fills in the profile and moves the account to a new email
address, in a real browser (CSRF on)."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

from tests.e2e.conftest import assert_fits_the_phone, screenshot

PASSWORD = "lantern orchard velvet"


def test_register_sign_out_sign_in_and_profile(page, live_app):
    email = f"e2e-{uuid.uuid4().hex[:8]}@example.com"
    page.goto("/account/login")
    expect(page.locator("h1")).to_have_text("登录")
    screenshot(page, "accounts-01-login-zh")
    page.get_by_role("button", name="English").click()
    page.get_by_role("link", name="Create an account").click()
    expect(page.locator("h1")).to_have_text("Create an account")

    page.get_by_label("Name").fill("Li Na")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_label("Repeat password").fill("short")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#password-err")).to_contain_text("Use at least 12 characters.")
    expect(page.get_by_label("Email")).to_have_value(email)  # what was typed is kept
    screenshot(page, "accounts-02-register-errors")

    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.locator(".flash")).to_contain_text(f"we have emailed a link to {email}")
    _finish_registration(page, live_app, email)
    expect(page.locator(".flash-success")).to_contain_text("Your account is ready")
    expect(page.locator("h1")).to_have_text("Hello, Li Na")

    page.get_by_role("button", name="Sign out").click()
    expect(page.locator(".flash")).to_contain_text("You have signed out.")
    page.get_by_role("link", name="Sign in").click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("wrong password here")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".form-errors")).to_contain_text("Email or password is incorrect.")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/$"))  # back where the shopper clicked "Sign in"
    page.locator(".account-menu").get_by_role("link", name="Li Na").click()
    expect(page.locator("h1")).to_have_text("Hello, Li Na")

    page.get_by_label("Mobile number").fill("138 0013 8000")
    page.get_by_label("Preferred city").select_option(label="Shanghai")
    page.get_by_role("button", name="Save details").click()
    expect(page.locator(".flash-success")).to_contain_text("Your details have been saved.")
    expect(page.get_by_label("Mobile number")).to_have_value("13800138000")
    screenshot(page, "accounts-03-profile")


def test_change_email_confirmed_from_the_new_inbox(page, live_app):
    old_email, new_email = (f"e2e-{uuid.uuid4().hex[:8]}@example.com" for _ in range(2))
    page.goto("/account/register")
    page.get_by_role("button", name="English").click()
    page.get_by_label("Email").fill(old_email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    _finish_registration(page, live_app, old_email)

    page.get_by_label("New email address").fill(new_email)
    page.locator("#em-password").fill("not the password at all")
    page.get_by_role("button", name="Send confirmation link").click()
    expect(page.locator("#em-password-err")).to_contain_text("That password is not correct.")
    expect(page.get_by_label("New email address")).to_have_value(new_email)
    page.locator("#em-password").fill(PASSWORD)
    page.get_by_role("button", name="Send confirmation link").click()
    expect(page.locator(".flash")).to_contain_text(f"We have emailed a link to {new_email}")
    expect(page.locator(".profile-header .meta")).to_contain_text(old_email)  # nothing changes yet
    screenshot(page, "accounts-06-email-change-asked")

    page.goto(_emailed_link(live_app, new_email))
    expect(page.locator("h1")).to_have_text("Confirm your new email address")
    expect(page.locator("main")).to_contain_text(f"will use {new_email} instead of {old_email}")
    screenshot(page, "accounts-07-email-change-confirm")
    page.get_by_role("button", name=f"Use {new_email}").click()
    expect(page.locator(".flash-success")).to_contain_text(f"Your email address is now {new_email}")
    expect(page.locator(".profile-header .meta")).to_contain_text(new_email)


def _emailed_link(app, to_address: str, kind: str = "accounts/email_change", path: str = "/account/email/") -> str:
    """The confirmation link as the shopper would find it in the inbox (the outbox holds the mail)."""
    from sqlalchemy import select

    import models
    from storefront.extensions import db

    with app.app_context():
        body = db.session.scalar(select(models.OutboxMessage.body_text).where(
            models.OutboxMessage.to_address == to_address, models.OutboxMessage.kind == kind))
    assert body is not None
    return path + body.split(path)[1].split()[0]


def _finish_registration(page, app, email: str) -> None:
    """Open the sign-up link from the inbox and press the button: the account is made and signed in."""
    page.goto(_emailed_link(app, email, "accounts/confirm_registration", "/account/register/"))
    page.get_by_role("button", name="Create my account").click()
    expect(page).to_have_url(re.compile(r"/account/profile$"))


def test_demo_shopper_signs_in_on_a_phone(phone_page):
    phone_page.goto("/account/login")
    phone_page.get_by_label("邮箱").fill("shopper@flagship.demo")
    phone_page.get_by_label("密码").fill("demo-shopper-2026")
    screenshot(phone_page, "accounts-04-phone-login")
    phone_page.get_by_role("button", name="登录").click()
    expect(phone_page.locator("h1")).to_contain_text("王小明")
    assert_fits_the_phone(phone_page)
    screenshot(phone_page, "accounts-05-phone-profile")
