"""Who is asking: loading the signed-in user and the guards that keep areas to their roles."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, MutableMapping
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import abort, redirect, request, session, url_for
from flask_login import current_user, login_required, user_loaded_from_cookie, user_logged_in
from sqlalchemy import select

from models import StoreSetting, User
from storefront import clock
from storefront.extensions import db, login_manager
from storefront.security import is_safe_next

F = TypeVar("F", bound=Callable[..., Any])


# The store's session epoch (StoreSetting row): a demo reset writes a new random one, which ends every session made
# before it -- the reset brings back the seeded session tokens, so the tokens alone cannot do that.
SESSION_EPOCH_KEY = "session_epoch"


def _session_epoch_column() -> Any:
    return select(StoreSetting.value).where(StoreSetting.key == SESSION_EPOCH_KEY).scalar_subquery()


def current_session_epoch() -> str:
    return db.session.scalar(select(_session_epoch_column())) or ""


@login_manager.user_loader
def load_user(alternative_id: str) -> User | None:
    """The session holds '<id>:<session_token>:<epoch>': rotating the user's token signs that user out everywhere,
    a new store epoch (a demo reset) signs everybody out. One query reads the user and the epoch."""
    user_id, _, rest = alternative_id.partition(":")
    token, _, epoch = rest.partition(":")
    if not (user_id.isascii() and user_id.isdigit()) or len(user_id) > 10 or int(user_id) > 2_147_483_647:
        return None
    row = db.session.execute(select(User, _session_epoch_column()).where(User.id == int(user_id))).first()
    if row is None:
        return None
    user: User = row[0]
    current_epoch: str | None = row[1]
    if not user.is_active or user.session_token != token or epoch != (current_epoch or ""):
        return None
    return user


@user_logged_in.connect
def _stamp_session_epoch(_app: Any, user: User) -> None:
    """login_user stored user.get_id(); add the store's epoch, once a reset made one (the remember-me cookie
    copies this value too)."""
    epoch = current_session_epoch()
    if epoch:
        session["_user_id"] = f"{user.get_id()}:{epoch}"


@user_loaded_from_cookie.connect
def _bind_remembered_session(_app: Any, user: User) -> None:
    """A session restored from the remember-me cookie gets this browser's identifier, as login_user gives one.

    Flask-Login 0.6 leaves it out, and "strong" session protection would then end the session on the very next
    request. The session stays non-fresh: sensitive changes still ask for the password.
    """
    session["_id"] = login_manager._session_identifier_generator()


def require_staff() -> Any:
    """before_request guard for a whole blueprint: anonymous -> login, customers -> 403."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.is_staff:
        abort(403)
    return None


def require_admin() -> Any:
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.is_admin:
        abort(403)
    return None


def admin_required(view: F) -> F:
    """Admin-only view inside a staff area."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        refusal = require_admin()
        if refusal is not None:
            return refusal
        return view(*args, **kwargs)

    wrapped.admin_only = True  # type: ignore[attr-defined]  # read by the test that walks every staff route
    return cast(F, wrapped)


# --- Fresh login: sensitive changes need the password typed in the last FRESH_LOGIN_MAX_AGE ---------------------

FRESH_LOGIN_MAX_AGE = dt.timedelta(minutes=15)
AUTH_AT = "auth_at"  # session key: store-clock POSIX time of the last password entry (login or re-auth)


def mark_fresh_login(session_data: MutableMapping[str, Any]) -> None:
    """Record that the user has just typed their password (the login and re-auth pages call this)."""
    session_data["_fresh"] = True
    session_data[AUTH_AT] = clock.now().timestamp()


def login_is_fresh() -> bool:
    """Password typed in this session within FRESH_LOGIN_MAX_AGE (a remember-me cookie never counts)."""
    stamp = session.get(AUTH_AT)
    if not session.get("_fresh") or not isinstance(stamp, int | float):
        return False
    age = clock.now().timestamp() - stamp
    return 0 <= age <= FRESH_LOGIN_MAX_AGE.total_seconds()


def _come_back_to() -> str | None:
    """Where re-auth should return: this page for GET; for a form post, the page the form was on."""
    if request.method == "GET":
        target = request.full_path.rstrip("?")
    else:
        referrer = urlsplit(request.referrer or "")
        same_site = referrer.netloc == request.host
        target = (referrer.path + (f"?{referrer.query}" if referrer.query else "")) if same_site else ""
    return target if is_safe_next(target) else None


def fresh_login_required(view: F) -> F:
    """Price and role changes: signed in AND password entered in the last 15 minutes, else /account/reauth."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not login_is_fresh():  # the re-auth page explains why it is asking
            return redirect(url_for("accounts.reauth", next=_come_back_to()))
        return view(*args, **kwargs)

    wrapped.fresh_login = True  # type: ignore[attr-defined]  # lets tests find every view that needs it
    return cast(F, wrapped)


__all__ = [
    "FRESH_LOGIN_MAX_AGE",
    "admin_required",
    "fresh_login_required",
    "load_user",
    "login_is_fresh",
    "login_required",
    "mark_fresh_login",
    "require_admin",
    "require_staff",
]
