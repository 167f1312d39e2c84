"""A shopper reserves a Koleos with the demo payment provider and sees it confirmed; staff hand it over."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.conftest import a_koleos_in_shanghai, screenshot


def sign_in(page, email: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto("/account/login")
    if page.get_by_role("button", name="English").get_attribute("aria-current") != "true":
        page.get_by_role("button", name="English").click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".account-menu")).to_contain_text("Sign out")


def test_shopper_reserves_a_koleos_and_staff_hand_it_over(page):
    sign_in(page, "shopper@flagship.demo", "demo-shopper-2026")

    page.goto("/models/koleos")
    page.get_by_role("link", name="Reserve with a deposit").click()
    expect(page.locator("h1")).to_contain_text("Reserve a Renault Koleos with a deposit")
    showroom = a_koleos_in_shanghai(page)  # the page reloads for each choice (data-autosubmit)
    screenshot(page, "reservations-01-choose")
    showroom.get_by_role("link", name="Any unit here").click()
    expect(page.locator("h1")).to_have_text("Review your reservation")
    expect(page.locator(".terms")).to_contain_text(
        "This is a refundable deposit (订金): it is an advance payment, not a binding deposit.")
    expect(page.locator(".hold-note")).to_contain_text("on hold for you for 30 minutes")
    screenshot(page, "reservations-02-review")
    page.get_by_label("I have read the deposit terms above and agree to them.").check()
    page.get_by_role("button", name=re.compile(r"Reserve and pay ¥5,000")).click()

    expect(page).to_have_url(re.compile(r"/payments/demo/demo_"))
    expect(page.locator(".demo-pay-label")).to_have_text("Demo payment — no money moves")
    expect(page.locator(".amount")).to_have_text("¥5,000")
    screenshot(page, "reservations-03-demo-payment")
    page.get_by_role("button", name="Pay ¥5,000 (demo)").click()

    expect(page.locator(".confirmation h1")).to_have_text("Your car is reserved")
    reference = page.locator(".ref-code").inner_text()
    assert re.fullmatch(r"R-[2-9A-HJKMNP-Z]{6}", reference)
    expect(page.locator(".reservation .badge").first).to_have_text("Confirmed")
    screenshot(page, "reservations-04-confirmed")
    page.get_by_role("link", name="All my reservations").click()
    card = page.locator(f"#r-{reference}")
    expect(card).to_contain_text("Deposit paid")
    expect(card.get_by_role("button", name="Cancel reservation")).to_be_visible()
    screenshot(page, "reservations-05-mine")
    page.get_by_role("button", name="中文").click()
    expect(page.locator(f"#r-{reference}")).to_contain_text("已付订金")
    screenshot(page, "reservations-05-mine-zh")
    page.get_by_role("button", name="English").click()

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "staff@flagship.demo", "demo-staff-2026")
    page.goto("/staff/reservations/")
    page.get_by_role("link", name=reference).click()
    expect(page.locator("h1")).to_contain_text(reference)
    screenshot(page, "reservations-06-staff-detail")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Mark picked up").click()
    expect(page.locator(".flash-success")).to_contain_text(f"{reference} picked up: the car is sold.")
    expect(page.locator("h1 .badge")).to_have_text("Picked up")
    screenshot(page, "reservations-07-picked-up")
