"""One voice in Chinese and English: the catalogs agree with each other and with the code.

Every area keeps its own catalog and Flask-Babel merges them, so a msgid (with its context) translated two ways
in two areas shows whichever catalog loads last, on every page. These tests fail on such a collision, on an
empty or fuzzy zh-CN entry, on a translation whose placeholders differ from the msgid's, and on a message in
the code that no catalog carries.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from flask import Flask, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

import models
from storefront import clock
from storefront.errors import DomainError

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = sorted(ROOT.glob("storefront/**/translations/zh_Hans_CN/LC_MESSAGES/messages.po"))
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2),
            "npgettext": ((1, "c"), 2, 3), "_l": None, "lazy_gettext": None, "lazy_pgettext": ((1, "c"), 2)}


def _area(path: Path) -> str:
    parts = path.relative_to(ROOT / "storefront").parts
    return "shared" if parts[0] == "translations" else parts[0]


@pytest.fixture(scope="module")
def catalogs() -> dict[str, Catalog]:
    assert CATALOGS, "no zh-CN catalog found"
    result = {}
    for path in CATALOGS:
        with path.open("rb") as po:
            result[_area(path)] = read_po(po, locale="zh_Hans_CN")
    return result


def _key(message) -> tuple[str | None, str]:  # type: ignore[no-untyped-def]
    return message.context, message.id if isinstance(message.id, str) else message.id[0]


def test_a_msgid_has_one_translation_across_all_areas(catalogs: dict[str, Catalog]) -> None:
    seen: dict[tuple[str | None, str], dict[str, object]] = defaultdict(dict)
    for area, catalog in catalogs.items():
        for message in catalog:
            if message.id:
                seen[_key(message)][area] = message.string
    collisions = {key: areas for key, areas in seen.items() if len({repr(s) for s in areas.values()}) > 1}
    assert not collisions, "one msgid, several translations (use pgettext or one wording):\n" + "\n".join(
        f"  {context or ''}|{msgid!r}: {areas}" for (context, msgid), areas in collisions.items())


def test_every_zh_cn_entry_is_translated_and_not_fuzzy(catalogs: dict[str, Catalog]) -> None:
    untranslated = [
        f"{area}: {_key(m)}" for area, catalog in catalogs.items() for m in catalog
        if m.id and (m.fuzzy or not (m.string if isinstance(m.string, str) else all(m.string)))
    ]
    assert not untranslated, "\n".join(untranslated)


def test_translations_keep_the_placeholders_of_their_msgid(catalogs: dict[str, Catalog]) -> None:
    broken = [f"{area}: {_key(m)}: {errors}" for area, catalog in catalogs.items()
              for m, errors in catalog.check() if errors]
    assert not broken, "\n".join(broken)


ASCII_PUNCTUATION_BY_CHINESE = re.compile(r"[\u4e00-\u9fff][,:;?!()]|[,:;?!(][\u4e00-\u9fff]")
# Input syntax the shopper or staff types as shown (the colon and comma are part of the format).
LITERAL_SYNTAX = {"期数:残值"}


def test_chinese_translations_use_full_width_punctuation(catalogs: dict[str, Catalog]) -> None:
    """“金融与租赁报价: …” reads as a typo in Chinese: next to Chinese text, punctuation is full-width（，：；？！）."""
    offending = []
    for area, catalog in catalogs.items():
        for message in catalog:
            text = message.string if isinstance(message.string, str) else " ".join(message.string)
            for literal in LITERAL_SYNTAX:
                text = text.replace(literal, "")
            if message.id and ASCII_PUNCTUATION_BY_CHINESE.search(text):
                offending.append(f"{area}: {text}")
    assert not offending, "\n".join(offending)


def test_every_message_in_the_code_is_in_a_catalog(catalogs: dict[str, Catalog]) -> None:
    """A string marked for translation that `make i18n` has not extracted is shown in English to Chinese shoppers."""
    known = {_key(m) for catalog in catalogs.values() for m in catalog if m.id}
    method_map = [("storefront/**.py", "python"), ("templates/**.html", "jinja2"), ("templates/**.txt", "jinja2")]
    missing = set()
    for _filename, _lineno, message, _comments, context in extract_from_dir(
            str(ROOT), method_map=method_map, keywords=KEYWORDS, options_map={
                "templates/**.html": {"extensions": "jinja2.ext.i18n"},
                "templates/**.txt": {"extensions": "jinja2.ext.i18n"}}):
        msgid = message if isinstance(message, str) else message[0]
        if (context, msgid) not in known:
            missing.add((context, msgid))
    assert not missing, "run `python -m storefront.i18n_tools update` and translate:\n" + "\n".join(
        f"  {c or ''}|{m!r}" for c, m in sorted(missing, key=str))


# --- the language check: every GET page in Chinese, and in English ------------------------------------------------
#
# Every page of the shopper, staff and demo areas is rendered with the Flask test client (signed in as the role
# it is for) on a seeded store holding a paid reservation, a saved quote and both kinds of test drive. The zh-CN
# page may show Latin letters only for what Chinese shoppers read in Latin letters too: the words below. The
# English page may show Chinese only as the glosses below. Both lists are reviewed: add a word only when a
# Chinese (or English) reader would expect it written that way.

LATIN_ALLOWED_IN_CHINESE = frozenset({
    # brand, model and system names written in Latin letters on Chinese sites
    "Mustang", "Mach-E", "EcoBoost", "SYNC", "FordPass", "Wi-Fi", "Stripe", "ST", "GT", "ST-Line",
    # body, powertrain and gearbox codes
    "SUV", "MPV", "EV", "HEV", "PHEV", "BEV", "CVT", "E-CVT", "AT", "MT",
    "API",  # the staff menu's API 密钥 (keys of the inventory API): the word Chinese developers use
    # identifiers and file formats
    "VIN", "CSV", "ICS", "ID", "QR", "MB", "UTF-8",
    # model names sold in China under their Latin name
    "City", "K-ZE",
    # the language switch names each language in itself
    "English",
})
CJK_ALLOWED_IN_ENGLISH = frozenset({
    "中文",  # the language switch names each language in itself
    "订金", "定金", "押金", "定金膨胀",  # the deposit words, glossed next to their English
    "厂商指导价", "自助提车",  # "guide price" in the footer, the kiosk on the showroom form
    # the finance words a shopper meets at the lender, glossed on the finance pages
    "一成购", "全款", "首付", "尾款", "期数", "贷款", "贴息", "经营性租赁",
    "王小明", "李静", "周敏",  # the demo accounts' names: people's names are written as they are
})
SKIPPED_ENDPOINTS = {
    "static", "api.test_drive_slots", "api.finance_products",  # JSON, not pages
    "demo_staff.export_csv", "test_drives_staff.export_csv", "staff.export_vehicles",  # files (checked below)
    "test_drives.calendar_file", "accounts.confirm_email", "accounts.reset_password",  # need a mailed token
    "accounts.confirm_registration",  # needs a mailed token
}
LATIN_TOKEN = re.compile(r"[A-Za-z][A-Za-z'’\-]*[A-Za-z]|[A-Za-z]")
CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
NOT_WORDS = re.compile(
    r"\S+@\S+|https?://\S+|\b[A-HJ-NPR-Z0-9]{17}\b|\b[RQT]-(?:[0-9A-Z]{6}|…)|\b[A-Z]{2}-[A-Z]{2}\b"
    r"|\S*\d\S*|\S*_\S*|\b[a-z]+(?:-[a-z]+)+\b|\.[a-z]{2,4}\b|(?<![\w-])[A-Z](?![\w-])",
    re.ASCII)  # \b and \w on ASCII only: a code right after Chinese text (编号Q-7K3M9P) is still a code
# e-mail, URL, VIN, reference codes (R-7K3Q9M, R-…), showroom codes (SH-PD), anything with a digit (2.0L, 4G,
# 9:30), identifiers (in_stock, pearl-white), file extensions (.ics), single capital letters (I, O and Q)


class _VisibleText(HTMLParser):
    """The text a reader sees or hears: text nodes and the attributes read out or shown as text."""

    ATTRIBUTES = ("title", "placeholder", "aria-label", "alt", "data-confirm", "data-expired-text")
    # Not prose: codes and samples (<code>, <pre>...), form data being edited (<textarea>), and anything the page
    # marks translate="no" (HTML's own way to say "a code, leave it as it is").
    VERBATIM = ("script", "style", "template", "svg", "code", "pre", "kbd", "samp", "textarea")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._hidden_tags: list[str] = []  # the open elements whose text is not prose

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in self.VERBATIM or attributes.get("translate") == "no":
            self._hidden_tags.append(tag)
        if self._hidden_tags:
            return
        self.chunks += [attributes[a] or "" for a in self.ATTRIBUTES if a in attributes]
        if tag == "input" and attributes.get("type") in ("submit", "button"):
            self.chunks.append(attributes.get("value") or "")

    def handle_endtag(self, tag: str) -> None:
        if self._hidden_tags and self._hidden_tags[-1] == tag:
            self._hidden_tags.pop()

    def handle_data(self, data: str) -> None:
        if not self._hidden_tags:
            self.chunks.append(data)


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    return " ".join(parser.chunks)


def latin_words(text: str) -> set[str]:
    return {w for w in LATIN_TOKEN.findall(NOT_WORDS.sub(" ", text)) if w not in LATIN_ALLOWED_IN_CHINESE}


def cjk_words(text: str) -> set[str]:
    return {w for w in CJK_RUN.findall(text) if w not in CJK_ALLOWED_IN_ENGLISH}


@dataclass
class Store:
    app: Flask
    users: dict[str, int]  # role -> user id
    values: dict[str, object]  # URL argument -> a value that finds a record
    extra_pages: list[tuple[str, str]]  # (role, url) pages worth seeing in more than one state


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A seeded store (the demo seed: the real line-up, showrooms, schedules, policies, finance products) with one
    of everything a page can show: a paid reservation, a pending one, a saved quote, a showroom drive and a paid
    self-service drive."""
    from config import TestingConfig
    from storefront import create_app, database
    from storefront.cli import run_seeders
    from storefront.extensions import db

    url = f"sqlite:///{tmp_path_factory.mktemp('i18n') / 'store.db'}"
    database.upgrade(url)
    app = create_app(TestingConfig(), SQLALCHEMY_ENGINES={"default": url}, DEMO_MODE=True, RATELIMIT_ENABLED=False)
    with app.app_context():
        run_seeders(db.session)
        db.session.commit()
        values, extra = _one_of_everything(app, db.session)
        db.session.commit()
        users = {user.role.value: user.id for user in db.session.scalars(select(models.User))}
    yield Store(app, users, values, extra)


