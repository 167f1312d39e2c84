"""HTTP routes of the presale area: the launch page and its live count, ordering, the shopper's order (pay the
deposit, lock it early, cancel while refundable); for staff, the live board; for admins, new campaigns."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import time
from typing import Any

import click
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from models import CarModel, PresaleCampaign, PresaleOrder, PresaleOrderStatus
from storefront import clock
from storefront.auth import admin_required, require_staff
from storefront.clock import STORE_TZ
from storefront.errors import DomainError, show_on_form
from storefront.extensions import db
from storefront.i18n import format_cny, localised
from storefront.presale import services, waiting_room
from storefront.presale.forms import ButtonForm, CampaignForm
from storefront.reservations.terms import deposit_word

bp = Blueprint("presale", __name__, url_prefix="/presale", cli_group="presale")
staff_bp = Blueprint("presale_staff", __name__, url_prefix="/staff/presale")
staff_bp.before_request(require_staff)

# The live count is read by every viewer of a launch page every few seconds: each worker asks the database at
# most once per LEFT_TTL_S per campaign, whatever the number of viewers.
LEFT_TTL_S = 1.0
_left_cache: dict[int, tuple[float, int]] = {}


def status_label(status: PresaleOrderStatus) -> str:
    return {
        PresaleOrderStatus.WAITLISTED: _("On the waitlist"),
        PresaleOrderStatus.HELD: _("Launch number held"),
        PresaleOrderStatus.PAID: _("Deposit paid"),
        PresaleOrderStatus.LOCKED: _("Deposit locked"),
        PresaleOrderStatus.COMPLETED: _("Balance paid"),
        PresaleOrderStatus.EXPIRED: _("Expired"),
        PresaleOrderStatus.CANCELLED: _("Cancelled and refunded"),
        PresaleOrderStatus.FORFEITED: _("Deposit forfeited"),
    }[status]


def _helpers() -> dict[str, Any]:
    return {
        "deposit_word": deposit_word,
        "status_label": status_label,
        "Status": PresaleOrderStatus,
        "format_cny": format_cny,
        "countdown_iso": _countdown_iso,
    }


bp.context_processor(_helpers)
staff_bp.context_processor(_helpers)


def _countdown_iso(moment: dt.datetime) -> str:
    """The browser counts down on its own clock; take the demo time-travel offset out of the deadline."""
    return (moment - clock.get_offset()).astimezone(dt.UTC).isoformat()


def numbers_left_cached(campaign_id: int) -> int:
    stamp = time.monotonic()
    cached = _left_cache.get(campaign_id)
    if cached is not None and stamp - cached[0] < LEFT_TTL_S:
        return cached[1]
    left = services.numbers_left(db.session, campaign_id)
    _left_cache[campaign_id] = (stamp, left)
    return left


def _campaign_or_404(slug: str) -> PresaleCampaign:
    try:
        return services.get_campaign(db.session, slug)
    except DomainError:
        abort(404)


def _own_order_or_404(order_id: int) -> PresaleOrder:
    order = db.session.get(PresaleOrder, order_id)
    if order is None or order.user_id != current_user.id:
        abort(404)
    return order


# --- shopper pages ------------------------------------------------------------------------------------------


@bp.get("/")
def index() -> str | Response:
    """Presales open now or opening soon; the only one goes straight to its launch page."""
    at = clock.now()
    campaigns = db.session.scalars(
        select(PresaleCampaign).where(PresaleCampaign.closes_at > at).order_by(PresaleCampaign.opens_at)
    ).all()
    if len(campaigns) == 1:
        return redirect(url_for("presale.launch", slug=campaigns[0].slug))
    return render_template("presale/index.html", campaigns=campaigns, now=at)


@bp.get("/<slug>")
def launch(slug: str) -> str:
    campaign = _campaign_or_404(slug)
    order = None
    if current_user.is_authenticated:
        order = services.order_of(db.session, campaign_id=campaign.id, user_id=current_user.id)
    return render_template(
        "presale/launch.html",
        campaign=campaign,
        order=order,
        form=ButtonForm(),
        left=numbers_left_cached(campaign.id),
        now=clock.now(),
    )


@bp.get("/<slug>/live")
def live(slug: str) -> Response:
    """The launch page polls this: numbers left and whether ordering is open, by the server's clock."""
    campaign = _campaign_or_404(slug)
    body = render_template(
        "presale/_live.html", campaign=campaign, left=numbers_left_cached(campaign.id), now=clock.now()
    )
    response = Response(body, mimetype="text/html")
    response.headers["Cache-Control"] = f"public, max-age={int(LEFT_TTL_S)}"
    return response


