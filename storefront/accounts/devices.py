"""Known devices: a signed cookie, set when a sign-in succeeds, that lets that browser past the account's throttle.

Failed sign-ins slow down browsers the account has never been used from (see the limits in accounts/routes.py).
A stranger who only knows the email address can therefore hold up other strangers, but never a browser the owner
has signed in with before: that browser carries this cookie and is only limited by its own failures (the OWASP
"device cookie" pattern). The cookie names the account by a keyed hash of its email (no personal data in clear),
and a random device id that its own failure counter is kept under.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import Any

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from storefront.accounts.services import normalise_email

COOKIE_NAME = "known_device"
COOKIE_PATH = "/account/"
LIFETIME = dt.timedelta(days=180)
_SALT = "known-device"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def account_tag(email: str) -> str:
    """A keyed hash of the normalised email: the same account gives the same tag, and the tag reveals nothing."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, normalise_email(email).encode(), hashlib.sha256).hexdigest()[:32]


def remember_device(response: Response, email: str) -> None:
    """After a successful sign-in: this browser is now a known device for this account."""
    value = _serializer().dumps({"account": account_tag(email), "device": secrets.token_hex(12)})
    response.set_cookie(
        COOKIE_NAME, value, max_age=int(LIFETIME.total_seconds()), path=COOKIE_PATH, httponly=True,
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")), samesite="Lax",
    )


def known_device_id(email: str) -> str | None:
    """The device id when this request comes from a browser that has signed in to `email`'s account before."""
    raw = request.cookies.get(COOKIE_NAME)
    if not raw or not email:
        return None
    try:
        payload: Any = _serializer().loads(raw, max_age=int(LIFETIME.total_seconds()))
    except BadSignature:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("device"), str):
        return None
    if not hmac.compare_digest(str(payload.get("account", "")), account_tag(email)):
        return None
    return payload["device"]
