"""Demo mode: presenter page, one-click sign-in, guided tour, reset, time travel, insights and handover."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import click
from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user
from sqlalchemy import select

from models import Role, User
from storefront import clock
from storefront.auth import admin_required, mark_fresh_login, require_staff
from storefront.demo import queries, services, tour
from storefront.demo.forms import (
    ConfirmForm,
    DateRangeForm,
    HandoverForm,
    ResetForm,
    SignInForm,
    TimeTravelForm,
    TourForm,
)
from storefront.demo.store_clock import load_store_clock, load_store_clock_for_request, with_store_clock
from storefront.errors import DomainError
from storefront.extensions import db
from storefront.security import is_safe_next

bp = Blueprint("demo", __name__, url_prefix="/demo", cli_group="demo")
staff_bp = Blueprint("demo_staff", __name__, url_prefix="/staff/insights")
staff_bp.before_request(require_staff)

# Every request (and every CLI command decorated with_store_clock) sees the shared demo clock.
bp.before_app_request(load_store_clock_for_request)


def demo_mode() -> bool:
    return bool(current_app.config.get("DEMO_MODE"))


def _require_demo_mode() -> None:
    if not demo_mode():
        abort(403, description=_("Demo mode is off: reset and time travel only work in the demo store."))


@bp.app_context_processor
def _demo_globals() -> dict[str, Any]:
    """The tour bar and the moved store clock, shown on every page in demo mode (no query: session and g)."""
    if not demo_mode():
        return {}
    offset = clock.get_offset()
    return {"demo_tour": tour.bar_context(), "demo_clock_offset": offset if offset.total_seconds() > 0 else None}


# --- Presenter page and one-click sign-in (demo mode only) ---------------------------------------------------

ROLE_LABELS = {Role.CUSTOMER: "shopper", Role.STAFF: "staff", Role.ADMIN: "admin"}


def demo_accounts() -> list[dict[str, Any]]:
    """The seeded demo accounts (accounts area), as the presenter page lists them."""
    from storefront.accounts.seed import DEMO_ACCOUNTS

    return [{"email": email, "password": password, "name": name, "role": role, "key": ROLE_LABELS[role]}
            for email, password, name, role, _codes in DEMO_ACCOUNTS]


@bp.get("/")
def presenter() -> str:
    if not demo_mode():
        abort(404)
    accounts = demo_accounts()
    emails = [a["email"] for a in accounts]
    present = set(db.session.scalars(select(User.email).where(User.email.in_(emails))))
    steps = [(number, step, tour.endpoint_for(step) is not None) for number, step in enumerate(tour.STEPS, 1)]
    return render_template("demo/presenter.html", accounts=accounts, present=present, steps=steps,
                           form=SignInForm(), tour_form=TourForm(), **_clock_context())


def _sign_in_as(key: str) -> User | None:
    """Clear the session (keeping the language and the tour) and sign in the demo account for `key`."""
    email = next((a["email"] for a in demo_accounts() if a["key"] == key), None)
    user = db.session.scalar(select(User).where(User.email == email, User.is_active.is_(True))) if email else None
    if user is None:
        return None
    keep = {name: session[name] for name in ("lang", tour.SESSION_KEY) if name in session}
    session.clear()
    session.update(keep)
    login_user(user, fresh=True)
    mark_fresh_login(session)
    return user


@bp.post("/sign-in")
def sign_in() -> Response:
    if not demo_mode():
        abort(404)
    form = SignInForm()
    if not form.validate():
        abort(400)
    user = _sign_in_as(form.account.data)
    if user is None:
        flash(_("That demo account does not exist: run `flask seed` or reset the demo."), "error")
        return redirect(url_for("demo.presenter"))
    flash(_("Signed in as %(email)s.", email=user.email), "success")
    target = form.next.data or ""
    if is_safe_next(target):
        return redirect(target)
    return redirect(url_for("demo.presenter") if user.is_staff else url_for("catalog.home"))


# --- Guided tour -------------------------------------------------------------------------------------------------


def _go_to_step(number: int, skipped: list[int]) -> Response:
    step = tour.STEPS[number - 1]
    tour.save(number, skipped)
    wanted_staff = step.role == "staff"
    signed_in_right = current_user.is_authenticated and (current_user.is_staff == wanted_staff)
    if not signed_in_right and _sign_in_as("staff" if wanted_staff else "shopper") is not None:
        flash(_("Switched to the demo %(role)s account.", role=_("staff") if wanted_staff else _("shopper")), "info")
    url = tour.step_url(db.session, step)
    if url is None:
        flash(_("This part of the store is not built yet: skip to the next step."), "warning")
        return redirect(url_for("demo.presenter"))
    return redirect(url)


@bp.post("/tour/start")
def tour_start() -> Response:
    if not demo_mode():
        abort(404)
    if not TourForm().validate():
        abort(400)
    return _go_to_step(1, [])


@bp.post("/tour/go")
def tour_go() -> Response:
    """Next, Back and Skip on the tour bar: go to step N (Skip also notes the step it left)."""
    if not demo_mode():
        abort(404)
    form = TourForm()
    current = tour.state()
    if not form.validate() or current is None:
        return redirect(url_for("demo.presenter"))
    number = int(form.step.data) if (form.step.data or "").isdigit() else 0
    if not 1 <= number <= tour.TOTAL:
        abort(400)
    skipped = current["skipped"] + ([current["step"]] if request.form.get("skip") else [])
    return _go_to_step(number, [n for n in skipped if n < number])


@bp.post("/tour/end")
def tour_end() -> Response:
    if not demo_mode():
        abort(404)
    if not TourForm().validate():
        abort(400)
    finished = (tour.state() or {}).get("step") == tour.TOTAL and request.form.get("finished")
    tour.end()
    if finished and current_user.is_authenticated and current_user.is_staff:
        flash(_("Tour finished: here is what the funnel says."), "success")
        return redirect(url_for("demo_staff.dashboard")) if "demo_staff.dashboard" in current_app.view_functions \
            else redirect(url_for("demo.presenter"))
    flash(_("Tour ended."), "info")
    return redirect(url_for("demo.presenter"))


# --- Time travel (admin, demo mode) -------------------------------------------------------------------------


@staff_bp.get("/demo")
@admin_required
def controls() -> str:
    """The presenter's control room: store clock and reset."""
    _require_demo_mode()
    return render_template(
        "demo/controls.html", travel_form=TimeTravelForm(), plain_form=ConfirmForm(), **_clock_context(),
    )


