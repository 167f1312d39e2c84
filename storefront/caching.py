"""Catalog caching: anonymous pages rendered once per catalog version, locale and URL; availability stays live.

What changes rarely (models, trims, prices, specs, showrooms, their translations) is rendered into a page body and
kept under a key that holds the *catalog version*. Every commit that touched a catalog row bumps the version
(session events below: staff edits, price changes, CSV imports, seeding, whatever path they take), so the next
request renders afresh and the old entries simply age out. What changes with every reservation (stock counts)
is never in a cached page body: the page holds a marker (`<!--live:...-->`) and the route fills it from one
small query, whose answer is kept for at most STOCK_STALENESS_SECONDS (5 s): that is the bound on how stale a
stock figure may be. A listing filtered by city (`city=`) depends on stock for *which* models it lists, so those
pages expire after the same bound. The reserve step never reads any of this: it locks the car and checks it.

Only pages nothing personal can be on are shared: no signed-in user, no flashed message, no demo tour (see
`page_is_shareable`). Everything else renders as before. The backend is Redis when REDIS_URL is set (its own
key prefix), a per-process dictionary otherwise; the catalog version then lives in a small file in the instance
folder so that every worker on the machine sees a bump at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, g, has_app_context, make_response, request, session
from flask_babel import get_locale
from flask_caching import Cache
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

cache = Cache()

VERSION_KEY = "catalog-version"
# The longest stock shown on a catalog page may lag a reservation (STOCK_STALENESS_SECONDS in the config): unit
# counts, showrooms with stock, which models a `city=` listing shows, and how soon a catalog read puts a lapsed
# hold back on sale (cron does it every minute too). Reserving never reads any of it: it locks the car.
STOCK_STALENESS_SECONDS = 5


def stock_staleness() -> int:
    return int(current_app.config.get("STOCK_STALENESS_SECONDS", STOCK_STALENESS_SECONDS))


def remember_stock(key: str, value: Any) -> None:
    """Keep a stock answer for stock_staleness() seconds (0: not at all; the backends read 0 as "forever")."""
    if stock_staleness() > 0:
        cache.set(key, value, timeout=stock_staleness())
# Session keys that say nothing about who is browsing: a page rendered for such a session may be shared.
IMPERSONAL_SESSION_KEYS = frozenset({"csrf_token", "visit", "lang", "_permanent"})
# Tables whose rows are catalog content: a commit that wrote any of them bumps the catalog version.
CATALOG_TABLES = frozenset({"brands", "car_models", "trims", "trim_prices", "cities", "dealers"})


def init_app(app: Flask) -> None:
    redis_url = app.config.get("REDIS_URL", "")
    settings: dict[str, Any] = {
        "CACHE_KEY_PREFIX": app.config.get("CACHE_KEY_PREFIX", "flagship:catalog:"),
        "CACHE_DEFAULT_TIMEOUT": app.config.get("CACHE_DEFAULT_TIMEOUT", 3600),
        "CACHE_THRESHOLD": 2000,  # the per-process dictionary forgets the oldest entries beyond this
        "CACHE_NO_NULL_WARNING": True,  # NullCache is how tests and operators turn the page cache off
    }
    if app.config.get("CACHE_TYPE"):
        settings["CACHE_TYPE"] = app.config["CACHE_TYPE"]
    elif redis_url:
        settings.update(CACHE_TYPE="RedisCache", CACHE_REDIS_URL=redis_url)
    else:
        settings["CACHE_TYPE"] = "SimpleCache"
    cache.init_app(app, config=settings)
    app.extensions["catalog_version_file"] = Path(
        app.config.get("CATALOG_VERSION_FILE") or Path(app.instance_path) / "catalog-version"
    )
    _listen_for_catalog_changes()


def enabled() -> bool:
    return current_app.config.get("CACHE_TYPE") != "NullCache"


def _shared_backend() -> bool:
    return "Redis" in type(cache.cache).__name__


# --- The catalog version ------------------------------------------------------------------------------------


def catalog_version() -> str:
    """The current catalog version: "<unix seconds>.<random>", changed by every catalog commit."""
    if _shared_backend():
        version = cache.get(VERSION_KEY)
        if version is None:
            cache.add(VERSION_KEY, _new_version(), timeout=0)
            version = cache.get(VERSION_KEY)
        return str(version)
    path: Path = current_app.extensions["catalog_version_file"]
    try:
        return path.read_text().strip() or "0.0"
    except FileNotFoundError:  # a new machine: start counting from now
        bump_catalog_version()
        return path.read_text().strip()


def bump_catalog_version() -> None:
    version = _new_version()
    if _shared_backend():
        cache.set(VERSION_KEY, version, timeout=0)
        return
    path: Path = current_app.extensions["catalog_version_file"]
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}")
    scratch.write_text(version)
    scratch.replace(path)  # atomic: a reader sees the old version or the new one


def catalog_changed_at() -> int:
    """When the catalog last changed (unix seconds; 0 with the cache off): pages' Last-Modified."""
    return int(catalog_version().split(".", 1)[0] or 0) if enabled() else 0


