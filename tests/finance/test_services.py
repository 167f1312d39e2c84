"""Finance services: which products are offered, versioned edits, frozen quotes and finding them again."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from models import AuditLog, Event, FinanceKind, FinanceProduct, FunnelStep, Quote
from storefront.errors import ConflictError, DomainError
from storefront.finance import services
from storefront.finance.quoting import QuoteInputs
from storefront.finance.seed import VALID_FROM, seed_finance

D = Decimal
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def codes(products):
    return [p.code for p in products]


def test_seed_is_idempotent_and_skips_brands_that_are_missing(db, catalog):
    first = seed_finance(db)
    again = seed_finance(db)
    assert first.startswith("finance products added: 6") and again.startswith("finance products added: 0")
    assert "lincoln-balloon-loan" not in codes(db.scalars(select(FinanceProduct)))  # no Lincoln in the small catalog


def test_each_brand_sees_its_own_and_the_all_brand_products(db, products, kadjar, mach_e):
    renault = services.offered_products(db, brand_id=kadjar.car_model.brand_id, at=NOW)
    ford = services.offered_products(db, brand_id=mach_e.car_model.brand_id, at=NOW)
    assert codes(renault) == ["full-payment", "renault-finance-loan", "bank-loan", "yichenggou", "operating-lease"]
    assert codes(ford) == ["full-payment", "ford-credit-0pct-24", "bank-loan", "yichenggou", "operating-lease"]
    assert len(services.offered_products(db, brand_id=None, at=NOW)) == 6


def test_products_outside_their_dates_are_not_offered(db, products, mach_e):
    after_promotion = dt.datetime(2028, 1, 1, tzinfo=dt.UTC)
    assert "ford-credit-0pct-24" not in codes(services.offered_products(db, brand_id=None, at=after_promotion))
    assert services.offered_products(db, brand_id=None, at=VALID_FROM - dt.timedelta(days=1)) == []
    with pytest.raises(DomainError) as caught:
        services.offered_product(db, product_id=products["ford-credit-0pct-24"].id, trim=mach_e, at=after_promotion)
    assert set(caught.value.fields) == {"product_id"}


@pytest.mark.parametrize("product_id", [0, -1, 999_999, 10**12])
def test_unknown_product_ids_are_field_errors(db, products, kadjar, product_id):
    with pytest.raises(DomainError) as caught:
        services.offered_product(db, product_id=product_id, trim=kadjar, at=NOW)
    assert "product_id" in caught.value.fields


def test_another_brands_product_is_not_offered(db, products, kadjar):
    with pytest.raises(DomainError):
        services.offered_product(db, product_id=products["ford-credit-0pct-24"].id, trim=kadjar, at=NOW)


def edit(product: FinanceProduct, **changes: object) -> services.ProductValues:
    return dataclasses.replace(services.ProductValues.of(product), **changes)


def test_an_edit_makes_a_new_version_and_keeps_the_old(db, products, admin_user):
    old = products["renault-finance-loan"]
    new = services.update_product(
        db, actor=admin_user, product=old, values=edit(old, annual_rate_pct=D("4.49")), expected_version=1
    )
    assert (new.code, new.version, new.is_current, new.annual_rate_pct) == (old.code, 2, True, D("4.49"))
    assert old.is_current is False and old.annual_rate_pct == D("3.99")
    assert [v.version for v in services.product_history(db, code=old.code)] == [2, 1]
    assert [p.id for p in services.current_products(db) if p.code == old.code] == [new.id]
    audit = db.scalars(select(AuditLog).where(AuditLog.action == "finance_product.update")).one()
    assert audit.before["annual_rate_pct"] == "3.99" and audit.after["annual_rate_pct"] == "4.49"
    assert audit.actor_id == admin_user.id


def test_an_edit_of_a_stale_version_is_a_conflict(db, products, admin_user):
    loan = products["bank-loan"]
    services.update_product(db, actor=admin_user, product=loan, values=edit(loan, fees=D(500)), expected_version=1)
    with pytest.raises(ConflictError):
        services.update_product(db, actor=admin_user, product=loan, values=edit(loan, fees=D(900)), expected_version=1)


def test_the_kind_of_a_product_cannot_change(db, products, admin_user):
    loan = products["bank-loan"]
    with pytest.raises(DomainError) as caught:
        services.update_product(
            db, actor=admin_user, product=loan, values=edit(loan, kind=FinanceKind.LEASE_TO_OWN), expected_version=1
        )
    assert "kind" in caught.value.fields


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"terms_months": []}, "terms_months"),
        ({"terms_months": [0]}, "terms_months"),
        ({"terms_months": [36, 121]}, "terms_months"),
        ({"min_down_payment_pct": D(50), "max_down_payment_pct": D(40)}, "min_down_payment_pct"),
        ({"valid_to": VALID_FROM}, "valid_to"),
        ({"max_down_payment_pct": D(100)}, "terms_months"),  # 100 % down leaves nothing to finance
    ],
)
def test_product_rules_are_checked(db, products, admin_user, changes, field):
    loan = products["bank-loan"]
    with pytest.raises(DomainError) as caught:
        services.update_product(db, actor=admin_user, product=loan, values=edit(loan, **changes), expected_version=1)
    assert field in caught.value.fields


def test_lease_products_need_a_residual_for_every_term(db, products, admin_user):
    lease = products["operating-lease"]
    with pytest.raises(DomainError) as caught:
        services.update_product(
            db, actor=admin_user, product=lease, values=edit(lease, terms_months=[24, 36, 60]), expected_version=1
        )
    assert "residual_by_term" in caught.value.fields


def test_create_product_refuses_a_taken_or_malformed_code(db, products, admin_user):
    values = services.ProductValues.of(products["bank-loan"])
    with pytest.raises(DomainError):
        services.create_product(db, actor=admin_user, code="bank-loan", values=values)
    with pytest.raises(DomainError):
        services.create_product(db, actor=admin_user, code="Bad Code!", values=values)
    created = services.create_product(db, actor=admin_user, code="bank-loan-2", values=values)
    assert created.version == 1 and created.is_current


# --- Quotes ---------------------------------------------------------------------------


LOAN_20_36 = QuoteInputs(D(20), 36)


def save(db, products, trim, user=None, code="renault-finance-loan", inputs=LOAN_20_36):
    return services.save_quote(
        db, user=user, trim=trim, product=products[code], inputs=inputs, now=NOW, visit_key="abc123"
    )


def test_a_saved_quote_freezes_inputs_results_and_validity(db, products, kadjar, customer):
    quote = save(db, products, kadjar, customer)
    assert quote.reference.startswith("Q-") and len(quote.reference) == 8
    assert quote.valid_until == NOW + dt.timedelta(days=14)
    assert quote.product_version == 1 and quote.user_id == customer.id
    assert quote.results["monthly_payment_cny"] == "3778.50" and quote.results["apr_pct"] == "4.77"
    assert quote.inputs["product"]["annual_rate_pct"] == "3.99" and quote.inputs["trim"]["price_cny"] == "160000.00"
    assert quote.inputs["down_payment_pct"] == "20.00" and quote.inputs["term_months"] == 36


def test_a_saved_quote_never_changes_when_rates_and_prices_change(db, products, kadjar, admin_user):
    quote = save(db, products, kadjar)
    frozen = (dict(quote.inputs), dict(quote.results))
    loan = products["renault-finance-loan"]
    services.update_product(
        db,
        actor=admin_user,
        product=loan,
        values=edit(loan, annual_rate_pct=D("7.99"), fees=D(5000)),
        expected_version=1,
    )
    kadjar.msrp_cny = D("199000.00")
    db.flush()
    db.expire_all()
    again = services.find_by_reference(db, quote.reference)
    assert again is not None and (again.inputs, again.results) == frozen
    assert again.product.version == 1 and again.product.annual_rate_pct == D("3.99")
    current = services.offered_product(
        db, product_id=services.product_history(db, code=loan.code)[0].id, trim=kadjar, at=NOW
    )
    fresh = services.quote_for_trim(trim=kadjar, product=current, inputs=QuoteInputs(D(20), 36))
    assert str(fresh.monthly_payment) != again.results["monthly_payment_cny"]


def test_saving_records_a_quote_event_without_personal_data(db, products, kadjar, customer):
    save(db, products, kadjar, customer, code="yichenggou", inputs=QuoteInputs(D(10), 12))
    event = db.scalars(select(Event).where(Event.step == FunnelStep.QUOTE)).one()
    assert event.car_model_id == kadjar.car_model_id and event.visit_key == "abc123"
    assert event.props == {"finance_kind": "lease_to_own", "term_months": "12"}
    assert str(customer.id) not in event.props.values() and customer.email not in str(event.props)


def test_saving_rechecks_the_product_rules(db, products, kadjar):
    with pytest.raises(DomainError):
        save(db, products, kadjar, inputs=QuoteInputs(D(5), 36))
    assert db.scalar(select(Quote.id)) is None


@pytest.mark.parametrize("typed", ["{ref}", "{lower}", "  {ref}  ", "{bare}", "q{bare}"])
def test_find_by_reference_forgives_case_spaces_and_prefix(db, products, kadjar, typed):
    quote = save(db, products, kadjar)
    text = typed.format(ref=quote.reference, lower=quote.reference.lower(), bare=quote.reference[2:].lower())
    assert services.find_by_reference(db, text) is quote


@pytest.mark.parametrize(
    "typed", ["", "Q-", "Q-ABC", "Q-0OIL11", "Q-ABCDEFG", "'; drop table quotes; --", "Q-" + "A" * 500]
)
def test_find_by_reference_returns_none_for_anything_else(db, products, kadjar, typed):
    save(db, products, kadjar)
    assert services.find_by_reference(db, typed) is None


def test_my_quotes_lists_only_mine_newest_first(db, products, kadjar, mach_e, customer, admin_user):
    first = save(db, products, kadjar, customer)
    mine = services.save_quote(
        db,
        user=customer,
        trim=mach_e,
        product=products["bank-loan"],
        inputs=QuoteInputs(D(20), 24),
        now=NOW + dt.timedelta(hours=1),
    )
    save(db, products, kadjar, admin_user)
    assert services.quotes_of(db, user=customer) == [mine, first]


def test_comparison_quotes_every_offered_product_with_its_defaults(db, products, kadjar):
    offered = services.offered_products(db, brand_id=kadjar.car_model.brand_id, at=NOW)
    kinds = [product.kind for product, _result in services.comparison(trim=kadjar, products=offered)]
    assert kinds == [
        FinanceKind.FULL_PAYMENT,
        FinanceKind.LOAN,
        FinanceKind.LOAN,
        FinanceKind.LEASE_TO_OWN,
        FinanceKind.OPERATING_LEASE,
    ]
