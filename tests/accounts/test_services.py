"""Account rules without HTTP: registration, sign-in checks, profile, password change and reset links."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from argon2 import PasswordHasher, Type
from sqlalchemy import func, select

import models
from models.accounts import PasswordResetToken, ResetTokenProblem
from storefront import clock
from storefront.accounts import services
from storefront.accounts.passwords import verify_password
from storefront.errors import DomainError
from tests import factories
from tests.factories import TEST_PASSWORD

NEW_PASSWORD = "lantern orchard velvet"


@pytest.fixture
def request_ctx(app):
    """Services that queue mail build absolute links; a request context is what routes give them (English here)."""
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        yield


def _mails(db, kind: str) -> list[models.OutboxMessage]:
    return list(db.scalars(select(models.OutboxMessage).where(models.OutboxMessage.kind == kind)))


# --- registration and passwords ---------------------------------------------------------------------------------


def _confirm_link(mail: models.OutboxMessage) -> str:
    return mail.body_text.split("/account/register/")[1].split()[0]


def test_register_mails_a_link_and_the_link_creates_the_customer(db, request_ctx):
    assert services.register(db, email="  Li.Na@Example.COM ", password=NEW_PASSWORD, name=" 李娜 ",
                             locale="zh_Hans_CN") is None
    assert db.scalar(select(func.count()).select_from(models.User)) == 0  # nothing until the inbox confirms
    (mail,) = _mails(db, "accounts/confirm_registration")
    assert mail.to_address == "li.na@example.com" and "李娜" in mail.body_text
    token = _confirm_link(mail)
    assert NEW_PASSWORD not in token
    assert services.registration_link(db, token=token).email == "li.na@example.com"

    user = services.confirm_registration(db, token=token, locale="zh_Hans_CN")
    assert user.email == "li.na@example.com" and user.name == "李娜" and user.role is models.Role.CUSTOMER
    assert user.password_hash.startswith("$argon2id$") and NEW_PASSWORD not in user.password_hash
    assert user.session_token and len(user.session_token) == 32
    (welcome,) = _mails(db, "accounts/welcome")
    assert welcome.to_address == "li.na@example.com" and welcome.subject == "欢迎光临汽车旗舰店"
    assert "李娜" in welcome.body_text and "/models" in welcome.body_html
    with pytest.raises(DomainError, match="already been used"):  # a second click creates nothing
        services.confirm_registration(db, token=token, locale="en")


def test_register_with_a_taken_email_tells_its_owner_and_nobody_else(db, customer, request_ctx):
    """Issue 11 row 10: no refusal that says the address has an account; its owner gets a mail instead."""
    assert services.register(db, email="SHOPPER@example.com", password=NEW_PASSWORD, locale="en") is None
    assert db.scalar(select(func.count()).select_from(models.User)) == 1
    assert _mails(db, "accounts/confirm_registration") == []
    (mail,) = _mails(db, "accounts/already_registered")
    assert mail.to_address == customer.email and "already has one" in mail.body_text
    assert "/account/reset" in mail.body_text


@pytest.mark.parametrize("token", ["", "nonsense", "eyJlbWFpbCI6ImFAYi5jIn0.forged.signature"])
def test_forged_registration_links_create_nothing(db, request_ctx, token):
    with pytest.raises(DomainError, match="not valid"):
        services.confirm_registration(db, token=token, locale="en")


def test_registration_links_expire(db, request_ctx, monkeypatch):
    services.register(db, email="late@example.com", password=NEW_PASSWORD, locale="en")
    (mail,) = _mails(db, "accounts/confirm_registration")
    monkeypatch.setattr(services, "REGISTRATION_LIFETIME", dt.timedelta(seconds=-1))
    with pytest.raises(DomainError, match="expired"):
        services.confirm_registration(db, token=_confirm_link(mail), locale="en")


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("short pass", False),  # 10 characters
        ("x" * 129, False),
        ("password1234", False),  # common
        ("aaaaaaaaaaaaaaaa", False),  # too few different characters
        ("shopper-is-my-password", False),  # contains the email's local part
        ("lantern orchard velvet", True),
        ("十二个汉字的密码也是可以的呢", True),
        ("x1y2z3w4v5u6", True),
    ],
)
def test_password_rules(app, password, ok):
    with app.test_request_context("/"):
        assert (services.password_problem(password, email="shopper@example.com") is None) is ok


def test_weak_password_is_refused_on_its_field(db, request_ctx):
    with pytest.raises(DomainError) as refused:
        services.register(db, email="new@example.com", password="tooshort", locale="en")
    assert refused.value.field == "password"


# --- authentication -----------------------------------------------------------------------------------------------


def test_authenticate_returns_user_and_records_the_login(db, customer):
    user = services.authenticate(db, email=" Shopper@Example.com", password=TEST_PASSWORD)
    assert user is customer and user.last_login_at is not None


@pytest.mark.parametrize(("email", "password"), [("shopper@example.com", "wrong password!"),
                                                 ("nobody@example.com", TEST_PASSWORD), ("", "")])
def test_authenticate_refuses_with_one_generic_message(app, db, customer, email, password):
    with app.test_request_context("/"), pytest.raises(DomainError) as refused:
        services.authenticate(db, email=email, password=password)
    assert refused.value.user_message == "邮箱或密码不正确。"
    assert refused.value.field is None


def test_closed_account_cannot_sign_in(db, customer):
    customer.is_active = False
    with pytest.raises(DomainError, match="closed|停用"):
        services.authenticate(db, email=customer.email, password=TEST_PASSWORD)


def test_sign_in_upgrades_a_hash_made_with_old_argon2_parameters(db, customer):
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1, type=Type.ID)
    customer.password_hash = weak.hash(TEST_PASSWORD)
    db.flush()
    services.authenticate(db, email=customer.email, password=TEST_PASSWORD)
    assert "m=19456,t=2,p=1" in customer.password_hash
    assert verify_password(customer.password_hash, TEST_PASSWORD)


def test_stored_hash_meets_owasp_argon2id_minimum(db, customer):
    # $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
    variant, version, params, _salt, _digest = customer.password_hash.split("$")[1:]
    values = dict(part.split("=") for part in params.split(","))
    assert variant == "argon2id" and version == "v=19"
    assert int(values["m"]) >= 19456 and int(values["t"]) >= 2 and int(values["p"]) == 1


# --- profile ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("13800138000", "13800138000"), ("138 0013 8000", "13800138000"), ("+86 138-0013-8000", "13800138000"),
     ("0086 19912345678", "19912345678"), ("", "")],
)
def test_profile_accepts_mainland_mobile_numbers(db, customer, typed, stored):
    services.update_profile(db, user=customer, name="Xiao Ming", phone=typed, preferred_city_id=None)
    assert customer.phone == stored


@pytest.mark.parametrize("typed", ["12800138000", "1380013800", "138001380000", "02112345678", "abc", "1380013800x"])
def test_profile_refuses_other_numbers(app, db, customer, typed):
    with app.test_request_context("/"), pytest.raises(DomainError) as refused:
        services.update_profile(db, user=customer, name="", phone=typed, preferred_city_id=None)
    assert refused.value.field == "phone" and customer.phone == ""


def test_profile_city_must_exist(db, customer, catalog):
    services.update_profile(db, user=customer, name="", phone="", preferred_city_id=catalog.cities[1].id)
    assert customer.preferred_city_id == catalog.cities[1].id
    with pytest.raises(DomainError) as refused:
        services.update_profile(db, user=customer, name="", phone="", preferred_city_id=999_999)
    assert refused.value.field == "preferred_city"


# --- password change ----------------------------------------------------------------------------------------------


def test_change_password_needs_the_current_one(db, customer, request_ctx):
    with pytest.raises(DomainError) as refused:
        services.change_password(db, user=customer, current_password="not it at all", new_password=NEW_PASSWORD,
                                 locale="en")
    assert refused.value.field == "current_password"
    assert verify_password(customer.password_hash, TEST_PASSWORD)


def test_change_password_refuses_the_same_password(db, customer, request_ctx):
    with pytest.raises(DomainError) as refused:
        services.change_password(db, user=customer, current_password=TEST_PASSWORD, new_password=TEST_PASSWORD,
                                 locale="en")
    assert refused.value.field == "new_password"


def test_change_password_rotates_the_session_token_and_tells_the_user(db, customer, request_ctx):
    old_token = customer.session_token
    services.change_password(db, user=customer, current_password=TEST_PASSWORD, new_password=NEW_PASSWORD,
                             locale="en")
    assert verify_password(customer.password_hash, NEW_PASSWORD)
    assert customer.session_token != old_token and customer.password_changed_at is not None
    (mail,) = _mails(db, "accounts/password_changed")
    assert mail.subject == "Your Flagship password was changed" and "/account/reset" in mail.body_text


# --- password reset -----------------------------------------------------------------------------------------------


def _raw_token_from(mail: models.OutboxMessage) -> str:
    return mail.body_text.split("/account/reset/")[1].split()[0]


def test_reset_request_for_unknown_email_sends_no_link_but_does_the_same_work(db, request_ctx, count_queries):
    """Issue 11 row 10: a known and an unknown address both cost a rendered mail, so they answer in like time."""
    factories.make_user(db, email="known@example.com")
    with count_queries() as unknown:
        assert services.request_password_reset(db, email="Nobody@example.com", locale="en") is None
    with count_queries() as known:
        assert services.request_password_reset(db, email="known@example.com", locale="en") is not None
    assert _mails(db, "accounts/password_reset")[0].to_address == "known@example.com"  # the only link sent
    (note,) = _mails(db, "accounts/reset_no_account")
    assert note.to_address == "nobody@example.com" and "/account/reset/" not in note.body_text
    assert note.subject == _mails(db, "accounts/password_reset")[0].subject
    assert known.count - unknown.count <= 1  # the token row is the only extra statement


def test_reset_token_is_random_stored_hashed_and_expires_in_30_minutes(db, customer, request_ctx):
    token = services.request_password_reset(db, email="SHOPPER@example.com", locale="en")
    assert token is not None
    (mail,) = _mails(db, "accounts/password_reset")
    raw = _raw_token_from(mail)
    assert len(raw) >= 43  # 32 random bytes
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest() and raw not in token.token_hash
    assert token.expires_at - token.created_at == dt.timedelta(minutes=30)
    assert raw in mail.body_html and "30" in mail.body_text


def test_reset_password_once(db, customer, request_ctx):
    services.request_password_reset(db, email=customer.email, locale="en")
    raw = _raw_token_from(_mails(db, "accounts/password_reset")[0])
    old_session_token = customer.session_token
    assert services.reset_link_problem(db, raw_token=raw) is None

    services.reset_password(db, raw_token=raw, new_password=NEW_PASSWORD, locale="en")
    assert verify_password(customer.password_hash, NEW_PASSWORD)
    assert customer.session_token != old_session_token

    with pytest.raises(DomainError, match="already been used"):
        services.reset_password(db, raw_token=raw, new_password="another fine phrase", locale="en")
    assert verify_password(customer.password_hash, NEW_PASSWORD)


def test_using_one_link_cancels_the_others(db, customer, request_ctx):
    services.request_password_reset(db, email=customer.email, locale="en")
    services.request_password_reset(db, email=customer.email, locale="en")
    first, second = (_raw_token_from(m) for m in _mails(db, "accounts/password_reset"))
    services.reset_password(db, raw_token=second, new_password=NEW_PASSWORD, locale="en")
    assert "already been used" in (services.reset_link_problem(db, raw_token=first) or "")


def test_expired_link_is_refused(db, customer, request_ctx):
    token = services.request_password_reset(db, email=customer.email, locale="en")
    raw = _raw_token_from(_mails(db, "accounts/password_reset")[0])
    token.expires_at = clock.now() - dt.timedelta(seconds=1)
    db.flush()
    assert "expired" in (services.reset_link_problem(db, raw_token=raw) or "")
    with pytest.raises(DomainError, match="expired"):
        services.reset_password(db, raw_token=raw, new_password=NEW_PASSWORD, locale="en")
    assert verify_password(customer.password_hash, TEST_PASSWORD)


@pytest.mark.parametrize("raw", ["forged-token", "", "x" * 500, "A" * 43, "../../etc/passwd"])
def test_forged_link_is_refused(db, customer, request_ctx, raw):
    services.request_password_reset(db, email=customer.email, locale="en")
    assert "not valid" in (services.reset_link_problem(db, raw_token=raw) or "")
    with pytest.raises(DomainError, match="not valid"):
        services.reset_password(db, raw_token=raw, new_password=NEW_PASSWORD, locale="en")


def test_weak_new_password_leaves_the_link_usable(db, customer, request_ctx):
    services.request_password_reset(db, email=customer.email, locale="en")
    raw = _raw_token_from(_mails(db, "accounts/password_reset")[0])
    with pytest.raises(DomainError) as refused:
        services.reset_password(db, raw_token=raw, new_password="short", locale="en")
    assert refused.value.field == "password"
    assert services.reset_link_problem(db, raw_token=raw) is None


def test_token_problem_order():
    now = clock.now()
    token = PasswordResetToken(user_id=1, token_hash="x", expires_at=now - dt.timedelta(minutes=1), used_at=now)
    assert token.problem(now) is ResetTokenProblem.USED
    token.used_at = None
    assert token.problem(now) is ResetTokenProblem.EXPIRED
    token.expires_at = now + dt.timedelta(minutes=1)
    assert token.problem(now) is None


def test_end_all_sessions_rotates_the_token(db, customer):
    before = customer.get_id()
    services.end_all_sessions(db, user=customer)
    assert customer.get_id() != before


def test_staff_factory_user_is_unaffected(db, staff_user):
    assert services.find_user_by_email(db, "STAFF@example.com") is staff_user
    assert factories.TEST_PASSWORD
