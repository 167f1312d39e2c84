"""Account rules: registration, sign-in checks, profile, password change, and password reset and email change
by emailed single-use links."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import re
import secrets
from typing import Any, NamedTuple, TypeVar, cast

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import City, Role, User
from models.accounts import (
    EmailChangeToken,
    PasswordResetToken,
    PhoneVerificationCode,
    ResetTokenProblem,
    SingleUseLink,
)
from storefront import clock
from storefront.accounts.passwords import hash_password, needs_rehash, verify_password
from storefront.errors import DomainError
from storefront.outbox import public_url, queue_mail
from storefront.sms import send_sms

LinkT = TypeVar("LinkT", bound=SingleUseLink)

RESET_TOKEN_LIFETIME = dt.timedelta(minutes=30)
RESET_LINK_MINUTES = int(RESET_TOKEN_LIFETIME.total_seconds() // 60)  # as the mails and pages say it
EMAIL_CHANGE_LIFETIME = dt.timedelta(hours=24)
EMAIL_CHANGE_HOURS = int(EMAIL_CHANGE_LIFETIME.total_seconds() // 3600)
REGISTRATION_LIFETIME = dt.timedelta(hours=24)
REGISTRATION_HOURS = int(REGISTRATION_LIFETIME.total_seconds() // 3600)
MIN_PASSWORD_LENGTH = 12  # OWASP ASVS 4.0.3 V2.1.1
MAX_PASSWORD_LENGTH = 128  # argon2 has no length limit; this only keeps hashing cheap for silly inputs
MOBILE_NUMBER = re.compile(r"^1[3-9]\d{9}$")  # mainland China mobile, 11 digits
# The commonest choices that still pass the length rule; a breached-password list would be better (offline here).
COMMON_PASSWORDS = frozenset({
    "123456789012", "1234567890123", "qwertyuiop12", "qwertyuiopas", "password1234", "password12345",
    "passwordpassword", "iloveyou1234", "111111111111", "000000000000", "abcdefghijkl", "abc123abc123",
    "woaini123456", "woaini1314520", "aaaaaaaaaaaa", "1q2w3e4r5t6y", "qazwsxedcrfv", "administrator",
})



@functools.cache
def _unknown_user_hash() -> str:
    """Verified against when the email is unknown, so a wrong email costs as much time as a wrong password."""
    return hash_password(secrets.token_urlsafe(16))


def normalise_email(email: str) -> str:
    return email.strip().lower()


def new_session_token() -> str:
    """A fresh value for User.session_token; changing it signs the user out of every session."""
    return secrets.token_hex(16)


def password_problem(password: str, *, email: str = "") -> str | None:
    """Why `password` is not acceptable as a new password, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return str(_("Use at least %(num)d characters.", num=MIN_PASSWORD_LENGTH))
    if len(password) > MAX_PASSWORD_LENGTH:
        return str(_("Use at most %(num)d characters.", num=MAX_PASSWORD_LENGTH))
    lowered = password.lower()
    local_part = normalise_email(email).partition("@")[0]
    if lowered in COMMON_PASSWORDS or len(set(password)) < 4 or (len(local_part) >= 4 and local_part in lowered):
        return str(_("This password is too easy to guess. Try a few unrelated words."))
    return None


def _require_good_password(password: str, *, email: str, field: str) -> None:
    problem = password_problem(password, email=email)
    if problem:
        raise DomainError(problem, field=field)


def _set_password(user: User, password: str, *, now: dt.datetime) -> None:
    """New hash and a new session token: every other session of this user ends."""
    user.password_hash = hash_password(password)
    user.password_changed_at = now
    user.session_token = new_session_token()


def find_user_by_email(session: Session, email: str) -> User | None:
    """Emails are stored normalised (see create_user), so this is an exact, indexed match."""
    return session.scalar(select(User).where(User.email == normalise_email(email)))


def create_user(
    session: Session, *, email: str, password: str, name: str = "", role: Role = Role.CUSTOMER
) -> User:
    """A new account with a checked password. Refuses an email that is already registered."""
    email = normalise_email(email)
    if find_user_by_email(session, email) is not None:
        raise DomainError(
            _("An account with this email already exists. Sign in, or reset your password if you forgot it."),
            field="email",
        )
    _require_good_password(password, email=email, field="password")
    user = User(
        email=email, password_hash=hash_password(password), name=name.strip()[:80], role=role,
        session_token=new_session_token(), password_changed_at=clock.now(),
    )
    session.add(user)
    session.flush()
    return user


