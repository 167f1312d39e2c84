"""HTTP routes of the reservations area: choose a car, review the deposit terms, reserve and pay, my
reservations; and for staff, the reservations of their showrooms and the deposit policies (admins)."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import click
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from models import (
    AuditLog,
    CarModel,
    City,
    Dealer,
    DepositKind,
    DepositPolicy,
    Reservation,
    ReservationStatus,
    Trim,
    Vehicle,
    VehicleStatus,
)
from storefront import clock
from storefront.auth import admin_required, require_staff
from storefront.demo.store_clock import with_store_clock
from storefront.errors import DomainError
from storefront.extensions import db
from storefront.i18n import format_cny, localised
from storefront.reservations import queries, services
from storefront.reservations.availability import release_expired_holds_now
from storefront.reservations.forms import (
    PAYMENT_STATUS_LABELS,
    STATUS_LABELS,
    VEHICLE_STATUS_LABELS,
    CancelForm,
    PolicyForm,
    ReserveForm,
    StaffCancelForm,
    StaffFilterForm,
)
from storefront.reservations.seed import default_terms
from storefront.reservations.terms import deposit_terms, policy_terms, reservation_terms
from storefront.visits import visit_key

bp = Blueprint("reservations", __name__, url_prefix="/reservations", cli_group="reservations")
staff_bp = Blueprint("reservations_staff", __name__, url_prefix="/staff/reservations")
staff_bp.before_request(require_staff)


def _countdown_iso(moment: dt.datetime) -> str:
    """The browser counts down on its own clock; take the demo time-travel offset out of the deadline."""
    return (moment - clock.get_offset()).astimezone(dt.UTC).isoformat()


def _template_helpers() -> dict[str, Any]:
    return {"countdown_iso": _countdown_iso, "status_label": lambda s: STATUS_LABELS[s], "timeline": queries.timeline,
            "reservation_terms": reservation_terms, "store_now": clock.now(), "Status": ReservationStatus,
            "vehicle_status_label": lambda s: VEHICLE_STATUS_LABELS[s],
            "payment_status_label": lambda s: PAYMENT_STATUS_LABELS[s]}


bp.context_processor(_template_helpers)
staff_bp.context_processor(_template_helpers)


def _active_model(slug: str) -> CarModel:
    return db.session.scalar(
        select(CarModel).where(CarModel.slug == slug, CarModel.is_active.is_(True))
        .options(selectinload(CarModel.brand), selectinload(CarModel.trims))
    ) or abort(404)


def _own_reservation(reference: str) -> Reservation:
    reservation = services.find_by_reference(db.session, reference)
    if reservation is None or reservation.user_id != current_user.id:
        abort(404)  # someone else's reference looks exactly like a wrong one
    return reservation


# --- shopper ------------------------------------------------------------------------------------------------


@bp.get("/choose/<model_slug>")
def choose(model_slug: str) -> str:
    """Pick trim, colour and city; then a showroom ("any unit") or one specific car by its VIN."""
    release_expired_holds_now()
    car_model = _active_model(model_slug)
    trims = [t for t in car_model.trims if t.is_active]
    if not trims:
        abort(404)
    trim = next((t for t in trims if str(t.id) == request.args.get("trim")), trims[0])
    colour_stock = queries.colour_stock(db.session, trim_id=trim.id)
    colour = trim.colour(request.args.get("colour", "")) or next(
        (c for c in trim.colours if colour_stock.get(c["code"])), trim.colours[0] if trim.colours else None)
    cities = list(db.session.scalars(select(City).order_by(City.sort_order)))
    city = next((c for c in cities if c.slug == request.args.get("city")), None)
    showrooms: list[tuple[Dealer, int]] = []
    vehicles: list[Vehicle] = []
    if colour is not None:
        showrooms = queries.free_units_by_dealer(db.session, trim_id=trim.id, colour_code=colour["code"],
                                                 city_id=city.id if city else None)
        vehicles = queries.free_vehicles(db.session, trim_id=trim.id, colour_code=colour["code"],
                                         city_id=city.id if city else None)
    policy = services.policy_for(db.session, car_model_id=car_model.id)
    return render_template(
        "reservations/choose.html", car_model=car_model, trims=trims, trim=trim, colour=colour,
        colour_stock=colour_stock, cities=cities, city=city, showrooms=showrooms, vehicles=vehicles, policy=policy,
        terms=policy_terms(policy, vehicle_price=trim.msrp_cny) if policy else [],
    )


def _row_id(raw: str) -> int | None:
    """A primary key from the query string or form; None for anything else (no 10**30 reaching the database)."""
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 9 else None


def _review_target() -> tuple[Trim, Dealer, dict[str, Any], Vehicle | None, int]:
    """What the shopper asked to reserve, from the query string or the posted form; 404 if it makes no sense."""
    values = request.form if request.method == "POST" else request.args
    raw_vehicle = values.get("vehicle_id") or values.get("vehicle")
    if raw_vehicle:
        vehicle_id = _row_id(raw_vehicle)
        vehicle = db.session.get(Vehicle, vehicle_id) if vehicle_id else None
        if vehicle is None:
            abort(404)
        units = 1 if vehicle.status is VehicleStatus.IN_STOCK else 0
        return vehicle.trim, vehicle.dealer, {"vehicle_id": vehicle.id}, vehicle, units
    trim_raw = values.get("trim_id") or values.get("trim", "")
    dealer_raw = values.get("dealer_id") or values.get("dealer", "")
    colour = values.get("colour", "")
    trim_id, dealer_id = _row_id(trim_raw), _row_id(dealer_raw)
    trim = db.session.get(Trim, trim_id) if trim_id else None
    dealer = db.session.get(Dealer, dealer_id) if dealer_id else None
    if trim is None or dealer is None or trim.colour(colour) is None:
        abort(404)
    units = dict(queries.free_units_by_dealer(db.session, trim_id=trim.id, colour_code=colour)).get(dealer, 0)
    return trim, dealer, {"trim_id": trim.id, "colour": colour, "dealer_id": dealer.id}, None, units


def _render_review(form: ReserveForm, status: int = 200) -> tuple[str, int]:
    trim, dealer, target, vehicle, units = _review_target()
    policy = services.policy_for(db.session, car_model_id=trim.car_model_id)
    colour = trim.colour(vehicle.colour_code if vehicle else target["colour"])
    return render_template(
        "reservations/review.html", form=form, trim=trim, car_model=trim.car_model, dealer=dealer, target=target,
        vehicle=vehicle, colour=colour, units=units, policy=policy,
        terms=policy_terms(policy, vehicle_price=trim.msrp_cny) if policy else [],
        hold_minutes=int(services.hold_length().total_seconds() // 60),
    ), status


@bp.get("/review")
@login_required
def review() -> tuple[str, int]:
    """The deposit terms in plain words, then one button that holds the car and opens the payment."""
    release_expired_holds_now()
    form = ReserveForm(formdata=None, idempotency_key=secrets.token_urlsafe(24))
    return _render_review(form)


@bp.post("/")
@login_required
def create() -> Any:
    form = ReserveForm()
    if not form.validate():
        form.idempotency_key.data = form.idempotency_key.data or secrets.token_urlsafe(24)
        return _render_review(form, 422)
    trim, _dealer, _target, _vehicle, _units = _review_target()
    try:
        reservation = services.reserve(
            db.session, user=current_user, idempotency_key=form.idempotency_key.data or "",
            vehicle_id=form.vehicle_id.data, trim_id=form.trim_id.data, colour_code=form.colour.data or None,
            dealer_id=form.dealer_id.data, visit_key=visit_key(), locale=_locale(),
            return_urls=lambda r: (url_for("reservations.detail", reference=r.reference, paid=1, _external=True),
                                   url_for("reservations.detail", reference=r.reference, _external=True)),
        )
    except DomainError as error:
        db.session.rollback()
        return render_template("reservations/unavailable.html", message=error.user_message,
                               car_model=trim.car_model), error.status_code
    payment = services.payment_of(db.session, reservation)
    db.session.commit()
    if reservation.status is ReservationStatus.PENDING_PAYMENT and payment is not None and \
            payment.status.value == "pending":
        return redirect(payment.redirect_url, code=303)
    return redirect(url_for("reservations.detail", reference=reservation.reference), code=303)


def _locale() -> str:
    from flask_babel import get_locale

    locale = get_locale()
    return str(locale) if locale else "zh_Hans_CN"


@bp.get("/mine")
@login_required
def mine() -> str:
    """My reservations: reference, status timeline, countdown while on hold, pay or cancel."""
    release_expired_holds_now()
    reservations = queries.shopper_reservations(db.session, user_id=current_user.id)
    payments = queries.latest_payments(db.session, [r.id for r in reservations])
    return render_template("reservations/mine.html", reservations=reservations, payments=payments,
                           cancel_form=CancelForm())


@bp.get("/<reference>")
@login_required
def detail(reference: str) -> str:
    """One reservation; also where the payment page sends the shopper back (?paid=1 while we confirm)."""
    release_expired_holds_now()
    reservation = _own_reservation(reference)
    payment = services.payment_of(db.session, reservation)
    confirming = request.args.get("paid") == "1" and reservation.status is ReservationStatus.PENDING_PAYMENT
    return render_template("reservations/detail.html", reservation=reservation, payment=payment,
                           confirming=confirming, cancel_form=CancelForm())


@bp.post("/<reference>/cancel")
@login_required
def cancel(reference: str) -> Response:
    reservation = _own_reservation(reference)
    form = CancelForm()
    if not form.validate():
        flash(_("The reason is too long (500 characters at most)."), "error")
        return redirect(url_for("reservations.mine"))
    refund = services.cancel(db.session, reservation=reservation, by=current_user, reason=form.reason.data or "")
    db.session.commit()
    if refund > 0:
        flash(_("Reservation %(reference)s is cancelled. %(amount)s is on its way back to you.",
                reference=reservation.reference, amount=format_cny(refund)), "success")
    else:
        flash(_("Reservation %(reference)s is cancelled.", reference=reservation.reference), "success")
    return redirect(url_for("reservations.mine"))


@bp.cli.command("expire")
@with_store_clock
def expire_command() -> None:
    """Release every hold whose time has run out (run it from cron every minute)."""
    total = 0
    while True:
        released = services.release_expired_holds(db.session, limit=200)
        db.session.commit()
        total += released
        if released < 200:
            break
    click.echo(f"reservations: released {total} expired hold(s)")


# --- staff --------------------------------------------------------------------------------------------------


def _staff_dealer_ids() -> list[int] | None:
    """None = every showroom (admins); otherwise the showrooms this staff member works at."""
    return None if current_user.is_admin else [d.id for d in current_user.dealers]


@staff_bp.get("/")
def index() -> str:
    """Reservations of my showrooms, newest first, with filters."""
    release_expired_holds_now()
    allowed = _staff_dealer_ids()
    dealers = list(db.session.scalars(
        select(Dealer).where(Dealer.id.in_(allowed)) if allowed is not None else select(Dealer).order_by(Dealer.code)
    ))
    form = StaffFilterForm(request.args)
    form.dealer.choices = [("", _("All my showrooms"))] + [(str(d.id), f"{d.code} · {localised(d, 'name')}")
                                                          for d in dealers]
    form.status.choices = [("", _("Any status"))] + [(s.value, str(label)) for s, label in STATUS_LABELS.items()]
    dealer_ids = allowed
    if form.dealer.data and form.dealer.data.isdigit() and any(str(d.id) == form.dealer.data for d in dealers):
        dealer_ids = [int(form.dealer.data)]
    status = next((s for s in ReservationStatus if s.value == form.status.data), None)
    page = queries.staff_reservations(
        db.session, dealer_ids=dealer_ids, status=status, q=(form.q.data or "").strip()[:100] or None,
        page=request.args.get("page", 1, type=int) or 1, per_page=current_app.config.get("PAGE_SIZE", 12) * 2,
    )
    payments = queries.latest_payments(db.session, [r.id for r in page.items])
    return render_template("reservations/staff/index.html", form=form, page=page, payments=payments)


def _staff_reservation(reference: str) -> Reservation:
    reservation = services.find_by_reference(db.session, reference)
    if reservation is None:
        abort(404)
    if not current_user.works_at(reservation.dealer_id):
        abort(403)
    return reservation


@staff_bp.get("/<reference>")
def staff_detail(reference: str) -> str:
    reservation = _staff_reservation(reference)
    payment = services.payment_of(db.session, reservation)
    history = db.session.scalars(
        select(AuditLog).where(AuditLog.entity_type == "reservation", AuditLog.entity_id == reservation.reference)
        .order_by(AuditLog.created_at)
    ).all()
    return render_template("reservations/staff/detail.html", reservation=reservation, payment=payment,
                           history=history, cancel_form=StaffCancelForm())


@staff_bp.post("/<reference>/pickup")
def pickup(reference: str) -> Response:
    reservation = _staff_reservation(reference)
    services.complete(db.session, reservation=reservation, by=current_user)
    db.session.commit()
    flash(_("%(reference)s picked up: the car is sold.", reference=reservation.reference), "success")
    return redirect(url_for("reservations_staff.staff_detail", reference=reservation.reference))


@staff_bp.post("/<reference>/cancel")
def staff_cancel(reference: str) -> Any:
    reservation = _staff_reservation(reference)
    form = StaffCancelForm()
    if not form.validate():
        payment = services.payment_of(db.session, reservation)
        return render_template("reservations/staff/detail.html", reservation=reservation, payment=payment,
                               history=[], cancel_form=form), 422
    refund = services.cancel(db.session, reservation=reservation, by=current_user, reason=form.reason.data or "")
    db.session.commit()
    flash(_("%(reference)s cancelled; %(amount)s refunded.", reference=reservation.reference,
            amount=format_cny(refund, cents=True)), "success")
    return redirect(url_for("reservations_staff.staff_detail", reference=reservation.reference))


@staff_bp.get("/policies")
@admin_required
def policies() -> str:
    """Deposit terms per car model (admins)."""
    car_models = db.session.scalars(
        select(CarModel).options(selectinload(CarModel.brand)).order_by(CarModel.brand_id, CarModel.sort_order)
    ).all()
    by_model = {p.car_model_id: p for p in db.session.scalars(select(DepositPolicy))}
    return render_template("reservations/staff/policies.html", car_models=car_models, by_model=by_model)


@staff_bp.route("/policies/<model_slug>", methods=["GET", "POST"])
@admin_required
def edit_policy(model_slug: str) -> Any:
    car_model = db.session.scalar(select(CarModel).where(CarModel.slug == model_slug)) or abort(404)
    policy = db.session.scalar(select(DepositPolicy).where(DepositPolicy.car_model_id == car_model.id))
    form = PolicyForm(obj=policy) if request.method == "GET" else PolicyForm()
    if request.method == "GET" and policy is not None:
        form.kind.data = policy.kind.value
    elif request.method == "GET":  # a model without terms yet: start from the store's default for its kind
        amount, kind, window, credit = default_terms(car_model)
        form.amount.data, form.kind.data, form.refund_window_days.data = amount, kind.value, window
        form.price_credit.data, form.is_active.data = credit, True
    if request.method == "POST" and form.validate():
        try:
            services.save_policy(
                db.session, car_model=car_model, amount=form.amount.data, kind=DepositKind(form.kind.data),
                refund_window_days=form.refund_window_days.data, price_credit=form.price_credit.data,
                is_active=form.is_active.data, by=current_user,
            )
        except DomainError as error:
            db.session.rollback()
            getattr(form, error.field or "amount").errors = [error.user_message]
        else:
            db.session.commit()
            flash(_("Deposit terms for %(model)s saved.", model=localised(car_model, "name")), "success")
            return redirect(url_for("reservations_staff.policies"))
    preview = []
    if form.amount.data and form.price_credit.data and form.kind.data:
        preview = deposit_terms(amount=form.amount.data, kind=DepositKind(form.kind.data),
                                refund_window_days=form.refund_window_days.data or 0,
                                price_credit=form.price_credit.data)
    status = 422 if request.method == "POST" else 200
    return render_template("reservations/staff/policy_edit.html", form=form, car_model=car_model, policy=policy,
                           preview=preview), status