def _one_of_everything(app: Flask, session: Session) -> tuple[dict[str, object], list[tuple[str, str]]]:
    from storefront.finance import services as finance
    from storefront.finance.quoting import QuoteInputs
    from storefront.payments import services as payments
    from storefront.presale import services as presale
    from storefront.presale.seed import DEMO_SLUG
    from storefront.reservations import services as reservations
    from storefront.test_drives import self_service
    from storefront.test_drives import services as test_drives

    shopper = session.scalar(select(models.User).where(models.User.role == models.Role.CUSTOMER))
    dealer = session.scalar(select(models.Dealer).where(models.Dealer.code == "SH-PD"))
    staff = session.scalar(select(models.User).where(models.User.role == models.Role.STAFF))
    kadjar = session.scalar(select(models.CarModel).where(models.CarModel.slug == "kadjar"))
    vehicles = list(session.scalars(select(models.Vehicle).join(models.Trim).join(
        models.DepositPolicy, models.DepositPolicy.car_model_id == models.Trim.car_model_id).where(
        models.Vehicle.dealer_id.in_([d.id for d in staff.dealers]),
        models.Vehicle.status == models.VehicleStatus.IN_STOCK).order_by(models.Vehicle.id).limit(3)))

    def urls(r: models.Reservation) -> tuple[str, str]:
        return f"http://localhost/reservations/{r.reference}?paid=1", f"http://localhost/reservations/{r.reference}"

    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        paid = reservations.reserve(session, user=shopper, idempotency_key="i18n-language-check-paid-1",
                                    return_urls=urls, vehicle_id=vehicles[0].id)
        payments.settle_demo_payment(session, payment=reservations.payment_of(session, paid), pay=True)
        pending = reservations.reserve(session, user=shopper, idempotency_key="i18n-language-check-pending-1",
                                       return_urls=urls, vehicle_id=vehicles[1].id)
        trim = vehicles[0].trim
        product = session.scalar(select(models.FinanceProduct).where(
            models.FinanceProduct.kind == models.FinanceKind.LEASE_TO_OWN))
        quote = finance.save_quote(session, user=shopper, trim=trim, product=product, now=clock.now(),
                                   inputs=QuoteInputs(down_payment_pct=Decimal("10"), term_months=12))
        day = clock.local_now().date() + dt.timedelta(days=3)
        drive = None
        for hour, minute in ((11, 0), (11, 30), (14, 0), (15, 0)):
            starts = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=clock.STORE_TZ)
            try:
                drive = test_drives.book_showroom_drive(
                    session, shopper=shopper, dealer=dealer, car_model=kadjar, starts_at=starts,
                    contact_name="王小明", mobile="13800138000", licence_confirmed=True)
                break
            except DomainError:
                continue
        assert drive is not None, "no free showroom slot found"
        kiosk, kiosk_payment = self_service.start_self_service(
            session, shopper=shopper, dealer=dealer, car_model=kadjar, days=1, contact_name="王小明",
            mobile="13800138000", licence_confirmed=True, starts_at=dt.datetime(
                day.year, day.month, day.day, 10, 0, tzinfo=clock.STORE_TZ) + dt.timedelta(days=1),
            return_url=lambda reference: f"http://localhost/test-drives/bookings/{reference}")
        payments.settle_demo_payment(session, payment=kiosk_payment, pay=True)
        pay_token = reservations.payment_of(session, pending).provider_session_id
        admin = session.scalar(select(models.User).where(models.User.role == models.Role.ADMIN))
        policy = reservations.policy_for(session, car_model_id=kadjar.id)
        reservations.save_policy(session, car_model=kadjar, amount=policy.amount, kind=policy.kind,
                                 refund_window_days=policy.refund_window_days + 1, price_credit=policy.price_credit,
                                 is_active=True, by=admin)  # an audit entry with fields and codes to label
        shopper.phone = shopper.phone or "13800138000"  # one presale order per mainland mobile
        shopper.phone_verified_at = shopper.phone_verified_at or clock.now()  # proved by a texted code
        launch = presale.get_campaign(session, DEMO_SLUG)
        presale_order = presale.place_order(session, campaign=launch, user=shopper, at=launch.opens_at)
    session.flush()
    values: dict[str, object] = {
        "slug": "kadjar", "model_slug": "kadjar", "trim_id": trim.id, "model_id": kadjar.id,
        "dealer_id": dealer.id, "vehicle_id": vehicles[0].id, "token": pay_token,
        "code": product.code, "product_id": product.id, "user_id": shopper.id,
    }
    by_endpoint: dict[str, dict[str, object]] = {
        "catalog.brand": {"slug": "renault"},
        "reservations.detail": {"reference": paid.reference},
        "reservations_staff.staff_detail": {"reference": paid.reference},
        "finance.saved_quote": {"reference": quote.reference},
        "test_drives.detail": {"reference": drive.reference},
        "test_drives.reschedule": {"reference": drive.reference},
        "reservations.review": {"vehicle": vehicles[2].id},
        "finance.find_quote": {"code": quote.reference},
        "presale.launch": {"slug": DEMO_SLUG},
        "presale.live": {"slug": DEMO_SLUG},
        "presale.order": {"slug": DEMO_SLUG},
        "presale_staff.board": {"slug": DEMO_SLUG},
        "presale_staff.edit_campaign": {"slug": DEMO_SLUG},
        "presale.order_detail": {"order_id": presale_order.id},
    }
    values["by_endpoint"] = by_endpoint
    extra = [
        ("customer", f"/reservations/{pending.reference}"),
        ("customer", f"/test-drives/bookings/{kiosk.reference}"),
        ("customer", f"/compare?trim={trim.id}&trim={trim.id + 1}"),
        ("staff", f"/staff/insights/handover?code={paid.reference}"),
        ("staff", f"/staff/insights/handover?code={quote.reference}"),
        ("staff", f"/staff/insights/handover?code={drive.reference}"),
        ("staff", f"/staff/test-drives/{dealer.id}/week"),
        ("admin", "/staff/audit"),
    ]
    return values, extra


