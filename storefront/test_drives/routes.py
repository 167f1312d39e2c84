"""Test-drive pages: pick model -> city -> showroom -> day -> slot, my bookings, self-service drives,
and the staff calendar (day / week / CSV) with check-in, no-show and completed marks."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import click
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_date, pgettext
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from models import CarModel, Dealer, TestDriveBooking, TestDriveException
from storefront import clock
from storefront.auth import require_staff
from storefront.demo.store_clock import with_store_clock
from storefront.errors import DomainError, show_on_form
from storefront.extensions import db
from storefront.i18n import localised
from storefront.ids import parse_id
from storefront.security import is_safe_next
from storefront.test_drives import board, calendar, queries, self_service, services
from storefront.test_drives.forms import (
    BookingForm,
    CancelForm,
    ExceptionForm,
    MarkForm,
    PickupForm,
    RescheduleForm,
    ReturnForm,
    ScheduleForm,
    SelfServiceForm,
    parse_instant,
)
from storefront.test_drives.slots import WEEKDAYS, local_day, parse_hhmm
from storefront.visits import visit_key

bp = Blueprint("test_drives", __name__, url_prefix="/test-drives", cli_group="test-drives")
staff_bp = Blueprint("test_drives_staff", __name__, url_prefix="/staff/test-drives")
staff_bp.before_request(require_staff)

DAYS_SHOWN = 14
T = TypeVar("T")


@bp.record_once
def _register_payment_hooks(_state: Any) -> None:
    self_service.register_payment_hooks()


@bp.app_template_filter("td_weekday")
def _weekday(day: dt.date) -> str:
    return str(format_date(day, "EEE"))


@bp.app_template_filter("td_short_date")
def _short_date(day: dt.date) -> str:
    return str(format_date(day, "M/d"))


@bp.app_template_filter("td_long_date")
def _long_date(day: dt.date) -> str:
    return str(format_date(day, "full"))


@bp.app_template_global("timedelta_days")
def _timedelta_days(days: int) -> dt.timedelta:
    return dt.timedelta(days=days)


def _weekday_labels() -> dict[str, str]:
    names = (_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"), _("Saturday"), _("Sunday"))
    return dict(zip(WEEKDAYS, names, strict=True))


# --- helpers --------------------------------------------------------------------------------------------------------


def _is_htmx() -> bool:
    return bool(request.headers.get("HX-Request")) and not request.headers.get("HX-History-Restore-Request")


def _active_model(model_id: int) -> CarModel:
    car_model = db.session.get(CarModel, model_id)
    if car_model is None or not car_model.is_active:
        abort(404)
    return car_model


EARLIEST_DAY, LATEST_DAY = dt.date(2000, 1, 1), dt.date(2100, 12, 31)  # a calendar far from date overflow


def _parse_day(raw: str | None) -> dt.date | None:
    try:
        day = dt.date.fromisoformat(raw) if raw else None
    except ValueError:
        return None
    return day if day is not None and EARLIEST_DAY <= day <= LATEST_DAY else None


def _dealer_from_form(raw: str | None) -> Dealer | None:
    dealer_id = parse_id(raw)
    return db.session.get(Dealer, dealer_id) if dealer_id is not None else None


def _own_booking(reference: str) -> TestDriveBooking:
    """The signed-in shopper's booking; staff of its showroom may look too. Anyone else gets a 404."""
    booking = services.find_by_reference(db.session, reference)
    if booking is None:
        abort(404)
    staff_of_showroom = current_user.is_staff and current_user.works_at(booking.dealer_id)
    if not booking.belongs_to(current_user) and not staff_of_showroom:
        abort(404)
    return booking


def _day_picker(dealer: Dealer, chosen: dt.date | None) -> tuple[list[tuple[dt.date, bool]], dt.date | None, str]:
    """The day strip (next DAYS_SHOWN days), the chosen (or first open) day and why it cannot be booked."""
    days = services.booking_days(db.session, dealer=dealer, first=services.today(), count=DAYS_SHOWN)
    day = chosen or next((d for d, is_open in days if is_open), None)
    problem = ""
    if day is not None:
        try:
            services.check_bookable_day(db.session, dealer=dealer, day=day)
        except DomainError as error:
            problem = error.user_message
    return days, day, problem