def _time_in_queue() -> float:
    """Seconds this request waited before a worker took it, from the proxy's X-Request-Start ("t=<unix secs>").

    Read only behind a trusted proxy (TRUSTED_PROXY_COUNT), which sets the header on every request: a client that
    reached the app directly could otherwise claim to have waited and open a line."""
    if not current_app.config.get("TRUSTED_PROXY_COUNT"):
        return 0.0
    raw = request.headers.get("X-Request-Start", "").removeprefix("t=")
    try:
        started = float(raw)
    except ValueError:
        return 0.0
    if started > 1e11:  # milliseconds, as some proxies send it
        started /= 1000
    return max(0.0, time.time() - started)


@bp.post("/<slug>/order")
@login_required
def order(slug: str) -> Response | tuple[str, int, dict[str, str]]:
    campaign = _campaign_or_404(slug)
    form = ButtonForm()
    if not form.validate_on_submit():
        abort(400)
    user = current_user._get_current_object()
    if campaign.is_open(clock.now()):
        # The waiting room first (one Redis call): a shopper whose turn has not come is answered at once, and the
        # page sends the order again when it comes. The place in line is fixed by the first press; a shopper who
        # already ordered was let in then, so their press goes straight through to their order.
        admission = waiting_room.admit(campaign.id, user.id, queued_s=_time_in_queue())
        if not admission.admitted:
            body = render_template("presale/queue.html", campaign=campaign, form=form, admission=admission)
            retry = max(1, math.ceil(admission.wait_s))
            return body, 202, {"Retry-After": str(retry), "Cache-Control": "no-store"}
    try:
        placed = services.place_order(db.session, campaign=campaign, user=user)
    except DomainError as error:
        flash(error.user_message, "error")
        if error.field == "phone":
            return redirect(url_for("accounts.profile", next=url_for("presale.launch", slug=slug)))
        return redirect(url_for("presale.launch", slug=slug))
    placed_id = placed.id  # read before the commit expires it: no SELECT to refresh it
    db.session.commit()
    return redirect(url_for("presale.order_detail", order_id=placed_id), code=303)


@bp.get("/orders/<int:order_id>")
@login_required
def order_detail(order_id: int) -> str:
    order = _own_order_or_404(order_id)
    return render_template(
        "presale/order.html",
        order=order,
        campaign=order.campaign,
        form=ButtonForm(),
        position=services.waitlist_position(db.session, order),
        now=clock.now(),
    )


