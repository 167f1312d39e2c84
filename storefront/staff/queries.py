"""Read side of the back office: stock counts, the filtered vehicle list, export rows, users and the audit log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, contains_eager, selectinload

from models import AuditLog, Brand, CarModel, Dealer, Reservation, Role, Trim, TrimPrice, User, Vehicle, VehicleStatus
from models.reservations import ACTIVE_STATUSES
from storefront.clock import STORE_TZ
from storefront.pagination import Page, count_and_clamp

# ---------------------------------------------------------------------------------------------------------------
# Showrooms the user may act for


def showrooms_for(session: Session, user: User) -> list[Dealer]:
    """Every showroom for admins; the user's own showrooms for staff."""
    query = select(Dealer).options(selectinload(Dealer.city)).order_by(Dealer.code)
    if not user.is_admin:
        query = query.where(Dealer.id.in_([d.id for d in user.dealers] or [0]))
    return list(session.scalars(query))


def stock_by_showroom(session: Session, dealer_ids: Sequence[int]) -> dict[int, dict[VehicleStatus, int]]:
    """{dealer_id: {status: units}} for the given showrooms, in one grouped query."""
    rows = session.execute(
        select(Vehicle.dealer_id, Vehicle.status, func.count(Vehicle.id))
        .where(Vehicle.dealer_id.in_(dealer_ids))
        .group_by(Vehicle.dealer_id, Vehicle.status)
    )
    stock: dict[int, dict[VehicleStatus, int]] = {dealer_id: {} for dealer_id in dealer_ids}
    for dealer_id, status, units in rows:
        stock[dealer_id][status] = units
    return stock


# ---------------------------------------------------------------------------------------------------------------
# Vehicles


@dataclass(frozen=True)
class VehicleFilters:
    dealer_ids: tuple[int, ...] | None = None  # None = every showroom (admins)
    showroom_id: int | None = None
    brand_id: int | None = None
    car_model_id: int | None = None
    trim_id: int | None = None
    status: VehicleStatus | None = None
    colour: str | None = None
    q: str | None = None  # part of a VIN


def _vehicle_query(filters: VehicleFilters) -> Select[Vehicle]:
    query = (
        select(Vehicle)
        .join(Vehicle.trim)
        .join(Trim.car_model)
        .join(CarModel.brand)
        .join(Vehicle.dealer)
    )
    if filters.dealer_ids is not None:
        query = query.where(Vehicle.dealer_id.in_(filters.dealer_ids or (0,)))
    if filters.showroom_id:
        query = query.where(Vehicle.dealer_id == filters.showroom_id)
    if filters.brand_id:
        query = query.where(CarModel.brand_id == filters.brand_id)
    if filters.car_model_id:
        query = query.where(Trim.car_model_id == filters.car_model_id)
    if filters.trim_id:
        query = query.where(Vehicle.trim_id == filters.trim_id)
    if filters.status:
        query = query.where(Vehicle.status == filters.status)
    if filters.colour:
        query = query.where(Vehicle.colour_code == filters.colour)
    if filters.q:
        needle = "".join(ch for ch in filters.q.upper() if ch.isalnum())[:17]
        if needle:
            query = query.where(Vehicle.vin.like(f"%{needle}%"))
    return query


