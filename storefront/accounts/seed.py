"""Demo accounts (listed in the README) so a demo can sign in at once: a shopper, a showroom staff member, an admin.

Idempotent: an account that exists is left alone (even if its password was changed during a demo). Deterministic:
on a fresh database the three accounts get the same ids, password hashes and session tokens every time, so two
demo resets leave byte-identical data. Their passwords are published in the README, so a fixed salt (derived
from the email, still one per account) and a fixed first session token give nothing away: the session cookie
that carries the token is signed with SECRET_KEY. Every real account gets a random salt and token.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Dealer, Role, User
from storefront.accounts.passwords import hash_password

# email, password, name, role, showroom codes
DEMO_ACCOUNTS: list[tuple[str, str, str, Role, tuple[str, ...]]] = [
    ("shopper@flagship.demo", "demo-shopper-2026", "王小明", Role.CUSTOMER, ()),
    ("staff@flagship.demo", "demo-staff-2026", "李静", Role.STAFF, ("SH-PD", "SH-XH")),
    ("admin@flagship.demo", "demo-admin-2026", "周敏", Role.ADMIN, ()),
]


def seed_accounts(session: Session) -> str:
    created = 0
    for email, password, name, role, dealer_codes in DEMO_ACCOUNTS:
        if session.scalar(select(User.id).where(User.email == email)) is not None:
            continue
        dealers = list(session.scalars(select(Dealer).where(Dealer.code.in_(dealer_codes)).order_by(Dealer.code)))
        user = User(email=email, password_hash=hash_password(password, salt=_derived(email, "salt")[:16]),
                    name=name, role=role, session_token=_derived(email, "session").hex()[:32], dealers=dealers)
        session.add(user)
        session.flush()
        created += 1
    return f"{created} demo account(s) created, {len(DEMO_ACCOUNTS) - created} already there"


def _derived(email: str, purpose: str) -> bytes:
    return hashlib.sha256(f"flagship-demo-account:{purpose}:{email}".encode()).digest()