def _role_for(endpoint: str) -> str:
    """Who the page is for: staff pages as staff (admins where staff are refused, see `_render_all`)."""
    blueprint = endpoint.partition(".")[0]
    if blueprint.endswith("_staff") or blueprint == "staff":
        return "staff"
    if endpoint in ("accounts.login", "accounts.register", "accounts.reset_request"):
        return "anonymous"
    return "customer"


def _pages(store: Store) -> list[tuple[str, str]]:
    pages = []
    by_endpoint = store.values["by_endpoint"]
    assert isinstance(by_endpoint, dict)
    with store.app.test_request_context():
        for rule in store.app.url_map.iter_rules():
            if "GET" not in (rule.methods or ()) or rule.endpoint in SKIPPED_ENDPOINTS:
                continue
            if rule.rule.startswith("/api/") or rule.rule in ("/healthz", "/readyz", "/robots.txt", "/sitemap.xml"):
                continue  # JSON and plain files, not pages (the API's words are checked by its own tests)
            arguments = {**{a: store.values[a] for a in rule.arguments if a in store.values},
                         **by_endpoint.get(rule.endpoint, {})}
            assert set(arguments) >= set(rule.arguments), f"no value for {rule.endpoint} {rule.arguments}"
            pages.append((_role_for(rule.endpoint), url_for(rule.endpoint, **arguments)))
    return sorted(set(pages + store.extra_pages))


