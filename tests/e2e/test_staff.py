"""Showroom staff in a real browser (CSRF on): filter and edit stock, see the audit entry, import a CSV,
change a price the shopper then sees, and use the back office on a phone."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from storefront.catalog.vin import with_check_digit
from tests.e2e.conftest import SCREENSHOTS, assert_fits_the_phone, screenshot

STAFF_EMAIL = "staff@flagship.demo"  # seeded by storefront.accounts.seed (works at SH-PD and SH-XH)
STAFF_PASSWORD = "demo-staff-2026"


def sign_in_as_staff(page) -> None:  # type: ignore[no-untyped-def]
    page.goto("/staff/")
    expect(page).to_have_url(re.compile(r"/account/login\?next="))
    page.locator("#email").fill(STAFF_EMAIL)
    page.locator("#password").fill(STAFF_PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/staff/$"))


def test_staff_filter_stock_edit_a_car_and_find_the_audit_entry(page):
    sign_in_as_staff(page)
    expect(page.locator("h1")).to_have_text("各展厅库存")
    expect(page.locator(".stock-table tbody tr")).to_have_count(2)  # only this staff member's two showrooms
    screenshot(page, "staff-01-dashboard")

    page.get_by_role("navigation", name="后台").get_by_role("link", name="车辆").click()
    sh_pd = page.locator("#showroom option", has_text="SH-PD").get_attribute("value")
    page.locator("#showroom").select_option(sh_pd)  # the filter form submits itself on change
    expect(page).to_have_url(re.compile(r"showroom=\d+"))
    page.locator("#status").select_option("in_stock")
    expect(page).to_have_url(re.compile(r"status=in_stock"))
    rows = page.locator(".vehicle-table tbody tr")
    expect(rows.first).to_be_visible()
    for cell in rows.locator("td[data-label='展厅']").all_inner_texts():
        assert cell.strip() == "SH-PD"
    screenshot(page, "staff-02-vehicles-filtered")

    vin = rows.first.locator("code.vin").inner_text()
    page.locator("#q").fill(vin[-6:])
    page.locator("#q").press("Enter")
    expect(page.locator(".result-count")).to_have_text("1 辆车")
    page.get_by_role("link", name=f"编辑 {vin}").click()
    expect(page.locator("h1")).to_contain_text(vin)

    colour = page.locator("#colour")
    current = colour.input_value()
    other = next(v for v in colour.locator("option").evaluate_all("os => os.map(o => o.value)") if v != current)
    colour.select_option(other)
    page.get_by_role("button", name="保存修改").click()
    expect(page.locator(".flash-success")).to_contain_text(f"车辆 {vin} 已保存")
    expect(page.locator(".audit-list li").first).to_contain_text("vehicle.update")
    expect(page.locator(".audit-list li").first).to_contain_text(other)
    screenshot(page, "staff-03-vehicle-saved")

    page.get_by_role("navigation", name="后台").get_by_role("link", name="审计日志").click()
    page.locator("#action").select_option("vehicle.update")
    page.get_by_role("button", name="筛选").click()
    entry = page.locator(".audit-table tbody tr").first
    expect(entry).to_contain_text("李静")
    expect(entry).to_contain_text(other)
    screenshot(page, "staff-04-audit")


def test_staff_import_a_csv_and_change_a_price_the_shopper_sees(page, browser, live_server):
    sign_in_as_staff(page)
    page.goto("/staff/prices")
    navigator = page.locator(".price-table tbody tr", has_text="3.5T V6 长轴距版")
    trim_id = navigator.locator("td").first.inner_text().strip()

    vins = [with_check_digit(f"LE2E0NAV0LS{900100 + i:06d}") for i in range(3)]
    rows = [f"{vin},{trim_id},SH-PD,pearl-white,in_stock" for vin in vins]
    bad = "\n".join(["vin,trim_id,showroom,colour,status", *rows, f"{vins[0]},{trim_id},BJ-CY,pearl-white,sold"])
    page.goto("/staff/vehicles/import")
    page.locator("#file").set_input_files(files=[{"name": "arrivals.csv", "mimeType": "text/csv",
                                                  "buffer": bad.encode()}])
    page.get_by_role("button", name="检查文件").click()
    expect(page.locator(".form-errors")).to_contain_text("共 4 行中有 2 行有错误")
    expect(page.locator(".import-errors")).to_contain_text("您不属于展厅 BJ-CY")
    expect(page.get_by_role("button", name=re.compile("导入"))).to_have_count(0)
    screenshot(page, "staff-05-import-errors")

    good = "\n".join(["vin,trim_id,showroom,colour,status", *rows])
    page.goto("/staff/vehicles/import")
    page.locator("#file").set_input_files(files=[{"name": "arrivals.csv", "mimeType": "text/csv",
                                                  "buffer": good.encode("utf-8-sig")}])
    page.get_by_role("button", name="检查文件").click()
    expect(page.locator(".flash-success")).to_contain_text("全部 3 辆车可以导入")
    screenshot(page, "staff-06-import-preview")
    page.get_by_role("button", name="导入 3 辆车").click()
    expect(page.locator(".flash-success")).to_contain_text("已导入 3 辆车")

    page.goto(f"/staff/prices/{trim_id}")
    page.locator("#price").fill("1188000")
    page.get_by_role("button", name="保存价格").click()
    expect(page.locator(".flash-success")).to_contain_text("新价格已立即生效")
    expect(page.locator(".price-now strong")).to_have_text("¥1,188,000")
    screenshot(page, "staff-07-price")
    store_link = page.get_by_role("link", name="See it in the store").or_(page.get_by_role("link", name="在商店中查看"))
    model_path = store_link.get_attribute("href")

    shopper = browser.new_context(base_url=live_server, locale="zh-CN")
    shopper_page = shopper.new_page()
    shopper_page.goto(model_path)
    expect(shopper_page.locator("main")).to_contain_text("¥1,188,000")
    shopper.close()


def test_the_back_office_works_on_a_phone(phone_page):
    sign_in_as_staff(phone_page)
    phone_page.goto("/staff/vehicles")
    expect(phone_page.locator(".vehicle-table tbody tr").first).to_be_visible()
    assert_fits_the_phone(phone_page)
    screenshot(phone_page, "staff-08-phone-vehicles")
    phone_page.screenshot(path=str(SCREENSHOTS / "staff-08-phone-vehicles-top.png"))  # the first screen only
    phone_page.locator(".vehicle-table tbody tr").first.get_by_role("link").click()
    expect(phone_page.locator("#vin")).to_be_visible()
    assert_fits_the_phone(phone_page)
    screenshot(phone_page, "staff-09-phone-edit")
    phone_page.goto("/staff/audit")
    assert_fits_the_phone(phone_page)
    phone_page.screenshot(path=str(SCREENSHOTS / "staff-10-phone-audit-top.png"))


def test_admin_edits_showroom_hours_and_sees_the_staff_list(page):
    page.goto("/account/login?next=/staff/showrooms")
    page.locator("#email").fill("admin@flagship.demo")
    page.locator("#password").fill("demo-admin-2026")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("h1")).to_have_text("展厅")
    page.get_by_role("link", name="编辑 NJ-XW").click()
    expect(page.locator("#sun-closed")).to_be_checked()  # Xinjiekou is closed on Sundays
    page.locator("#sun-closed").uncheck()
    page.locator("#sun-opens").fill("10:00")
    page.locator("#sun-closes").fill("09:00")
    page.get_by_role("button", name="保存展厅").click()
    expect(page.locator(".hours-row.has-error")).to_contain_text("关门时间必须晚于开门时间")
    screenshot(page, "staff-11-showroom-error")
    page.locator("#sun-closes").fill("16:00")
    page.get_by_role("button", name="保存展厅").click()
    expect(page.locator(".flash-success")).to_contain_text("展厅 NJ-XW 已保存")

    page.get_by_role("link", name="用户", exact=True).click()
    page.locator("#role").select_option("staff")
    page.get_by_role("button", name="筛选").click()
    expect(page.locator("main table")).to_contain_text("staff@flagship.demo")
    screenshot(page, "staff-12-users")
