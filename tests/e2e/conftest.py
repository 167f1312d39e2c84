"""Browser tests: a live server on a seeded SQLite file, driven by Playwright with Debian's chromium."""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import expect
from werkzeug.serving import make_server

from config import TestingConfig
from storefront import create_app, database
from storefront.cli import run_seeders
from storefront.extensions import db

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).parent / "screenshots"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """The real app (CSRF on, demo mode on) on a freshly migrated and seeded SQLite file. Tests may read its
    database (e.g. the outbox, for a link a shopper would get by mail) inside `live_app.app_context()`."""
    url = f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'store.db'}"
    database.upgrade(url)
    app = create_app(
        TestingConfig(), SQLALCHEMY_ENGINES={"default": url}, WTF_CSRF_ENABLED=True, DEMO_MODE=True,
        RATELIMIT_ENABLED=False,
    )
    with app.app_context():
        run_seeders(db.session)
        db.session.commit()
    return app


@pytest.fixture(scope="session")
def live_server(live_app: Flask) -> Iterator[str]:
    """Base URL of `live_app`, served by werkzeug in a thread."""
    app = live_app
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser(live_server: str) -> Iterator[object]:
    """Started after the live server: Playwright's sync API runs an event loop on this thread."""
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("Debian chromium is missing: .ci/run should have installed it")
        pytest.skip("chromium not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-sync"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(live_server, browser):  # type: ignore[no-untyped-def]
    """A fresh browser context per test (own cookies), desktop size, Chinese UI by default."""
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900}, locale="zh-CN")
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def phone_page(live_server, browser):  # type: ignore[no-untyped-def]
    """A phone-sized context (iPhone 13-ish viewport)."""
    context = browser.new_context(base_url=live_server, viewport={"width": 390, "height": 844}, locale="zh-CN",
                                  is_mobile=True, has_touch=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def page_ready(page) -> None:  # type: ignore[no-untyped-def]
    """Wait until the page has loaded and its deferred scripts (htmx, app.js) have wired it up.

    A click that navigates returns once the new page commits, not when it has loaded; a control changed
    before the scripts run fires no htmx request and no auto-submit, and the test then waits for a swap or
    a reload that never comes. Call this after such a click and before driving an htmx or auto-submit
    control.
    """
    page.wait_for_function("() => document.readyState === 'complete' && 'htmx' in window")


def assert_fits_the_phone(page) -> None:  # type: ignore[no-untyped-def]
    """The loaded page scrolls no wider than its (phone) viewport; a failure names what sticks out.

    It waits for the load first: measured right after a navigating click, the page may still be parsing
    with its stylesheets pending, and that half-built layout says nothing about the real one.
    """
    page.wait_for_load_state("load")
    limit = page.viewport_size["width"]
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > limit:
        wide = page.evaluate(
            """(limit) => [...document.body.querySelectorAll('*')]
                   .filter((e) => e.getBoundingClientRect().right > limit + 0.5)
                   .slice(0, 5)
                   .map((e) => `${e.tagName.toLowerCase()}.${e.className}: ${e.textContent.trim().slice(0, 40)}`)""",
            limit,
        )
        pytest.fail(f"{page.url} is {width}px wide, its screen {limit}px; these stick out: {wide}")


def htmx_idle(page) -> None:  # type: ignore[no-untyped-def]
    """Wait until no htmx request is in flight (htmx marks the requesting element `.htmx-request` from the
    click until its response is swapped in). Use it after an htmx click whose result the page already
    showed, where no new URL or text tells that the swap has landed."""
    page.wait_for_function("() => !document.querySelector('.htmx-request')")


def choose_day(page, steps, index: int) -> str:  # type: ignore[no-untyped-def]
    """Click the index-th open day of a test-drive day strip (inside `steps`), wait for htmx to swap in that
    day's times, and return the day (ISO).

    The strip starts on the first open day, so the other links already carry a `date=`: a URL that merely
    has one proves nothing. Wait for this day to be in the URL and for the new strip, where the current chips
    (day, and length on the self-service page) link to this day.
    """
    chip = steps.locator("a.td-chip[href*='date=']").nth(index)
    found = re.search(r"date=(\d{4}-\d{2}-\d{2})", chip.get_attribute("href") or "")
    assert found, "the day chip links to no date"
    day = found.group(1)
    chip.click()
    expect(page).to_have_url(re.compile(f"date={day}"))
    expect(steps.locator(f"a.td-chip[aria-current=true][href*='date={day}']").first).to_be_attached()
    return day


def a_koleos_in_shanghai(page):  # type: ignore[no-untyped-def]
    """On the Koleos reservation page: choose Shanghai, then look through the trims and colours (with the
    page's own auto-submitting controls) for a showroom there that still has a unit; other browser tests
    may have taken some. Returns that showroom's entry. The demo staff work at both Shanghai showrooms."""
    page_ready(page)
    if page.locator("#city").input_value() != "shanghai":
        page.locator("#city").select_option("shanghai")
        expect(page).to_have_url(re.compile(r"city=shanghai"))
        page_ready(page)
    trims = [o.get_attribute("value") for o in page.locator("#trim option").all()]
    for trim in trims:
        if page.locator("#trim").input_value() != trim:
            page.locator("#trim").select_option(trim)
            expect(page).to_have_url(re.compile(f"trim={trim}(&|$)"))
            page_ready(page)
        colours = [r.get_attribute("value") for r in page.locator("input[name=colour]").all()]
        for colour in colours:
            radio = page.locator(f"input[name=colour][value='{colour}']")
            if not radio.is_checked():
                radio.check()
                expect(page).to_have_url(re.compile(f"colour={colour}(&|$)"))
                page_ready(page)
            showroom = page.locator(".showroom-picks li", has_text=re.compile("Pudong|Xuhui"))
            if showroom.count():
                return showroom.first
    raise AssertionError("no Koleos left at the Shanghai showrooms")


def screenshot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    """Save a full-page PNG under tests/e2e/screenshots/ (kept out of git) and return its path."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