def list_vehicles(session: Session, filters: VehicleFilters, *, page: int, per_page: int) -> Page[Vehicle]:
    """One page of vehicles with trim, model, brand and showroom: two queries whatever the page size."""
    query = _vehicle_query(filters)
    total, page = count_and_clamp(session, query, page=page, per_page=per_page)
    items = session.scalars(
        query.options(
            contains_eager(Vehicle.trim).contains_eager(Trim.car_model).contains_eager(CarModel.brand),
            contains_eager(Vehicle.dealer),
        )
        .order_by(Vehicle.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page(items=list(items), total=total, page=page, per_page=per_page)


def export_rows(session: Session, filters: VehicleFilters) -> Iterator[tuple[Any, ...]]:
    """Rows for the CSV export, streamed from the database in batches (plain columns, no ORM objects)."""
    query = (
        _vehicle_query(filters)
        .with_only_columns(
            Vehicle.vin, Vehicle.trim_id, Dealer.code, Vehicle.colour_code, Vehicle.status,
            Brand.name_en, CarModel.name_en, Trim.name_en, Trim.msrp_cny, Vehicle.updated_at,
            maintain_column_froms=True,
        )
        .order_by(Dealer.code, Vehicle.vin)
        .execution_options(yield_per=500)
    )
    for vin, trim_id, code, colour, status, brand, model, trim, msrp, updated in session.execute(query):
        local = updated.astimezone(STORE_TZ).strftime("%Y-%m-%d %H:%M") if updated else ""
        yield (vin, trim_id, code, colour, status.value, brand, model, trim, msrp, local)


def filter_choices(session: Session) -> tuple[list[Brand], list[CarModel], list[Trim]]:
    """Brands, models and trims for the filter and edit forms (three queries)."""
    brands = list(session.scalars(select(Brand).order_by(Brand.sort_order)))
    car_models = list(session.scalars(select(CarModel).order_by(CarModel.brand_id, CarModel.sort_order)))
    trims = list(
        session.scalars(
            select(Trim).join(Trim.car_model).options(contains_eager(Trim.car_model))
            .order_by(CarModel.brand_id, CarModel.sort_order, Trim.msrp_cny)
        )
    )
    return brands, car_models, trims


# ---------------------------------------------------------------------------------------------------------------
# Prices


def trims_with_prices(session: Session) -> tuple[list[Trim], dict[int, list[TrimPrice]]]:
    """Every trim (with model and brand) and its pending price changes, in two queries."""
    trims = list(
        session.scalars(
            select(Trim).join(Trim.car_model).join(CarModel.brand)
            .options(contains_eager(Trim.car_model).contains_eager(CarModel.brand))
            .order_by(Brand.sort_order, CarModel.sort_order, Trim.msrp_cny)
        )
    )
    pending: dict[int, list[TrimPrice]] = {}
    for entry in session.scalars(
        select(TrimPrice).where(TrimPrice.applied_at.is_(None)).order_by(TrimPrice.effective_from, TrimPrice.id)
    ):
        pending.setdefault(entry.trim_id, []).append(entry)
    return trims, pending


def price_history(session: Session, trim_id: int) -> list[TrimPrice]:
    return list(
        session.scalars(
            select(TrimPrice).where(TrimPrice.trim_id == trim_id).options(selectinload(TrimPrice.created_by))
            .order_by(TrimPrice.effective_from.desc(), TrimPrice.id.desc())
        )
    )


# ---------------------------------------------------------------------------------------------------------------
# Users


def list_users(session: Session, *, role: Role | None, q: str | None, page: int, per_page: int) -> Page[User]:
    query = select(User)
    if role is not None:
        query = query.where(User.role == role)
    if q:
        needle = f"%{q.strip().lower()}%"
        query = query.where(or_(func.lower(User.email).like(needle), func.lower(User.name).like(needle)))
    total, page = count_and_clamp(session, query, page=page, per_page=per_page)
    items = session.scalars(
        query.options(selectinload(User.dealers)).order_by(User.role, User.email)
        .limit(per_page).offset((page - 1) * per_page)
    ).all()
    return Page(items=list(items), total=total, page=page, per_page=per_page)


# ---------------------------------------------------------------------------------------------------------------
# Audit log


@dataclass(frozen=True)
class AuditFilters:
    actor_id: int | None = None
    action: str | None = None
    entity_type: str | None = None
    date_from: dt.date | None = None  # Asia/Shanghai calendar days, inclusive
    date_to: dt.date | None = None


EARLIEST, LATEST = dt.date(1970, 1, 1), dt.date(2999, 12, 31)  # typed dates are clamped: no overflow at the edges


def _start_of(day: dt.date) -> dt.datetime:
    """Midnight of a store calendar day (Asia/Shanghai), in UTC."""
    day = min(max(day, EARLIEST), LATEST)
    return dt.datetime.combine(day, dt.time(0), tzinfo=STORE_TZ).astimezone(dt.UTC)


def list_audit(
    session: Session, filters: AuditFilters, *, page: int, per_page: int
) -> tuple[Page[AuditLog], dict[int, User]]:
    """One page of audit entries, newest first, and the users who made them (three queries)."""
    query = select(AuditLog)
    if filters.actor_id:
        query = query.where(AuditLog.actor_id == filters.actor_id)
    if filters.action:
        query = query.where(AuditLog.action == filters.action)
    if filters.entity_type:
        query = query.where(AuditLog.entity_type == filters.entity_type)
    if filters.date_from:
        query = query.where(AuditLog.created_at >= _start_of(filters.date_from))
    if filters.date_to:
        query = query.where(AuditLog.created_at < _start_of(min(filters.date_to, LATEST) + dt.timedelta(days=1)))
    total, page = count_and_clamp(session, query, page=page, per_page=per_page)
    items = list(
        session.scalars(
            query.order_by(AuditLog.created_at.desc(), AuditLog.id.desc()).limit(per_page).offset((page - 1) * per_page)
        )
    )
    actor_ids = {entry.actor_id for entry in items if entry.actor_id}
    actors = {u.id: u for u in session.scalars(select(User).where(User.id.in_(actor_ids)))} if actor_ids else {}
    return Page(items=items, total=total, page=page, per_page=per_page), actors


def audit_actors(session: Session) -> list[User]:
    """Staff and admins, for the audit filter."""
    return list(session.scalars(select(User).where(User.role.in_([Role.STAFF, Role.ADMIN])).order_by(User.email)))


def audit_actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditLog.action).distinct().order_by(AuditLog.action)))


def audit_entity_types(session: Session) -> list[str]:
    return list(session.scalars(select(AuditLog.entity_type).distinct().order_by(AuditLog.entity_type)))


def active_reservations(session: Session, vehicle_ids: Sequence[int]) -> dict[int, str]:
    """vehicle id -> reference of the reservation holding it, for the vehicles on one list page."""
    if not vehicle_ids:
        return {}
    rows = session.execute(
        select(Reservation.vehicle_id, Reservation.reference)
        .where(Reservation.vehicle_id.in_(vehicle_ids), Reservation.status.in_(ACTIVE_STATUSES))
    )
    return {row.vehicle_id: row.reference for row in rows}
