"""HTTP routes of the staff back office; the whole blueprint is for staff and admins only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, TypeVar, cast

import click
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from werkzeug.exceptions import RequestEntityTooLarge

from models import AuditLog, City, Dealer, Role, Trim, TrimPrice, User, Vehicle, VehicleStatus
from storefront.audit import action_label, entity_label
from storefront.auth import admin_required, fresh_login_required, require_staff
from storefront.errors import DomainError, error_response, show_on_form
from storefront.extensions import db
from storefront.i18n import localised
from storefront.staff import csv_import, queries, services
from storefront.staff.forms import (
    MAX_ID,
    ROLE_LABELS,
    STATUS_LABELS,
    WEEKDAY_LABELS,
    AuditFilterForm,
    ConfirmImportForm,
    ImportForm,
    PriceForm,
    RetireForm,
    ShowroomForm,
    StatusForm,
    UserAccessForm,
    UserFilterForm,
    VehicleFilterForm,
    VehicleForm,
)

bp = Blueprint("staff", __name__, url_prefix="/staff", cli_group="staff")
bp.before_request(require_staff)

PER_PAGE = 25
PREVIEW_GOOD_ROWS = 50  # good rows shown in an import preview (every bad row is shown)


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {"status_labels": STATUS_LABELS, "role_labels": ROLE_LABELS, "weekday_labels": WEEKDAY_LABELS}


def _actor() -> User:
    return cast(User, current_user._get_current_object())  # type: ignore[attr-defined]


M = TypeVar("M")


def _get_or_404(model: type[M], ident: int) -> M:
    """The row with this id, or 404 (ids no integer column can hold included: they never reach the database)."""
    found = db.session.get(model, ident) if 0 < ident <= MAX_ID else None
    return found if found is not None else abort(404)


def _page_number() -> int:
    return max(request.args.get("page", 1, type=int) or 1, 1)


def _show_error(form: FlaskForm, error: DomainError) -> None:
    """Put a service's refusal on the form (storefront.errors.show_on_form); nothing stays half-done."""
    db.session.rollback()
    show_on_form(form, error)


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(error: RequestEntityTooLarge) -> Any:
    """Uploads over MAX_CONTENT_LENGTH (5 MB): the import page again, with the reason, instead of a bare 413."""
    if request.endpoint not in ("staff.import_vehicles", "staff.confirm_import"):
        return error_response(413, "request_entity_too_large", _("That upload is too large (5 MB at most)."))
    form = ImportForm(formdata=None)  # never touch request.files again: it is what was too large
    form.file.errors = [_("The file is larger than 5 MB. Split it into smaller files and import them one by one.")]
    return render_template("staff/import.html", form=form), 413


# ---------------------------------------------------------------------------------------------------------------
# Dashboard


@bp.get("/")
def dashboard() -> str:
    showrooms = queries.showrooms_for(db.session, _actor())
    stock = queries.stock_by_showroom(db.session, [d.id for d in showrooms])
    pending_prices = db.session.scalar(select(func.count(TrimPrice.id)).where(TrimPrice.applied_at.is_(None))) or 0
    return render_template("staff/dashboard.html", showrooms=showrooms, stock=stock, statuses=list(VehicleStatus),
                           pending_prices=pending_prices)


# ---------------------------------------------------------------------------------------------------------------
# Vehicles


def _trim_label(trim: Trim) -> str:
    car_model = trim.car_model
    return f"{localised(car_model.brand, 'name')} {localised(car_model, 'name')} · {localised(trim, 'name')}"


def _showroom_label(dealer: Dealer) -> str:
    return f"{dealer.code} · {localised(dealer, 'name')}"


def _colour_choices(trims: list[Trim]) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for trim in trims:
        for colour in trim.colours:
            seen.setdefault(colour["code"], localised(colour, "name") or colour["code"])
    return sorted(seen.items(), key=lambda item: item[1])


