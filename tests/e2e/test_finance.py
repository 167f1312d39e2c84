"""A shopper prices a Koleos: a 一成购 lease-to-own quote whose figures follow the sliders, the side-by-side
comparison with its chart, then saves the quote and prints it (print media) with its QR code."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.conftest import assert_fits_the_phone, page_ready, screenshot

LEASE_TO_OWN = "10%-down lease-to-own (一成购)"


def open_koleos_quote(page) -> None:  # type: ignore[no-untyped-def]
    page.goto("/")
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.goto("/models/koleos")
    expect(page.locator("h1")).to_contain_text("Koleos")
    page.locator("table.spec-table a", has_text="Quote").first.click()
    expect(page.locator("h1")).to_contain_text("Finance & lease quote")
    page_ready(page)


def test_lease_to_own_quote_follows_the_inputs_and_compares(page):
    open_koleos_quote(page)
    monthly = page.get_by_test_id("monthly")
    expect(monthly).to_have_text(re.compile(r"^¥[\d,]+\.\d{2}$"))  # a loan to start with

    page.get_by_label("Finance product").select_option(label=LEASE_TO_OWN)
    expect(page.locator("#quote-result h2")).to_contain_text("lease-to-own")  # htmx swapped the figures
    expect(page.locator("#quote-result")).to_contain_text("Monthly rent")
    expect(page.locator("#down_payment_pct")).to_have_attribute("max", "30")  # and the inputs, out of band
    ten_percent = monthly.inner_text()

    page.locator("#down_payment_pct").fill("25")
    expect(page.locator("output[for=down_payment_pct]")).to_have_text("25%")
    expect(monthly).not_to_have_text(ten_percent)
    twenty_five_percent = monthly.inner_text()
    page.get_by_label("Term (期数)").select_option("24")
    expect(page.locator("#quote-result")).to_contain_text("Balance after 24 months")
    expect(monthly).not_to_have_text(twenty_five_percent)
    page.locator("details.schedule summary").click()
    expect(page.locator("table.schedule-table tbody tr")).to_have_count(24)
    screenshot(page, "finance-01-builder-lease-to-own")

    page.get_by_role("link", name="Compare full payment, loans and leases").click()
    expect(page.locator("h1")).to_contain_text("Compare ways to pay")
    expect(page.locator("#cost-chart[data-ready=true]")).to_be_visible()
    table = page.locator("table.compare-finance")
    expect(table).to_contain_text("Renault Finance car loan")
    expect(table).to_contain_text(LEASE_TO_OWN)
    box = page.locator("#cost-chart").bounding_box()
    assert box is not None and box["height"] > 200
    screenshot(page, "finance-02-compare")


def test_member_saves_and_prints_the_quote(page):
    page.goto("/")
    page.get_by_role("button", name="English").click()
    page.goto("/account/login")
    page.get_by_label("Email").fill("shopper@flagship.demo")
    page.get_by_label("Password").fill("demo-shopper-2026")
    page.get_by_role("button", name="Sign in").click()
    page.goto("/models/koleos")
    page.locator("table.spec-table a", has_text="Quote").first.click()
    page_ready(page)
    page.get_by_label("Finance product").select_option(label=LEASE_TO_OWN)
    expect(page.locator("#quote-result")).to_contain_text("Monthly rent")
    monthly = page.get_by_test_id("monthly").inner_text()

    page.get_by_role("button", name="Save this quote (valid 14 days)").click()
    expect(page).to_have_url(re.compile(r"/finance/quotes/Q-[2-9A-HJ-NP-Z]{6}$"))
    expect(page.locator(".quote-reference")).to_contain_text("Q-")
    expect(page.locator(".quote-validity")).to_contain_text("Valid until")
    expect(page.get_by_test_id("monthly")).to_have_text(monthly)
    expect(page.locator("svg.quote-qr")).to_be_visible()
    screenshot(page, "finance-03-saved-quote")

    page.emulate_media(media="print")
    expect(page.locator(".site-header")).to_be_hidden()
    expect(page.get_by_role("button", name="Print")).to_be_hidden()
    expect(page.locator("svg.quote-qr")).to_be_visible()
    screenshot(page, "finance-04-printed-quote")
    page.emulate_media(media="screen")

    page.goto("/finance/my-quotes")
    expect(page.locator("table")).to_contain_text(LEASE_TO_OWN)


def test_phone_layout_of_the_builder_and_the_comparison(phone_page):
    phone_page.goto("/models/koleos")
    phone_page.locator("table.spec-table a").filter(has_text=re.compile("报价|Quote")).first.click()
    expect(phone_page.get_by_test_id("monthly")).to_be_visible()
    assert_fits_the_phone(phone_page)
    screenshot(phone_page, "finance-05-phone-builder")
    phone_page.locator("a.button-ghost[href$='/compare']").click()
    expect(phone_page.locator("#cost-chart[data-ready=true]")).to_be_visible()
    assert_fits_the_phone(phone_page)
    screenshot(phone_page, "finance-06-phone-compare")


def test_the_builder_works_without_javascript(live_server, browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(
        base_url=live_server, java_script_enabled=False, locale="en", extra_http_headers={"Accept-Language": "en"}
    )
    page = context.new_page()
    page.goto("/models/koleos")
    page.locator("table.spec-table a", has_text="Quote").first.click()
    page.get_by_label("Finance product").select_option(label="Operating lease")
    page.get_by_role("button", name="Update quote").click()
    expect(page).to_have_url(re.compile(r"product=\d+"))
    expect(page.locator("#quote-result")).to_contain_text("Value when the car goes back")
    page.get_by_label("Kilometres a year").select_option("25000")
    page.get_by_role("button", name="Update quote").click()
    expect(page.locator("#quote-result")).to_contain_text("25,000 km")
    context.close()
