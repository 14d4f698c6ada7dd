"""The audit log: who did which admin action to what, and when.

Entries are written in the same unit of work as the action they describe, so an
action that rolls back leaves no entry and a committed one always has its entry.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AuditEntry, User

MAX_TARGET = 200


def record(
    db: Session,
    actor: User | None,
    action: str,
    target: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        actor_id=actor.id if actor is not None else None,
        action=action[:64],
        target=target[:MAX_TARGET],
        details=details or {},
    )
    db.add(entry)
    db.flush()
    return entry


def entries(
    db: Session, *, limit: int, before: int | None = None, action: str | None = None
) -> list[tuple[AuditEntry, User | None]]:
    """Newest first; ``before`` is the id cursor of the previous page's last entry."""
    query = (
        select(AuditEntry, User)
        .outerjoin(User, User.id == AuditEntry.actor_id)
        .order_by(AuditEntry.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(AuditEntry.id < before)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    return [(row[0], row[1]) for row in db.execute(query)]