def _vehicle_filters() -> tuple[VehicleFilterForm, queries.VehicleFilters]:
    """The filter form from the query string, and the filters it means, limited to the user's showrooms."""
    actor = _actor()
    form = VehicleFilterForm(request.args)
    showrooms = queries.showrooms_for(db.session, actor)
    brands, car_models, trims = queries.filter_choices(db.session)
    every = _("All showrooms") if actor.is_admin else _("All my showrooms")
    form.showroom.choices = [("", every)] + [(d.id, _showroom_label(d)) for d in showrooms]
    form.brand.choices = [("", _("Any brand"))] + [(b.id, localised(b, "name")) for b in brands]
    form.model.choices = [("", _("Any model"))] + [(m.id, localised(m, "name")) for m in car_models]
    form.trim.choices = [("", _("Any trim"))] + [(t.id, _trim_label(t)) for t in trims]
    form.colour.choices = [("", _("Any colour"))] + _colour_choices(trims)
    form.validate()
    statuses = {status.value: status for status in VehicleStatus}
    filters = queries.VehicleFilters(
        dealer_ids=None if actor.is_admin else tuple(d.id for d in showrooms),
        showroom_id=form.showroom.data,
        brand_id=form.brand.data,
        car_model_id=form.model.data,
        trim_id=form.trim.data,
        status=statuses.get(form.status.data or ""),
        colour=form.colour.data or None,
        q=(form.q.data or "").strip() or None,
    )
    return form, filters


@bp.get("/vehicles")
def vehicles() -> str:
    form, filters = _vehicle_filters()
    page = queries.list_vehicles(db.session, filters, page=_page_number(), per_page=PER_PAGE)
    held_by = queries.active_reservations(db.session, [v.id for v in page.items])
    return render_template("staff/vehicles.html", form=form, page=page, held_by=held_by)


@bp.get("/vehicles/export.csv")
def export_vehicles() -> Response:
    _form, filters = _vehicle_filters()
    filename = f"vehicles-{services.store_today():%Y%m%d}.csv"

    def lines() -> Iterator[str]:
        # The rows stream from a server-side cursor inside the request's transaction: end that (read-only)
        # transaction with the last row, so the connection never idles in a transaction after the download (it
        # would block a demo reset's DROP SCHEMA).
        yield from csv_import.export_lines(queries.export_rows(db.session, filters))
        db.session.commit()

    return Response(stream_with_context(lines()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _fill_vehicle_choices(form: VehicleForm) -> None:
    _brands, _models, trims = queries.filter_choices(db.session)
    form.trim.choices = [(t.id, _trim_label(t)) for t in trims]
    form.showroom.choices = [(d.id, _showroom_label(d)) for d in queries.showrooms_for(db.session, _actor())]
    form.colour.choices = _colour_choices(trims)


@bp.route("/vehicles/new", methods=["GET", "POST"])
def new_vehicle() -> Any:
    form = VehicleForm()
    _fill_vehicle_choices(form)
    if form.validate_on_submit():
        try:
            vehicle = services.create_vehicle(
                db.session, actor=_actor(), vin=form.vin.data or "", trim=db.session.get_one(Trim, form.trim.data),
                dealer=db.session.get_one(Dealer, form.showroom.data), colour_code=form.colour.data or "",
                status=VehicleStatus(form.status.data),
            )
        except DomainError as error:
            _show_error(form, error)
            return render_template("staff/vehicle_new.html", form=form), error.status_code
        db.session.commit()
        flash(_("Vehicle %(vin)s added.", vin=vehicle.vin), "success")
        return redirect(url_for(".edit_vehicle", vehicle_id=vehicle.id))
    return render_template("staff/vehicle_new.html", form=form), 422 if form.errors else 200


def _load_vehicle(vehicle_id: int) -> Vehicle:
    """The vehicle, or 404; 403 unless the user works at its showroom."""
    vehicle = _get_or_404(Vehicle, vehicle_id)
    if not _actor().works_at(vehicle.dealer_id):
        abort(403)
    return vehicle


def _vehicle_page(vehicle: Vehicle, *, form: VehicleForm | None = None, status_form: StatusForm | None = None,
                  retire_form: RetireForm | None = None, status: int = 200) -> tuple[str, int]:
    if form is None:
        form = VehicleForm(formdata=None, vin=vehicle.vin, trim=vehicle.trim_id, showroom=vehicle.dealer_id,
                           colour=vehicle.colour_code, version=vehicle.version)
        _fill_vehicle_choices(form)
    status_form = status_form or StatusForm(formdata=None, version=vehicle.version, status=vehicle.status.value)
    retire_form = retire_form or RetireForm(formdata=None, version=vehicle.version)
    history = db.session.scalars(
        select(AuditLog).where(AuditLog.entity_type == "vehicle", AuditLog.entity_id == str(vehicle.id))
        .order_by(AuditLog.id.desc()).limit(20)
    ).all()
    actors = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_({h.actor_id for h in history})))}
    return render_template("staff/vehicle_edit.html", vehicle=vehicle, form=form, status_form=status_form,
                           retire_form=retire_form, history=history, actors=actors,
                           held=vehicle.status in services.HELD_BY_RESERVATION, status_code=status), status


