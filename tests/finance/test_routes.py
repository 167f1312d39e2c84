"""Finance pages: the builder with and without htmx, bad input as form errors, compare, save, print, my quotes,
and the staff product pages."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from models import FinanceProduct, Quote, Role
from storefront.finance import services
from tests import factories
from tests.finance.conftest import sign_in

EN = {"Accept-Language": "en"}
HTMX = {**EN, "HX-Request": "true"}


def text(response) -> str:  # type: ignore[no-untyped-def]
    return response.get_data(as_text=True)


def quote_url(trim, **args) -> str:  # type: ignore[no-untyped-def]
    query = "&".join(f"{k}={v}" for k, v in args.items())
    return f"/finance/quote/{trim.id}" + (f"?{query}" if query else "")


def only_external_scripts(html: str) -> bool:
    """CSP forbids inline script: every <script> has a src or is a JSON data block."""
    return all("src=" in tag or 'type="application/json"' in tag for tag in re.findall(r"<script[^>]*>", html))


# --- Landing --------------------------------------------------------------------------


def test_index_explains_the_options_and_links_every_trim(client, products, catalog):
    page = text(client.get("/finance/", headers=EN))
    assert "Lease-to-own (一成购)" in page and "Operating lease" in page
    for trim in catalog.trims:
        assert f'href="/finance/quote/{trim.id}"' in page
    assert "Renault Finance car loan" in page and "4.35%" in page


def test_index_query_count_does_not_grow_with_the_catalog(client, db, products, catalog, count_queries):
    client.get("/finance/")  # the first statement after a commit opens a SAVEPOINT: keep it out of the counts
    with count_queries() as before:
        client.get("/finance/")
    for n in range(5):
        factories.small_catalog_model(db, brand=catalog.brands[0], slug=f"extra-{n}")
    db.commit()
    client.get("/finance/")
    with count_queries() as after:
        client.get("/finance/")
    assert after.count == before.count


def test_model_page_links_to_the_quote_builder(client, products, kadjar):
    page = text(client.get(f"/models/{kadjar.car_model.slug}", headers=EN))
    assert f'href="/finance/quote/{kadjar.id}?colour=' in page  # in the colour shown


# --- Builder --------------------------------------------------------------------------


def test_builder_starts_on_a_loan_with_a_quote(client, products, kadjar):
    response = client.get(quote_url(kadjar), headers=EN)
    page = text(response)
    assert response.status_code == 200
    assert f'<option selected value="{products["renault-finance-loan"].id}">' in page
    assert "¥3,778.50" in page and "4.77%" in page  # 20 % down, 36 months at 3.99 % + ¥1,500 fee
    assert 'hx-trigger="input changed delay:300ms"' in page and 'hx-target="#quote-result"' in page
    assert "Month-by-month schedule (36 payments)" in page
    assert only_external_scripts(page)


def test_builder_works_as_a_plain_get_form(client, products, kadjar):
    lto = products["yichenggou"]
    response = client.get(
        quote_url(kadjar, product=lto.id, shown=lto.id, down_payment_pct=20, term_months=24), headers=EN
    )
    page = text(response)
    assert response.status_code == 200 and "<html" in page
    assert "Balance after 24 months" in page and "¥80,000.00" in page  # 50 % of ¥160,000
    assert 'value="20"' in page and '<option selected value="24">' in page


def test_picking_another_product_starts_from_its_defaults(client, products, kadjar):
    lease = products["operating-lease"]
    loan = products["renault-finance-loan"]
    # The fields were drawn for the loan (shown=loan) with 20 % down: a lease has none, so defaults apply.
    response = client.get(
        quote_url(kadjar, product=lease.id, shown=loan.id, down_payment_pct=20, term_months=60), headers=EN
    )
    assert response.status_code == 200
    assert "Kilometres a year" in text(response) and "× 36 months" in text(response)


def test_htmx_gets_the_figures_only(client, products, kadjar):
    loan = products["renault-finance-loan"]
    response = client.get(
        quote_url(kadjar, product=loan.id, shown=loan.id, down_payment_pct=30, term_months=24), headers=HTMX
    )
    page = text(response)
    assert response.status_code == 200 and "<html" not in page and '<form id="quote-form"' not in page
    assert 'data-testid="monthly">¥4,863.09<' in page
    assert "hx-swap-oob" not in page  # same product: the inputs stay as they are


def test_htmx_resends_the_inputs_when_the_product_changes(client, products, kadjar):
    lto, loan = products["yichenggou"], products["renault-finance-loan"]
    page = text(
        client.get(quote_url(kadjar, product=lto.id, shown=loan.id, down_payment_pct=20, term_months=36), headers=HTMX)
    )
    assert '<div id="quote-fields" hx-swap-oob="true">' in page
    assert f'name="shown" type="hidden" value="{lto.id}"' in page
    assert "Monthly rent" in page


def test_history_restore_gets_the_whole_page(client, products, kadjar):
    page = text(client.get(quote_url(kadjar), headers={**HTMX, "HX-History-Restore-Request": "true"}))
    assert "<html" in page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"down_payment_pct": 5, "term_months": 36}, "between 20% and 80%"),
        ({"down_payment_pct": 100, "term_months": 36}, "between 20% and 80%"),
        ({"down_payment_pct": -10, "term_months": 36}, "between 20% and 80%"),
        ({"down_payment_pct": 20, "term_months": 30}, "Choose a term this product offers: 12, 24, 36, 48, 60 months."),
        ({"down_payment_pct": "abc", "term_months": 36}, "Enter a percentage"),
        ({"down_payment_pct": "1e3", "term_months": 36}, "Enter a percentage"),
        ({"down_payment_pct": "99999999999999999999", "term_months": 36}, "Enter a percentage"),
        ({"down_payment_pct": 20, "term_months": "x"}, "Invalid Choice"),
        ({"down_payment_pct": 20, "term_months": 36, "balloon_pct": 31}, "at most 30%"),
        ({"down_payment_pct": 20, "term_months": 36, "balloon_pct": "NaN"}, "Enter a percentage"),
        ({"down_payment_pct": "", "term_months": 36}, "This field is required."),
    ],
)
def test_bad_input_comes_back_as_form_errors(client, products, kadjar, args, message):
    loan = products["renault-finance-loan"]
    response = client.get(quote_url(kadjar, product=loan.id, shown=loan.id, **args), headers=EN)
    assert response.status_code == 422
    assert message in text(response) and 'aria-invalid="true"' in text(response)
    htmx = client.get(quote_url(kadjar, product=loan.id, shown=loan.id, **args), headers=HTMX)
    assert htmx.status_code == 200 and message in text(htmx)  # htmx swaps 2xx only


@pytest.mark.parametrize("product", ["999999", "abc", "99999999999999999999"])
def test_an_unknown_product_is_a_form_error(client, products, kadjar, product):
    response = client.get(quote_url(kadjar, product=product, shown=product), headers=EN)
    assert response.status_code == 422 and "Not a valid choice" in text(response)


def test_another_brands_product_is_not_offered(client, products, kadjar):
    ford = products["ford-credit-0pct-24"]
    response = client.get(quote_url(kadjar, product=ford.id, shown=ford.id, down_payment_pct=30, term_months=24))
    assert response.status_code == 422


@pytest.mark.parametrize("trim_id", ["999999", "0", "99999999999999999999", "abc"])
def test_unknown_trims_are_404(client, products, trim_id):
    assert client.get(f"/finance/quote/{trim_id}").status_code == 404
    assert client.get(f"/finance/quote/{trim_id}/compare").status_code == 404


def test_inactive_trims_are_404(client, db, products, kadjar):
    kadjar.is_active = False
    db.commit()
    assert client.get(quote_url(kadjar)).status_code == 404


def test_new_energy_cars_get_the_purchase_tax_relief(client, products, mach_e):
    full = products["full-payment"]
    page = text(client.get(quote_url(mach_e, product=full.id), headers=EN))
    # ¥265,000 / 1.13 × 10 % = ¥23,451.33, halved in 2026-2027 (relief, half up, ¥11,725.67): ¥11,725.66 to pay.
    assert "¥11,725.66" in page and "after NEV relief of ¥11,725.67" in page


# --- Compare --------------------------------------------------------------------------


def test_compare_shows_every_option_in_a_chart_and_a_table(client, products, kadjar):
    response = client.get(f"/finance/quote/{kadjar.id}/compare", headers=EN)
    page = text(response)
    assert response.status_code == 200 and only_external_scripts(page)
    data = json.loads(re.search(r'<script type="application/json" id="cost-chart-data">(.*?)</script>', page, re.S)[1])
    labels = [d["label"] for d in data["datasets"]]
    assert labels == [
        "Full payment",
        "Renault Finance car loan",
        "Bank car loan",
        "10%-down lease-to-own (一成购)",
        "Operating lease",
    ]
    assert data["labels"][-1] == 36 and all(len(d["data"]) == 37 for d in data["datasets"])
    assert data["datasets"][1]["data"][-1] == "169526.03"  # the loan's total cost, also in the table
    assert "¥169,526.03" in page and "Who owns the car" in page
    assert "vendor/chart-4.6.1.umd.min.js" in page and "js/finance.js" in page
    assert 'role="img"' in page  # the canvas is labelled; the table carries the numbers


# --- Save, print, my quotes -----------------------------------------------------------


def save_form(products, **changes):  # type: ignore[no-untyped-def]
    return {
        "product": products["renault-finance-loan"].id,
        "down_payment_pct": "25",
        "term_months": "48",
        "balloon_pct": "10",
        **changes,
    }


def test_saving_needs_a_signed_in_member(client, app, db, products, kadjar):
    response = client.post(f"/finance/quote/{kadjar.id}/save", data=save_form(products), headers=EN)
    assert response.status_code == (302 if "accounts.login" in app.view_functions else 401)
    assert response.headers.get("Location", "/account/login").startswith("/account/login")
    assert db.scalar(select(Quote.id)) is None
    assert "Sign in to save this quote" in text(client.get(quote_url(kadjar), headers=EN))


def test_a_member_saves_a_quote_and_lands_on_it(client, db, products, kadjar, customer):
    sign_in(client, customer)
    builder = text(client.get(quote_url(kadjar), headers=EN))
    assert f'action="/finance/quote/{kadjar.id}/save"' in builder
    response = client.post(f"/finance/quote/{kadjar.id}/save", data=save_form(products))
    assert response.status_code == 302
    quote = db.scalars(select(Quote)).one()
    assert response.headers["Location"] == f"/finance/quotes/{quote.reference}"
    assert quote.user_id == customer.id and quote.inputs["balloon_pct"] == "10.00" and quote.inputs["term_months"] == 48
    page = text(client.get(response.headers["Location"], headers=EN))
    assert quote.reference in page and "saved. It is valid for 14 days." in page


def test_saving_bad_figures_goes_back_to_the_builder(client, db, products, kadjar, customer):
    sign_in(client, customer)
    response = client.post(
        f"/finance/quote/{kadjar.id}/save", data=save_form(products, down_payment_pct="5"), headers=EN
    )
    assert response.status_code == 302 and response.headers["Location"].startswith(f"/finance/quote/{kadjar.id}?")
    assert "down_payment_pct=5" in response.headers["Location"] and "shown=" in response.headers["Location"]
    assert db.scalar(select(Quote.id)) is None
    page = text(client.get(response.headers["Location"], headers=EN))
    assert "between 20% and 80%" in page


def test_saving_needs_the_csrf_token(csrf_app, db, products, kadjar, customer):
    client = csrf_app.test_client()
    sign_in(client, customer)
    refused = client.post(f"/finance/quote/{kadjar.id}/save", data=save_form(products))
    assert refused.status_code == 400
    page = text(client.get(quote_url(kadjar)))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    accepted = client.post(f"/finance/quote/{kadjar.id}/save", data={**save_form(products), "csrf_token": token})
    assert accepted.status_code == 302 and db.scalar(select(Quote.id)) is not None


def saved(db, products, trim, user=None, code="renault-finance-loan"):  # type: ignore[no-untyped-def]
    from storefront.clock import now
    from storefront.finance.quoting import QuoteInputs

    quote = services.save_quote(
        db, user=user, trim=trim, product=products[code], now=now(), inputs=QuoteInputs(Decimal(20), 36)
    )
    db.commit()
    return quote


def test_the_printable_quote_has_reference_validity_and_a_qr_code(client, app, db, products, kadjar):
    quote = saved(db, products, kadjar)
    page = text(client.get(f"/finance/quotes/{quote.reference}", headers=EN))
    assert quote.reference in page and "Valid until" in page and "14 days" in page
    assert '<svg viewBox="0 0' in page and 'class="quote-qr"' in page
    assert f"http://localhost/finance/quotes/{quote.reference}" in page  # no PUBLIC_BASE_URL: the request's host
    assert "¥3,778.50" in page and "Product version 1" in page and "data-print" in page
    assert only_external_scripts(page)


def test_the_printed_quote_keeps_its_figures_after_a_rate_change(client, db, products, kadjar, admin_user):
    import dataclasses

    quote = saved(db, products, kadjar)
    loan = products["renault-finance-loan"]
    values = dataclasses.replace(services.ProductValues.of(loan), annual_rate_pct=Decimal("9.99"))
    services.update_product(db, actor=admin_user, product=loan, values=values, expected_version=1)
    db.commit()
    page = text(client.get(f"/finance/quotes/{quote.reference}", headers=EN))
    assert "¥3,778.50" in page and "3.99%" in page
    assert "¥3,778.50" not in text(client.get(quote_url(kadjar), headers=EN))


def test_quote_references_are_forgiving_and_unknown_ones_404(client, db, products, kadjar):
    quote = saved(db, products, kadjar)
    lower = client.get(f"/finance/quotes/{quote.reference.lower()}")
    assert lower.status_code == 302 and lower.headers["Location"] == f"/finance/quotes/{quote.reference}"
    assert client.get("/finance/quotes/Q-ZZZZZZ").status_code == 404
    assert client.get("/finance/quotes/nonsense").status_code == 404
    found = client.get(f"/finance/quotes/find?reference={quote.reference[2:]}")
    assert found.headers["Location"] == f"/finance/quotes/{quote.reference}"
    assert client.get("/finance/quotes/find?reference=nope").headers["Location"] == "/finance/"


def test_an_expired_quote_says_so(client, db, products, kadjar):
    import datetime as dt

    quote = saved(db, products, kadjar)
    quote.valid_until = quote.created_at - dt.timedelta(days=1)
    db.commit()
    assert "Expired on" in text(client.get(f"/finance/quotes/{quote.reference}", headers=EN))


def test_my_quotes_lists_mine_with_a_constant_query_count(
    client, db, products, kadjar, mach_e, customer, count_queries
):
    other = factories.make_user(db, email="other@example.com", role=Role.CUSTOMER)
    first = saved(db, products, kadjar, customer)
    theirs = saved(db, products, kadjar, other)
    sign_in(client, customer)
    client.get("/finance/my-quotes")  # keep the SAVEPOINT opened after a commit out of the counts
    with count_queries() as one:
        page = text(client.get("/finance/my-quotes", headers=EN))
    assert first.reference in page and theirs.reference not in page
    for _ in range(4):
        saved(db, products, mach_e, customer, code="bank-loan")
    client.get("/finance/my-quotes")
    with count_queries() as five:
        page = text(client.get("/finance/my-quotes", headers=EN))
    assert page.count("/finance/quotes/Q-") == 5 and five.count == one.count


def test_my_quotes_needs_a_sign_in(client, app, products):
    assert client.get("/finance/my-quotes").status_code == (302 if "accounts.login" in app.view_functions else 401)


# --- Staff: products ------------------------------------------------------------------


def product_form(product: FinanceProduct, **changes: str) -> dict[str, str]:
    data = {
        "code": product.code,
        "kind": product.kind.value,
        "name_en": product.name_en,
        "name_zh": product.name_zh,
        "lender_en": product.lender_en,
        "lender_zh": product.lender_zh,
        "brand": str(product.brand_id or ""),
        "annual_rate_pct": f"{product.annual_rate_pct}",
        "terms_months": ", ".join(map(str, product.terms_months)),
        "min_down_payment_pct": f"{product.min_down_payment_pct}",
        "max_down_payment_pct": f"{product.max_down_payment_pct}",
        "fees": f"{product.fees}",
        "valid_from": "2025-01-01",
        "version": str(product.version),
        "sort_order": "5",
    }
    return {**data, **changes}


def test_staff_see_products_but_cannot_edit(client, products, staff_user):
    sign_in(client, staff_user)
    page = text(client.get("/staff/finance/", headers=EN))
    assert "Renault Finance car loan" in page and "/edit" not in page
    assert client.get(f"/staff/finance/products/{products['bank-loan'].id}/edit").status_code == 403


def test_an_admin_edit_saves_a_new_version(client, db, products, admin_user):
    loan = products["bank-loan"]
    sign_in(client, admin_user)
    form = text(client.get(f"/staff/finance/products/{loan.id}/edit", headers=EN))
    assert 'value="4.35"' in form and "Saving makes version 2" in form
    response = client.post(f"/staff/finance/products/{loan.id}/edit", data=product_form(loan, annual_rate_pct="3.85"))
    assert response.status_code == 302
    versions = services.product_history(db, code="bank-loan")
    assert [(v.version, v.annual_rate_pct, v.is_current) for v in versions] == [
        (2, Decimal("3.85"), True),
        (1, Decimal("4.35"), False),
    ]
    # Editing the old id goes to the latest version's form.
    assert (
        client.get(f"/staff/finance/products/{loan.id}/edit")
        .headers["Location"]
        .endswith(f"/products/{versions[0].id}/edit")
    )
    assert "v2" in text(client.get("/staff/finance/products/bank-loan", headers=EN))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"terms_months": "12, abc"}, "Enter whole numbers separated by commas."),
        ({"annual_rate_pct": "4.3.5"}, "Enter a percentage"),
        ({"min_down_payment_pct": "90", "max_down_payment_pct": "10"}, "Down payments"),
        ({"fees": "-5"}, "Enter an amount in yuan"),
        ({"version": "7"}, "Someone changed this product"),
    ],
)
def test_bad_product_edits_are_form_errors(client, db, products, admin_user, changes, message):
    loan = products["bank-loan"]
    sign_in(client, admin_user)
    response = client.post(f"/staff/finance/products/{loan.id}/edit", data=product_form(loan, **changes), headers=EN)
    assert response.status_code == 422 and message in text(response)
    assert [v.version for v in services.product_history(db, code="bank-loan")] == [1]


def test_an_admin_creates_a_product(client, db, products, admin_user):
    sign_in(client, admin_user)
    assert client.get("/staff/finance/products/new").status_code == 200
    data = product_form(products["bank-loan"], code="city-bank-loan", name_en="City bank loan", annual_rate_pct="3.6")
    assert client.post("/staff/finance/products/new", data=data).status_code == 302
    created = db.scalars(select(FinanceProduct).where(FinanceProduct.code == "city-bank-loan")).one()
    assert created.annual_rate_pct == Decimal("3.60") and created.terms_months == [12, 24, 36, 48, 60]


def test_product_edits_need_a_recent_password(client, app, products, admin_user):
    from tests.conftest import login

    login(client, admin_user)
    with client.session_transaction() as session:
        session.pop("auth_at", None)  # signed in, but no password typed in the last 15 minutes
    response = client.get(f"/staff/finance/products/{products['bank-loan'].id}/edit")
    assert response.status_code == 302 and "reauth" in response.headers["Location"]


@pytest.mark.parametrize("version", ["²", "99999999999999999999", "-1"])
def test_a_bad_version_on_a_product_edit_is_a_stale_edit_not_a_500(client, db, products, admin_user, version):
    loan = products["bank-loan"]
    sign_in(client, admin_user)
    response = client.post(f"/staff/finance/products/{loan.id}/edit",
                           data={**product_form(loan, annual_rate_pct="3.85"), "version": version})
    assert response.status_code in (409, 422)
