"""Account pages over HTTP: register, sign in/out, profile, password change, reset, re-auth, CLI and seeder."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

import models
from storefront.accounts.passwords import verify_password
from storefront.accounts.seed import DEMO_ACCOUNTS, seed_accounts
from storefront.auth import AUTH_AT
from tests.accounts.conftest import sign_in
from tests.factories import TEST_PASSWORD

NEW_PASSWORD = "lantern orchard velvet"
EN = {"Accept-Language": "en"}


@pytest.fixture
def en_client(new_client):
    return new_client("en")


def _mails(db, kind):
    return list(db.scalars(select(models.OutboxMessage).where(models.OutboxMessage.kind == kind)))


def _user_id(client):
    with client.session_transaction() as session:
        return session.get("_user_id")


# --- register -------------------------------------------------------------------------------------------------------


def _register(client, email, password=NEW_PASSWORD, **extra):
    return client.post("/account/register", data={"email": email, "password": password, "confirm": password,
                                                   **extra})


def test_register_mails_a_link_that_creates_the_account_and_signs_in(en_client, db):
    response = _register(en_client, "li.na@example.com", name="Li Na")
    assert response.status_code == 302 and response.headers["Location"] == "/account/login"
    assert db.scalar(select(func.count()).select_from(models.User)) == 0 and _user_id(en_client) is None
    (mail,) = _mails(db, "accounts/confirm_registration")
    link = "/account/register/" + mail.body_text.split("/account/register/")[1].split()[0]
    page = en_client.get(link)  # opening the link (or a mail scanner opening it) creates nothing
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "li.na@example.com" in page.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(models.User)) == 0
    response = en_client.post(link)
    assert response.status_code == 302 and response.headers["Location"] == "/account/profile"
    user = db.scalar(select(models.User).where(models.User.email == "li.na@example.com"))
    assert _user_id(en_client) == user.get_id()
    page = en_client.get("/account/profile").get_data(as_text=True)
    assert "Welcome to Flagship! Your account is ready." in page and "Hello, Li Na" in page
    (welcome,) = _mails(db, "accounts/welcome")
    assert welcome.subject == "Welcome to the Flagship store"
    assert en_client.post(link).status_code in (400, 409)  # used once


def test_register_errors_keep_what_was_typed(en_client, db):
    response = en_client.post("/account/register", data={
        "name": "Li Na", "email": "li.na@example", "password": "short", "confirm": "different"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'value="Li Na"' in page and 'value="li.na@example"' in page
    assert "Enter a valid email address." in page and "The two passwords are not the same." in page
    assert 'value="short"' not in page  # passwords are never sent back
    assert db.scalar(select(func.count()).select_from(models.User)) == 0


def test_register_weak_password_shows_on_its_field(en_client, db):
    page = en_client.post("/account/register", data={
        "email": "li.na@example.com", "password": "password1234", "confirm": "password1234"}).get_data(as_text=True)
    assert "too easy to guess" in page and 'id="password-err"' in page
    assert db.scalar(select(func.count()).select_from(models.User)) == 0


def test_register_with_a_taken_email_answers_like_any_registration(new_client, db, customer):
    """Issue 11 row 10: the same redirect and the same page for a free and a taken address (any case); the
    owner of the taken one is told by mail."""
    answers = []
    for email in ("Shopper@Example.com", "someone.new@example.com"):
        client = new_client("en")
        response = _register(client, email)
        follow = client.get(response.headers["Location"]).get_data(as_text=True)
        answers.append((response.status_code, response.headers["Location"],
                        follow.replace(email.lower(), "EMAIL").replace(email, "EMAIL")))
    assert answers[0] == answers[1]
    assert "we have emailed a link to EMAIL" in answers[0][2]
    assert [m.to_address for m in _mails(db, "accounts/already_registered")] == ["shopper@example.com"]
    assert [m.to_address for m in _mails(db, "accounts/confirm_registration")] == ["someone.new@example.com"]


def test_register_page_is_chinese_by_default(client):
    page = client.get("/account/register").get_data(as_text=True)
    assert "注册账户" in page and "至少 12 个字符" in page


# --- sign in and out ------------------------------------------------------------------------------------------------


def test_login_and_logout(en_client, customer):
    response = sign_in(en_client, "shopper@example.com")
    assert response.status_code == 302 and response.headers["Location"] == "/account/profile"
    assert _user_id(en_client) == customer.get_id()
    assert en_client.get("/account/profile").status_code == 200
    response = en_client.post("/account/logout")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert _user_id(en_client) is None
    assert en_client.get("/account/profile").status_code == 302


def test_logout_is_post_only(client, customer):
    assert client.get("/account/logout").status_code == 405


def test_bad_login_is_generic_and_keeps_the_email(en_client, customer):
    for email, password in (("shopper@example.com", "wrong password!"), ("nobody@example.com", TEST_PASSWORD)):
        response = sign_in(en_client, email, password)
        page = response.get_data(as_text=True)
        assert response.status_code == 200 and "Email or password is incorrect." in page
        assert f'value="{email}"' in page
    assert _user_id(en_client) is None


def test_empty_login_form_shows_field_errors(en_client):
    page = en_client.post("/account/login", data={}).get_data(as_text=True)
    assert page.count("This field is required.") == 2


def test_login_goes_back_to_next(client, customer):
    response = sign_in(client, customer.email, next="/models?brand=ford")
    assert response.headers["Location"] == "/models?brand=ford"


def test_staff_land_on_their_back_office_when_it_exists(app, client, staff_user):
    response = sign_in(client, staff_user.email)
    expected = "/staff/" if "staff.dashboard" in app.view_functions else "/account/profile"
    assert response.headers["Location"].startswith(expected)


def test_signed_in_user_visiting_login_is_sent_on(client, customer):
    sign_in(client, customer.email)
    assert client.get("/account/login").headers["Location"] == "/account/profile"


def test_closed_account_cannot_sign_in(en_client, customer):
    customer.is_active = False
    page = sign_in(en_client, customer.email).get_data(as_text=True)
    assert "has been closed" in page


def test_remember_me_sets_a_long_lived_cookie(client, customer):
    response = sign_in(client, customer.email, remember="y")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("remember_token="))
    assert "Expires=" in cookie


# --- profile --------------------------------------------------------------------------------------------------------


def test_profile_needs_sign_in(client):
    response = client.get("/account/profile")
    assert response.status_code == 302 and response.headers["Location"].startswith("/account/login?next=")


def test_profile_saves_name_phone_and_city(en_client, db, customer, catalog):
    sign_in(en_client, customer.email)
    page = en_client.get("/account/profile").get_data(as_text=True)
    assert "Beijing" in page and "No preference" in page
    response = en_client.post("/account/profile", data={
        "name": "Xiao Ming", "phone": "138 0013 8000", "preferred_city": str(catalog.cities[1].id)})
    assert response.status_code == 302
    assert (customer.name, customer.phone, customer.preferred_city_id) == ("Xiao Ming", "13800138000",
                                                                          catalog.cities[1].id)
    assert "Your details have been saved." in en_client.get("/account/profile").get_data(as_text=True)


@pytest.mark.parametrize(("data", "message"), [
    ({"name": "Xiao Ming", "phone": "12345678901", "preferred_city": ""}, "11-digit mainland China mobile"),
    ({"name": "Xiao Ming", "phone": "138", "preferred_city": "999999"}, "Not a valid choice"),
    ({"name": "x" * 81, "phone": "", "preferred_city": ""}, "80"),
])
def test_profile_errors_keep_what_was_typed(en_client, db, customer, catalog, data, message):
    sign_in(en_client, customer.email)
    page = en_client.post("/account/profile", data=data).get_data(as_text=True)
    assert message in page and f'value="{data["name"]}"' in page and f'value="{data["phone"]}"' in page
    db.refresh(customer)
    assert customer.phone == "" and customer.name == "Shopper"


# --- change password ------------------------------------------------------------------------------------------------


def _change(client, current, new, confirm=None):
    return client.post("/account/password", data={
        "pw-current_password": current, "pw-new_password": new, "pw-confirm": confirm or new})


def test_change_password_keeps_this_browser_and_signs_out_the_others(new_client, en_client, db, customer):
    other = new_client()
    sign_in(en_client, customer.email)
    sign_in(other, customer.email)
    response = _change(en_client, TEST_PASSWORD, NEW_PASSWORD)
    assert response.status_code == 302
    assert verify_password(customer.password_hash, NEW_PASSWORD)
    assert en_client.get("/account/profile").status_code == 200
    assert other.get("/account/profile").status_code == 302  # the other session ended
    assert len(_mails(db, "accounts/password_changed")) == 1


@pytest.mark.parametrize(("current", "new", "confirm", "message"), [
    ("wrong current pw", NEW_PASSWORD, None, "Your current password is not correct."),
    (TEST_PASSWORD, "short", None, "Use at least 12 characters."),
    (TEST_PASSWORD, NEW_PASSWORD, "something else", "The two passwords are not the same."),
    (TEST_PASSWORD, TEST_PASSWORD, None, "different from the current one"),
])
def test_change_password_refusals(en_client, customer, current, new, confirm, message):
    sign_in(en_client, customer.email)
    response = _change(en_client, current, new, confirm)
    assert response.status_code == 200 and message in response.get_data(as_text=True)
    assert verify_password(customer.password_hash, TEST_PASSWORD)


# --- password reset -------------------------------------------------------------------------------------------------


def _reset_link(db) -> str:
    (mail,) = _mails(db, "accounts/password_reset")
    return "/account/reset/" + mail.body_text.split("/account/reset/")[1].split()[0]


def test_reset_answers_the_same_for_known_and_unknown_emails(en_client, db, customer):
    answers = []
    for email in ("shopper@example.com", "nobody@example.com"):
        response = en_client.post("/account/reset", data={"email": email}, follow_redirects=True)
        page = response.get_data(as_text=True).replace(email, "EMAIL")
        answers.append((response.status_code, response.request.path, page))
    assert answers[0] == answers[1]
    assert "If an account exists for EMAIL" in answers[0][2]
    assert len(_mails(db, "accounts/password_reset")) == 1
    assert len(_mails(db, "accounts/reset_no_account")) == 1  # the same work for the unknown address


def test_reset_flow(en_client, db, customer):
    en_client.post("/account/reset", data={"email": customer.email})
    link = _reset_link(db)
    page = en_client.get(link)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    response = en_client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/account/login"
    assert sign_in(en_client, customer.email, NEW_PASSWORD).status_code == 302


def test_reset_link_is_single_use(en_client, db, customer):
    en_client.post("/account/reset", data={"email": customer.email})
    link = _reset_link(db)
    en_client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    for response in (en_client.get(link),
                     en_client.post(link, data={"password": "another fine phrase", "confirm": "another fine phrase"})):
        assert response.status_code == 400
        assert "already been used" in response.get_data(as_text=True)
    assert verify_password(customer.password_hash, NEW_PASSWORD)


def test_expired_reset_link(en_client, db, customer):
    en_client.post("/account/reset", data={"email": customer.email})
    link = _reset_link(db)
    for token in db.scalars(select(models.accounts.PasswordResetToken)):
        token.expires_at -= dt.timedelta(minutes=31)
    db.flush()
    response = en_client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 400 and "has expired" in response.get_data(as_text=True)
    assert verify_password(customer.password_hash, TEST_PASSWORD)


@pytest.mark.parametrize("token", ["forged", "A" * 43, "x" * 300, "%00%0d%0a", "<img src=x onerror=alert(1)>"])
def test_forged_reset_link(en_client, customer, token):
    response = en_client.get(f"/account/reset/{token}")
    page = response.get_data(as_text=True)
    # a NUL in the path is refused before any page looks at it (storefront.security)
    expected = "Text may not contain NUL characters." if "%00" in token else "This reset link is not valid."
    assert response.status_code == 400 and expected in page
    assert "<img src=x" not in page


def test_reset_resets_every_session(new_client, en_client, db, customer):
    other = new_client()
    sign_in(other, customer.email)
    en_client.post("/account/reset", data={"email": customer.email})
    en_client.post(_reset_link(db), data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert other.get("/account/profile").status_code == 302


def test_reset_request_validates_the_email(en_client, db):
    page = en_client.post("/account/reset", data={"email": "not-an-email"}).get_data(as_text=True)
    assert "Enter a valid email address." in page and 'value="not-an-email"' in page


# --- re-auth (fresh login) ------------------------------------------------------------------------------------------


def test_reauth_page_needs_sign_in(client):
    assert client.get("/account/reauth").status_code == 302


def test_reauth_refreshes_the_stamp_and_returns(en_client, customer):
    sign_in(en_client, customer.email)
    with en_client.session_transaction() as session:
        session[AUTH_AT] = 0
    page = en_client.post("/account/reauth", data={"password": "wrong password!", "next": "/models"})
    assert page.status_code == 200 and "That password is not correct." in page.get_data(as_text=True)
    response = en_client.post("/account/reauth", data={"password": TEST_PASSWORD, "next": "/models"})
    assert response.headers["Location"] == "/models"
    with en_client.session_transaction() as session:
        assert session[AUTH_AT] > 0


# --- CLI and seeder -------------------------------------------------------------------------------------------------


def test_create_admin_command(app, db):
    result = app.test_cli_runner().invoke(args=["users", "create-admin", "--email", "Boss@Flagship.example",
                                                "--password", NEW_PASSWORD, "--name", "Boss"])
    assert result.exit_code == 0, result.output
    user = db.scalar(select(models.User).where(models.User.email == "boss@flagship.example"))
    assert user.role is models.Role.ADMIN and verify_password(user.password_hash, NEW_PASSWORD)


def test_create_admin_prompts_for_missing_values(app, db):
    result = app.test_cli_runner().invoke(args=["users", "create-admin"],
                                          input=f"root@flagship.example\n{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert db.scalar(select(models.User.role).where(models.User.email == "root@flagship.example")) is models.Role.ADMIN


@pytest.mark.parametrize(("email", "password", "message"), [
    ("boss@flagship.example", "short", "Use at least 12 characters."),
    ("admin@example.com", NEW_PASSWORD, "already exists"),
])
def test_create_admin_refusals(app, db, admin_user, email, password, message):
    result = app.test_cli_runner().invoke(args=["users", "create-admin", "--email", email, "--password", password])
    assert result.exit_code == 1 and message in result.output


def test_seed_accounts_is_idempotent_and_deterministic(db):
    for code in ("SH-PD", "SH-XH"):
        city = models.City(slug=f"c-{code}", name_en=code, name_zh=code)
        db.add(models.Dealer(code=code, name_en=code, name_zh=code, city=city, opening_hours={}))
    db.flush()
    assert seed_accounts(db).startswith("3 demo account(s) created")
    users = list(db.scalars(select(models.User).order_by(models.User.id)))
    assert [u.email for u in users] == [row[0] for row in DEMO_ACCOUNTS]
    assert [u.role for u in users] == [models.Role.CUSTOMER, models.Role.STAFF, models.Role.ADMIN]
    assert sorted(d.code for d in users[1].dealers) == ["SH-PD", "SH-XH"]
    for user, (_email, password, *_rest) in zip(users, DEMO_ACCOUNTS, strict=True):
        assert verify_password(user.password_hash, password)
    assert [b - a for a, b in zip([u.id for u in users], [u.id for u in users][1:], strict=False)] == [1, 1]
    assert seed_accounts(db).startswith("0 demo account(s) created")
    assert db.scalar(select(func.count()).select_from(models.User)) == 3
    # Same hash and token on every fresh seed (a demo reset is byte-identical), one salt and token per account.
    first = [(u.password_hash, u.session_token) for u in users]
    for user in users:
        db.delete(user)
    db.flush()
    seed_accounts(db)
    again = list(db.scalars(select(models.User).order_by(models.User.id)))
    assert [(u.password_hash, u.session_token) for u in again] == first
    assert len({h.rsplit("$", 2)[1] for h, _ in first}) == 3 and len({t for _, t in first}) == 3
    assert all(len(t) == 32 for _, t in first)


def test_real_accounts_get_a_random_salt():
    from storefront.accounts.passwords import hash_password

    assert hash_password("same password 2026") != hash_password("same password 2026")


# --- bad input ------------------------------------------------------------------------------------------------------

ODD_INPUT = ["\x00", "a\x00@b.cn", "x" * 5000, "ünïcödé@例子.中国", "<script>alert(1)</script>", "' OR 1=1 --", "\r\n",
             " "]


@pytest.mark.parametrize("value", ODD_INPUT)
def test_odd_input_never_breaks_a_page(new_client, customer, value):
    browser = new_client()
    ok = (400,) if "\x00" in value else (200, 302)  # NUL is refused app-wide with a 400 (storefront.security)
    anonymous_forms = [
        ("/account/login", {"email": value, "password": value, "next": value}),
        ("/account/register", {"email": value, "password": value, "confirm": value, "name": value, "next": value}),
        ("/account/reset", {"email": value}),
    ]
    for path, data in anonymous_forms:
        assert browser.post(path, data=data).status_code in ok, path
        expected_get = 400 if "\x00" in value else 200
        assert browser.get(path, query_string={"next": value}).status_code == expected_get, path
    sign_in(browser, customer.email)
    signed_in_forms = [
        ("/account/profile", {"name": value, "phone": value, "preferred_city": value}),
        ("/account/password", {"pw-current_password": value, "pw-new_password": value, "pw-confirm": value}),
        ("/account/reauth", {"password": value, "next": value}),
    ]
    for path, data in signed_in_forms:
        response = browser.post(path, data=data)
        assert response.status_code in ok, path
        assert "<script>alert(1)" not in response.get_data(as_text=True)


def test_the_my_hub_gathers_reservations_test_drives_and_quotes(client, db, app):
    from models import Role
    from tests import factories as f
    from tests.conftest import login

    shopper = f.make_user(db, email="hub@example.com", role=Role.CUSTOMER, name="Hub")
    db.flush()
    assert client.get("/account/", headers={"Accept-Language": "en"}).status_code == 302  # members only
    login(client, shopper)
    page = client.get("/account/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "<h1>My account</h1>" in page and "hub@example.com" in page
    assert "My reservations" in page and "My test drives" in page and "My quotes" in page
    assert 'href="/account/profile"' in page and 'class="my-link" href="/account/"' in page