def _render_all(store: Store, language: str) -> dict[str, str]:
    """url -> visible text of every page in `language`, each fetched as the role it is for."""
    from tests.conftest import login

    texts = {}
    for role, url in _pages(store):
        for who in ("staff", "admin") if role == "staff" else (role,):
            client = store.app.test_client()
            if who != "anonymous":
                with store.app.app_context():
                    login(client, _user(store, who))
            reply = client.get(url, headers={"Accept-Language": language}, follow_redirects=True)
            if reply.status_code != 403:
                break
        assert reply.status_code == 200, f"{role} {url}: {reply.status_code}"
        texts[url] = visible_text(reply.get_data(as_text=True))
    return texts


def _user(store: Store, role: str) -> models.User:
    from storefront.extensions import db

    user = db.session.get(models.User, store.users[role])
    assert user is not None
    return user


def test_every_chinese_page_shows_latin_letters_only_from_the_allow_list(store: Store) -> None:
    offending = {url: sorted(words) for url, text in _render_all(store, "zh-CN").items()
                 if (words := latin_words(text))}
    assert not offending, "English words on Chinese pages (translate, or review an allow-list entry):\n" + "\n".join(
        f"  {url}: {words}" for url, words in offending.items())


def test_every_english_page_shows_chinese_only_as_a_gloss(store: Store) -> None:
    offending = {url: sorted(words) for url, text in _render_all(store, "en").items() if (words := cjk_words(text))}
    assert not offending, "Chinese on English pages:\n" + "\n".join(
        f"  {url}: {words}" for url, words in offending.items())


