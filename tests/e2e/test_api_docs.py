"""The API reference at /api/docs: the vendored Swagger UI renders every operation of the served document under
the store's Content-Security-Policy, with no CSP violation and no request leaving the machine."""

from __future__ import annotations

from playwright.sync_api import expect


def test_the_reference_renders_every_operation_under_the_csp(page, live_server):
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("request", lambda r: None if r.url.startswith(live_server) or r.url.startswith("data:")
            else problems.append(f"outside request: {r.url}"))
    page.goto("/api/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Flagship storefront API")
    document = page.request.get("/api/v1/openapi.json").json()
    operations = sum(len([m for m in ops if m in ("get", "put", "post")]) for ops in document["paths"].values())
    expect(page.locator(".opblock")).to_have_count(operations)
    expect(page.locator(".opblock-summary-path", has_text="/inventory/vehicles/{vin}/retire")).to_be_visible()
    page.wait_for_load_state("networkidle")  # nothing in flight when the context closes (the live server logs it)
    assert problems == []