def _version(raw: str | None) -> int:
    return int(raw) if raw and raw.isascii() and raw.isdigit() else -1


@bp.route("/vehicles/<int:vehicle_id>/edit", methods=["GET", "POST"])
def edit_vehicle(vehicle_id: int) -> Any:
    vehicle = _load_vehicle(vehicle_id)
    if request.method == "GET":
        return _vehicle_page(vehicle)
    form = VehicleForm()
    _fill_vehicle_choices(form)
    if not form.validate():
        return _vehicle_page(vehicle, form=form, status=422)
    try:
        services.update_vehicle(
            db.session, actor=_actor(), vehicle=vehicle, expected_version=_version(form.version.data),
            vin=form.vin.data or "", trim=db.session.get_one(Trim, form.trim.data),
            dealer=db.session.get_one(Dealer, form.showroom.data), colour_code=form.colour.data or "",
        )
    except DomainError as error:
        _show_error(form, error)
        return _vehicle_page(vehicle, form=form, status=error.status_code)
    db.session.commit()
    flash(_("Vehicle %(vin)s saved.", vin=vehicle.vin), "success")
    return redirect(url_for(".edit_vehicle", vehicle_id=vehicle.id))


@bp.post("/vehicles/<int:vehicle_id>/status")
def change_vehicle_status(vehicle_id: int) -> Any:
    vehicle = _load_vehicle(vehicle_id)
    form = StatusForm()
    if not form.validate():
        return _vehicle_page(vehicle, status_form=form, status=422)
    try:
        services.change_vehicle_status(
            db.session, actor=_actor(), vehicle=vehicle, status=VehicleStatus(form.status.data),
            expected_version=_version(form.version.data), note=form.note.data or "",
        )
    except DomainError as error:
        _show_error(form, error)
        return _vehicle_page(vehicle, status_form=form, status=error.status_code)
    db.session.commit()
    flash(_("Status of %(vin)s is now: %(status)s.", vin=vehicle.vin, status=STATUS_LABELS[vehicle.status]), "success")
    return redirect(url_for(".edit_vehicle", vehicle_id=vehicle.id))


@bp.post("/vehicles/<int:vehicle_id>/retire")
def retire_vehicle(vehicle_id: int) -> Any:
    vehicle = _load_vehicle(vehicle_id)
    form = RetireForm()
    if not form.validate():
        return _vehicle_page(vehicle, retire_form=form, status=422)
    try:
        services.retire_vehicle(db.session, actor=_actor(), vehicle=vehicle,
                                expected_version=_version(form.version.data), note=form.note.data or "")
    except DomainError as error:
        _show_error(form, error)
        return _vehicle_page(vehicle, retire_form=form, status=error.status_code)
    db.session.commit()
    flash(_("Vehicle %(vin)s retired.", vin=vehicle.vin), "success")
    return redirect(url_for(".vehicles"))


# ---------------------------------------------------------------------------------------------------------------
# CSV import


def _preview(rows: list[csv_import.ImportRow], *, form: FlaskForm, token: str | None, status: int = 200) -> Any:
    bad = [row for row in rows if row.errors]
    good = [row for row in rows if not row.errors]
    return render_template("staff/import_preview.html", rows=rows, bad=bad, good=good[:PREVIEW_GOOD_ROWS],
                           good_count=len(good), form=form, token=token), status


@bp.route("/vehicles/import", methods=["GET", "POST"])
def import_vehicles() -> Any:
    form = ImportForm()
    if not form.validate_on_submit():
        return render_template("staff/import.html", form=form), 422 if form.errors else 200
    upload = form.file.data
    try:
        rows = csv_import.parse_csv(upload.read())
    except DomainError as error:
        _show_error(form, error)
        return render_template("staff/import.html", form=form), error.status_code
    csv_import.validate_rows(db.session, actor=_actor(), rows=rows)
    token = None
    if not any(row.errors for row in rows):
        token = csv_import.rows_token(current_app.config["SECRET_KEY"], actor=_actor(), rows=rows,
                                      filename=upload.filename or "")
    return _preview(rows, form=ConfirmImportForm(formdata=None, token=token), token=token,
                    status=200 if token else 422)