# --- shopper: landing, booking --------------------------------------------------------------------------------------


@bp.get("/")
def index() -> Any:
    model_id = parse_id(request.args.get("model_id", ""))
    if model_id is not None:
        return redirect(url_for("test_drives.book", model_id=model_id, city=request.args.get("city") or None))
    return render_template("test_drives/index.html", car_models=queries.offered_models(db.session),
                           cities=queries.all_cities(db.session))


def _booking_context(car_model: CarModel, args: Any, form: BookingForm | None = None) -> dict[str, Any]:
    cities = queries.cities_offering(db.session, car_model_id=car_model.id)
    preferred = getattr(current_user, "preferred_city_id", None)
    city = next((c for c in cities if c.slug == args.get("city")), None) or next(
        (c for c in cities if c.id == preferred), None) or (cities[0] if cities else None)
    showrooms = queries.showrooms_offering(db.session, car_model_id=car_model.id, city_id=city.id) if city else []
    dealer_arg = str(args.get("dealer", ""))
    dealer = next((d for d, _cars in showrooms if str(d.id) == dealer_arg), None)
    if dealer is None and len(showrooms) == 1:
        dealer = showrooms[0][0]
    context: dict[str, Any] = {"car_model": car_model, "cities": cities, "city": city, "showrooms": showrooms,
                               "dealer": dealer, "days": [], "day": None, "day_problem": "", "slots": [],
                               "selected": args.get("slot", ""), "form": form}
    raw_day = args.get("date")
    if raw_day and _parse_day(raw_day) is None:
        context["day_problem"] = _("Enter the date as YYYY-MM-DD.")
    if dealer is not None:
        days, day, problem = _day_picker(dealer, _parse_day(raw_day))
        context.update(days=days, day=day, day_problem=context["day_problem"] or problem)
        if day is not None and not context["day_problem"]:
            context["slots"] = services.available_slots(db.session, dealer=dealer, car_model=car_model, day=day)
        if form is None and current_user.is_authenticated:
            context["form"] = BookingForm(formdata=None, dealer_id=dealer.id, contact_name=current_user.name,
                                          mobile=current_user.phone)
    return context


@bp.get("/book/<int(max=2147483647):model_id>")
def book(model_id: int) -> Any:
    context = _booking_context(_active_model(model_id), request.args)
    if _is_htmx() and request.args.get("partial") == "slots":
        return render_template("test_drives/_slots.html", **context)
    if _is_htmx():
        return render_template("test_drives/_steps.html", **context)
    return render_template("test_drives/book.html", **context)


@bp.post("/book/<int(max=2147483647):model_id>")
@login_required
def book_submit(model_id: int) -> Any:
    car_model = _active_model(model_id)
    form = BookingForm()
    attempt = _attempt_booking(form, lambda dealer, starts_at: services.book_showroom_drive(
        db.session, shopper=current_user, dealer=dealer, car_model=car_model, starts_at=starts_at,
        contact_name=form.contact_name.data, mobile=form.mobile.data,
        licence_confirmed=bool(form.licence_confirmed.data), visit_key=visit_key(),
    ))
    if attempt.booked is not None:
        flash(_("Your test drive is booked. We have emailed you the details and a calendar file."), "success")
        return redirect(url_for("test_drives.detail", reference=attempt.booked.reference))
    dealer, starts_at = attempt.dealer, attempt.starts_at
    args = {"city": dealer.city.slug if dealer else "", "dealer": dealer.id if dealer else "",
            "date": local_day(starts_at).isoformat() if starts_at else "", "slot": form.starts_at.data or ""}
    return render_template("test_drives/book.html", **_booking_context(car_model, args, form)), attempt.status


@dataclass(frozen=True)
class _Attempt(Generic[T]):
    booked: T | None  # what the service returned, committed; None when refused
    dealer: Dealer | None
    starts_at: dt.datetime | None
    status: int  # the status to answer a refusal with: 422, or the service's (409 when the slot went)