def _clock_context() -> dict[str, Any]:
    offset = clock.get_offset()
    return {"store_now": clock.now(), "real_now": clock.now() - offset, "offset": offset}


@staff_bp.post("/demo/clock")
@admin_required
def travel() -> Any:
    _require_demo_mode()
    form = TimeTravelForm()
    if not form.validate():
        return render_template("demo/controls.html", travel_form=form, plain_form=ConfirmForm(),
                               **_clock_context()), 422
    try:
        by = services.parse_duration(f"{form.amount.data}{form.unit.data}")
        offset = services.move_clock_forward(db.session, actor=current_user, by=by)
    except DomainError as error:
        form.amount.errors = [error.user_message]
        db.session.rollback()
        return render_template("demo/controls.html", travel_form=form, plain_form=ConfirmForm(),
                               **_clock_context()), 422
    db.session.commit()
    flash(_("Store clock moved: it is now %(offset)s ahead of real time.", offset=describe_offset(offset)), "success")
    return redirect(url_for("demo_staff.controls"))


@staff_bp.post("/demo/clock/reset")
@admin_required
def travel_reset() -> Response:
    _require_demo_mode()
    if not ConfirmForm().validate():
        abort(400)
    services.reset_clock(db.session, actor=current_user)
    db.session.commit()
    flash(_("Store clock is back to real time."), "success")
    return redirect(url_for("demo_staff.controls"))


@bp.app_template_global()
def describe_offset(offset: dt.timedelta) -> str:
    """'1 d 2 h 30 min' style, for flashes, the controls page and the banner."""
    total = int(offset.total_seconds()) // 60
    days, rest = divmod(total, 1440)
    hours, minutes = divmod(rest, 60)
    _ = services.translate
    parts = [_("%(n)d d", n=days) if days else "", _("%(n)d h", n=hours) if hours else "",
             _("%(n)d min", n=minutes) if minutes or not (days or hours) else ""]
    return " ".join(p for p in parts if p)


# --- Reset (admin, demo mode) --------------------------------------------------------------------------------


@staff_bp.get("/demo/reset/confirm")
@admin_required
def reset_confirm() -> str:
    """The confirmation step: what a reset does, and the button that does it."""
    _require_demo_mode()
    return render_template("demo/reset_confirm.html", form=ResetForm(confirm="yes"))


@staff_bp.post("/demo/reset")
@admin_required
def reset() -> Response:
    _require_demo_mode()
    form = ResetForm()
    if not form.validate() or form.confirm.data != "yes":
        abort(400)
    from storefront.demo.reset import reset_store

    report = reset_store()
    # Same ids after the reset, but new session tokens: sign the demo admin in again.
    _sign_in_as("admin")
    flash(_("Demo store reset in %(seconds).1f s: every table is back to the seeded state.",
            seconds=report.seconds), "success")
    return redirect(url_for("demo.presenter"))