@bp.post("/vehicles/import/confirm")
def confirm_import() -> Any:
    form = ConfirmImportForm()
    if not form.validate():
        flash(_("Upload the file again to import it."), "error")
        return redirect(url_for(".import_vehicles"))
    try:
        rows, filename = csv_import.rows_from_token(current_app.config["SECRET_KEY"], form.token.data or "",
                                                    actor=_actor())
        imported = csv_import.import_rows(db.session, actor=_actor(), rows=rows, filename=filename)
    except csv_import.ImportRejected as rejected:
        db.session.rollback()
        return _preview(rejected.rows, form=form, token=None, status=422)
    except DomainError as error:
        db.session.rollback()
        flash(error.user_message, "error")
        return redirect(url_for(".import_vehicles"))
    db.session.commit()
    flash(_("%(num)d vehicles imported.", num=imported), "success")
    return redirect(url_for(".vehicles"))


# ---------------------------------------------------------------------------------------------------------------
# Prices


def _apply_due_prices() -> None:
    """Lazily carry prices whose day has come (the cron command does the same)."""
    if services.apply_due_prices(db.session):
        db.session.commit()


@bp.get("/prices")
def prices() -> str:
    _apply_due_prices()
    trims, pending = queries.trims_with_prices(db.session)
    return render_template("staff/prices.html", trims=trims, pending=pending, today=services.store_today())


def _price_page(trim: Trim, form: PriceForm, status: int = 200) -> tuple[str, int]:
    history = queries.price_history(db.session, trim.id)
    return render_template("staff/price_edit.html", trim=trim, form=form, history=history,
                           today=services.store_today()), status


@bp.get("/prices/<int:trim_id>")
def trim_price(trim_id: int) -> Any:
    _apply_due_prices()
    trim = _get_or_404(Trim, trim_id)
    return _price_page(trim, PriceForm(formdata=None, effective_from=services.store_today()))


@bp.post("/prices/<int:trim_id>")
@fresh_login_required
def schedule_price(trim_id: int) -> Any:
    trim = _get_or_404(Trim, trim_id)
    form = PriceForm()
    if not form.validate():
        return _price_page(trim, form, status=422)
    try:
        entry = services.schedule_price(db.session, actor=_actor(), trim=trim, price=form.price.data,
                                        effective_from=form.effective_from.data)
    except DomainError as error:
        _show_error(form, error)
        return _price_page(trim, form, status=error.status_code)
    db.session.commit()
    if entry.is_applied:
        flash(_("New price applies now."), "success")
    else:
        flash(_("Price change scheduled for %(day)s.", day=entry.effective_from.isoformat()), "success")
    return redirect(url_for(".trim_price", trim_id=trim.id))


# ---------------------------------------------------------------------------------------------------------------
# Showrooms (admins)


@bp.get("/showrooms")
@admin_required
def showrooms() -> str:
    dealers = db.session.scalars(select(Dealer).join(Dealer.city).order_by(City.sort_order, Dealer.code)).all()
    return render_template("staff/showrooms.html", dealers=dealers)


def _showroom_form(dealer: Dealer | None) -> ShowroomForm:
    if request.method == "POST":
        form = ShowroomForm()
    elif dealer is None:
        form = ShowroomForm(formdata=None, offers_test_drive=True, offers_pickup=True, is_active=True,
                            **_hours_data({}))
    else:
        values = services.showroom_snapshot(dealer)  # not obj=dealer: dealer.city is a City, the field wants its id
        form = ShowroomForm(formdata=None, city=values.pop("city_id"), **values, **_hours_data(dealer.opening_hours))
    cities = db.session.scalars(select(City).order_by(City.sort_order))
    form.city.choices = [(c.id, localised(c, "name")) for c in cities]
    return form