def _attempt_booking(form: BookingForm | SelfServiceForm, book: Callable[[Dealer, dt.datetime], T]) -> _Attempt[T]:
    """What both booking forms do on submit: check the showroom, the form and the time, call `book` and commit.

    A refusal from the service rolls the transaction back and lands on the form (on its field when it has one),
    so the page can be shown again with what the shopper chose.
    """
    dealer = _dealer_from_form(form.dealer_id.data)
    starts_at = parse_instant(form.starts_at.data)
    if dealer is None:
        form.form_errors.append(_("Choose a showroom."))
        return _Attempt(None, None, starts_at, 422)
    if not form.validate() or starts_at is None:
        return _Attempt(None, dealer, starts_at, 422)
    try:
        booked = book(dealer, starts_at)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        show_on_form(form, error)
        return _Attempt(None, dealer, starts_at, error.status_code)
    return _Attempt(booked, dealer, starts_at, 200)


# --- shopper: my bookings, detail, calendar file, reschedule, cancel ------------------------------------------------


@bp.get("/mine")
@login_required
def mine() -> str:
    bookings = queries.my_bookings(db.session, user_id=current_user.id)
    return render_template("test_drives/mine.html", bookings=bookings, status_label=services.status_label)


@bp.get("/bookings/<reference>")
@login_required
def detail(reference: str) -> str:
    booking = _own_booking(reference)
    payment = self_service._payment(db.session, booking) if booking.is_self_service else None
    return render_template(
        "test_drives/detail.html", booking=booking, payment=payment, cancel_form=CancelForm(),
        can_change=booking.belongs_to(current_user) and booking.can_change(at=clock.now(),
                                                                          cutoff=services.CHANGE_CUTOFF),
        cutoff_hours=int(services.CHANGE_CUTOFF.total_seconds() // 3600), status=services.status_label(booking),
        change_until=booking.starts_at - services.CHANGE_CUTOFF,
    )


@bp.get("/bookings/<reference>/calendar.ics")
@login_required
def calendar_file(reference: str) -> Response:
    booking = _own_booking(reference)
    text = services.calendar_text(booking, method="PUBLISH")
    return Response(text, mimetype=calendar.CONTENT_TYPE, headers={
        "Content-Disposition": f'attachment; filename="{calendar.filename(booking)}"', "Cache-Control": "no-store",
    })


@bp.route("/bookings/<reference>/reschedule", methods=["GET", "POST"])
@login_required
def reschedule(reference: str) -> Any:
    booking = _own_booking(reference)
    if not booking.belongs_to(current_user) or booking.is_self_service:
        abort(404)
    form = RescheduleForm()
    status = 200
    if form.validate_on_submit():
        try:
            services.reschedule_booking(db.session, booking=booking, actor=current_user,
                                        starts_at=parse_instant(form.starts_at.data),  # type: ignore[arg-type]
                                        seen_sequence=form.seen_sequence())
            db.session.commit()
            flash(_("Your test drive has moved. We have emailed you the updated calendar file."), "success")
            return redirect(url_for("test_drives.detail", reference=booking.reference))
        except DomainError as error:
            db.session.rollback()
            show_on_form(form, error)
            status = error.status_code
    elif request.method == "POST":
        status = 422
    chosen = _parse_day(request.args.get("date")) or (
        local_day(parse_instant(form.starts_at.data)) if parse_instant(form.starts_at.data) else None  # type: ignore[arg-type]
    ) or local_day(booking.starts_at)
    days, day, problem = _day_picker(booking.dealer, chosen)
    slots = services.available_slots(db.session, dealer=booking.dealer, car_model=booking.car_model,
                                     day=day) if day and not problem else []
    changeable = booking.can_change(at=clock.now(), cutoff=services.CHANGE_CUTOFF)
    return render_template("test_drives/reschedule.html", booking=booking, form=form, days=days, day=day,
                           day_problem=problem, slots=slots, changeable=changeable,
                           cutoff_hours=int(services.CHANGE_CUTOFF.total_seconds() // 3600)), status


@bp.post("/bookings/<reference>/cancel")
@login_required
def cancel(reference: str) -> Any:
    booking = _own_booking(reference)
    form = CancelForm()
    if not form.validate():
        abort(400)
    services.cancel_booking(db.session, booking=booking, actor=current_user, reason=form.reason.data or "")
    db.session.commit()
    flash(_("Your test drive %(reference)s is cancelled.", reference=booking.reference), "success")
    return redirect(url_for("test_drives.detail", reference=booking.reference))


# --- shopper: self-service drives -----------------------------------------------------------------------------------


def _self_service_context(car_model: CarModel, args: Any, form: SelfServiceForm | None = None) -> dict[str, Any]:
    kiosks = queries.kiosks_offering(db.session, car_model_id=car_model.id)
    dealer_arg = str(args.get("dealer", ""))
    dealer = next((d for d, _n in kiosks if str(d.id) == dealer_arg), None) or (kiosks[0][0] if len(kiosks) == 1
                                                                                 else None)
    days_arg = str(args.get("days", "1"))
    length = int(days_arg) if days_arg in ("1", "3") else 1
    context: dict[str, Any] = {"car_model": car_model, "kiosks": kiosks, "dealer": dealer, "length": length,
                               "days": [], "day": None, "day_problem": "", "options": [], "form": form,
                               "selected": args.get("slot", ""), "deposit": self_service.DEPOSIT_CNY}
    if dealer is not None:
        days, day, problem = _day_picker(dealer, _parse_day(args.get("date")))
        context.update(days=days, day=day, day_problem=problem)
        if day is not None and not problem:
            context["options"] = self_service.pickup_options(db.session, dealer=dealer, car_model=car_model, day=day,
                                                             days=length)
        if form is None and current_user.is_authenticated:
            context["form"] = SelfServiceForm(formdata=None, dealer_id=dealer.id, days=str(length),
                                              contact_name=current_user.name, mobile=current_user.phone)
    return context


@bp.get("/self-service/<int(max=2147483647):model_id>")
def self_service_book(model_id: int) -> Any:
    context = _self_service_context(_active_model(model_id), request.args)
    if _is_htmx():
        return render_template("test_drives/_self_service_steps.html", **context)
    return render_template("test_drives/self_service.html", **context)


@bp.post("/self-service/<int(max=2147483647):model_id>")
@login_required
def self_service_submit(model_id: int) -> Any:
    car_model = _active_model(model_id)
    form = SelfServiceForm()
    attempt = _attempt_booking(form, lambda dealer, starts_at: self_service.start_self_service(
        db.session, shopper=current_user, dealer=dealer, car_model=car_model,
        starts_at=starts_at, days=int(form.days.data), contact_name=form.contact_name.data,
        mobile=form.mobile.data, licence_confirmed=bool(form.licence_confirmed.data),
        return_url=lambda reference: url_for("test_drives.detail", reference=reference, _external=True),
        visit_key=visit_key(),
    ))
    if attempt.booked is not None:
        _booking, payment = attempt.booked
        return redirect(payment.redirect_url)
    dealer, starts_at = attempt.dealer, attempt.starts_at
    args = {"dealer": dealer.id if dealer else "", "days": form.days.data or "1",
            "date": local_day(starts_at).isoformat() if starts_at else "", "slot": form.starts_at.data or ""}
    return render_template("test_drives/self_service.html", **_self_service_context(car_model, args, form)), \
        attempt.status


# --- CLI ------------------------------------------------------------------------------------------------------------


@bp.cli.command("remind")
@with_store_clock
def remind_command() -> None:
    """Queue tomorrow's test-drive reminders (each booking is reminded once; run it daily or more often)."""
    count = services.send_reminders(db.session)
    db.session.commit()
    click.echo(f"queued {count} reminder(s)")


@bp.cli.command("expire")
@with_store_clock
def expire_command() -> None:
    """Release kiosk cars held for self-service drives whose deposit was not paid in time."""
    count = self_service.expire_unpaid(db.session)
    db.session.commit()
    click.echo(f"expired {count} unpaid self-service hold(s)")


# --- staff: calendar ------------------------------------------------------------------------------------------------


def _staff_dealer(dealer_id: int) -> Dealer:
    dealer = db.session.get(Dealer, dealer_id)
    if dealer is None:
        abort(404)
    if not current_user.works_at(dealer.id):
        abort(403)
    return dealer


def _staff_booking(reference: str) -> TestDriveBooking:
    booking = services.find_by_reference(db.session, reference)
    if booking is None:
        abort(404)
    if not current_user.works_at(booking.dealer_id):
        abort(403)
    return booking


def _back_to_day(booking: TestDriveBooking, back: str | None) -> Any:
    if back and is_safe_next(back):
        return redirect(back)
    return redirect(url_for("test_drives_staff.day", dealer_id=booking.dealer_id,
                            date=local_day(booking.starts_at).isoformat()))


@staff_bp.get("/")
def staff_index() -> Any:
    chosen = parse_id(request.args.get("dealer_id", ""))
    if chosen is not None:
        return redirect(url_for("test_drives_staff.day", dealer_id=chosen))
    showrooms = queries.staff_showrooms(db.session, user=current_user)
    if len(showrooms) == 1:
        return redirect(url_for("test_drives_staff.day", dealer_id=showrooms[0].id))
    return render_template("test_drives/staff/index.html", showrooms=showrooms)


@staff_bp.get("/<int(max=2147483647):dealer_id>/day")
def day(dealer_id: int) -> str:
    dealer = _staff_dealer(dealer_id)
    chosen = _parse_day(request.args.get("date")) or services.today()
    day_board = board.day_board(db.session, dealer=dealer, day=chosen)
    return render_template("test_drives/staff/day.html", board=day_board, dealer=dealer, today=services.today(),
                           showrooms=queries.staff_showrooms(db.session, user=current_user),
                           mark_form=MarkForm(), pickup_form=PickupForm(), return_form=ReturnForm(),
                           cancel_form=CancelForm(), now=clock.now(), status_label=services.status_label)


@staff_bp.get("/<int(max=2147483647):dealer_id>/week")
def week(dealer_id: int) -> str:
    dealer = _staff_dealer(dealer_id)
    chosen = _parse_day(request.args.get("start")) or services.today()
    first = chosen - dt.timedelta(days=chosen.weekday())
    grid = board.week_grid(db.session, dealer=dealer, first=first)
    return render_template("test_drives/staff/week.html", grid=grid, dealer=dealer, today=services.today(),
                           showrooms=queries.staff_showrooms(db.session, user=current_user))


def _csv_cell(value: object) -> str:
    """Text for a spreadsheet cell; a leading = + - @ would be run as a formula, so it gets a quote."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@staff_bp.get("/<int(max=2147483647):dealer_id>/export.csv")
def export_csv(dealer_id: int) -> Response:
    dealer = _staff_dealer(dealer_id)
    first = _parse_day(request.args.get("from")) or services.today()
    last = _parse_day(request.args.get("to")) or first + dt.timedelta(days=6)
    if last < first or (last - first).days > 366:
        abort(400, _("Choose a period of at most a year, with the start before the end."))
    start, _end = board.day_bounds(first)
    _start, end = board.day_bounds(last)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    # A sheet for people (opened in Excel), so headers, kinds and statuses are in the page's language.
    writer.writerow([_("Reference"), _("Kind"), _("Status"), _("Date"), _("Start"), _("End"), _("Model"),
                     pgettext("audit record", "Showroom"), _("Driver"), _("Mobile"), _("Email"),
                     _("Demo car VIN"), _("Booked at")])
    for booking in queries.bookings_between(db.session, dealer_id=dealer.id, start=start, end=end):
        local_start = booking.starts_at.astimezone(clock.STORE_TZ)
        local_end = booking.ends_at.astimezone(clock.STORE_TZ)
        writer.writerow([_csv_cell(v) for v in (
            booking.reference, _("Self-service") if booking.is_self_service else _("At the showroom"),
            services.status_label(booking), local_start.date().isoformat(),
            local_start.isoformat(timespec="minutes"), local_end.isoformat(timespec="minutes"),
            f"{localised(booking.car_model.brand, 'name')} {localised(booking.car_model, 'name')}", dealer.code,
            booking.contact_name,
            booking.mobile, booking.user.email, booking.vehicle.vin if booking.vehicle else "",
            booking.created_at.astimezone(clock.STORE_TZ).isoformat(timespec="seconds"),
        )])
    name = f"test-drives-{dealer.code}-{first.isoformat()}-{last.isoformat()}.csv"
    return Response("\ufeff" + buffer.getvalue(), mimetype="text/csv",  # BOM: Excel opens UTF-8 Chinese correctly
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@staff_bp.post("/bookings/<reference>/mark")
def mark(reference: str) -> Any:
    booking = _staff_booking(reference)
    form = MarkForm()
    if not form.validate():
        abort(400)
    services.mark_booking(db.session, booking=booking, actor=current_user, action=form.action.data)  # type: ignore[arg-type]
    db.session.commit()
    flash(_("%(reference)s: %(status)s.", reference=booking.reference, status=services.status_label(booking)),
          "success")
    return _back_to_day(booking, form.back.data)


@staff_bp.post("/bookings/<reference>/cancel")
def staff_cancel(reference: str) -> Any:
    booking = _staff_booking(reference)
    form = CancelForm()
    if not form.validate():
        abort(400)
    services.cancel_booking(db.session, booking=booking, actor=current_user, reason=form.reason.data or "")
    db.session.commit()
    flash(_("%(reference)s is cancelled; the shopper has been emailed.", reference=booking.reference), "success")
    return _back_to_day(booking, request.form.get("back"))


@staff_bp.post("/bookings/<reference>/pick-up")
def pick_up(reference: str) -> Any:
    booking = _staff_booking(reference)
    form = PickupForm()
    if not form.validate():
        flash(_("Enter the 6-digit pick-up code the shopper shows you."), "error")
        return _back_to_day(booking, form.back.data)
    try:
        self_service.hand_over(db.session, booking=booking, actor=current_user, pickup_code=form.pickup_code.data or "")
    except DomainError as error:
        if error.code == "invalid_transition":  # already handed over (a second click, a colleague): the 409 page
            raise
        db.session.rollback()
        flash(error.user_message, "error")
        return _back_to_day(booking, form.back.data)
    db.session.commit()
    flash(_("%(reference)s: car handed over.", reference=booking.reference), "success")
    return _back_to_day(booking, form.back.data)


@staff_bp.post("/bookings/<reference>/return")
def return_car(reference: str) -> Any:
    booking = _staff_booking(reference)
    form = ReturnForm()
    if not form.validate():
        abort(400)
    self_service.check_in_return(db.session, booking=booking, actor=current_user, note=form.note.data or "")
    db.session.commit()
    flash(_("%(reference)s: car checked in, deposit refunded.", reference=booking.reference), "success")
    return _back_to_day(booking, form.back.data)


# --- staff: schedule, demo cars, closed days ------------------------------------------------------------------------


def _schedule_page(dealer: Dealer, form: ScheduleForm, exception_form: ExceptionForm, status: int = 200) -> Any:
    exceptions = db.session.scalars(
        select(TestDriveException).where(TestDriveException.dealer_id == dealer.id,
                                         TestDriveException.day >= services.today())
        .order_by(TestDriveException.day)
    ).all()
    return render_template(
        "test_drives/staff/schedule.html", dealer=dealer, form=form, exception_form=exception_form,
        exceptions=exceptions, fleet=queries.fleet_of(db.session, dealer_id=dealer.id),
        outside=services.bookings_outside_hours(db.session, dealer=dealer), weekdays=WEEKDAYS,
        weekday_labels=_weekday_labels(),
        showrooms=queries.staff_showrooms(db.session, user=current_user),
    ), status


@staff_bp.route("/<int(max=2147483647):dealer_id>/schedule", methods=["GET", "POST"])
def schedule(dealer_id: int) -> Any:
    dealer = _staff_dealer(dealer_id)
    current = services.schedule_for(db.session, dealer=dealer)
    form = ScheduleForm(data=_schedule_data(current)) if request.method == "GET" else ScheduleForm()
    if request.method == "POST":
        if form.validate():
            try:
                services.update_schedule(db.session, dealer=dealer, actor=current_user,
                                         weekly_hours=form.weekly_hours(), slot_minutes=int(form.slot_minutes.data))
                db.session.commit()
                flash(_("Test-drive hours saved."), "success")
                return redirect(url_for("test_drives_staff.schedule", dealer_id=dealer.id))
            except DomainError as error:
                db.session.rollback()
                show_on_form(form, error)
                return _schedule_page(dealer, form, ExceptionForm(formdata=None), error.status_code)
        return _schedule_page(dealer, form, ExceptionForm(formdata=None), 422)
    return _schedule_page(dealer, form, ExceptionForm(formdata=None))


def _schedule_data(schedule: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"slot_minutes": schedule.slot_minutes}
    for weekday in WEEKDAYS:
        entry = (schedule.weekly_hours or {}).get(weekday)
        data[f"{weekday}_opens"] = parse_hhmm(entry[0]) if entry else None
        data[f"{weekday}_closes"] = parse_hhmm(entry[1]) if entry else None
    return data


@staff_bp.post("/<int(max=2147483647):dealer_id>/demo-cars")
def demo_cars(dealer_id: int) -> Any:
    dealer = _staff_dealer(dealer_id)
    counts: dict[int, int] = {}
    for key, value in request.form.items():
        model_id = parse_id(key[6:]) if key.startswith("model_") else None
        if model_id is not None:
            count = parse_id(value)
            if count is None:
                flash(_("Demo cars per model: whole numbers between 0 and 50."), "error")
                return redirect(url_for("test_drives_staff.schedule", dealer_id=dealer.id))
            counts[model_id] = count
    try:
        services.set_demo_cars(db.session, dealer=dealer, actor=current_user, counts=counts)
    except DomainError as error:
        db.session.rollback()
        flash(error.user_message, "error")
        return redirect(url_for("test_drives_staff.schedule", dealer_id=dealer.id))
    db.session.commit()
    flash(_("Demo cars saved."), "success")
    return redirect(url_for("test_drives_staff.schedule", dealer_id=dealer.id))


@staff_bp.post("/<int(max=2147483647):dealer_id>/exceptions")
def add_exception(dealer_id: int) -> Any:
    dealer = _staff_dealer(dealer_id)
    form = ExceptionForm()
    if form.validate():
        try:
            services.save_exception(db.session, dealer=dealer, actor=current_user, day=form.day.data,  # type: ignore[arg-type]
                                    closed=bool(form.closed.data), opens=form.opens.data, closes=form.closes.data,
                                    note=form.note.data or "")
            db.session.commit()
            flash(_("Saved the hours for %(day)s.", day=form.day.data.isoformat()), "success")  # type: ignore[union-attr]
            return redirect(url_for("test_drives_staff.schedule", dealer_id=dealer.id))
        except DomainError as error:
            db.session.rollback()
            show_on_form(form, error)
            status = error.status_code
    else:
        status = 422
    current = services.schedule_for(db.session, dealer=dealer)
    return _schedule_page(dealer, ScheduleForm(formdata=None, data=_schedule_data(current)), form, status)


@staff_bp.post("/<int(max=2147483647):dealer_id>/exceptions/<int(max=2147483647):exception_id>/delete")
def delete_exception(dealer_id: int, exception_id: int) -> Any:
    dealer = _staff_dealer(dealer_id)
    services.delete_exception(db.session, dealer=dealer, actor=current_user, exception_id=exception_id)
    db.session.commit()
    flash(_("Exception removed."), "success")
    return redirect(url_for("test_drives_staff.schedule", dealer_id=dealer.id))

