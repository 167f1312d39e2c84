"""Password hashing with argon2id (m=19 MiB, t=2, p=1: the OWASP minimum), and rehash on login."""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16, type=Type.ID)


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """argon2id with a random 16-byte salt. Only the demo seed passes a salt (see storefront.accounts.seed)."""
    return _hasher.hash(password, salt=salt)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