@pytest.mark.parametrize(("role", "method", "url", "status", "says"), [
    ("anonymous", "get", "/reservations/mine", 200, "请先登录再查看此页面。"),  # Flask-Login's message
    ("customer", "get", "/staff/", 403, "您的账户无权访问此页面"),
    ("anonymous", "get", "/no-such-page", 404, "页面不存在"),
    ("anonymous", "get", "/lang", 405, "此页面不能这样使用"),
])
def test_sign_in_prompts_and_error_pages_speak_chinese(store: Store, role: str, method: str, url: str,
                                                       status: int, says: str) -> None:
    from tests.conftest import login

    client = store.app.test_client()
    if role != "anonymous":
        with store.app.app_context():
            login(client, _user(store, role))
    reply = getattr(client, method)(url, headers={"Accept-Language": "zh-CN"}, follow_redirects=True)
    text = visible_text(reply.get_data(as_text=True))
    assert reply.status_code == status and says in text, text[:400]
    assert not latin_words(text), latin_words(text)


def test_one_way_to_write_times_and_money(store: Store) -> None:
    from storefront.i18n import format_cny, format_local

    moment = dt.datetime(2026, 12, 4, 20, 19, 57, tzinfo=dt.UTC)  # 04:19 on 5 December in Shanghai
    with store.app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert {format_local(moment, f) for f in ("short", "medium", "yyyy-MM-dd HH:mm")} == {"2026年12月5日 04:19"}
        assert format_local(moment, "EEEE yyyy-MM-dd HH:mm") == "2026年12月5日 星期六 04:19"
        assert format_local(moment, "yyyy-MM-dd") == "2026年12月5日"
    with store.app.test_request_context(headers={"Accept-Language": "en"}):
        assert {format_local(moment, f) for f in ("short", "medium", "yyyy-MM-dd HH:mm")} == {"5 Dec 2026, 04:19"}
    assert format_cny(Decimal("36000.00")) == "¥36,000" and format_cny(Decimal("3215.47")) == "¥3,215.47"
    assert format_cny(Decimal("36000.00"), cents=True) == "¥36,000.00"  # finance figures keep their fen