# --- Insights dashboard (staff and admin) ---------------------------------------------------------------------

STEP_LABELS = {
    "view": _l("Model page views"), "quote": _l("Finance quotes"), "test_drive": _l("Test drives booked"),
    "reserve": _l("Reservations"), "pay": _l("Reservations paid"), "pickup": _l("Picked up"),
}
FINANCE_LABELS = {
    "full_payment": _l("Full payment"), "loan": _l("Loan"), "lease_to_own": _l("Lease-to-own (10 per cent down)"),
    "operating_lease": _l("Operating lease"), "unknown": _l("Other"),
}
PURPOSE_LABELS = {"reservation_deposit": _l("Reservation deposits"),
                  "reservation_deposit:refundable": _l("Reservation deposits, refundable (订金)"),
                  "reservation_deposit:binding": _l("Reservation deposits, binding (定金)"),
                  "test_drive_deposit": _l("Self-service test-drive deposits")}


def _period(form: DateRangeForm) -> tuple[queries.Period | None, str | None]:
    """The chosen period, or a message saying what is wrong with it (never an exception)."""
    if not form.validate():
        return None, _("Enter dates as YYYY-MM-DD.")
    today = clock.local_now().date()
    start, end = form.start.data, form.end.data
    if start is None and end is None:
        return queries.default_period(db.session, today), None
    end = end or max(today, start or today)
    start = start or end - dt.timedelta(days=queries.DEFAULT_DAYS - 1)
    problem = queries.period_problem(start, end)
    if problem:
        return None, problem
    return queries.Period(start, end), None


def _insights(period: queries.Period) -> dict[str, Any]:
    funnel = queries.funnel(db.session, period)
    series = queries.daily(db.session, period)
    cities = queries.by_city(db.session, period)
    mix = queries.quote_mix(db.session, period)
    labels = {key: str(label) for key, label in {**STEP_LABELS, **FINANCE_LABELS}.items()}
    from storefront.i18n import localised

    chart_series = series if len(series) <= 62 else queries.group_daily_by_week(series)
    return {
        "funnel": funnel,
        "cities": cities,
        "showrooms": queries.by_showroom(db.session, period),
        "models": queries.by_model(db.session, period),
        "quote_mix": mix,
        "quote_total": sum(n for _k, n in mix),
        "deposits": queries.deposits(db.session, period),
        "utilisation": queries.utilisation(db.session, clock.local_now().date()),
        "chart": queries.chart_data(funnel, chart_series, cities, mix, labels,
                                    [localised(c, "name") for c in cities]),
    }


@staff_bp.get("/")
def dashboard() -> Any:
    form = DateRangeForm(request.args)
    period, problem = _period(form)
    context: dict[str, Any] = {"form": form, "period": period, "problem": problem, "step_labels": STEP_LABELS,
                               "finance_labels": FINANCE_LABELS, "purpose_labels": PURPOSE_LABELS}
    if period is None:
        return render_template("demo/insights.html", **context), 422
    form.start.data, form.end.data = period.start, period.end  # show the period in use, defaults included
    context.update(_insights(period))
    return render_template("demo/insights.html", **context)


@staff_bp.get("/export.csv")
def export_csv() -> Any:
    """The dashboard's figures for the same period, one row per number (UTF-8 with a BOM for spreadsheets)."""
    period, problem = _period(DateRangeForm(request.args))
    if period is None:
        return Response(f"{problem}\n", status=422, mimetype="text/plain")
    data = _insights(period)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "item", "item_zh", "metric", "value"])
    writer.writerow(["period", "start", "", "date", period.start.isoformat()])
    writer.writerow(["period", "end", "", "date", period.end.isoformat()])
    for row in data["funnel"]:
        writer.writerow(["funnel", row.step.value, "", "events", row.events])
        writer.writerow(["funnel", row.step.value, "", "visits", row.visits])
        if row.conversion is not None:
            writer.writerow(["funnel", row.step.value, "", "conversion_pct", row.conversion])
    for section in ("cities", "showrooms", "models"):
        for place in data[section]:
            writer.writerow([section, place.name_en, place.name_zh, "test_drives", place.test_drives])
            writer.writerow([section, place.name_en, place.name_zh, "reservations", place.reservations])
    for kind, count in data["quote_mix"]:
        writer.writerow(["quote_mix", kind, "", "quotes", count])
    for deposit in data["deposits"]:
        writer.writerow(["deposits", deposit.purpose, "", "paid_count", deposit.paid_count])
        writer.writerow(["deposits", deposit.purpose, "", "collected_cny", deposit.collected])
        writer.writerow(["deposits", deposit.purpose, "", "refunded_count", deposit.refunded_count])
        writer.writerow(["deposits", deposit.purpose, "", "refunded_cny", deposit.refunded])
    if data["utilisation"] is not None:
        for slot_row in data["utilisation"].rows:
            writer.writerow(["slot_utilisation", slot_row.name_en, slot_row.name_zh, "places_offered",
                             slot_row.offered])
            writer.writerow(["slot_utilisation", slot_row.name_en, slot_row.name_zh, "places_booked",
                             slot_row.booked])
    filename = f"insights-{period.start.isoformat()}-{period.end.isoformat()}.csv"
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# --- Showroom handover (staff) -------------------------------------------------------------------------------


