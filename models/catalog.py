"""Catalog: brands, car models, trims, cities, showrooms and the physical vehicles they hold."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, CheckConstraint, Enum, ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, Money, utcnow

if TYPE_CHECKING:
    from models.accounts import User


def enum_column(enum_cls: type[enum.Enum]) -> Enum:
    """Store an enum by its value in a VARCHAR with a CHECK constraint (portable, readable)."""
    return Enum(
        enum_cls,
        values_callable=lambda cls: [member.value for member in cls],
        native_enum=False,
        validate_strings=True,
        length=32,
        name=enum_cls.__name__.lower(),
        create_constraint=True,
    )


class BodyType(enum.Enum):
    SEDAN = "sedan"
    HATCHBACK = "hatchback"
    SUV = "suv"
    COUPE = "coupe"
    MPV = "mpv"


class Powertrain(enum.Enum):
    ICE = "ice"
    HEV = "hev"
    PHEV = "phev"
    BEV = "bev"

    @property
    def is_new_energy(self) -> bool:
        """New-energy vehicle (新能源) in the Chinese sense: plug-in hybrid or battery electric."""
        return self in (Powertrain.PHEV, Powertrain.BEV)


class VehicleStatus(enum.Enum):
    IN_STOCK = "in_stock"
    ON_HOLD = "on_hold"
    RESERVED = "reserved"
    SOLD = "sold"
    DEMO_FLEET = "demo_fleet"
    RETIRED = "retired"


class Brand(Base):
    __tablename__ = "brands"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name_en: Mapped[str] = mapped_column(String(80))
    name_zh: Mapped[str] = mapped_column(String(80))
    tagline_en: Mapped[str] = mapped_column(String(200), default="")
    tagline_zh: Mapped[str] = mapped_column(String(200), default="")
    sort_order: Mapped[int] = mapped_column(default=0)

    car_models: Mapped[list[CarModel]] = relationship(back_populates="brand", order_by="CarModel.sort_order")

    def __repr__(self) -> str:
        return f"<Brand {self.slug}>"


class CarModel(Base):
    """A model line (Kadjar, Explorer...) of one brand; shoppers pick a trim of it."""

    __tablename__ = "car_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name_en: Mapped[str] = mapped_column(String(80))
    name_zh: Mapped[str] = mapped_column(String(80))
    body_type: Mapped[BodyType] = mapped_column(enum_column(BodyType))
    powertrain: Mapped[Powertrain] = mapped_column(enum_column(Powertrain))
    model_year: Mapped[int]
    popularity: Mapped[int] = mapped_column(default=0)
    sort_order: Mapped[int] = mapped_column(default=0)
    description_en: Mapped[str] = mapped_column(Text, default="")
    description_zh: Mapped[str] = mapped_column(Text, default="")
    # Connected-car features shown on the page, e.g. the Alibaba in-car system on Kadjar/Koleos.
    features: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    # Lowest trim guide price, kept by catalog services so listings sort and filter without a join.
    price_from: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    brand: Mapped[Brand] = relationship(back_populates="car_models")
    trims: Mapped[list[Trim]] = relationship(back_populates="car_model", order_by="Trim.msrp_cny")

    __table_args__ = (Index("ix_car_models_price_from", "price_from"),)

    @property
    def is_new_energy(self) -> bool:
        return self.powertrain.is_new_energy

    def __repr__(self) -> str:
        return f"<CarModel {self.slug}>"


class Trim(Base):
    """One priced version of a car model; colours are a list of {code, name_en, name_zh, hex}.

    Specs a shopper reads come in both languages: `engine`, `transmission` and `connectivity` are the English
    text (also `engine_en` ... for `localised`), `*_zh` the Chinese; the drive is a code (fwd/awd/rwd) with a
    label per language.
    """

    __tablename__ = "trims"

    id: Mapped[int] = mapped_column(primary_key=True)
    car_model_id: Mapped[int] = mapped_column(ForeignKey("car_models.id"), index=True)
    name_en: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str] = mapped_column(String(120), default="")
    model_year: Mapped[int]
    powertrain: Mapped[Powertrain] = mapped_column(enum_column(Powertrain))
    msrp_cny: Mapped[Money]
    engine: Mapped[str] = mapped_column(String(120), default="")
    engine_zh: Mapped[str] = mapped_column(String(120), default="", server_default="")
    power_kw: Mapped[int] = mapped_column(default=0)
    transmission: Mapped[str] = mapped_column(String(40), default="")
    transmission_zh: Mapped[str] = mapped_column(String(40), default="", server_default="")
    drive: Mapped[str] = mapped_column(String(8), default="fwd")
    seats: Mapped[int] = mapped_column(default=5)
    fuel_l_per_100km: Mapped[Decimal | None] = mapped_column(Numeric(4, 1))
    range_km: Mapped[int | None]
    connectivity: Mapped[str] = mapped_column(String(200), default="")
    connectivity_zh: Mapped[str] = mapped_column(String(200), default="", server_default="")
    price_source: Mapped[str] = mapped_column(String(20), default="approx")
    colours: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    is_active: Mapped[bool] = mapped_column(default=True)

    car_model: Mapped[CarModel] = relationship(back_populates="trims")

    __table_args__ = (CheckConstraint("msrp_cny > 0", name="msrp_positive"),)

    def colour(self, code: str) -> dict[str, Any] | None:
        return next((c for c in self.colours if c.get("code") == code), None)

    @property
    def engine_en(self) -> str:
        return self.engine

    @property
    def transmission_en(self) -> str:
        return self.transmission

    @property
    def connectivity_en(self) -> str:
        return self.connectivity

    def __repr__(self) -> str:
        return f"<Trim {self.id} {self.name_en}>"


class City(Base):
    __tablename__ = "cities"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name_en: Mapped[str] = mapped_column(String(80))
    name_zh: Mapped[str] = mapped_column(String(80))
    sort_order: Mapped[int] = mapped_column(default=0)

    dealers: Mapped[list[Dealer]] = relationship(back_populates="city", order_by="Dealer.name_en")


class Dealer(Base):
    """A showroom: where shoppers see cars, take test drives and pick up what they reserved."""

    __tablename__ = "dealers"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name_en: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str] = mapped_column(String(120))
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id"), index=True)
    address_en: Mapped[str] = mapped_column(String(200), default="")
    address_zh: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(30), default="")
    # {"mon": ["09:00", "18:00"], ..., "sun": null}; null = closed that weekday.
    opening_hours: Mapped[dict[str, list[str] | None]] = mapped_column(JSON, default=dict)
    offers_test_drive: Mapped[bool] = mapped_column(default=True)
    offers_pickup: Mapped[bool] = mapped_column(default=True)
    has_self_service_kiosk: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)

    city: Mapped[City] = relationship(back_populates="dealers")
    staff: Mapped[list[User]] = relationship(secondary="staff_dealers", back_populates="dealers")

    def __repr__(self) -> str:
        return f"<Dealer {self.code}>"


class Vehicle(Base):
    """One physical car with a VIN, at one showroom. `version` refuses lost updates."""

    __tablename__ = "vehicles"

    id: Mapped[int] = mapped_column(primary_key=True)
    vin: Mapped[str] = mapped_column(String(17), unique=True)
    trim_id: Mapped[int] = mapped_column(ForeignKey("trims.id"), index=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), index=True)
    colour_code: Mapped[str] = mapped_column(String(40))
    status: Mapped[VehicleStatus] = mapped_column(enum_column(VehicleStatus), default=VehicleStatus.IN_STOCK)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    trim: Mapped[Trim] = relationship()
    dealer: Mapped[Dealer] = relationship()

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (Index("ix_vehicles_status_trim_dealer", "status", "trim_id", "dealer_id"),)

    @property
    def is_available(self) -> bool:
        return self.status is VehicleStatus.IN_STOCK

    def __repr__(self) -> str:
        return f"<Vehicle {self.vin} {self.status.value}>"
