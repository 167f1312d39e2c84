"""Users and their roles; staff belong to one or more showrooms."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING

from sqlalchemy import Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow
from models.catalog import enum_column

if TYPE_CHECKING:
    from models.catalog import Dealer


class Role(enum.Enum):
    CUSTOMER = "customer"
    STAFF = "staff"
    ADMIN = "admin"


staff_dealers = Table(
    "staff_dealers",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("dealer_id", ForeignKey("dealers.id", ondelete="CASCADE"), primary_key=True),
)


class User(Base):
    """A shopper, staff member or admin. `password_hash` is an argon2id hash, never a password."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(80), default="")
    phone: Mapped[str] = mapped_column(String(20), default="")
    # When `phone` was proved to be the user's by a texted code; cleared whenever `phone` changes.
    phone_verified_at: Mapped[dt.datetime | None]
    preferred_city_id: Mapped[int | None] = mapped_column(ForeignKey("cities.id"))
    role: Mapped[Role] = mapped_column(enum_column(Role), default=Role.CUSTOMER)
    is_active: Mapped[bool] = mapped_column(default=True)
    # Changing it logs out every other session (Flask-Login's alternative id).
    session_token: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None]
    password_changed_at: Mapped[dt.datetime | None]

    dealers: Mapped[list[Dealer]] = relationship(secondary=staff_dealers, back_populates="staff")

    @property
    def is_staff(self) -> bool:
        """Staff or admin: may enter the back office."""
        return self.role in (Role.STAFF, Role.ADMIN)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def works_at(self, dealer_id: int) -> bool:
        """Admins act for every showroom; staff for the showrooms they belong to."""
        return self.is_admin or any(d.id == dealer_id for d in self.dealers)

    # Flask-Login protocol, written out so models/ needs no Flask import.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role.value}>"


class ResetTokenProblem(enum.Enum):
    """Why a password-reset link cannot be used (each gets its own message)."""

    UNKNOWN = "unknown"  # never issued, mistyped or forged
    EXPIRED = "expired"
    USED = "used"


class SingleUseLink:
    """What an emailed single-use link stores: only the SHA-256 of the random token, never the token."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]

    def problem(self, now: dt.datetime) -> ResetTokenProblem | None:
        """None when the link may still be used at `now`; otherwise why not (used wins over expired)."""
        if self.used_at is not None:
            return ResetTokenProblem.USED
        if now >= self.expires_at:
            return ResetTokenProblem.EXPIRED
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} user={self.user_id}>"


class PasswordResetToken(SingleUseLink, Base):
    """A single-use password-reset link."""

    __tablename__ = "password_reset_tokens"

    user: Mapped[User] = relationship()


class EmailChangeToken(SingleUseLink, Base):
    """A single-use link, sent to the new address, that moves the account there once that inbox confirms it."""

    __tablename__ = "email_change_tokens"

    new_email: Mapped[str] = mapped_column(String(254))

    user: Mapped[User] = relationship()


class PhoneVerificationCode(Base):
    """A 6-digit code texted to a mobile number: only its SHA-256 (with the user and number) is kept, it lasts
    minutes, and it allows a few tries."""

    __tablename__ = "phone_verification_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    phone: Mapped[str] = mapped_column(String(20))
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]

    def __repr__(self) -> str:
        return f"<PhoneVerificationCode {self.id} user={self.user_id}>"
