"""Finance: versioned finance products (loans, leases, full payment) and the quotes shoppers save."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, Money, utcnow
from models.catalog import enum_column

if TYPE_CHECKING:
    from models.accounts import User
    from models.catalog import Brand, Trim

Percent = Numeric(5, 2)
"""A percentage with two decimals: Decimal("3.99") means 3.99 %."""


class FinanceKind(enum.Enum):
    FULL_PAYMENT = "full_payment"  # 全款
    LOAN = "loan"  # 贷款: the buyer owns the car, the lender holds a mortgage
    LEASE_TO_OWN = "lease_to_own"  # 一成购 融资租赁: the lessor owns the car until the balance is paid
    OPERATING_LEASE = "operating_lease"  # 经营性租赁: a fixed monthly payment, the car goes back


class FinanceProduct(Base):
    """One version of a finance offer. Editing a product adds a row with the same `code` and the next
    `version` and marks the old row not current, so a saved quote keeps the exact terms it was built on.

    Rates and down payments are percentages. For a subsidised (贴息) loan `annual_rate_pct` is the list rate
    the maker pays the lender; the customer pays 0 %. Lease parameters are only set for leases:
    `residual_by_term` maps a term in months (as a string, JSON keys are strings) to the residual value in
    % of the price: the balance left after renting (lease-to-own) or the car's value at the end (operating).
    """

    __tablename__ = "finance_products"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40))  # the same across versions, e.g. "renault-finance-loan"
    version: Mapped[int] = mapped_column(default=1)
    is_current: Mapped[bool] = mapped_column(default=True)
    kind: Mapped[FinanceKind] = mapped_column(enum_column(FinanceKind))
    name_en: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str] = mapped_column(String(120))
    lender_en: Mapped[str] = mapped_column(String(120))
    lender_zh: Mapped[str] = mapped_column(String(120))
    description_en: Mapped[str] = mapped_column(String(500), default="")
    description_zh: Mapped[str] = mapped_column(String(500), default="")
    brand_id: Mapped[int | None] = mapped_column(ForeignKey("brands.id"), index=True)  # None = every brand
    annual_rate_pct: Mapped[Decimal] = mapped_column(Percent, default=Decimal("0.00"))
    subsidised: Mapped[bool] = mapped_column(default=False)
    terms_months: Mapped[list[int]] = mapped_column(JSON, default=list)
    min_down_payment_pct: Mapped[Decimal] = mapped_column(Percent, default=Decimal("0.00"))
    max_down_payment_pct: Mapped[Decimal] = mapped_column(Percent, default=Decimal("100.00"))
    balloon_allowed: Mapped[bool] = mapped_column(default=False)
    max_balloon_pct: Mapped[Decimal] = mapped_column(Percent, default=Decimal("0.00"))
    fees: Mapped[Money] = mapped_column(default=Decimal("0.00"))  # 金融服务费 / 手续费, paid at signing
    # Leases
    residual_by_term: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    balance_rate_pct: Mapped[Decimal | None] = mapped_column(Percent)  # lease-to-own: financing the balance
    balance_finance_months: Mapped[int | None]
    included_km_per_year: Mapped[int | None]  # operating lease mileage rules
    km_step: Mapped[int | None]
    residual_reduction_pct_per_step: Mapped[Decimal | None] = mapped_column(Percent)
    min_residual_pct: Mapped[Decimal | None] = mapped_column(Percent)
    mileage_overage_per_km: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    mileage_options_km: Mapped[list[int]] = mapped_column(JSON, default=list)
    valid_from: Mapped[dt.datetime]
    valid_to: Mapped[dt.datetime | None]
    sort_order: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    brand: Mapped[Brand | None] = relationship()

    __table_args__ = (
        UniqueConstraint("code", "version", name="uq_finance_products_code_version"),
        Index("ix_finance_products_current", "is_current", "kind"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("annual_rate_pct >= 0 AND annual_rate_pct <= 100", name="rate_range"),
        CheckConstraint(
            "min_down_payment_pct >= 0 AND min_down_payment_pct <= max_down_payment_pct"
            " AND max_down_payment_pct <= 100",
            name="down_payment_range",
        ),
        CheckConstraint("max_balloon_pct >= 0 AND max_balloon_pct < 100", name="balloon_range"),
        CheckConstraint("fees >= 0", name="fees_not_negative"),
    )

    @property
    def customer_rate_pct(self) -> Decimal:
        """The rate the customer pays: 0 when the maker subsidises the interest (贴息)."""
        return Decimal("0.00") if self.subsidised else self.annual_rate_pct

    def residual_pct_for(self, term_months: int) -> Decimal | None:
        raw = self.residual_by_term.get(str(term_months))
        return None if raw is None else Decimal(raw)

    def is_valid_at(self, moment: dt.datetime) -> bool:
        return self.valid_from <= moment and (self.valid_to is None or moment < self.valid_to)

    def applies_to_brand(self, brand_id: int) -> bool:
        return self.brand_id is None or self.brand_id == brand_id

    def __repr__(self) -> str:
        return f"<FinanceProduct {self.code} v{self.version}>"


QUOTE_VALIDITY = dt.timedelta(days=14)
"""A saved quote's figures hold for 14 days from saving (shown on the quote)."""


class Quote(Base):
    """A saved quote: the inputs and results frozen as JSON (money as strings), so it never changes when
    rates, products or prices change. `reference` ("Q-7K3M9P") is what the showroom types or scans."""

    __tablename__ = "quotes"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(12), unique=True)
    trim_id: Mapped[int] = mapped_column(ForeignKey("trims.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("finance_products.id"), index=True)
    product_version: Mapped[int]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    results: Mapped[dict[str, Any]] = mapped_column(JSON)
    valid_until: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    trim: Mapped[Trim] = relationship()
    product: Mapped[FinanceProduct] = relationship()
    user: Mapped[User | None] = relationship()

    __table_args__ = (Index("ix_quotes_user_created", "user_id", "created_at"),)

    def is_valid_at(self, moment: dt.datetime) -> bool:
        return moment < self.valid_until

    def __repr__(self) -> str:
        return f"<Quote {self.reference}>"
