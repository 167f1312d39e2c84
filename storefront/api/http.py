"""HTTP conventions every /api response shares: conditional GETs, Cache-Control, CORS, API-key authentication,
per-key rate limits and idempotent retries of writes.

Installed app-wide by the api blueprint (after_app_request), so each area's API blueprint gets them without
wiring anything itself.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Response, current_app, g, jsonify, request
from limits import RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from models import ApiIdempotentResponse, ApiKey
from storefront import clock
from storefront.api import services
from storefront.errors import json_error
from storefront.extensions import db

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_CACHE_CONTROL = "no-cache"  # may be stored, but revalidated (cheaply, with the ETag) before each use
CORS_ALLOW_HEADERS = "Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key"
CORS_EXPOSE_HEADERS = (
    "ETag, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After, Idempotent-Replayed, Location"
)
MAX_IDEMPOTENCY_KEY = 255


def cache_for(seconds: int, *, private: bool = False) -> Callable[[F], F]:
    """Cache-Control for a GET view: who may keep the answer and for how long."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            g.api_cache_control = f"{'private' if private else 'public'}, max-age={seconds}"
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorate


def finish_api_response(response: Response) -> Response:
    """after_app_request: ETag + If-None-Match -> 304 and Cache-Control on GETs, CORS when configured."""
    if not request.path.startswith("/api/"):
        return response
    if request.method in ("GET", "HEAD") and response.status_code == 200:
        response.headers["Cache-Control"] = getattr(g, "api_cache_control", DEFAULT_CACHE_CONTROL)
        if not response.direct_passthrough and not response.is_streamed:
            if "ETag" not in response.headers:
                response.add_etag()
            response.make_conditional(request)
    elif request.method not in ("GET", "HEAD", "OPTIONS"):
        response.headers.setdefault("Cache-Control", "no-store")
    for name, value in g.get("api_rate_headers", {}).items():  # set by the per-key limit (api_key_required)
        response.headers[name] = value
    _add_cors_headers(response)
    return response


def _allowed_origins() -> set[str]:
    raw = current_app.config.get("API_CORS_ORIGINS") or ""
    return {origin.strip().rstrip("/") for origin in raw.split(",") if origin.strip()}


def _add_cors_headers(response: Response) -> None:
    """No CORS headers at all unless API_CORS_ORIGINS lists the caller's origin (or is "*")."""
    allowed = _allowed_origins()
    if not allowed:
        return
    response.vary.add("Origin")
    origin = request.headers.get("Origin", "")
    if not origin or ("*" not in allowed and origin not in allowed):
        return
    response.headers["Access-Control-Allow-Origin"] = "*" if "*" in allowed else origin
    response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSE_HEADERS
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = "GET, PUT, POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = CORS_ALLOW_HEADERS
        response.headers["Access-Control-Max-Age"] = "600"


# ---------------------------------------------------------------------------------------------------------------
# API keys and per-key rate limits


def _rate_limiter() -> FixedWindowRateLimiter:
    """One limiter per app, on the same storage as Flask-Limiter (Redis with REDIS_URL, so hosts share counts)."""
    limiter = current_app.extensions.get("api_key_rate_limiter")
    if limiter is None:
        storage = storage_from_string(current_app.config.get("RATELIMIT_STORAGE_URI") or "memory://")
        limiter = FixedWindowRateLimiter(storage)
        current_app.extensions["api_key_rate_limiter"] = limiter
    return cast(FixedWindowRateLimiter, limiter)


def _unauthorized(message: str) -> tuple[Response, int]:
    response, status = json_error(401, "unauthorized", message)
    response.headers["WWW-Authenticate"] = 'Bearer realm="flagship-inventory"'
    return response, status


