"""The domain model in plain SQLAlchemy 2.x; importing this package registers every table."""

from models.accounts import Role, User, staff_dealers
from models.api import ApiIdempotentResponse, ApiKey, api_key_dealers
from models.base import Base, Money, UTCDateTime, utcnow
from models.catalog import (
    BodyType,
    Brand,
    CarModel,
    City,
    Dealer,
    Powertrain,
    Trim,
    Vehicle,
    VehicleStatus,
)
from models.finance import QUOTE_VALIDITY, FinanceKind, FinanceProduct, Quote
from models.payments import Payment, PaymentProvider, PaymentPurpose, PaymentStatus, WebhookEvent
from models.presale import LaunchNumber, PresaleCampaign, PresaleOrder, PresaleOrderStatus
from models.reservations import DepositKind, DepositPolicy, Reservation, ReservationError, ReservationStatus
from models.shared import AuditLog, Event, FunnelStep, OutboxMessage, OutboxStatus, StoreSetting
from models.staff import TrimPrice
from models.test_drives import (
    BookingStatus,
    TestDriveBooking,
    TestDriveException,
    TestDriveFleet,
    TestDriveKind,
    TestDriveSchedule,
    TestDriveSlot,
)

__all__ = [
    "ApiIdempotentResponse",
    "ApiKey",
    "api_key_dealers",
    "LaunchNumber",
    "PresaleCampaign",
    "PresaleOrder",
    "PresaleOrderStatus",
    "DepositKind",
    "DepositPolicy",
    "Payment",
    "PaymentProvider",
    "PaymentPurpose",
    "PaymentStatus",
    "Reservation",
    "ReservationError",
    "ReservationStatus",
    "WebhookEvent",
    "QUOTE_VALIDITY",
    "FinanceKind",
    "FinanceProduct",
    "Quote",
    "AuditLog",
    "Event",
    "FunnelStep",
    "OutboxMessage",
    "OutboxStatus",
    "StoreSetting",
    "Base",
    "BodyType",
    "Brand",
    "CarModel",
    "City",
    "Dealer",
    "Money",
    "Powertrain",
    "Role",
    "Trim",
    "TrimPrice",
    "UTCDateTime",
    "User",
    "Vehicle",
    "VehicleStatus",
    "BookingStatus",
    "TestDriveBooking",
    "TestDriveException",
    "TestDriveFleet",
    "TestDriveKind",
    "TestDriveSchedule",
    "TestDriveSlot",
    "staff_dealers",
    "utcnow",
]
