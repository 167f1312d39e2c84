"""The guided tour's own stock: one Koleos of every trim and colour at the Pudong flagship, kept for the tour.

Each tour reserves a Koleos in Shanghai and hands it over; without these cars the seed's two Shanghai Koleos are
sold by the second tour. Their VINs share a prefix, and when a tour starts or ends the ones handed over (sold)
go back on sale, so a presenter can run the tour again and again without a reset.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import CarModel, Dealer, Trim, Vehicle, VehicleStatus
from storefront.catalog.vin import with_check_digit

TOUR_MODEL = "koleos"
TOUR_SHOWROOM = "SH-PD"
TOUR_SHOWROOMS = ("SH-PD", "SH-XH")  # where the demo staff account works
VIN_PREFIX = "LVSHDEM0"


def seed_tour_allocation(session: Session) -> str:
    """One unit of each Koleos trim and colour at the tour's showroom; safe to run again."""
    dealer = session.scalar(select(Dealer).where(Dealer.code == TOUR_SHOWROOM))
    trims = list(session.scalars(
        select(Trim).join(CarModel).where(CarModel.slug == TOUR_MODEL, Trim.is_active.is_(True)).order_by(Trim.id)
    ))
    if dealer is None or not trims:
        return "tour allocation: no Koleos or no Pudong showroom to keep it at"
    existing = set(session.scalars(select(Vehicle.vin).where(Vehicle.vin.like(f"{VIN_PREFIX}%"))))
    added = 0
    serial = 0
    for trim in trims:
        for colour in trim.colours:
            serial += 1
            vin = with_check_digit(f"{VIN_PREFIX}0LS9{serial:05d}")  # 9xxxxx: no clash with the stock VINs
            if vin in existing:
                continue
            session.add(Vehicle(vin=vin, trim_id=trim.id, dealer_id=dealer.id, colour_code=colour["code"],
                                status=VehicleStatus.IN_STOCK))
            added += 1
    session.flush()
    return f"tour allocation: {added} Koleos added at {TOUR_SHOWROOM}" if added else "tour allocation: already there"


def restock(session: Session) -> int:
    """Put the tour's cars that were handed over back on sale; returns how many."""
    result = session.execute(
        update(Vehicle)
        .where(Vehicle.vin.like(f"{VIN_PREFIX}%"), Vehicle.status == VehicleStatus.SOLD)
        .values(status=VehicleStatus.IN_STOCK, version=Vehicle.version + 1)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def tour_choice(session: Session) -> tuple[int, str] | None:
    """(trim id, colour) of a Koleos on sale at a demo staff showroom, the tour's own cars first."""
    row = session.execute(
        select(Vehicle.trim_id, Vehicle.colour_code)
        .join(Trim, Trim.id == Vehicle.trim_id).join(CarModel, CarModel.id == Trim.car_model_id)
        .join(Dealer, Dealer.id == Vehicle.dealer_id)
        .where(CarModel.slug == TOUR_MODEL, Dealer.code.in_(TOUR_SHOWROOMS),
               Vehicle.status == VehicleStatus.IN_STOCK, Trim.is_active.is_(True))
        .order_by(Vehicle.vin.like(f"{VIN_PREFIX}%").desc(), Trim.msrp_cny, Vehicle.colour_code, Vehicle.id)
        .limit(1)
    ).first()
    return (row.trim_id, row.colour_code) if row else None
