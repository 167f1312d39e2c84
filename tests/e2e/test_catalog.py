"""A shopper browses the store in a real browser: hall -> brand -> filtered listing -> model -> compare."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.conftest import assert_fits_the_phone, page_ready, screenshot


def test_shopper_browses_filters_and_compares(page):
    page.goto("/")
    expect(page.locator("h1")).to_contain_text("线上选车")
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    screenshot(page, "catalog-01-home")

    page.get_by_role("link", name=re.compile("Renault")).first.click()
    expect(page.locator("h1")).to_contain_text("Renault official flagship store")

    page.goto("/models")
    page.get_by_label("Powertrain").select_option("nev")
    expect(page).to_have_url(re.compile(r"powertrain=nev"))
    expect(page.locator(".result-count")).to_contain_text("models found")
    expect(page.locator(".model-card h3", has_text="Focus")).to_have_count(0)
    expect(page.locator(".model-card h3", has_text="Mach-E")).to_have_count(1)
    screenshot(page, "catalog-02-listing-nev")

    page.locator(".model-card a", has_text="Mach-E").first.click()
    expect(page.locator("h1")).to_contain_text("Mustang Mach-E")
    page_ready(page)
    page.get_by_label("City").select_option("beijing")
    expect(page.locator(".stock-summary")).to_contain_text("Beijing")
    screenshot(page, "catalog-03-detail")

    page.locator("table.spec-table a", has_text="Compare").first.click()
    expect(page.locator("table.compare-table")).to_be_visible()


def test_listing_works_without_javascript(live_server, browser):
    context = browser.new_context(base_url=live_server, java_script_enabled=False, locale="en")
    page = context.new_page()
    page.goto("/models")
    page.get_by_text("Filters and sorting").click()  # the panel is folded until opened (no script to open it)
    page.get_by_label("Brand").select_option("lincoln")
    page.get_by_role("button", name="Show results").click()
    expect(page).to_have_url(re.compile(r"brand=lincoln"))
    expect(page.locator(".model-card h3").first).to_contain_text("Lincoln")
    context.close()


def test_phone_layout_has_no_horizontal_scroll(phone_page):
    phone_page.goto("/models/kadjar")
    assert_fits_the_phone(phone_page)
    screenshot(phone_page, "catalog-04-phone-detail")
