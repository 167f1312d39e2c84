"""Language choice, localised model fields and the money/time formats shoppers expect."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask import Flask, current_app, has_request_context, request, session
from flask_babel import format_datetime, get_locale
from flask_babel import lazy_gettext as _l

from storefront.clock import STORE_TZ

LANGUAGE_NAMES = {"zh_Hans_CN": "中文", "en": "English"}


def select_locale() -> str:
    """Session choice first, then the browser's Accept-Language, then zh-CN."""
    if not has_request_context():  # CLI commands, webhooks' background work, worker threads
        return str(current_app.config["BABEL_DEFAULT_LOCALE"])
    supported = current_app.config["SUPPORTED_LOCALES"]
    chosen = session.get("lang")
    if chosen in supported:
        return str(chosen)
    best = request.accept_languages.best_match(["zh", "zh-CN", "en"])
    if best and best.startswith("en"):
        return "en"
    return str(current_app.config["BABEL_DEFAULT_LOCALE"])


def is_chinese() -> bool:
    locale = get_locale()
    return locale is not None and locale.language == "zh"


def localised(obj: Any, field: str) -> str:
    """obj.<field>_zh in Chinese, obj.<field>_en in English, falling back to whichever is set.

    Works on models and on the dicts kept in JSON columns (colours, features).
    """
    if isinstance(obj, dict):
        zh, en = obj.get(f"{field}_zh") or "", obj.get(f"{field}_en") or ""
    else:
        zh = getattr(obj, f"{field}_zh", "") or ""
        en = getattr(obj, f"{field}_en", "") or ""
    return (zh or en) if is_chinese() else (en or zh)


DRIVE_LABELS = {"fwd": _l("FWD"), "rwd": _l("RWD"), "awd": _l("AWD"), "4wd": _l("AWD")}


def drive_label(code: str) -> str:
    """前驱 / 后驱 / 四驱 in Chinese, FWD / RWD / AWD in English."""
    label = DRIVE_LABELS.get((code or "").lower())
    return str(label) if label is not None else (code or "").upper()


def format_cny(value: Decimal | int | None, *, cents: bool | None = None) -> str:
    """¥149,800 for whole yuan, ¥3,215.47 otherwise; cents=True always shows the fen."""
    if value is None:
        return "—"
    if isinstance(value, float):
        raise TypeError("money must be Decimal, not float")
    amount = Decimal(value)
    show_cents = cents if cents is not None else amount != amount.to_integral_value()
    sign = "-" if amount < 0 else ""
    text = f"{abs(amount):,.2f}" if show_cents else f"{abs(amount):,.0f}"
    return f"{sign}¥{text}"


def format_local(value: dt.datetime | None, fmt: str = "medium") -> str:
    """A UTC timestamp shown in Asia/Shanghai, in the page's language."""
    if value is None:
        return ""
    return str(format_datetime(value.astimezone(STORE_TZ), fmt))


def to_local(value: dt.datetime) -> dt.datetime:
    return value.astimezone(STORE_TZ)


def translation_directories(app: Flask) -> str:
    """Every area keeps its own catalog (storefront/<area>/translations); Flask-Babel merges them."""
    root = Path(app.root_path)
    dirs = [str(p.relative_to(root)) for p in sorted(root.glob("**/translations")) if p.is_dir()]
    return ";".join(dirs) or "translations"
