"""Language choice, localised model fields and the money/time formats shoppers expect."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask import Flask, current_app, has_request_context, request, session
from flask_babel import format_datetime, get_locale, pgettext
from flask_babel import lazy_gettext as _l

from storefront.clock import STORE_TZ

LANGUAGE_NAMES = {"zh_Hans_CN": "中文", "en": "English"}
CJK = re.compile(r"[\u3400-\u9fff]")


# The language a URL names (`?lang=en`): the alternates search engines index (hreflang) and shareable links.
URL_LANGUAGES = {"zh-CN": "zh_Hans_CN", "en": "en"}
LANGUAGE_COOKIE = "lang"


def select_locale() -> str:
    """The URL's `lang=` first, then the shopper's choice (its own cookie; older sessions kept it in the
    session), then the browser's Accept-Language, then zh-CN. A browser without a session cookie never has its
    session opened here, so a shared page does not vary by cookie."""
    if not has_request_context():  # CLI commands, webhooks' background work, worker threads
        return str(current_app.config["BABEL_DEFAULT_LOCALE"])
    supported = current_app.config["SUPPORTED_LOCALES"]
    named = URL_LANGUAGES.get(request.args.get("lang", ""))
    if named:
        return named
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen not in supported and current_app.config["SESSION_COOKIE_NAME"] in request.cookies:
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


def place(dealer: Any) -> str:
    """A showroom and its address: "浦东旗舰体验中心，浦东新区世纪大道1888号" / "Xuhui Showroom, 399 Caoxi..."."""
    name, address = localised(dealer, "name"), localised(dealer, "address")
    return str(_l("%(name)s, %(address)s", name=name, address=address)) if address else name


def colon() -> str:
    """Between a label and its value: ": " in English, a full-width "：" in Chinese."""
    return str(pgettext("label and value", ": "))


def one_language(text: str) -> str:
    """Free text written "English / 中文" (a seeded holiday, a note staff wrote for both) shows the page's half."""
    english, slash, chinese = (text or "").partition(" / ")
    if not slash or not CJK.search(chinese) or CJK.search(english):
        return text or ""
    return chinese.strip() if is_chinese() else english.strip()


def format_cny(value: Decimal | int | None, *, cents: bool | None = None) -> str:
    """¥149,800 for whole yuan, ¥3,215.47 otherwise; cents=True always shows the fen.

    The store's rule: prices, deposits, refunds and totals are written in whole yuan, with fen only when the
    amount has them; finance figures (instalments, schedules, quote totals) always show the fen (cents=True),
    so a column of them lines up and a shopper can check the arithmetic.
    """
    if value is None:
        return "—"
    if isinstance(value, float):
        raise TypeError("money must be Decimal, not float")
    amount = Decimal(value)
    show_cents = cents if cents is not None else amount != amount.to_integral_value()
    sign = "-" if amount < 0 else ""
    text = f"{abs(amount):,.2f}" if show_cents else f"{abs(amount):,.0f}"
    return f"{sign}¥{text}"


# The store's one way to write a time, per language (Babel patterns). Templates name the shape they want with
# Babel's words or an ISO-like pattern; both land here, so a page never mixes "2026/12/5 04:19" with "12/5/26".
_DATETIME = ("yyyy年M月d日 HH:mm", "d MMM yyyy, HH:mm")
STORE_PATTERNS = {
    "short": _DATETIME, "medium": _DATETIME, "long": _DATETIME, "yyyy-MM-dd HH:mm": _DATETIME,
    "EEEE yyyy-MM-dd HH:mm": ("yyyy年M月d日 EEEE HH:mm", "EEEE d MMM yyyy, HH:mm"),
    "yyyy-MM-dd": ("yyyy年M月d日", "d MMM yyyy"),
    "MM-dd HH:mm": ("M月d日 HH:mm", "d MMM, HH:mm"),
}


def format_local(value: dt.datetime | None, fmt: str = "medium") -> str:
    """A UTC timestamp shown in Asia/Shanghai, in the page's language and the store's pattern for it."""
    if value is None:
        return ""
    patterns = STORE_PATTERNS.get(fmt)
    pattern = (patterns[0] if is_chinese() else patterns[1]) if patterns else fmt
    return str(format_datetime(value.astimezone(STORE_TZ), pattern))


def to_local(value: dt.datetime) -> dt.datetime:
    return value.astimezone(STORE_TZ)


def translation_directories(app: Flask) -> str:
    """Every area keeps its own catalog (storefront/<area>/translations); Flask-Babel merges them."""
    root = Path(app.root_path)
    dirs = [str(p.relative_to(root)) for p in sorted(root.glob("**/translations")) if p.is_dir()]
    return ";".join(dirs) or "translations"
