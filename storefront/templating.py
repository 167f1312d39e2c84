"""Template helpers: filters for money, time and localised names, and the language switch."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Flask, redirect, request, session, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from storefront.i18n import LANGUAGE_NAMES, drive_label, format_cny, format_local, is_chinese, localised, to_local
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
    """POST /lang: remember the chosen language in the session and go back where the user was."""
    chosen = request.form.get("lang", "")
    if chosen in LANGUAGE_NAMES:
        session["lang"] = chosen
    target = request.form.get("next", "")
    return redirect(target if is_safe_next(target) else url_for("catalog.home"))


# Header links to areas, shown once the area's endpoint exists (areas land one by one).
NAV_EXTRAS = (
    ("test_drives.index", _l("Test drive")),
    ("finance.index", _l("Finance & lease")),
    ("reservations.mine", _l("My reservations")),
)


def init_app(app: Flask) -> None:
    app.add_url_rule("/lang", "set_language", set_language, methods=["POST"])
    app.jinja_env.filters["cny"] = format_cny
    app.jinja_env.filters["local_dt"] = format_local
    app.jinja_env.filters["to_local"] = to_local
    app.jinja_env.globals["loc"] = localised
    app.jinja_env.globals["drive_label"] = drive_label
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