@staff_bp.get("/handover")
def handover() -> Any:
    """Look up a reservation, quote or test drive by the code the shopper shows (typed, or scanned)."""
    from storefront.demo import handover as lookup

    form = HandoverForm(request.args)
    found: list[lookup.Found] = []
    searched = bool(request.args.get("code"))
    if searched and form.validate():
        form.code.data = lookup.clean_code(form.code.data or "")
        found = lookup.look_up(db.session, form.code.data)
    status = 404 if searched and not found else 200
    return render_template("demo/handover.html", form=form, found=found, searched=searched,
                           kinds=lookup.available_kinds(), now=clock.now()), status


@bp.app_template_filter("cny_text")
def cny_text(value: object) -> str:
    """Money frozen as text ("149800.00", as saved quotes keep it) shown like |cny; anything else as '—'."""
    from decimal import Decimal, InvalidOperation

    from storefront.i18n import format_cny

    try:
        return format_cny(Decimal(str(value))) if value not in (None, "") else "—"
    except InvalidOperation:
        return "—"


@bp.app_template_global()
def handover_qr(code: str) -> Any:
    """QR code of the staff handover page for `code`: the shopper shows it, the showroom scans it."""
    from storefront.demo.handover import qr_svg

    url = url_for("demo_staff.handover", code=code, _external=True)
    return qr_svg(url, title=_("QR code for the showroom: %(code)s", code=code))


# --- CLI ----------------------------------------------------------------------------------------------------


@bp.cli.command("reset")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def reset_command(yes: bool) -> None:
    """Drop every table, migrate and seed again: the demo store exactly as it was seeded (DEMO_MODE=1 only)."""
    from storefront.demo.reset import reset_store

    if not demo_mode():
        raise click.ClickException("demo mode is off (set DEMO_MODE=1): refusing to erase this database")
    if not yes:
        click.confirm(f"Erase everything in {db.engine.url.render_as_string()} and seed it again?", abort=True)
    try:
        report = reset_store()
    except DomainError as error:
        raise click.ClickException(error.user_message) from None
    for line in report.seeders:
        click.echo(line)
    click.echo(f"demo store reset in {report.seconds:.2f} s ({report.pinned_timestamps} seed timestamps pinned)")


@bp.cli.command("dump")
@click.option("--digest", is_flag=True, help="Print only the SHA-256 of the dump.")
def dump_command(digest: bool) -> None:
    """Every row of every table ordered by primary key (compare two resets: they are byte-identical)."""
    from storefront.demo.reset import dump_digest, dump_rows

    with db.engine.connect() as conn:
        if digest:
            click.echo(dump_digest(conn))
            return
        for line in dump_rows(conn):
            click.echo(line)




@bp.cli.command("clock")
@click.argument("action", type=click.Choice(["show", "forward", "reset"]), default="show")
@click.argument("amount", required=False, default="")
@with_store_clock
def clock_command(action: str, amount: str) -> None:
    """Show or move the shared store clock: `flask demo clock forward 1d`, `flask demo clock reset`."""
    if action != "show":
        if not demo_mode():
            raise click.ClickException("demo mode is off (set DEMO_MODE=1): the store clock stays real time")
        try:
            if action == "forward":
                services.move_clock_forward(db.session, actor=None, by=services.parse_duration(amount))
            else:
                services.reset_clock(db.session, actor=None)
        except DomainError as error:
            raise click.ClickException(error.user_message) from None
        db.session.commit()
        load_store_clock()
    offset = clock.get_offset()
    click.echo(f"store clock: {clock.now().astimezone(clock.STORE_TZ):%Y-%m-%d %H:%M} Asia/Shanghai "
               f"(offset {describe_offset(offset)})")
