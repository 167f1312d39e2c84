"""Changing the account's email: asked for with the password, confirmed from the new inbox by a single-use link,
and the old address told once it is done."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

import models
from models.accounts import EmailChangeToken
from storefront import clock
from storefront.accounts import services
from storefront.errors import DomainError
from tests import factories
from tests.accounts.conftest import sign_in
from tests.factories import TEST_PASSWORD

NEW = "li.na.new@example.com"


@pytest.fixture
def en_client(new_client):
    return new_client("en")


@pytest.fixture
def english(app):
    """Service messages in English (the store's default language is Chinese)."""
    from flask_babel import force_locale

    with force_locale("en"):
        yield


def _mails(db, kind):
    return list(db.scalars(select(models.OutboxMessage).where(models.OutboxMessage.kind == kind)
                           .order_by(models.OutboxMessage.id)))


def _link(db) -> str:
    mail = _mails(db, "accounts/email_change")[-1]
    return "/account/email/" + mail.body_text.split("/account/email/")[1].split()[0]


def _ask(client, new_email=NEW, password=TEST_PASSWORD):
    return client.post("/account/email", data={"em-new_email": new_email, "em-password": password})


# --- services -------------------------------------------------------------------------------------------------------


def test_asking_mails_a_link_to_the_new_address_and_changes_nothing_yet(db, customer):
    token = services.request_email_change(db, user=customer, new_email=" Li.Na.New@Example.com ",
                                          password=TEST_PASSWORD, locale="en")
    assert token.new_email == NEW and customer.email == "shopper@example.com"
    assert token.expires_at - token.created_at == dt.timedelta(hours=24)
    (mail,) = _mails(db, "accounts/email_change")
    assert mail.to_address == NEW and "/account/email/" in mail.body_text and "/account/email/" in mail.body_html
    assert "shopper@example.com" in mail.body_text
    assert token.token_hash not in mail.body_text  # only the hash is stored, the mail carries the token


@pytest.mark.parametrize(("new_email", "password", "field", "message"), [
    (NEW, "not my password at all", "password", "That password is not correct."),
    ("SHOPPER@example.com", TEST_PASSWORD, "new_email", "That is already the email address of your account."),
    ("taken@example.com", TEST_PASSWORD, "new_email", "Another account already uses this email address."),
])
def test_asking_is_refused(db, customer, english, new_email, password, field, message):
    factories.make_user(db, email="taken@example.com")
    with pytest.raises(DomainError) as refused:
        services.request_email_change(db, user=customer, new_email=new_email, password=password, locale="en")
    assert refused.value.field == field and refused.value.user_message == message
    assert _mails(db, "accounts/email_change") == []


def test_confirming_moves_the_account_and_tells_the_old_address(db, customer):
    services.request_email_change(db, user=customer, new_email=NEW, password=TEST_PASSWORD, locale="en")
    raw = _link(db).rsplit("/", 1)[1]
    user = services.confirm_email_change(db, raw_token=raw, locale="en")
    assert user.id == customer.id and user.email == NEW
    (notice,) = _mails(db, "accounts/email_changed")
    assert notice.to_address == "shopper@example.com" and NEW in notice.body_text
    assert "/account/reset" in notice.body_text
    assert services.authenticate(db, email=NEW, password=TEST_PASSWORD).id == customer.id


def test_a_link_works_once_and_a_newer_request_cancels_the_older_link(db, customer, english):
    services.request_email_change(db, user=customer, new_email="first@example.com", password=TEST_PASSWORD,
                                  locale="en")
    first = _link(db).rsplit("/", 1)[1]
    services.request_email_change(db, user=customer, new_email=NEW, password=TEST_PASSWORD, locale="en")
    second = _link(db).rsplit("/", 1)[1]
    assert services.email_change_link(db, raw_token=first)[1] == (
        "This confirmation link has already been used, or a newer one was sent.")
    services.confirm_email_change(db, raw_token=second, locale="en")
    with pytest.raises(DomainError, match="already been used"):
        services.confirm_email_change(db, raw_token=second, locale="en")
    assert customer.email == NEW


def test_an_expired_or_unknown_link_changes_nothing(db, customer, english, monkeypatch):
    services.request_email_change(db, user=customer, new_email=NEW, password=TEST_PASSWORD, locale="en")
    raw = _link(db).rsplit("/", 1)[1]
    later = clock.now() + dt.timedelta(hours=24, seconds=1)
    monkeypatch.setattr(services.clock, "now", lambda: later)
    with pytest.raises(DomainError, match="expired: links work for 24 hours"):
        services.confirm_email_change(db, raw_token=raw, locale="en")
    for forged in ("", "x" * 43, "y" * 500):
        with pytest.raises(DomainError, match="not valid"):
            services.confirm_email_change(db, raw_token=forged, locale="en")
    assert customer.email == "shopper@example.com"


def test_an_address_taken_in_the_meantime_is_refused_and_the_account_keeps_its_email(db, customer, english):
    services.request_email_change(db, user=customer, new_email=NEW, password=TEST_PASSWORD, locale="en")
    raw = _link(db).rsplit("/", 1)[1]
    factories.make_user(db, email=NEW)  # someone registered it before the link was opened
    with pytest.raises(DomainError, match="Your email address has not changed"):
        services.confirm_email_change(db, raw_token=raw, locale="en")
    assert customer.email == "shopper@example.com"
    assert _mails(db, "accounts/email_changed") == []


# --- pages ----------------------------------------------------------------------------------------------------------


def test_profile_shows_the_form_and_a_request_keeps_the_old_address_until_confirmed(en_client, db, customer):
    sign_in(en_client, customer.email, TEST_PASSWORD)
    page = en_client.get("/account/profile").get_data(as_text=True)
    assert "You sign in with shopper@example.com" in page and 'name="em-new_email"' in page
    response = _ask(en_client)
    assert response.status_code == 302 and response.headers["Location"] == "/account/profile"
    page = en_client.get("/account/profile").get_data(as_text=True)
    assert f"We have emailed a link to {NEW}" in page and "Open it within 24 hours" in page
    assert db.get(models.User, customer.id).email == "shopper@example.com"


def test_wrong_password_or_bad_address_answers_on_the_form_and_keeps_the_input(en_client, db, customer):
    sign_in(en_client, customer.email, TEST_PASSWORD)
    wrong = _ask(en_client, password="not my password at all")
    page = wrong.get_data(as_text=True)
    assert wrong.status_code == 200 and "That password is not correct." in page and f'value="{NEW}"' in page
    bad = _ask(en_client, new_email="li.na@")
    assert "Enter a valid email address." in bad.get_data(as_text=True)
    assert _mails(db, "accounts/email_change") == []


def test_asking_needs_a_signed_in_user(en_client, db):
    response = _ask(en_client)
    assert response.status_code == 302 and response.headers["Location"].startswith("/account/login")


def test_the_link_shows_the_change_and_the_button_makes_it(en_client, new_client, db, customer):
    sign_in(en_client, customer.email, TEST_PASSWORD)
    _ask(en_client)
    link = _link(db)
    inbox = new_client("en")  # opened on another device, not signed in
    page = inbox.get(link)
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert f"will use {NEW} instead of shopper@example.com" in text
    assert db.get(models.User, customer.id).email == "shopper@example.com"  # opening the link changes nothing
    confirmed = inbox.post(link)
    assert confirmed.status_code == 302 and confirmed.headers["Location"] == "/account/login"
    assert db.get(models.User, customer.id).email == NEW
    assert sign_in(inbox, NEW, TEST_PASSWORD).status_code == 302
    again = inbox.get(link)
    assert again.status_code == 400 and "already been used" in again.get_data(as_text=True)
    assert "/account/profile" in again.get_data(as_text=True)


def test_a_refused_confirmation_answers_409_with_the_reason(en_client, db, customer):
    sign_in(en_client, customer.email, TEST_PASSWORD)
    _ask(en_client)
    link = _link(db)
    factories.make_user(db, email=NEW)
    refused = en_client.post(link)
    assert refused.status_code == 409
    assert f"Another account started using {NEW} after you asked" in refused.get_data(as_text=True)
    assert db.get(models.User, customer.id).email == "shopper@example.com"


def test_the_link_page_is_translated(new_client, db, customer):
    services.request_email_change(db, user=customer, new_email=NEW, password=TEST_PASSWORD, locale="zh_Hans_CN")
    (mail,) = _mails(db, "accounts/email_change")
    assert "确认" in mail.subject
    page = new_client("zh-CN").get(_link(db)).get_data(as_text=True)
    assert "确认新的邮箱地址" in page


def test_only_the_hash_of_the_token_is_stored(db, customer):
    services.request_email_change(db, user=customer, new_email=NEW, password=TEST_PASSWORD, locale="en")
    raw = _link(db).rsplit("/", 1)[1]
    stored = db.scalar(select(EmailChangeToken.token_hash))
    assert raw not in stored and len(stored) == 64


def test_the_unique_index_settles_a_race_with_a_registration(db, customer, english, monkeypatch):
    """The new address is registered between the check and the write: the database refuses the duplicate and
    the change is refused cleanly, the rest of the transaction intact."""
    services.request_email_change(db, user=customer, new_email=NEW, password=TEST_PASSWORD, locale="en")
    raw = _link(db).rsplit("/", 1)[1]
    rival = factories.make_user(db, email=NEW)
    monkeypatch.setattr(services, "find_user_by_email", lambda session, email: None)  # the check misses it
    with pytest.raises(DomainError, match="Your email address has not changed"):
        services.confirm_email_change(db, raw_token=raw, locale="en")
    assert customer.email == "shopper@example.com" and rival.email == NEW
    assert db.scalar(select(models.User.email).where(models.User.id == customer.id)) == "shopper@example.com"
