"""Staff back office records: the price history of every trim, with the day each price takes effect."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Numeric
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow

if TYPE_CHECKING:
    from models.accounts import User
    from models.catalog import Trim


class TrimPrice(Base):
    """One guide price of a trim from `effective_from` (a calendar day in Asia/Shanghai) on.

    Rows are never edited: a new price is a new row. `applied_at` is set once Trim.msrp_cny carries it
    (at once for a change effective today, by `flask staff apply-prices` or the next staff page read otherwise).
    """

    __tablename__ = "trim_prices"

    id: Mapped[int] = mapped_column(primary_key=True)
    trim_id: Mapped[int] = mapped_column(ForeignKey("trims.id", ondelete="CASCADE"))
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    effective_from: Mapped[dt.date] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    applied_at: Mapped[dt.datetime | None]

    trim: Mapped[Trim] = relationship()
    created_by: Mapped[User | None] = relationship()

    __table_args__ = (
        CheckConstraint("price > 0", name="price_positive"),
        Index("ix_trim_prices_trim_effective", "trim_id", "effective_from"),
        Index("ix_trim_prices_pending", "applied_at", "effective_from"),
    )

    @property
    def is_applied(self) -> bool:
        return self.applied_at is not None

    def __repr__(self) -> str:
        return f"<TrimPrice trim={self.trim_id} {self.price} from {self.effective_from}>"