@bp.post("/orders/<int:order_id>/pay")
@login_required
def pay(order_id: int) -> Response:
    order = _own_order_or_404(order_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    back = url_for("presale.order_detail", order_id=order.id, _external=True)
    try:
        payment = services.start_deposit_payment(
            db.session, order=order, user=current_user._get_current_object(), success_url=back, cancel_url=back
        )
    except DomainError as error:
        flash(error.user_message, "error")
        return redirect(url_for("presale.order_detail", order_id=order.id))
    db.session.commit()
    return redirect(payment.redirect_url or back, code=303)


@bp.post("/orders/<int:order_id>/lock")
@login_required
def lock(order_id: int) -> Response:
    return _shopper_move(order_id, services.lock_now, _("Your deposit is locked: it now counts toward your car."))


@bp.post("/orders/<int:order_id>/cancel")
@login_required
def cancel(order_id: int) -> Response:
    return _shopper_move(
        order_id, services.cancel_order, _("Your order is cancelled; any deposit is refunded in full.")
    )


def _shopper_move(order_id: int, move: Any, done: str) -> Response:
    order = _own_order_or_404(order_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        move(db.session, order_id=order.id, user=current_user._get_current_object())
    except DomainError as error:
        flash(error.user_message, "error")
    else:
        db.session.commit()
        flash(done, "success")
    return redirect(url_for("presale.order_detail", order_id=order_id), code=303)


@bp.get("/mine")
@login_required
def mine() -> str:
    return render_template("presale/mine.html", orders=services.orders_of(db.session, user_id=current_user.id))


# --- staff --------------------------------------------------------------------------------------------------


@staff_bp.get("/")
def campaigns() -> str:
    rows = db.session.scalars(select(PresaleCampaign).order_by(PresaleCampaign.opens_at.desc())).all()
    return render_template("presale/staff/campaigns.html", campaigns=rows)


@staff_bp.get("/<slug>")
def board(slug: str) -> str:
    campaign = _campaign_or_404(slug)
    figures = services.board_figures(db.session, campaign)
    # Orders per second in the first ten minutes after opening: the launch's own timeline.
    first_minutes = (
        db.session.execute(
            select(PresaleOrder.created_at).where(
                PresaleOrder.campaign_id == campaign.id,
                PresaleOrder.created_at < campaign.opens_at + dt.timedelta(minutes=10),
            )
        )
        .scalars()
        .all()
    )
    per_second: dict[int, int] = {}
    for stamp in first_minutes:
        second = max(0, int((stamp - campaign.opens_at).total_seconds()))
        per_second[second] = per_second.get(second, 0) + 1
    timeline = sorted(per_second.items())
    peak = max(per_second.values(), default=0)
    orders_total = db.session.scalar(select(func.count()).where(PresaleOrder.campaign_id == campaign.id)) or 0
    return render_template(
        "presale/staff/board.html",
        campaign=campaign,
        figures=figures,
        timeline=timeline,
        peak=peak,
        orders_total=orders_total,
        now=clock.now(),
    )


@staff_bp.route("/new", methods=["GET", "POST"])
@admin_required
def new_campaign() -> str | Response:
    form = CampaignForm()
    form.car_model_id.choices = _model_choices()
    if form.validate_on_submit():
        try:
            campaign = services.create_campaign(
                db.session, actor=current_user._get_current_object(), terms=form.terms()
            )
        except DomainError as error:
            show_on_form(form, error)
        else:
            db.session.commit()
            flash(_("The presale is set up."), "success")
            return redirect(url_for("presale_staff.board", slug=campaign.slug), code=303)
    return render_template("presale/staff/new.html", form=form)


@staff_bp.route("/<slug>/edit", methods=["GET", "POST"])
@admin_required
def edit_campaign(slug: str) -> str | Response:
    campaign = _campaign_or_404(slug)
    form = CampaignForm(obj=campaign if request.method == "GET" else None)
    if request.method == "GET":
        form.opens_at.data = campaign.opens_at.astimezone(STORE_TZ).replace(tzinfo=None)
        form.closes_at.data = campaign.closes_at.astimezone(STORE_TZ).replace(tzinfo=None)
    form.car_model_id.choices = _model_choices()
    started = services.sale_terms_fixed(db.session, campaign)
    if form.validate_on_submit():
        terms = dataclasses.replace(form.terms(), slug=campaign.slug, trim_id=campaign.trim_id)
        try:
            services.update_campaign(
                db.session, actor=current_user._get_current_object(), campaign=campaign, terms=terms
            )
        except DomainError as error:
            db.session.rollback()
            show_on_form(form, error)
        else:
            db.session.commit()
            flash(_("The presale is saved."), "success")
            return redirect(url_for("presale_staff.board", slug=campaign.slug), code=303)
    return render_template("presale/staff/edit.html", form=form, campaign=campaign, started=started)


def _model_choices() -> list[tuple[int, str]]:
    return [(m.id, localised(m, "name")) for m in db.session.scalars(select(CarModel).order_by(CarModel.sort_order))]


# --- CLI (cron / systemd timers; safe on every host at once) ------------------------------------------------


@bp.cli.command("expire")
def expire_command() -> None:
    """Expire unpaid holds and pass their numbers to the waitlist, in order."""
    expired = services.expire_holds(db.session)
    offered = sum(
        services.offer_free_numbers(db.session, campaign=c) for c in db.session.scalars(select(PresaleCampaign))
    )
    db.session.commit()
    click.echo(f"presale holds expired: {expired}; free numbers offered to the waitlist: {offered}")


@bp.cli.command("lock")
def lock_command() -> None:
    """Lock deposits whose refundable period has ended (订金 becomes 定金); forfeit those whose balance is overdue."""
    locked = services.lock_due(db.session)
    forfeited = services.forfeit_overdue(db.session)
    db.session.commit()
    click.echo(f"presale deposits locked: {locked}; forfeited (balance overdue): {forfeited}")
