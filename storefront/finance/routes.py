"""Finance pages: the options explained, the quote builder, the comparison, saved and printable quotes;
and, for staff, the finance products (admins edit them; every edit is a new version)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from models import Brand, FinanceKind, FinanceProduct, Trim
from storefront.auth import admin_required, fresh_login_required, login_required, require_staff
from storefront.clock import STORE_TZ, now
from storefront.errors import DomainError
from storefront.extensions import db
from storefront.finance import queries, quoting, services
from storefront.finance.forms import ProductForm, QuoteForm, SaveQuoteForm, show_errors
from storefront.finance.qr import qr_svg
from storefront.i18n import localised
from storefront.ids import parse_id
from storefront.outbox import public_url
from storefront.visits import visit_key

bp = Blueprint("finance", __name__, url_prefix="/finance", cli_group="finance")
staff_bp = Blueprint("finance_staff", __name__, url_prefix="/staff/finance", cli_group=None)
staff_bp.before_request(require_staff)


def _is_htmx() -> bool:
    """An htmx swap wants the fragment; a history restore wants the whole page."""
    return bool(request.headers.get("HX-Request")) and not request.headers.get("HX-History-Restore-Request")


@bp.get("/")
def index() -> str:
    products = services.offered_products(db.session, brand_id=None, at=now())
    return render_template("finance/index.html", groups=queries.models_by_brand(db.session), products=products)


@bp.get("/quote/<int:trim_id>")
def quote(trim_id: int) -> Any:
    trim = queries.trim_or_404(db.session, trim_id)
    products = services.offered_products(db.session, brand_id=trim.car_model.brand_id, at=now())
    if not products:
        return render_template("finance/quote.html", trim=trim, form=None, result=None), 404
    form, fresh = QuoteForm.for_request(request.args, products)
    result = _quote_or_errors(form, trim)
    context = {"trim": trim, "form": form, "result": result, "fields_changed": fresh}
    if _is_htmx():  # htmx swaps 2xx only, so errors come back as 200 with the messages in the fragment
        return render_template("finance/_result.html", **context)
    return render_template("finance/quote.html", **context), 200 if result else 422


def _quote_or_errors(form: QuoteForm, trim: Trim) -> quoting.QuoteResult | None:
    if not form.validate():
        return None
    try:
        return services.quote_for_trim(trim=trim, product=form.current_product, inputs=form.inputs())
    except DomainError as error:
        show_errors(form, error.fields or {"": error.user_message})
        return None


@bp.get("/quote/<int:trim_id>/compare")
def compare(trim_id: int) -> str:
    trim = queries.trim_or_404(db.session, trim_id)
    products = services.offered_products(db.session, brand_id=trim.car_model.brand_id, at=now())
    quotes = services.comparison(trim=trim, products=products)
    chart = quoting.chart_data([(localised(product, "name"), result) for product, result in quotes])
    chart.update(x_title=_("Months from signing"), y_title=_("Money paid so far (¥)"))
    columns = [(product, result.to_json()) for product, result in quotes]
    return render_template("finance/compare.html", trim=trim, quotes=columns, chart=chart)


@bp.post("/quote/<int:trim_id>/save")
@login_required
def save(trim_id: int) -> Response:
    trim = queries.trim_or_404(db.session, trim_id)
    form = SaveQuoteForm()
    back = _builder_url(trim.id, request.form)
    if not form.validate():
        flash(_("Those figures could not be saved; please check them."), "error")
        return redirect(back)
    try:
        product = services.offered_product(db.session, product_id=form.product_id() or 0, trim=trim, at=now())
        saved = services.save_quote(
            db.session,
            user=current_user,
            trim=trim,
            product=product,
            inputs=form.inputs(),
            now=now(),
            visit_key=visit_key(),
        )
    except DomainError as error:
        db.session.rollback()
        flash(error.user_message, "error")
        return redirect(back)
    db.session.commit()
    flash(_("Quote %(reference)s saved. It is valid for 14 days.", reference=saved.reference), "success")
    return redirect(url_for(".saved_quote", reference=saved.reference))


def _builder_url(trim_id: int, data: Any) -> str:
    """Back to the builder with the same choices (`shown` keeps them from being reset to defaults)."""
    keys = ("product", "down_payment_pct", "term_months", "balloon_pct", "annual_mileage_km")
    args: dict[str, Any] = {key: data[key] for key in keys if data.get(key)}
    return url_for(".quote", trim_id=trim_id, shown=args.get("product"), **args)


@bp.get("/quotes/<reference>")
def saved_quote(reference: str) -> Any:
    """Public by reference, so a showroom can open the scanned QR code: a quote holds no personal data."""
    saved = services.find_by_reference(db.session, reference) or abort(404)
    if saved.reference != reference:
        return redirect(url_for(".saved_quote", reference=saved.reference))
    url = public_url("finance.saved_quote", reference=saved.reference)
    qr = qr_svg(url, title=_("QR code: quote %(reference)s", reference=saved.reference))
    return render_template(
        "finance/saved_quote.html",
        quote=saved,
        qr=qr,
        quote_url=url,
        expired=not saved.is_valid_at(now()),
        result=saved.results,
    )


@bp.get("/quotes/find")
def find_quote() -> Any:
    saved = services.find_by_reference(db.session, request.args.get("reference", ""))
    if saved is None:
        flash(_("There is no quote with this reference."), "error")
        return redirect(url_for(".index"))
    return redirect(url_for(".saved_quote", reference=saved.reference))


@bp.get("/my-quotes")
@login_required
def my_quotes() -> str:
    quotes = services.quotes_of(db.session, user=current_user)
    return render_template("finance/my_quotes.html", quotes=quotes, now=now())


# --- Staff: finance products ----------------------------------------------------------


def _to_utc(day: dt.date) -> dt.datetime:
    """Midnight Beijing time at the start of `day`, in UTC."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=STORE_TZ).astimezone(dt.UTC)