def _rate_limit(key: ApiKey) -> tuple[Response, int] | None:
    """Count this request against the key; a refusal (429) when it is over. Storage trouble lets it through."""
    item = RateLimitItemPerMinute(key.rate_limit_per_minute)
    namespace = str(current_app.config.get("RATELIMIT_KEY_PREFIX") or "flagship")  # stores sharing one Redis
    try:
        limiter = _rate_limiter()
        allowed = limiter.hit(item, namespace, "api-key", key.prefix)
        stats = limiter.get_window_stats(item, namespace, "api-key", key.prefix)
    except Exception as error:  # Redis down: serve without a limit rather than fail every partner request
        log.warning("API rate limit storage unavailable: %s", error)
        return None
    reset = max(1, math.ceil(stats.reset_time - time.time()))
    g.api_rate_headers = {
        "RateLimit-Limit": str(item.amount),
        "RateLimit-Remaining": str(max(0, stats.remaining)),
        "RateLimit-Reset": str(reset),
    }
    if allowed:
        return None
    response, status = json_error(429, "too_many_requests",
                                  f"This key may make {item.amount} requests a minute; retry in {reset} seconds.")
    response.headers["Retry-After"] = str(reset)
    return response, status


def api_key_required(view: F) -> F:
    """Bearer API key -> g.api_key, counted against its rate limit; 401 without a valid, unrevoked key."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            return _unauthorized("Send an API key as `Authorization: Bearer <key>`.")
        key = services.authenticate(db.session, secret=secret.strip(), at=clock.now())
        if key is None:
            db.session.rollback()
            return _unauthorized("This API key is not valid or has been revoked.")
        refusal = _rate_limit(key)
        if refusal is not None:
            db.session.commit()  # keep last_used_at
            return refusal
        g.api_key = key
        return view(*args, **kwargs)

    return cast(F, wrapped)


def current_key() -> ApiKey:
    key: ApiKey = g.api_key
    return key


# ---------------------------------------------------------------------------------------------------------------
# Idempotent writes


def idempotency_key() -> tuple[str | None, tuple[Response, int] | None]:
    raw = request.headers.get("Idempotency-Key")
    if raw is None:
        return None, None
    raw = raw.strip()
    if not raw or len(raw) > MAX_IDEMPOTENCY_KEY or not raw.isprintable():
        return None, json_error(400, "bad_request", "Idempotency-Key must be 1 to 255 printable characters.",
                                {"Idempotency-Key": "1 to 255 printable characters, e.g. a UUID."})
    return raw, None


def request_fingerprint() -> str:
    parts = [request.method, request.path, request.headers.get("If-Match", ""), request.get_data(as_text=False)]
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else part.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()


def replay(key: ApiKey, idem_key: str) -> tuple[Response, int] | None:
    """The stored answer to this key's earlier request with `idem_key`, or a 422 if that was another request."""
    stored = db.session.scalar(select(ApiIdempotentResponse).where(
        ApiIdempotentResponse.api_key_id == key.id, ApiIdempotentResponse.idempotency_key == idem_key))
    if stored is None:
        return None
    if stored.request_hash != request_fingerprint():
        return json_error(422, "idempotency_key_reused",
                          "This Idempotency-Key was already used for a different request; use a new key.",
                          {"Idempotency-Key": "Already used for a different request."})
    response = jsonify(stored.body)
    response.headers["Idempotent-Replayed"] = "true"
    if stored.etag:
        response.headers["ETag"] = stored.etag
    return response, stored.status_code


def remember(key: ApiKey, idem_key: str, response: Response, status: int) -> None:
    """Keep the answer with the write (same transaction) so a retry gets it back."""
    db.session.add(ApiIdempotentResponse(
        api_key_id=key.id, idempotency_key=idem_key, request_hash=request_fingerprint(), status_code=status,
        body=response.get_json(), etag=response.headers.get("ETag"), created_at=clock.now()))


def commit_or_replay(key: ApiKey, idem_key: str | None) -> tuple[Response, int] | None:
    """Commit; if a concurrent retry with the same Idempotency-Key committed first, answer with its result."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        if idem_key is None:
            raise
        return replay(key, idem_key)
    return None