def _new_version() -> str:
    return f"{int(time.time())}.{secrets.token_hex(6)}"


def clear_all() -> None:
    """Forget every cached page (benchmarks and tests); the version moves on too."""
    cache.clear()
    bump_catalog_version()


_listening = False


def _listen_for_catalog_changes() -> None:
    """A commit that wrote catalog rows bumps the version after it lands, never before: a page rendered
    between a bump and the commit would cache the old data under the new version."""
    global _listening
    if _listening:
        return
    _listening = True
    event.listen(Session, "after_flush", _note_flushed_catalog_rows)
    event.listen(Session, "do_orm_execute", _note_bulk_catalog_statements)
    event.listen(Session, "after_commit", _bump_after_commit)
    event.listen(Session, "after_soft_rollback", _forget_after_rollback)


def _touches_catalog(tables: Any) -> bool:
    return any(getattr(table, "name", None) in CATALOG_TABLES for table in tables)


def _note_flushed_catalog_rows(session: Session, _context: Any) -> None:
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(getattr(obj, "__tablename__", None) in CATALOG_TABLES for obj in changed):
        session.info["catalog_changed"] = True


def _note_bulk_catalog_statements(state: ORMExecuteState) -> None:
    writes = state.is_insert or state.is_update or state.is_delete
    if writes and state.bind_mapper is not None and _touches_catalog(state.bind_mapper.tables):
        state.session.info["catalog_changed"] = True


def _bump_after_commit(session: Session) -> None:
    if session.info.pop("catalog_changed", False) and has_app_context() and "cache" in current_app.extensions \
            and enabled():
        bump_catalog_version()


def _forget_after_rollback(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:  # the outermost transaction rolled back: nothing was written
        session.info.pop("catalog_changed", None)


# --- Shared pages -------------------------------------------------------------------------------------------


def has_session_cookie() -> bool:
    """The browser sent a session or remember-me cookie. Without one nothing personal can exist, and the
    session is never opened (so the answer carries no cookie and no `Vary: Cookie`)."""
    names = (current_app.config.get("SESSION_COOKIE_NAME", "session"),
             current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token"))
    return any(name in request.cookies for name in names)


def page_is_shareable() -> bool:
    """Nothing on this page is about the person asking: no signed-in user, no message, no demo tour."""
    return not has_session_cookie() or (
        not current_user.is_authenticated and set(session.keys()) <= IMPERSONAL_SESSION_KEYS
    )


@dataclass
class CachedPage:
    """A rendered page body with markers for live parts, plus what the route needs to fill them."""

    body: str
    meta: dict[str, Any] = field(default_factory=dict)


def cached_page(render: Callable[[], CachedPage], *, variant: str = "", stock_dependent: bool = False) -> CachedPage:
    """The page for this request from the cache, or `render()` it (and keep it when it may be shared).

    The key holds the catalog version, the locale, whether htmx asked for a fragment, `variant` (what the route
    decided beyond the URL) and the URL's arguments. `stock_dependent` pages expire after stock_staleness().
    """
    if not enabled() or not page_is_shareable():
        return render()
    key = _page_key(variant)
    page: CachedPage | None = cache.get(key)
    if page is None:
        page = render()
        if current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token") in g:
            return page  # a form on it took this session's CSRF token: never share that page
        if not stock_dependent:
            cache.set(key, page)
        else:
            remember_stock(key, page)
    return page


def _page_key(variant: str) -> str:
    arguments = "&".join(f"{k}={v}" for k, v in sorted(request.args.items(multi=True)))
    htmx = request.headers.get("HX-Request") and not request.headers.get("HX-History-Restore-Request")
    fragment = "f" if htmx else ""
    extra = ""
    if current_app.config.get("DEMO_MODE"):  # the moved store clock shows in the banner
        from storefront import clock

        extra = str(int(clock.get_offset().total_seconds()))
    digest = hashlib.blake2b(f"{request.path}?{arguments}".encode(), digest_size=16).hexdigest()
    return f"page:{catalog_version()}:{get_locale()}:{fragment}:{variant}:{extra}:{digest}"


def page_response(body: str, *, last_modified: int | None = None) -> Response:
    """The page with validators: an ETag of exactly these bytes (live parts included), so a browser or proxy
    revalidates and gets 304 while nothing it shows has changed; Last-Modified only for pages without live parts."""
    response = make_response(body)
    if page_is_shareable():
        response.headers["Cache-Control"] = "no-cache"  # any cache may keep it, but must ask again every time
    if "lang" not in request.args:
        response.vary.add("Accept-Language")  # the language follows the browser unless the URL names one
    # Weak: the same content may go out gzipped or not (COMPRESS_RESPONSES), and If-None-Match matches either.
    response.set_etag(hashlib.blake2b(body.encode(), digest_size=16).hexdigest(), weak=True)
    if last_modified:
        response.last_modified = dt.datetime.fromtimestamp(last_modified, dt.UTC)
    response.make_conditional(request)
    return response
