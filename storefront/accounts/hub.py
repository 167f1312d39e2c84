"""The "我的" (My account) hub: a member's reservations, test drives, saved quotes and presale orders on one page.

Each list belongs to its own area; the hub asks that area's read-side function for the newest few, and an area
that is not installed is simply left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from models import User

SHOWN = 3  # newest entries per list; each list links to its full page


@dataclass
class Hub:
    reservations: list[Any] = field(default_factory=list)
    reservation_count: int = 0
    test_drives: list[Any] = field(default_factory=list)
    test_drive_count: int = 0
    quotes: list[Any] = field(default_factory=list)
    quote_count: int = 0
    presale_orders: list[Any] = field(default_factory=list)
    presale_count: int = 0


def overview(session: Session, *, user: User) -> Hub:
    hub = Hub()
    views = current_app.view_functions
    if "reservations.mine" in views:
        from storefront.reservations import queries as reservation_queries
        from storefront.reservations.forms import STATUS_LABELS

        reservations = reservation_queries.shopper_reservations(session, user_id=user.id)
        hub.reservations = [(r, STATUS_LABELS[r.status]) for r in reservations[:SHOWN]]
        hub.reservation_count = len(reservations)
    if "test_drives.mine" in views:
        from storefront.test_drives import queries as test_drive_queries
        from storefront.test_drives.services import status_label

        bookings = list(test_drive_queries.my_bookings(session, user_id=user.id))
        hub.test_drives = [(booking, status_label(booking)) for booking in bookings[:SHOWN]]
        hub.test_drive_count = len(bookings)
    if "finance.my_quotes" in views:
        from storefront.finance import services as finance_services

        quotes = finance_services.quotes_of(session, user=user)
        hub.quotes, hub.quote_count = quotes[:SHOWN], len(quotes)
    if "presale.mine" in views:
        from storefront.presale import services as presale_services

        orders = presale_services.orders_of(session, user_id=user.id)
        hub.presale_orders, hub.presale_count = orders[:SHOWN], len(orders)
    return hub