def _hours_data(hours: dict[str, list[str] | None]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for day in services.WEEKDAYS:
        span = hours.get(day, ["09:00", "18:00"]) if hours else ["09:00", "18:00"]
        data[day] = {"closed": span is None, "opens": dt.time.fromisoformat(span[0]) if span else None,
                     "closes": dt.time.fromisoformat(span[1]) if span else None}
    return data


def _save_showroom(dealer: Dealer | None) -> Any:
    form = _showroom_form(dealer)
    template = "staff/showroom_form.html"
    if request.method == "GET" or not form.validate():
        return render_template(template, form=form, dealer=dealer), 422 if form.errors else 200
    values = services.ShowroomValues(
        code=form.code.data or "", name_en=form.name_en.data or "", name_zh=form.name_zh.data or "",
        city_id=form.city.data, address_en=form.address_en.data or "", address_zh=form.address_zh.data or "",
        phone=form.phone.data or "", opening_hours=form.opening_hours(), offers_test_drive=form.offers_test_drive.data,
        offers_pickup=form.offers_pickup.data, has_self_service_kiosk=form.has_self_service_kiosk.data,
        is_active=form.is_active.data,
    )
    try:
        saved = services.save_showroom(db.session, actor=_actor(), showroom=dealer, values=values)
    except DomainError as error:
        _show_error(form, error)
        return render_template(template, form=form, dealer=dealer), error.status_code
    db.session.commit()
    flash(_("Showroom %(code)s saved.", code=saved.code), "success")
    return redirect(url_for(".showrooms"))


@bp.route("/showrooms/new", methods=["GET", "POST"])
@admin_required
def new_showroom() -> Any:
    return _save_showroom(None)


@bp.route("/showrooms/<int:dealer_id>/edit", methods=["GET", "POST"])
@admin_required
def edit_showroom(dealer_id: int) -> Any:
    return _save_showroom(_get_or_404(Dealer, dealer_id))


# ---------------------------------------------------------------------------------------------------------------
# Users and roles (admins)


@bp.get("/users")
@admin_required
def users() -> str:
    form = UserFilterForm(request.args)
    form.validate()
    role = Role(form.role.data) if form.role.data in {r.value for r in Role} else None
    page = queries.list_users(db.session, role=role, q=form.q.data, page=_page_number(), per_page=PER_PAGE)
    return render_template("staff/users.html", form=form, page=page)


def _user_page(user: User, form: UserAccessForm, status: int = 200) -> tuple[str, int]:
    form.showrooms.choices = [(d.id, _showroom_label(d))
                              for d in db.session.scalars(select(Dealer).order_by(Dealer.code))]
    return render_template("staff/user_edit.html", user=user, form=form), status


@bp.get("/users/<int:user_id>")
@admin_required
def edit_user(user_id: int) -> Any:
    user = _get_or_404(User, user_id)
    form = UserAccessForm(formdata=None, role=user.role.value, showrooms=[d.id for d in user.dealers],
                          is_active=user.is_active)
    return _user_page(user, form)


@bp.post("/users/<int:user_id>")
@admin_required
@fresh_login_required
def save_user(user_id: int) -> Any:
    user = _get_or_404(User, user_id)
    form = UserAccessForm()
    _user_page(user, form)  # fills the showroom choices the form validates against
    if not form.validate():
        return _user_page(user, form, status=422)
    showrooms = db.session.scalars(select(Dealer).where(Dealer.id.in_(form.showrooms.data or []))).all()
    try:
        services.update_user_access(db.session, actor=_actor(), user=user, role=Role(form.role.data),
                                    showrooms=showrooms, is_active=form.is_active.data)
    except DomainError as error:
        _show_error(form, error)
        return _user_page(user, form, status=error.status_code)
    db.session.commit()
    flash(_("Access of %(email)s saved.", email=user.email), "success")
    return redirect(url_for(".users"))


# ---------------------------------------------------------------------------------------------------------------
# Audit log


@bp.get("/audit")
def audit() -> str:
    form = AuditFilterForm(request.args)
    form.actor.choices = [("", _("Anyone"))] + [(u.id, u.name or u.email) for u in queries.audit_actors(db.session)]
    form.action.choices = [("", _("Any action"))] + [(a, action_label(a)) for a in queries.audit_actions(db.session)]
    form.entity.choices = [("", _("Any record"))] + [(e, entity_label(e))
                                                      for e in queries.audit_entity_types(db.session)]
    valid = form.validate()
    filters = queries.AuditFilters(
        actor_id=form.actor.data, action=form.action.data or None, entity_type=form.entity.data or None,
        date_from=form.date_from.data if valid else None, date_to=form.date_to.data if valid else None,
    )
    page, actors = queries.list_audit(db.session, filters, page=_page_number(), per_page=PER_PAGE)
    return render_template("staff/audit.html", form=form, page=page, actors=actors)


# ---------------------------------------------------------------------------------------------------------------
# CLI


@bp.cli.command("apply-prices")
def apply_prices_command() -> None:
    """Apply every scheduled trim price whose effective day (Asia/Shanghai) has come; run daily after midnight."""
    applied = services.apply_due_prices(db.session)
    db.session.commit()
    click.echo(f"price changes applied: {len(applied)}")

