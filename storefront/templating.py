"""Template helpers: filters for money, time and localised names, and the language switch."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Flask, current_app, redirect, request, session, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from storefront.audit import action_label, entity_label, field_label, value_label
from storefront.i18n import (
    LANGUAGE_COOKIE,
    LANGUAGE_NAMES,
    colon,
    drive_label,
    format_cny,
    format_local,
    is_chinese,
    localised,
    one_language,
    place,
    to_local,
)
from storefront.reservations.terms import deposit_kind_label, deposit_word
from storefront.security import is_safe_next


def url_with(**changes: Any) -> str:
    """The current URL with some query arguments changed (None removes one); keeps filters in the URL."""
    args = request.args.to_dict(flat=False)
    for key, value in changes.items():
        if value is None or value == "":
            args.pop(key, None)
        else:
            args[key] = [str(value)]
    query = urlencode(args, doseq=True)
    return f"{request.path}?{query}" if query else request.path


def set_language() -> Response:
    """POST /lang: remember the chosen language in its own cookie and go back where the user was.

    It needs no CSRF token, so the switch on a shared page carries none and that page sets no session cookie:
    a forged POST could only change which language this browser reads in; it touches no session and no data.
    """
    chosen = request.form.get("lang", "")
    target = request.form.get("next", "")
    response = redirect(target if is_safe_next(target) else url_for("catalog.home"))
    if chosen in LANGUAGE_NAMES:
        response.set_cookie(LANGUAGE_COOKIE, chosen, max_age=LANGUAGE_COOKIE_SECONDS, httponly=True,
                            samesite="Lax", secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")))
        if current_app.config["SESSION_COOKIE_NAME"] in request.cookies:
            session["lang"] = chosen  # kept across sign-in/out with the session's other preferences
    return response


LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600

# Header links to areas, shown once the area's endpoint exists (areas land one by one).
NAV_EXTRAS = (
    ("test_drives.index", _l("Test drive")),
    ("finance.index", _l("Finance & lease")),
    ("presale.index", _l("Launch presale")),
)


def init_app(app: Flask) -> None:
    from storefront.extensions import csrf

    app.add_url_rule("/lang", "set_language", csrf.exempt(set_language), methods=["POST"])
    app.jinja_env.filters["cny"] = format_cny
    app.jinja_env.filters["local_dt"] = format_local
    app.jinja_env.filters["to_local"] = to_local
    app.jinja_env.filters["loc"] = localised  # `trims|map("loc", "engine")`: a column in the page's language
    app.jinja_env.filters["drive"] = drive_label
    app.jinja_env.globals["loc"] = localised
    app.jinja_env.globals["drive_label"] = drive_label
    app.jinja_env.globals["one_language"] = one_language
    app.jinja_env.globals["place"] = place
    app.jinja_env.globals["colon"] = colon
    app.jinja_env.globals.update(audit_action=action_label, audit_entity=entity_label, audit_field=field_label,
                                 audit_value=value_label)
    app.jinja_env.globals["deposit_word"] = deposit_word
    app.jinja_env.globals["deposit_kind_label"] = deposit_kind_label
    app.jinja_env.globals["url_with"] = url_with
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    @app.context_processor
    def _globals() -> dict[str, Any]:
        locale = get_locale()
        endpoints = app.view_functions
        return {
            "endpoints": endpoints,
            "nav_extras": [(endpoint, label) for endpoint, label in NAV_EXTRAS if endpoint in endpoints],
            "current_locale": str(locale) if locale else "zh_Hans_CN",
            "html_lang": "zh-CN" if is_chinese() else "en",
            "language_names": LANGUAGE_NAMES,
            "demo_mode": app.config.get("DEMO_MODE", False),
        }
