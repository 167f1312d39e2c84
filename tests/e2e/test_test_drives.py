"""A shopper books a Kadjar test drive in Shanghai, downloads the .ics and moves the drive; staff see it on the
day view and check the shopper in. Real browser, CSRF on, seeded demo store; desktop and phone."""

from __future__ import annotations

import re
from pathlib import Path

from icalendar import Calendar
from playwright.sync_api import Page, expect

from tests.e2e.conftest import assert_fits_the_phone, choose_day, htmx_idle, page_ready, screenshot

SHOPPER = ("shopper@flagship.demo", "demo-shopper-2026")
STAFF = ("staff@flagship.demo", "demo-staff-2026")


def sign_in(page: Page, who: tuple[str, str], next_path: str) -> None:
    page.goto(f"/account/login?next={next_path}")
    page.get_by_role("button", name="English").click()
    page.get_by_label("Email").fill(who[0])
    page.get_by_label("Password").fill(who[1])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(re.escape(next_path) + "$"))


def choose_shanghai_pudong_and_a_day(page: Page) -> None:
    page_ready(page)
    steps = page.locator("#booking-steps")
    steps.locator(".td-chips a", has_text="上海").click()  # htmx swaps the steps in place
    expect(page).to_have_url(re.compile(r"city=shanghai"))
    htmx_idle(page)  # the city may have been chosen already, so the URL does not tell the swap has landed
    steps.locator(".td-showroom", has_text="浦东旗舰体验中心").click()
    expect(steps.locator(".td-showroom[aria-current]")).to_contain_text("浦东")
    # The second open day in the strip: tomorrow or later, so there are always free times.
    choose_day(page, steps, 1)
    expect(steps.locator("#slots input[name=starts_at]").first).to_be_attached()


def test_book_download_move_and_staff_check_in(page: Page, browser, live_server) -> None:
    sign_in(page, SHOPPER, "/models/kadjar")
    page.get_by_role("button", name="中文").click()
    expect(page.locator("h1")).to_contain_text("科雷嘉")  # Kadjar
    page.locator(".cta-row a[href*='/test-drives/book/']").click()
    expect(page.locator("h1")).to_contain_text("预约试驾")
    screenshot(page, "test-drives-01-start")

    choose_shanghai_pudong_and_a_day(page)
    free = page.locator("#slots label.td-slot:has(input:not([disabled]))")
    expect(free.first).to_contain_text("剩余")
    screenshot(page, "test-drives-02-slots")

    # The form refuses a malformed mobile number and keeps what was chosen.
    free.nth(1).click()
    page.get_by_label("驾驶人姓名").fill("王小明")
    page.get_by_label("手机号").fill("1380013800")
    page.get_by_label("驾驶人持有有效驾驶证并将随身携带").check()
    page.get_by_role("button", name="确认预约").click()
    expect(page.locator("#mobile-err")).to_contain_text("11 位")
    screenshot(page, "test-drives-03-form-error")

    page.locator("#slots label.td-slot:has(input:not([disabled]))").nth(1).click()
    page.get_by_label("手机号").fill("138 0013 8000")
    page.get_by_label("驾驶人持有有效驾驶证并将随身携带").check()
    page.get_by_role("button", name="确认预约").click()
    expect(page).to_have_url(re.compile(r"/test-drives/bookings/T-[A-Z2-9]{6}$"))
    reference = page.url.rsplit("/", 1)[1]
    expect(page.locator(".td-reference")).to_have_text(reference)
    expect(page.locator(".flash-success")).to_contain_text("预约成功")
    booked_time = page.locator(".td-facts time").first.get_attribute("datetime")
    screenshot(page, "test-drives-04-confirmation")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="添加到日历（.ics）").click()
    download = download_info.value
    assert download.suggested_filename == f"test-drive-{reference}.ics"
    calendar = Calendar.from_ical(Path(download.path()).read_bytes())
    event = calendar.walk("VEVENT")[0]
    assert str(event["UID"]) == f"{reference}@test-drives.flagship.example"
    assert event["DTSTART"].params["TZID"] == "Asia/Shanghai" and event["SEQUENCE"] == 0
    assert event.decoded("DTSTART").utcoffset().total_seconds() == 8 * 3600

    page.get_by_role("link", name="改到其他时间").click()
    expect(page.locator("h1")).to_have_text("试驾改期")
    page.locator("label.td-slot:has(input:not([disabled]))").last.click()
    screenshot(page, "test-drives-05-reschedule")
    page.get_by_role("button", name="确认改期").click()
    expect(page.locator(".flash-success")).to_contain_text("已改期")
    moved_time = page.locator(".td-facts time").first.get_attribute("datetime")
    assert moved_time != booked_time
    screenshot(page, "test-drives-06-moved")

    # Staff of SH-PD (and SH-XH) open the day of the drive and check the shopper in.
    staff_context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900}, locale="zh-CN")
    staff = staff_context.new_page()
    sign_in(staff, STAFF, "/staff/test-drives/")
    staff.locator(".td-showroom", has_text="SH-PD").click()
    expect(staff.locator("h1")).to_contain_text("Flagship Experience Centre Pudong")
    staff.get_by_label("Date").fill(moved_time[:10])
    staff.get_by_role("button", name="Go").click()
    row = staff.locator(f"#booking-{reference}")
    expect(row).to_contain_text("王小明")
    expect(row).to_contain_text("13800138000")
    screenshot(staff, "test-drives-07-staff-day")
    row.get_by_role("button", name="Check in").click()
    expect(staff.locator(".flash-success")).to_contain_text(reference)
    expect(staff.locator(f"#booking-{reference} .td-status")).to_have_text("checked in")
    expect(staff.locator(f"#booking-{reference}").get_by_role("button", name="Completed")).to_be_visible()
    screenshot(staff, "test-drives-08-staff-checked-in")
    staff.get_by_role("link", name="Week").click()
    expect(staff.locator("table.td-week")).to_be_visible()
    screenshot(staff, "test-drives-09-staff-week")
    staff.get_by_role("link", name="Hours & demo cars").click()
    expect(staff.get_by_role("heading", name="Weekly hours")).to_be_visible()
    screenshot(staff, "test-drives-09b-staff-schedule")
    staff_context.close()

    page.reload()
    expect(page.locator(".td-status")).to_have_text("已签到")


