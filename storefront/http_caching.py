"""HTTP caching rules: signed-in pages are never stored, anonymous ones carry no cookie, static files are
served under content-hashed names that browsers keep for a year."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

from flask import Flask, Response, current_app, g, request, send_from_directory
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import NotFound

IMMUTABLE = "public, max-age=31536000, immutable"
# css/app.css -> 3f2a1b9c0d/css/app.css: ten hex digits of the content's BLAKE2b digest lead the name, so the file
# keeps its own name (and relative links between static files still resolve).
HASHED_NAME = re.compile(r"^(?P<digest>[0-9a-f]{10})/(?P<plain>.+)$")


def init_app(app: Flask) -> None:
    app.session_interface = CookielessSessionInterface()
    app.after_request(private_pages_not_stored)
    if app.config.get("COMPRESS_RESPONSES"):
        app.after_request(gzip_text)
    init_static_names(app)


class CookielessSessionInterface(SecureCookieSessionInterface):
    """Flask adds `Vary: Cookie` to every answer whose code *read* the session, even an empty one. A browser that
    sent no session cookie and is sent none back got the page everyone without a session gets, so that answer
    goes out without the header, and caches may share it. Anything that writes the session still sets the cookie
    (with `Vary: Cookie`), and answers to browsers that carry one are unchanged."""

    def save_session(self, app: Flask, session, response: Response) -> None:  # type: ignore[no-untyped-def]
        if not session and not session.modified and self.get_cookie_name(app) not in request.cookies:
            return
        super().save_session(app, session, response)


def private_pages_not_stored(response: Response) -> Response:
    """A page shown to a signed-in user may carry their name, orders or address: no cache may keep it.
    (Only a user the request already loaded is looked at, so a static file costs no query.)"""
    user = g.get("_login_user")
    if user is not None and user.is_authenticated:
        response.headers["Cache-Control"] = "no-store"
    return response


# Text worth compressing; pages under ~1 KB gain nothing. Level 1: most of the gain for a third of level 6's time.
COMPRESSIBLE = frozenset({"text/html", "text/css", "text/plain", "text/csv", "application/javascript",
                          "application/json", "application/xml", "image/svg+xml"})
MIN_COMPRESS_BYTES = 1024


def gzip_text(response: Response) -> Response:
    """COMPRESS_RESPONSES=1: gzip text answers for browsers that accept it, when no proxy in front does it
    (the nginx site does: see README "Speed"). Static files are left to the proxy; so are 304s and streams."""
    response.vary.add("Accept-Encoding")
    if (response.direct_passthrough or response.status_code != 200 or "Content-Encoding" in response.headers
            or response.mimetype not in COMPRESSIBLE or "gzip" not in request.headers.get("Accept-Encoding", "")):
        return response
    body = response.get_data()
    if len(body) < MIN_COMPRESS_BYTES:
        return response
    response.set_data(gzip.compress(body, compresslevel=1))
    response.headers["Content-Encoding"] = "gzip"
    etag, weak = response.get_etag()
    if etag and not weak:  # the same content, another encoding: only weakly the same representation
        response.set_etag(etag, weak=True)
    return response


# --- Static files under content-hashed names -------------------------------------------------------------


def init_static_names(app: Flask) -> None:
    """`url_for('static', filename='css/app.css')` gives /static/<digest>/css/app.css; that name is served with
    a one-year immutable Cache-Control, and a changed file gets a new name, so nobody keeps a stale copy.
    Plain names still work (revalidated each time, as before), for links written by hand."""
    app.extensions["static_digests"] = {}
    app.url_defaults(_hashed_static_name)
    app.view_functions["static"] = serve_static


def static_digest(filename: str) -> str | None:
    """The content digest of a file under static/ (cached per process; recomputed when the file changes in debug)."""
    digests: dict[str, tuple[float, str]] = current_app.extensions["static_digests"]
    path = Path(current_app.static_folder or "") / filename
    known = digests.get(filename)
    if known is not None and not current_app.debug:
        return known[1]
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    if known is None or known[0] != mtime:
        known = (mtime, hashlib.blake2b(path.read_bytes(), digest_size=5).hexdigest())
        digests[filename] = known
    return known[1]


def hashed_name(filename: str) -> str:
    digest = static_digest(filename)
    return filename if digest is None else f"{digest}/{filename}"


def _hashed_static_name(endpoint: str, values: dict[str, object]) -> None:
    if endpoint == "static" and isinstance(values.get("filename"), str):
        values["filename"] = hashed_name(str(values["filename"]))


def serve_static(filename: str) -> Response:
    folder = current_app.static_folder or ""
    match = HASHED_NAME.match(filename)
    if match:
        plain = match["plain"]
        if static_digest(plain) == match["digest"]:
            response = send_from_directory(folder, plain, max_age=31536000)
            response.headers["Cache-Control"] = IMMUTABLE
            return response
    try:
        return send_from_directory(folder, filename)
    except NotFound:
        if match:  # an old digest: the current file, revalidated like a plain name
            return send_from_directory(folder, match["plain"])
        raise