def test_rates_and_aprs_always_have_two_decimals(store: Store) -> None:
    client = store.app.test_client()
    trim_id = store.values["trim_id"]
    for url in ("/finance/", f"/finance/quote/{trim_id}", f"/finance/quote/{trim_id}/compare"):
        text = visible_text(client.get(url, headers={"Accept-Language": "zh-CN"}).get_data(as_text=True))
        rates = re.findall(r"(?:年化利率|利率)[^%]{0,40}?(\d+(?:\.\d+)?)%", text)
        assert rates, url
        assert all(re.fullmatch(r"\d+\.\d\d", r) for r in rates), (url, rates)


def test_a_quote_names_its_product_once(store: Store) -> None:
    """"一成购（融资租赁） 一成购（融资租赁）": the kind badge is left out where the product is named after its kind."""
    from tests.conftest import login

    reference = store.values["by_endpoint"]["finance.saved_quote"]["reference"]  # type: ignore[index]
    client = store.app.test_client()
    with store.app.app_context():
        login(client, _user(store, "customer"))
    html = client.get(f"/finance/quotes/{reference}", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    heading = re.search(r"<h2>(.*?)</h2>", html, flags=re.S)
    assert heading is not None
    words = CJK_RUN.findall(visible_text(heading.group(0)))
    assert words and len(words) == len(set(words)), words
