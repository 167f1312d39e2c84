"""Launch day in a browser: a shopper without a mobile is sent to the profile, orders a launch edition, pays
the 订金 on the demo page, locks it (now a 定金) and sees the inflated balance; in Chinese and on a phone."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from models import PresaleOrder
from models.base import utcnow
from storefront.extensions import db
from tests import factories
from tests.e2e.conftest import assert_fits_the_phone, screenshot
from tests.e2e.test_reservations import sign_in


def test_a_shopper_orders_a_launch_edition_pays_and_locks(page, phone_page, live_app):
    with live_app.app_context():
        factories.make_user(db.session, email="launch-fan@example.com", session_token="e2e-presale")
        db.session.commit()
    sign_in(page, "launch-fan@example.com", factories.TEST_PASSWORD)

    page.goto("/presale/mach-e-launch")
    expect(page.locator("h1")).to_have_text("Mustang Mach-E Launch Edition")
    expect(page.locator(".presale-left")).to_contain_text("/ 1000 launch editions left")
    page.get_by_role("button", name="Order now").click()
    expect(page).to_have_url(re.compile(r"/account/profile"))  # no mobile yet: one order per mobile
    expect(page.locator(".flash-error")).to_contain_text("mainland mobile number")
    page.get_by_label("Mobile number").fill("13912345678")
    page.get_by_role("button", name=re.compile("Save")).first.click()
    expect(page.locator("#phone-title + p")).to_contain_text("13912345678 is not verified yet")
    page.get_by_role("button", name="Text me a code").click()  # no SMS gateway: the demo store shows the code
    code = re.search(r"Your code is (\d{6})", page.locator(".flash-info").inner_text())
    assert code is not None
    page.get_by_label("Code from the text message").fill("000000" if code.group(1) != "000000" else "111111")
    page.get_by_role("button", name="Verify the number").click()
    expect(page.locator("#ph-code-err")).to_contain_text("That code is not right")
    page.get_by_label("Code from the text message").fill(code.group(1))
    page.get_by_role("button", name="Verify the number").click()
    expect(page).to_have_url(re.compile(r"/presale/mach-e-launch$"))  # back on the way to the order

    page.get_by_role("button", name="Order now").click()
    expect(page.locator(".presale-order .status")).to_have_text("Launch number held")
    number = page.locator(".launch-number strong").inner_text()
    assert re.fullmatch(r"\d{4}", number)
    screenshot(page, "presale-01-held")
    page.get_by_role("button", name="Pay the deposit").click()
    expect(page).to_have_url(re.compile(r"/payments/demo/"))
    expect(page.locator("h1")).to_have_text(f"Pay the deposit for launch number {number}")
    page.get_by_role("button", name="Pay ¥999 (demo)").click()

    expect(page.locator(".presale-order .status")).to_have_text("Deposit paid")
    page.get_by_role("button", name="中文").click()
    expect(page.locator(".presale-order")).to_contain_text("订金已支付")  # refundable for 7 days: 订金
    screenshot(page, "presale-02-paid-zh")
    page.get_by_role("button", name="立即锁单").click()
    expect(page.locator(".presale-order .status")).to_have_text("定金已锁定")  # binding now: 定金
    expect(page.locator(".presale-order")).to_contain_text("¥281,000")  # ¥286,000 less the ¥5,000 credit
    assert "订金" not in page.locator(".presale-order").inner_text()
    screenshot(page, "presale-03-locked-zh")
    with live_app.app_context():
        order = db.session.query(PresaleOrder).filter_by(launch_number=int(number)).one()
        assert order.status.value == "locked"

    phone_page.goto("/presale/mach-e-launch")
    expect(phone_page.locator("h1")).to_have_text("Mustang Mach-E 首发纪念版")
    assert_fits_the_phone(phone_page)
    screenshot(phone_page, "presale-04-launch-phone")


def test_a_shopper_in_the_waiting_room_is_told_the_wait_and_the_page_orders_at_their_turn(phone_page, live_app):
    """Launch day at a saturated store, on a 360 px phone in Chinese: the press is answered at once with the
    queue page (how many are ahead, how long), and the page sends the order by itself when the turn comes."""
    with live_app.app_context():
        factories.make_user(
            db.session,
            email="queued-fan@example.com",
            phone="13912340000",
            phone_verified_at=utcnow(),
            session_token="e2e-presale-queue",
        )
        db.session.commit()
    saved = {key: live_app.config[key] for key in ("TRUSTED_PROXY_COUNT", "PRESALE_ADMIT_PER_SECOND")}
    # Behind a proxy whose every request says it waited 5 s for a worker: this press opens a line.
    live_app.config.update(TRUSTED_PROXY_COUNT=1, PRESALE_ADMIT_PER_SECOND=0.5)
    try:
        page = phone_page
        page.set_viewport_size({"width": 360, "height": 780})
        sign_in(page, "queued-fan@example.com", factories.TEST_PASSWORD)
        page.get_by_role("button", name="中文").click()
        page.goto("/presale/mach-e-launch")
        page.set_extra_http_headers({"X-Request-Start": f"t={time.time() - 5:.3f}"})
        page.get_by_role("button", name="立即下单").click()

        expect(page.locator("h1")).to_have_text("您正在排队")
        expect(page.locator(".presale-queue-place")).to_contain_text("您前面还有约")
        assert_fits_the_phone(page)
        screenshot(page, "presale-05-queue-phone-zh")
        # No click: the page itself presses again when the turn comes (about 1 s).
        expect(page.locator(".presale-order .status")).to_have_text("已保留首发编号", timeout=15_000)
    finally:
        live_app.config.update(saved)
