"""Read side of the reservation pages: free units to choose from, a shopper's reservations, the staff list."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, selectinload

from models import (
    CarModel,
    Dealer,
    Payment,
    PaymentPurpose,
    Reservation,
    ReservationStatus,
    User,
    Vehicle,
    VehicleStatus,
)
from storefront.pagination import Page, count_and_clamp
from storefront.reservations.terms import deposit_word


def free_units_by_dealer(
    session: Session, *, trim_id: int, colour_code: str, city_id: int | None = None
) -> list[tuple[Dealer, int]]:
    """Showrooms with in-stock units of one trim and colour, with how many each has."""
    units = func.count(Vehicle.id).label("units")
    query = (
        select(Dealer, units)
        .join(Vehicle, Vehicle.dealer_id == Dealer.id)
        .where(Vehicle.trim_id == trim_id, Vehicle.colour_code == colour_code,
               Vehicle.status == VehicleStatus.IN_STOCK, Dealer.is_active.is_(True))
        .group_by(Dealer.id)
        .order_by(Dealer.city_id, Dealer.name_en)
    )
    if city_id is not None:
        query = query.where(Dealer.city_id == city_id)
    return [(row[0], row[1]) for row in session.execute(query)]


def free_vehicles(
    session: Session, *, trim_id: int, colour_code: str, dealer_id: int | None = None, city_id: int | None = None,
    limit: int = 24,
) -> list[Vehicle]:
    """Specific in-stock cars a shopper can pick (VIN shown), with their showroom loaded."""
    query = (
        select(Vehicle)
        .join(Dealer, Dealer.id == Vehicle.dealer_id)
        .where(Vehicle.trim_id == trim_id, Vehicle.colour_code == colour_code,
               Vehicle.status == VehicleStatus.IN_STOCK, Dealer.is_active.is_(True))
        .options(selectinload(Vehicle.dealer).selectinload(Dealer.city))
        .order_by(Dealer.city_id, Dealer.name_en, Vehicle.id)
        .limit(limit)
    )
    if dealer_id is not None:
        query = query.where(Vehicle.dealer_id == dealer_id)
    if city_id is not None:
        query = query.where(Dealer.city_id == city_id)
    return list(session.scalars(query))


def colour_stock(session: Session, *, trim_id: int) -> dict[str, int]:
    """In-stock units per colour of one trim (to mark colours with no stock)."""
    query = (
        select(Vehicle.colour_code, func.count(Vehicle.id))
        .where(Vehicle.trim_id == trim_id, Vehicle.status == VehicleStatus.IN_STOCK)
        .group_by(Vehicle.colour_code)
    )
    return {row[0]: row[1] for row in session.execute(query)}


def _with_details(query: Select[Reservation]) -> Select[Reservation]:
    return query.options(
        selectinload(Reservation.vehicle).selectinload(Vehicle.trim),
        selectinload(Reservation.car_model).selectinload(CarModel.brand),
        selectinload(Reservation.dealer).selectinload(Dealer.city),
        selectinload(Reservation.user),
    )


def latest_payments(session: Session, reservation_ids: list[int]) -> dict[int, Payment]:
    """The newest deposit payment of each reservation, in one query."""
    if not reservation_ids:
        return {}
    rows = session.scalars(
        select(Payment)
        .where(Payment.purpose == PaymentPurpose.RESERVATION_DEPOSIT, Payment.subject_id.in_(reservation_ids))
        .order_by(Payment.id)
    )
    return {payment.subject_id: payment for payment in rows}


def shopper_reservations(session: Session, *, user_id: int) -> list[Reservation]:
    query = _with_details(select(Reservation).where(Reservation.user_id == user_id))
    return list(session.scalars(query.order_by(Reservation.created_at.desc(), Reservation.id.desc())))


def staff_reservations(
    session: Session, *, dealer_ids: list[int] | None, status: ReservationStatus | None, q: str | None,
    page: int, per_page: int,
) -> Page[Reservation]:
    """Reservations at the given showrooms (None = all), newest first, with filters."""
    query = select(Reservation)
    if dealer_ids is not None:
        query = query.where(Reservation.dealer_id.in_(dealer_ids or [-1]))
    if status is not None:
        query = query.where(Reservation.status == status)
    if q:
        needle = q.strip()
        query = query.join(User, User.id == Reservation.user_id).where(
            or_(Reservation.reference == needle.upper(), func.lower(User.email).like(f"%{needle.lower()}%"))
        )
    total, page = count_and_clamp(session, query, page=page, per_page=per_page)
    items = session.scalars(
        _with_details(query).order_by(Reservation.created_at.desc(), Reservation.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    ).all()
    return Page(items=list(items), total=total, page=page, per_page=per_page)


@dataclass(frozen=True)
class Step:
    label: str
    at: dt.datetime | None
    state: str  # "done", "current", "todo" or "stopped"


def timeline(reservation: Reservation) -> list[Step]:
    """The status timeline shown to shoppers and staff: the happy path, or where it left it."""
    status = reservation.status
    word = deposit_word(reservation.deposit_kind, capital=True)
    steps = [Step(str(_l("Car on hold")), reservation.created_at, "done")]
    if status is ReservationStatus.PENDING_PAYMENT:
        return steps + [Step(str(_l("%(deposit)s to pay", deposit=word)), None, "current"),
                        Step(str(_l("Pick up at the showroom")), None, "todo")]
    if reservation.confirmed_at is not None:
        steps.append(Step(str(_l("%(deposit)s paid", deposit=word)), reservation.confirmed_at, "done"))
    if status is ReservationStatus.CONFIRMED:
        return steps + [Step(str(_l("Pick up at the showroom")), None, "current")]
    if status is ReservationStatus.COMPLETED:
        return steps + [Step(str(_l("Picked up")), reservation.completed_at, "done")]
    if reservation.cancelled_at is not None:
        steps.append(Step(str(_l("Cancelled")), reservation.cancelled_at, "stopped"))
    if status is ReservationStatus.EXPIRED:
        steps.append(Step(str(_l("Hold ended without payment")), reservation.expired_at, "stopped"))
    if status is ReservationStatus.REFUNDED:
        steps.append(Step(str(_l("%(deposit)s refunded", deposit=word)), reservation.refunded_at, "stopped"))
    return steps
