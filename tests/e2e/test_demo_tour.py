"""The guided stakeholder tour, end to end in a real browser: presenter page -> six steps -> the funnel.

It follows the tour bar's own Next buttons and does each step on the real pages (book a drive, save a
lease-to-own quote, reserve and pay with the demo provider, hand the car over as staff), saving a screenshot
per step. A second test walks the tour on a phone, skipping the long steps.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import (
    a_koleos_in_shanghai,
    assert_fits_the_phone,
    choose_day,
    htmx_idle,
    page_ready,
    screenshot,
)


def tour_bar_says(page: Page, number: int, title: str) -> None:
    bar = page.locator(".tour-bar")
    expect(bar).to_be_visible()
    expect(bar.locator(".tour-title")).to_contain_text(f"Step {number} of 6")
    expect(bar.locator(".tour-title")).to_contain_text(title)


def next_step(page: Page) -> None:
    page.locator(".tour-bar").get_by_role("button", name="Next").click()
    page_ready(page)


def test_presenter_runs_the_whole_tour(page: Page) -> None:
    page.goto("/demo/")
    page.get_by_role("button", name="English").click()
    expect(page.locator("h1")).to_have_text("Run the New Retail demo in five minutes")
    screenshot(page, "demo-tour-00-presenter")
    page.get_by_role("button", name="Start the guided tour").click()

    # 1. The Renault flagship, as the demo shopper (the tour signed them in).
    expect(page).to_have_url(re.compile(r"/brands/renault$"))
    tour_bar_says(page, 1, "Browse the Renault flagship")
    expect(page.locator(".account-menu")).to_contain_text("Sign out")
    screenshot(page, "demo-tour-01-brand")

    # 2. The Koleos page.
    next_step(page)
    expect(page).to_have_url(re.compile(r"/models/koleos$"))
    tour_bar_says(page, 2, "Open a Koleos")
    expect(page.locator("h1")).to_contain_text("Koleos")
    screenshot(page, "demo-tour-02-koleos")

    # 3. Book a test drive at the Pudong flagship.
    next_step(page)
    expect(page).to_have_url(re.compile(r"/test-drives/book/\d+"))
    tour_bar_says(page, 3, "Book a test drive")
    steps = page.locator("#booking-steps")
    steps.locator(".td-chips a", has_text="Shanghai").click()
    htmx_idle(page)
    steps.locator(".td-showroom", has_text="Flagship Experience Centre Pudong").click()
    expect(steps.locator(".td-showroom[aria-current]")).to_contain_text("Pudong")
    date = choose_day(page, steps, 2)
    free = page.locator(f"#slots label.td-slot:has(input[value^='{date}']:not([disabled]))")
    free.last.click()
    expect(free.last.locator("input")).to_be_checked()
    page.get_by_label("Driver's name").fill("Wang Xiaoming")
    page.get_by_label("Mobile number").fill("13800138000")
    page.get_by_label("The driver holds a valid driving licence and will bring it").check()
    page.get_by_role("button", name="Book test drive").click()
    expect(page).to_have_url(re.compile(r"/test-drives/bookings/T-[A-Z2-9]{6}$"))
    tour_bar_says(page, 3, "Book a test drive")
    screenshot(page, "demo-tour-03-test-drive")

    # 4. A lease-to-own quote for the Koleos, saved to take to the showroom.
    next_step(page)
    expect(page).to_have_url(re.compile(r"/finance/quote/\d+"))
    tour_bar_says(page, 4, "Build a lease-to-own quote")
    expect(page.locator("#quote-result")).to_contain_text("Monthly rent")
    page.get_by_role("button", name=re.compile("Save this quote")).click()
    expect(page).to_have_url(re.compile(r"/finance/quotes/Q-[2-9A-HJ-NP-Z]{6}$"))
    screenshot(page, "demo-tour-04-quote")

    # 5. Reserve a Koleos at Pudong with a deposit, paid with the demo provider.
    next_step(page)
    expect(page).to_have_url(re.compile(r"/reservations/choose/koleos"))
    tour_bar_says(page, 5, "Reserve online")
    a_koleos_in_shanghai(page).get_by_role("link", name="Any unit here").click()
    expect(page.locator("h1")).to_have_text("Review your reservation")
    page.get_by_label("I have read the deposit terms above and agree to them.").check()
    page.get_by_role("button", name=re.compile(r"Reserve and pay")).click()
    expect(page.locator(".demo-pay-label")).to_have_text("Demo payment — no money moves")
    page.get_by_role("button", name=re.compile(r"\(demo\)")).click()
    expect(page.locator(".confirmation h1")).to_have_text("Your car is reserved")
    reference = page.locator(".ref-code").inner_text()
    tour_bar_says(page, 5, "Reserve online")
    screenshot(page, "demo-tour-05-reserved")

    # 6. The showroom side: the tour switches to the demo staff account; hand the car over.
    next_step(page)
    expect(page).to_have_url(re.compile(r"/staff/reservations/"))
    tour_bar_says(page, 6, "Switch to staff and mark it picked up")
    expect(page.locator(".flash")).to_contain_text("Switched to the demo staff account")
    page.get_by_role("link", name=reference).click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Mark picked up").click()
    expect(page.locator(".flash-success")).to_contain_text(f"{reference} picked up")
    screenshot(page, "demo-tour-06-picked-up")

    # Finish: the funnel dashboard now counts the journey just made.
    page.locator(".tour-bar").get_by_role("button", name="Finish").click()
    expect(page).to_have_url(re.compile(r"/staff/insights/$"))
    expect(page.locator(".tour-bar")).to_have_count(0)
    expect(page.locator("[data-kpi=pickup]")).not_to_have_text("0")
    page.wait_for_function("document.getElementById('chart-funnel').width > 0")
    screenshot(page, "demo-tour-07-insights")

    # The showroom handover page finds the reservation by its code.
    page.goto(f"/staff/insights/handover?code={reference.lower()}")
    expect(page.locator(".handover-card h2")).to_contain_text(reference)
    expect(page.locator(".handover-card")).to_contain_text("Flagship Experience Centre Pudong")
    screenshot(page, "demo-tour-08-handover")


def test_tour_on_a_phone_with_skips(phone_page: Page) -> None:
    page = phone_page
    page.goto("/demo/")
    page.get_by_role("button", name="English").click()
    page.get_by_role("button", name="Start the guided tour").click()
    tour_bar_says(page, 1, "Browse the Renault flagship")
    assert_fits_the_phone(page)
    screenshot(page, "demo-tour-phone-01")
    next_step(page)
    tour_bar_says(page, 2, "Open a Koleos")
    next_step(page)
    tour_bar_says(page, 3, "Book a test drive")
    screenshot(page, "demo-tour-phone-03")
    for number in (3, 4, 5):
        page.locator(".tour-bar").get_by_role("button", name="Skip").click()
        tour_bar_says(page, number + 1, "")
        assert_fits_the_phone(page)
        screenshot(page, f"demo-tour-phone-0{number + 1}")
    expect(page.locator(".tour-dots li.skipped")).to_have_count(3)
    page.locator(".tour-bar").get_by_role("button", name="End tour").click()
    expect(page).to_have_url(re.compile(r"/demo/$"))
    expect(page.locator(".tour-bar")).to_have_count(0)