def register(session: Session, *, email: str, password: str, name: str = "", locale: str, next_url: str = "") -> None:
    """A shopper signs up. Nothing is stored yet: the address gets a link that finishes the sign-up, or, when it
    already has an account, a note saying so (with the sign-in and reset links) instead.

    Both cases do the same work (a password hash, one rendered mail) and the caller answers both the same, so
    the form tells nobody which addresses have accounts. The link carries the new account (email, name and the
    argon2 hash of the password, never the password) signed with SECRET_KEY; it works for REGISTRATION_LIFETIME.
    """
    email = normalise_email(email)
    _require_good_password(password, email=email, field="password")
    pending = {"email": email, "hash": hash_password(password), "name": name.strip()[:80], "next": next_url[:300]}
    owner = find_user_by_email(session, email)
    if owner is not None:
        queue_mail(
            session, to=owner.email, template="accounts/already_registered",
            subject="Someone tried to create a Flagship account with your email address", locale=locale,
            name=owner.name, login_url=public_url("accounts.login"), reset_url=public_url("accounts.reset_request"),
        )
    else:
        queue_mail(
            session, to=email, template="accounts/confirm_registration",
            subject="Confirm your email address to finish creating your Flagship account", locale=locale,
            name=pending["name"], hours=REGISTRATION_HOURS,
            confirm_url=public_url("accounts.confirm_registration", token=_registration_links().dumps(pending)),
        )
    session.flush()


class PendingRegistration(NamedTuple):
    email: str
    name: str
    next_url: str


def _registration_links() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(str(current_app.config["SECRET_KEY"]), salt="flagship-registration")


def _read_registration_link(token: str) -> dict[str, str]:
    try:
        data = _registration_links().loads(token, max_age=int(REGISTRATION_LIFETIME.total_seconds()))
    except SignatureExpired:
        raise DomainError(_("This link has expired: links work for %(hours)d hours. Please register again.",
                            hours=REGISTRATION_HOURS)) from None
    except BadSignature:
        raise DomainError(_("This link is not valid. Check that you copied the whole link, or register again.")) \
            from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("email", "hash", "name", "next")):
        raise DomainError(_("This link is not valid. Check that you copied the whole link, or register again."))
    return data


def registration_link(session: Session, *, token: str) -> PendingRegistration:
    """What a sign-up link will create; DomainError when it is invalid, expired or already used."""
    data = _read_registration_link(token)
    if find_user_by_email(session, data["email"]) is not None:
        raise DomainError(_("This link has already been used: sign in with your email address and password."))
    return PendingRegistration(data["email"], data["name"], data["next"])


def confirm_registration(session: Session, *, token: str, locale: str) -> User:
    """Use a sign-up link: the account is created now (once: the unique email index settles two clicks at once),
    with a welcome mail in the shopper's language."""
    data = _read_registration_link(token)
    used = DomainError(_("This link has already been used: sign in with your email address and password."))
    if find_user_by_email(session, data["email"]) is not None:
        raise used
    user = User(email=data["email"], password_hash=data["hash"], name=data["name"], role=Role.CUSTOMER,
                session_token=new_session_token(), password_changed_at=clock.now())
    try:
        with session.begin_nested():
            session.add(user)
            session.flush()
    except IntegrityError:
        raise used from None
    queue_mail(
        session, to=user.email, template="accounts/welcome", subject="Welcome to the Flagship store",
        locale=locale, name=user.name, models_url=public_url("catalog.listing"),
        profile_url=public_url("accounts.profile"),
    )
    session.flush()
    return user


def authenticate(session: Session, *, email: str, password: str) -> User:
    """The user with this email and password, or one generic refusal (it never says which part was wrong).

    Upgrades the stored hash when the argon2 parameters have changed since it was made.
    """
    user = find_user_by_email(session, email)
    if user is None:
        verify_password(_unknown_user_hash(), password)
        raise DomainError(_("Email or password is incorrect."))
    if not verify_password(user.password_hash, password):
        raise DomainError(_("Email or password is incorrect."))
    if not user.is_active:
        raise DomainError(_("This account has been closed. Please contact the store if you need it again."))
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = clock.now()
    session.flush()
    return user


def confirm_password(*, user: User, password: str) -> None:
    """Re-authentication before a sensitive change."""
    if not verify_password(user.password_hash, password):
        raise DomainError(_("That password is not correct."), field="password")