def _local_date(stamp: dt.datetime) -> dt.date:
    return stamp.astimezone(STORE_TZ).date()


def _product_form(product: FinanceProduct | None = None) -> ProductForm:
    form = ProductForm()
    brands = db.session.scalars(select(Brand).order_by(Brand.sort_order))
    form.brand.choices = [("", _("Every brand"))] + [(str(b.id), localised(b, "name")) for b in brands]
    if product is not None and request.method == "GET":
        form.fill_from(product, local_date=_local_date)
    return form


@staff_bp.get("/")
def products() -> str:
    return render_template(
        "finance/staff/products.html", products=services.current_products(db.session), now=now(), kinds=FinanceKind
    )


@staff_bp.get("/products/<code>")
def product_history(code: str) -> str:
    versions = services.product_history(db.session, code=code) or abort(404)
    return render_template("finance/staff/history.html", versions=versions)


@staff_bp.route("/products/new", methods=["GET", "POST"])
@admin_required
@fresh_login_required  # rates are prices: the password must be recent
def new_product() -> Any:
    form = _product_form()
    if form.validate_on_submit():
        try:
            product = services.create_product(
                db.session,
                actor=current_user,
                code=form.code.data or "",
                values=services.ProductValues(**form.values(to_utc=_to_utc)),
            )
        except DomainError as error:
            db.session.rollback()
            show_errors(form, error.fields or {"": error.user_message})
        else:
            db.session.commit()
            flash(_("Product %(name)s created.", name=localised(product, "name")), "success")
            return redirect(url_for(".products"))
    return render_template("finance/staff/product_form.html", form=form, product=None), 422 if form.errors else 200


@staff_bp.route("/products/<int:product_id>/edit", methods=["GET", "POST"])
@admin_required
@fresh_login_required  # rates are prices: the password must be recent
def edit_product(product_id: int) -> Any:
    product = db.session.get(FinanceProduct, product_id) or abort(404)
    if not product.is_current:  # always edit the latest version
        latest = services.product_history(db.session, code=product.code)[0]
        return redirect(url_for(".edit_product", product_id=latest.id))
    form = _product_form(product)
    if form.validate_on_submit():
        try:
            saved = services.update_product(
                db.session,
                actor=current_user,
                product=product,
                values=services.ProductValues(**form.values(to_utc=_to_utc)),
                expected_version=parse_id(form.version.data) or 0,  # junk: a stale edit, not a 500
            )
        except DomainError as error:
            db.session.rollback()
            show_errors(form, error.fields or {"": error.user_message})
        else:
            db.session.commit()
            flash(
                _("Saved as version %(version)d; quotes made earlier keep their terms.", version=saved.version),
                "success",
            )
            return redirect(url_for(".products"))
    return render_template("finance/staff/product_form.html", form=form, product=product), 422 if form.errors else 200