def test_phone_booking_page_and_staff_day_fit_the_screen(phone_page: Page, browser, live_server) -> None:
    page = phone_page
    sign_in(page, SHOPPER, "/test-drives/")
    page.get_by_role("button", name="中文").click()
    page.locator("#model_id").select_option(label="雷诺 科雷嘉")
    page.locator("#city").select_option("shanghai")
    page.get_by_role("button", name="选择展厅").click()
    expect(page).to_have_url(re.compile(r"/test-drives/book/\d+\?city=shanghai"))
    choose_shanghai_pudong_and_a_day(page)
    screenshot(page, "test-drives-10-phone-slots")
    assert_fits_the_phone(page)
    page.goto("/test-drives/mine")
    screenshot(page, "test-drives-11-phone-mine")
    assert_fits_the_phone(page)

    staff_context = browser.new_context(base_url=live_server, viewport={"width": 390, "height": 844}, locale="zh-CN",
                                        is_mobile=True, has_touch=True)
    staff = staff_context.new_page()
    sign_in(staff, STAFF, "/staff/test-drives/")
    staff.locator(".td-showroom", has_text="SH-PD").click()
    expect(staff.locator(".td-board").first).to_be_visible()
    screenshot(staff, "test-drives-12-phone-staff-day")
    assert_fits_the_phone(staff)
    staff_context.close()


def test_self_service_drive_with_a_deposit(page: Page, browser, live_server) -> None:
    sign_in(page, SHOPPER, "/test-drives/")
    page.get_by_role("button", name="中文").click()
    page.locator(".model-card", has_text="科雷嘉").get_by_role("link", name="自助试驾，1 或 3 天").click()
    expect(page.locator("h1")).to_contain_text("自助试驾")
    steps = page.locator("#self-service-steps")
    steps.locator(".td-showroom", has_text="浦东旗舰体验中心").click()
    steps.locator(".td-chips a", has_text="3 天").click()
    expect(page).to_have_url(re.compile(r"days=3"))
    day = choose_day(page, steps, 12)  # about two weeks out, clear of other drives
    steps.locator(f"label.td-slot:has(input[value^='{day}']:not([disabled]))").first.click()
    expect(steps.locator("input[name=starts_at]:checked")).to_have_count(1)
    page.get_by_label("手机号").fill("13912345678")
    page.get_by_label("驾驶人持有有效驾驶证并将随身携带").check()
    screenshot(page, "test-drives-13-self-service")
    page.get_by_role("button", name=re.compile("锁定车辆并支付押金")).click()

    expect(page).to_have_url(re.compile(r"/payments/demo/"))
    screenshot(page, "test-drives-14-deposit-demo-payment")
    page.get_by_role("button", name=re.compile("支付 ¥3,000")).click()
    expect(page).to_have_url(re.compile(r"/test-drives/bookings/T-[A-Z2-9]{6}$"))
    reference = page.url.rsplit("/", 1)[1]
    expect(page.locator(".td-code")).to_have_text(re.compile(r"^\d{6}$"))
    expect(page.locator(".td-facts")).to_contain_text("¥3,000")
    expect(page.locator(".td-facts")).to_contain_text("还车后全额退还")
    pickup_day = page.locator(".td-facts time").first.get_attribute("datetime")
    screenshot(page, "test-drives-15-self-service-confirmed")

    staff_context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900}, locale="zh-CN")
    staff = staff_context.new_page()
    sign_in(staff, STAFF, "/staff/test-drives/")
    staff.locator(".td-showroom", has_text="SH-PD").click()
    staff.get_by_label("Date").fill(pickup_day[:10])
    staff.get_by_role("button", name="Go").click()
    row = staff.locator(f"#booking-{reference}")
    expect(row).to_contain_text("王小明")
    row.get_by_placeholder("Code").fill("000000")
    row.get_by_role("button", name="Hand over car").click()
    expect(staff.locator(".flash-error")).to_be_visible()  # wrong code, or too early: never handed over
    expect(staff.locator(f"#booking-{reference} .td-status")).to_have_text("booked")
    screenshot(staff, "test-drives-16-staff-self-service")
    staff_context.close()
