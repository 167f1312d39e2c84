"""API clients: keys that showroom systems use to push their stock, and the answers kept for idempotent retries."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Column, ForeignKey, Integer, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow

if TYPE_CHECKING:
    from models.accounts import User
    from models.catalog import Dealer

api_key_dealers = Table(
    "api_key_dealers",
    Base.metadata,
    Column("api_key_id", Integer, ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True),
    Column("dealer_id", Integer, ForeignKey("dealers.id", ondelete="CASCADE"), primary_key=True),
)


class ApiKey(Base):
    """A secret a showroom's dealer-management system sends as `Authorization: Bearer ...`.

    Only the SHA-256 of the secret is stored (the secret is 256 random bits, so a slow hash adds nothing);
    `prefix` is the secret's first characters, shown so admins can tell keys apart. A key acts only for its
    showrooms and stops working the moment it is revoked.
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    rate_limit_per_minute: Mapped[int] = mapped_column(default=120)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    dealers: Mapped[list[Dealer]] = relationship(secondary=api_key_dealers, order_by="Dealer.code")
    created_by: Mapped[User | None] = relationship()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def covers(self, dealer_id: int) -> bool:
        """Whether this key may act for the showroom."""
        return any(dealer.id == dealer_id for dealer in self.dealers)

    def revoke(self, *, at: dt.datetime) -> None:
        if self.revoked_at is None:
            self.revoked_at = at

    def __repr__(self) -> str:
        return f"<ApiKey {self.prefix} {self.name!r}>"


class ApiIdempotentResponse(Base):
    """The first answer to a write sent with an `Idempotency-Key`, replayed when the client retries it."""

    __tablename__ = "api_idempotent_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    # SHA-256 of method, path and body: the same key sent with another request is refused, not replayed.
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int]
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    etag: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)

    __table_args__ = (UniqueConstraint("api_key_id", "idempotency_key", name="uq_api_idempotent_responses_key"),)
