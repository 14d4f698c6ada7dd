"""Queries for users, sessions and API tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from app.models import ApiToken, User, WebSession, utcnow
from app.models.users import normalise_email


def user_by_email(db: Session, email: str) -> User | None:
    return db.scalar(select(User).where(User.email == normalise_email(email)))


def user_by_public_id(db: Session, public_id: str) -> User | None:
    return db.scalar(select(User).where(User.public_id == public_id))


def session_with_user(db: Session, token_hash: str, now: datetime) -> tuple[WebSession, User] | None:
    row = db.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.token_hash == token_hash, WebSession.expires_at > now, User.is_active)
    ).first()
    return (row[0], row[1]) if row else None


# Built once: every API request runs it (a prebuilt statement memoizes its cache key).
# The token as two columns, not an entity: the user is the one object the request needs.
_TOKEN_WITH_USER = (
    select(ApiToken.id, ApiToken.last_used_at, User)
    .join(User, User.id == ApiToken.user_id)
    .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None), User.is_active)
)


def token_with_user(db: Session, token_hash: str) -> tuple[int, datetime | None, User] | None:
    """(token id, when it was last used, its user) for a live token of an active user."""
    row = db.execute(_TOKEN_WITH_USER, {"token_hash": token_hash}).first()
    return (row[0], row[1], row[2]) if row else None


def delete_session(db: Session, token_hash: str) -> None:
    db.execute(delete(WebSession).where(WebSession.token_hash == token_hash))


def delete_sessions_of(db: Session, user_id: int) -> None:
    db.execute(delete(WebSession).where(WebSession.user_id == user_id))


def delete_expired_sessions(db: Session, now: datetime) -> None:
    db.execute(delete(WebSession).where(WebSession.expires_at <= now))


def touch_token(db: Session, token_id: int, now: datetime) -> None:
    db.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))


def tokens_of(db: Session, user_id: int) -> list[ApiToken]:
    return list(db.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id)))


def revoke_tokens_of(db: Session, user_id: int) -> None:
    db.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def token_by_public_id(db: Session, public_id: str) -> ApiToken | None:
    return db.scalar(select(ApiToken).where(ApiToken.public_id == public_id))
