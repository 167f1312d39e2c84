"""The presenter access code: what stands between a visitor and demo mode's one-click sign-in.

With DEMO_ACCESS_CODE set (production refuses DEMO_MODE without one), the presenter page shows only a form asking
for the code, and nobody is signed in to a demo account -- by the one-click buttons, the guided tour or the
ordinary sign-in form with the passwords the README prints -- until this browser's session has been unlocked with
the code. The session keeps an HMAC of the code (keyed with SECRET_KEY), never the code, so changing the code
locks every presenter out again. Without a code (development, `make run`) the demo works as before.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app, session

SESSION_KEY = "demo_presenter"


def code_required() -> bool:
    return bool(current_app.config.get("DEMO_ACCESS_CODE"))


def _fingerprint(code: str) -> str:
    key = str(current_app.config.get("SECRET_KEY") or "").encode()
    return hmac.new(key, code.encode(), hashlib.sha256).hexdigest()


def presenter_unlocked() -> bool:
    """True when no code is configured, or this session typed the current one."""
    if not code_required():
        return True
    stored = session.get(SESSION_KEY)
    expected = _fingerprint(str(current_app.config["DEMO_ACCESS_CODE"]))
    return isinstance(stored, str) and hmac.compare_digest(stored, expected)


def unlock(code: str) -> bool:
    """Compare `code` with DEMO_ACCESS_CODE in constant time; on a match, unlock this session."""
    configured = str(current_app.config.get("DEMO_ACCESS_CODE") or "")
    if not configured or not hmac.compare_digest(code.encode(), configured.encode()):
        return False
    session[SESSION_KEY] = _fingerprint(configured)
    return True


def is_demo_account(email: str) -> bool:
    from storefront.accounts.seed import DEMO_ACCOUNTS

    return any(email == demo_email for demo_email, *_rest in DEMO_ACCOUNTS)


def may_sign_in(email: str) -> bool:
    """The sign-in form lets a demo account in (its password is public) only in demo mode, and only once the
    presenter is unlocked where a code is set; in production without demo mode, never."""
    if not is_demo_account(email):
        return True
    config = current_app.config
    if config.get("ENV_NAME") == "production" and not config.get("DEMO_MODE"):
        return False
    return presenter_unlocked()
