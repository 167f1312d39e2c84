"""Recording staff and admin changes in the audit log (same transaction as the change)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from models import AuditLog, User


def record_audit(
    session: Session,
    *,
    actor: User | None,
    action: str,
    entity_type: str,
    entity_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    note: str = "",
) -> AuditLog:
    """Add one audit entry; values must be JSON-safe (use str() for Decimal and datetimes)."""
    entry = AuditLog(
        actor_id=actor.id if actor is not None else None,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=before,
        after=after,
        note=note[:500],
    )
    session.add(entry)
    return entry
