"""Security headers on every response and the check that keeps `next=` redirects on this site."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, g, request, session
from werkzeug.middleware.proxy_fix import ProxyFix

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self' https://checkout.stripe.com",
        "frame-ancestors 'none'",
    ]
)


def add_security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    response.headers.setdefault("Permissions-Policy", "camera=(self), geolocation=(), microphone=()")
    return response


# --- Transport and privacy headers (issue 11): HSTS in production, no-store on personal pages ----------------


def add_transport_and_privacy_headers(response: Response) -> Response:
    """Strict-Transport-Security on every response when HSTS_SECONDS > 0 (production's default: a year), and
    `Cache-Control: no-store` on whatever a signed-in user is shown (profile, my reservations, staff lists) and
    on every download (CSV exports): no browser or shared cache keeps personal data. Static files stay cacheable.

    Kept apart from the caching headers of anonymous pages on purpose; for a signed-in user this one wins.
    """
    hsts_seconds = int(current_app.config.get("HSTS_SECONDS") or 0)
    if hsts_seconds > 0:
        response.headers["Strict-Transport-Security"] = f"max-age={hsts_seconds}; includeSubDomains"
    if request.endpoint == "static":
        return response
    is_download = response.mimetype == "text/csv" or "attachment" in response.headers.get("Content-Disposition", "")
    if is_download or _signed_in():
        response.headers["Cache-Control"] = "no-store"
        response.headers.pop("Expires", None)
        response.headers.pop("ETag", None)
    return response


def _signed_in() -> bool:
    """The user this request loaded, else whether the session names one (no query here: the database may be the
    reason this is an error page)."""
    user = g.get("_login_user")
    if user is not None:
        return bool(user.is_authenticated)
    return "_user_id" in session


def is_safe_next(target: str | None) -> bool:
    """Only same-site relative paths: refuses https://evil.com, //evil.com, /\\evil.com and the like."""
    if not target:
        return False
    if any(ch in target for ch in ("\\", "\r", "\n", "\t")) or target.startswith("//"):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc and target.startswith("/")


def refuse_nul_characters() -> None:
    """No path, form field or query argument may carry a NUL: PostgreSQL refuses it in text and nobody types one."""
    if "\x00" in request.path:
        abort(400, description="Text may not contain NUL characters.")
    for values in (request.args, request.form):
        for value in values.values():
            if "\x00" in value:
                abort(400, description="Text may not contain NUL characters.")


def init_security(app: Flask) -> None:
    app.before_request(refuse_nul_characters)
    app.after_request(add_security_headers)
    app.after_request(add_transport_and_privacy_headers)
    trust_proxies(app, int(app.config.get("TRUSTED_PROXY_COUNT") or 0))


def trust_proxies(app: Flask, count: int) -> None:
    """Behind `count` reverse proxies, take the client's address, scheme and host from their X-Forwarded-For,
    -Proto and -Host headers (werkzeug's ProxyFix, each trusting only the last `count` hops). That address is
    what the rate limits count and the logs show; the scheme makes external links https. With 0, nothing."""
    if count > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)  # type: ignore[method-assign]