def normalise_mobile(phone: str) -> str:
    """'+86 138-0013-8000' -> '13800138000' (spaces, dashes and the country code are dropped)."""
    digits = re.sub(r"[\s\-()]", "", phone)
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix):]
    return digits


def update_profile(
    session: Session, *, user: User, name: str, phone: str, preferred_city_id: int | None
) -> User:
    """Name, Chinese mobile number (optional) and preferred city (optional, one of the store's cities). A new
    mobile number is unverified until its texted code comes back."""
    phone = normalise_mobile(phone)
    if phone and not MOBILE_NUMBER.match(phone):
        raise DomainError(_("Enter an 11-digit mainland China mobile number, e.g. 13800138000."), field="phone")
    if preferred_city_id is not None and session.get(City, preferred_city_id) is None:
        raise DomainError(_("Choose a city from the list."), field="preferred_city")
    user.name = name.strip()[:80]
    if phone != user.phone:
        user.phone_verified_at = None
    user.phone = phone
    user.preferred_city_id = preferred_city_id
    session.flush()
    return user


# --- Mobile number proved by a texted code ---------------------------------------------------------------------

PHONE_CODE_LIFETIME = dt.timedelta(minutes=10)
PHONE_CODE_MINUTES = int(PHONE_CODE_LIFETIME.total_seconds() // 60)
PHONE_CODE_TRIES = 5


def _phone_code_hash(user_id: int, phone: str, code: str) -> str:
    return _token_hash(f"{user_id}:{phone}:{code}")


def send_phone_code(session: Session, *, user: User, locale: str) -> str:
    """Text a fresh 6-digit code to the profile's mobile (earlier codes stop working); returns the code, which only
    the demo page shows (no SMS gateway is configured: storefront/sms.py)."""
    if not MOBILE_NUMBER.match(user.phone or ""):
        raise DomainError(_("Save your mainland mobile number first, then we can text it a code."), field="phone")
    if user.phone_verified_at is not None:
        raise DomainError(_("This mobile number is already verified."), field="phone")
    at = clock.now()
    _cancel_open_links(session, PhoneVerificationCode, user_id=user.id, now=at)
    code = f"{secrets.randbelow(1_000_000):06d}"
    session.add(
        PhoneVerificationCode(
            user_id=user.id,
            phone=user.phone,
            code_hash=_phone_code_hash(user.id, user.phone, code),
            created_at=at,
            expires_at=at + PHONE_CODE_LIFETIME,
        )
    )
    with force_locale(locale):
        text = _("Flagship: your verification code is %(code)s, valid for %(minutes)s minutes. Do not share it.",
                 code=code, minutes=PHONE_CODE_MINUTES)
    send_sms(user.phone, text)
    session.flush()
    return code


def verify_phone(session: Session, *, user: User, code: str) -> str | None:
    """Check the texted code; None when the mobile is now verified, else what to tell the shopper. A wrong code
    uses up one of PHONE_CODE_TRIES (the caller commits either way); the code row is locked while it is checked,
    so parallel guesses are counted one by one."""
    at = clock.now()
    row = session.scalar(
        select(PhoneVerificationCode)
        .where(
            PhoneVerificationCode.user_id == user.id,
            PhoneVerificationCode.phone == user.phone,
            PhoneVerificationCode.used_at.is_(None),
            PhoneVerificationCode.expires_at > at,
        )
        .order_by(PhoneVerificationCode.id.desc())
        .limit(1)
        .with_for_update()
    )
    if row is None:
        return str(_("That code has expired or was not sent to this number: send a new one."))
    if row.attempts >= PHONE_CODE_TRIES:
        return str(_("Too many wrong codes: send a new one."))
    if not hmac.compare_digest(row.code_hash, _phone_code_hash(user.id, user.phone, code.strip())):
        row.attempts += 1
        session.flush()
        return str(_("That code is not right."))
    row.used_at = at
    user.phone_verified_at = at
    session.flush()
    return None


def change_password(
    session: Session, *, user: User, current_password: str, new_password: str, locale: str
) -> User:
    """Needs the current password; signs out every other session and tells the user by mail."""
    if not verify_password(user.password_hash, current_password):
        raise DomainError(_("Your current password is not correct."), field="current_password")
    if new_password == current_password:
        raise DomainError(_("Choose a password different from the current one."), field="new_password")
    _require_good_password(new_password, email=user.email, field="new_password")
    _set_password(user, new_password, now=clock.now())
    _queue_password_changed(session, user=user, locale=locale)
    session.flush()
    return user


# --- Password reset by emailed link -----------------------------------------------------------------------------


def _token_hash(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode()).hexdigest()


def request_password_reset(session: Session, *, email: str, locale: str) -> PasswordResetToken | None:
    """Mail a single-use link valid for RESET_TOKEN_LIFETIME if the account exists; if not, mail the address a
    note that it has no account (and return None).

    The caller must answer the same either way, so nobody learns which emails have accounts; queueing a mail in
    both cases keeps the time of the answer the same too.
    """
    user = find_user_by_email(session, email)
    if user is None or not user.is_active:
        # The same work as for an account (a rendered mail queued for the address), so the answer takes as long.
        queue_mail(
            session, to=normalise_email(email), template="accounts/reset_no_account",
            subject="Reset your Flagship password", locale=locale, register_url=public_url("accounts.register"),
        )
        session.flush()
        return None
    raw_token, link = _new_link(RESET_TOKEN_LIFETIME)
    token = PasswordResetToken(user=user, **link)
    session.add(token)
    queue_mail(
        session, to=user.email, template="accounts/password_reset", subject="Reset your Flagship password",
        locale=locale, name=user.name, reset_url=public_url("accounts.reset_password", token=raw_token),
        minutes=RESET_LINK_MINUTES,
    )
    session.flush()
    return token


RESET_PROBLEM_MESSAGES = {
    ResetTokenProblem.UNKNOWN: _l("This reset link is not valid. Check that you copied the whole link, or ask for a "
                                  "new one."),
    ResetTokenProblem.EXPIRED: _l("This reset link has expired: links work for %(minutes)d minutes. Ask for a new one.",
                                  minutes=RESET_LINK_MINUTES),
    ResetTokenProblem.USED: _l("This reset link has already been used. Ask for a new one if you still need it."),
}


def reset_link_problem(session: Session, *, raw_token: str) -> str | None:
    """None if the link can be used now, otherwise a message saying why not (expired, used, unknown)."""
    _token, problem = _usable_link(session, PasswordResetToken, raw_token)
    return str(RESET_PROBLEM_MESSAGES[problem]) if problem else None


def reset_password(session: Session, *, raw_token: str, new_password: str, locale: str) -> User:
    """Use a reset link once: new password, every session signed out, every other open link cancelled."""
    token, problem = _usable_link(session, PasswordResetToken, raw_token)
    if token is None:
        raise DomainError(str(RESET_PROBLEM_MESSAGES[problem or ResetTokenProblem.UNKNOWN]))
    user = token.user
    _require_good_password(new_password, email=user.email, field="password")
    now = clock.now()
    if not _claim(session, PasswordResetToken, token, now=now):
        raise DomainError(str(RESET_PROBLEM_MESSAGES[ResetTokenProblem.USED]))
    _cancel_open_links(session, PasswordResetToken, user_id=user.id, now=now)
    _set_password(user, new_password, now=now)
    _queue_password_changed(session, user=user, locale=locale)
    session.flush()
    return user


def _queue_password_changed(session: Session, *, user: User, locale: str) -> None:
    queue_mail(
        session, to=user.email, template="accounts/password_changed", subject="Your Flagship password was changed",
        locale=locale, name=user.name, changed_at=clock.now(), reset_url=public_url("accounts.reset_request"),
    )


def end_all_sessions(session: Session, *, user: User) -> None:
    """Sign the user out everywhere (sign-out: session cookies are signed, not stored, so this is how a copied
    cookie stops working)."""
    user.session_token = new_session_token()
    session.flush()


# --- Email change, confirmed from the new inbox -------------------------------------------------------------------


def request_email_change(
    session: Session, *, user: User, new_email: str, password: str, locale: str
) -> EmailChangeToken:
    """Mail a single-use link to the new address; the account moves only when that inbox confirms it.

    Needs the current password. Refuses the address the account already has and one another account uses (as
    registration does). A new request cancels the user's earlier open links, so only the newest one works.
    """
    confirm_password(user=user, password=password)
    new_email = normalise_email(new_email)
    if new_email == user.email:
        raise DomainError(_("That is already the email address of your account."), field="new_email")
    if find_user_by_email(session, new_email) is not None:
        raise DomainError(_("Another account already uses this email address."), field="new_email")
    raw_token, link = _new_link(EMAIL_CHANGE_LIFETIME)
    _cancel_open_links(session, EmailChangeToken, user_id=user.id, now=link["created_at"])
    token = EmailChangeToken(user=user, new_email=new_email, **link)
    session.add(token)
    queue_mail(
        session, to=new_email, template="accounts/email_change", subject="Confirm your new Flagship email address",
        locale=locale, name=user.name, old_email=user.email, new_email=new_email,
        confirm_url=public_url("accounts.confirm_email", token=raw_token), hours=EMAIL_CHANGE_HOURS,
    )
    session.flush()
    return token


EMAIL_LINK_PROBLEM_MESSAGES = {
    ResetTokenProblem.UNKNOWN: _l("This confirmation link is not valid. Check that you copied the whole link, or "
                                  "ask for the change again from your account page."),
    ResetTokenProblem.EXPIRED: _l("This confirmation link has expired: links work for %(hours)d hours. Ask for the "
                                  "change again from your account page.",
                                  hours=EMAIL_CHANGE_HOURS),
    ResetTokenProblem.USED: _l("This confirmation link has already been used, or a newer one was sent."),
}


def email_change_link(session: Session, *, raw_token: str) -> tuple[EmailChangeToken | None, str | None]:
    """The pending change behind a link, or None and a message saying why it cannot be used."""
    token, problem = _usable_link(session, EmailChangeToken, raw_token)
    return token, str(EMAIL_LINK_PROBLEM_MESSAGES[problem]) if problem else None


def confirm_email_change(session: Session, *, raw_token: str, locale: str) -> User:
    """Use the link once: the account's email becomes the new address; the old address is told."""
    token, problem = email_change_link(session, raw_token=raw_token)
    if token is None:
        raise DomainError(problem or "")
    now = clock.now()
    if not _claim(session, EmailChangeToken, token, now=now):
        raise DomainError(str(EMAIL_LINK_PROBLEM_MESSAGES[ResetTokenProblem.USED]))
    user, new_email = token.user, token.new_email
    old_email = user.email
    taken = DomainError(_("Another account started using %(email)s after you asked. Your email address has not "
                          "changed.", email=new_email))
    if find_user_by_email(session, new_email) is not None:
        raise taken
    try:
        with session.begin_nested():  # the unique email index settles a race with a registration
            user.email = new_email
            session.flush()
    except IntegrityError:
        raise taken from None
    queue_mail(
        session, to=old_email, template="accounts/email_changed", subject="Your Flagship email address was changed",
        locale=locale, name=user.name, old_email=old_email, new_email=new_email, changed_at=now,
        reset_url=public_url("accounts.reset_request"),
    )
    session.flush()
    return user


# --- Single-use links (password reset, email change) -------------------------------------------------------------


def _new_link(lifetime: dt.timedelta) -> tuple[str, dict[str, Any]]:
    """A fresh random token for the mail, and the values its link row stores: only the token's hash, and when
    it was made and stops working."""
    raw_token = secrets.token_urlsafe(32)
    now = clock.now()
    return raw_token, {"token_hash": _token_hash(raw_token), "created_at": now, "expires_at": now + lifetime}


def _usable_link(session: Session, kind: type[LinkT], raw_token: str) -> tuple[LinkT | None, ResetTokenProblem | None]:
    """The link of `kind` behind a token when it can be used now; otherwise None and why not."""
    link = _find_link(session, kind, raw_token)
    problem = ResetTokenProblem.UNKNOWN if link is None else link.problem(clock.now())
    return (link, None) if problem is None else (None, problem)


def _find_link(session: Session, kind: type[LinkT], raw_token: str) -> LinkT | None:
    if not raw_token or len(raw_token) > 100:
        return None
    return session.scalar(select(kind).where(kind.token_hash == _token_hash(raw_token)))


def _claim(session: Session, kind: type[SingleUseLink], link: SingleUseLink, *, now: dt.datetime) -> bool:
    """Mark a link used. The conditional UPDATE is the single-use guarantee: of two simultaneous uses only one
    changes a row."""
    claimed = cast(CursorResult[Any], session.execute(
        update(kind)
        .where(kind.id == link.id, kind.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ))
    session.expire(link, ["used_at"])
    return claimed.rowcount == 1


def _cancel_open_links(
    session: Session, kind: type[SingleUseLink] | type[PhoneVerificationCode], *, user_id: int, now: dt.datetime
) -> None:
    session.execute(
        update(kind)
        .where(kind.user_id == user_id, kind.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
