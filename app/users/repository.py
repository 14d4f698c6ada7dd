"""Queries for user administration (admins see every account)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import ApiToken, Role, User
from app.models.users import normalise_email


def all_users(db: Session) -> list[User]:
    return list(db.scalars(select(User).order_by(User.id)))


def by_public_id(db: Session, public_id: str) -> User | None:
    return db.scalar(select(User).where(User.public_id == public_id))


def by_public_ids(db: Session, public_ids: Sequence[str]) -> list[User]:
    if not public_ids:
        return []
    return list(db.scalars(select(User).where(User.public_id.in_(list(public_ids)))))


def by_email(db: Session, email: str) -> User | None:
    return db.scalar(select(User).where(User.email == normalise_email(email)))


def lock_active_admins(db: Session) -> list[int]:
    """Ids of the active admins, row-locked so two concurrent demotions cannot both
    see "another admin is left" (SQLite's BEGIN IMMEDIATE already serialises writers)."""
    query = select(User.id).where(User.role == Role.admin, User.is_active).order_by(User.id)
    return list(db.scalars(query.with_for_update()))


def tokens_of(db: Session, user_id: int) -> list[ApiToken]:
    return list(db.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id)))


def token_by_public_id(db: Session, public_id: str) -> ApiToken | None:
    return db.scalar(select(ApiToken).where(ApiToken.public_id == public_id))
