"""axe-core on the store's pages, both languages, signed out and as shopper, staff and admin.

axe (tests/e2e/vendor/axe.min.js, axe-core 4.14.1 from the npm registry) is injected by the test: the store's
CSP allows only its own scripts, so these contexts bypass CSP. The bar: no serious or critical violation, and
the moderate ones the issue named (the demo banner outside any landmark, a skipped heading level) gone too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
ACCOUNTS = {
    "shopper": ("shopper@flagship.demo", "demo-shopper-2026"),
    "staff": ("staff@flagship.demo", "demo-staff-2026"),
    "admin": ("admin@flagship.demo", "demo-admin-2026"),
}
# (who, language, pages)
ROUNDS = [
    (None, "zh", ["/", "/brands/renault", "/models", "/models/koleos", "/compare?trim=3&trim=4", "/showrooms",
                  "/finance/quote/3", "/account/login", "/demo/"]),
    (None, "en", ["/", "/test-drives/", "/account/register"]),
    ("shopper", "en", ["/account/", "/account/profile", "/reservations/mine", "/reservations/choose/koleos",
                       "/test-drives/book/2"]),
    ("shopper", "zh", ["/account/", "/finance/my-quotes"]),
    ("staff", "zh", ["/staff/", "/staff/vehicles", "/staff/reservations/", "/staff/insights/"]),
    ("admin", "en", ["/staff/users", "/staff/reservations/policies"]),
]
BLOCKING = ("serious", "critical")
MODERATE_FIXED = ("region", "heading-order", "label-content-name-mismatch")


def violations(page) -> list[dict]:  # type: ignore[no-untyped-def]
    page.add_script_tag(path=str(AXE))
    return page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ['violations']});
        return result.violations.map(v => ({id: v.id, impact: v.impact,
            nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")


@pytest.mark.slow
@pytest.mark.parametrize(("who", "language", "paths"), ROUNDS, ids=[f"{w or 'guest'}-{lang}" for w, lang, _ in ROUNDS])
def test_no_serious_accessibility_violations(browser, live_server, who, language, paths) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900},
                                  locale="zh-CN", bypass_csp=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        page.goto("/account/login")
        wanted = "English" if language == "en" else "中文"
        page.locator(f".lang-switch button:text-is('{wanted}')").click()
        if who:
            page.goto("/account/login")
            page.locator("input[name=email]").fill(ACCOUNTS[who][0])
            page.locator("input[name=password]").fill(ACCOUNTS[who][1])
            page.locator("main button[type=submit]").first.click()
            page.wait_for_url(lambda url: "/account/login" not in url)
        found = {}
        for path in paths:
            page.goto(path)
            page.wait_for_load_state("load")
            bad = [v for v in violations(page) if v["impact"] in BLOCKING or v["id"] in MODERATE_FIXED]
            if bad:
                found[path] = bad
        assert not found, found
    finally:
        context.close()
