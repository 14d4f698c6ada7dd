"""Accounts, browser sessions and API tokens."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAtMixin, PublicIdMixin, str_enum

DISPLAY_NAME_MAX = 120


def normalise_email(email: str) -> str:
    """The one spelling of an address: the column holds it, lookups and the login rate
    limit use it, so padding or capitals never make a second account or a fresh limit."""
    return email.strip().lower()


def default_display_name(email: str) -> str:
    """A display name for an account created without one; it must fit its column."""
    return email if len(email) <= DISPLAY_NAME_MAX else email.split("@", 1)[0][:DISPLAY_NAME_MAX]


class Role(enum.StrEnum):
    labeler = "labeler"
    admin = "admin"
    engineer = "engineer"
    # Reviews judgements (accept / reject) and reads the quality figures of the projects
    # they are a member of; admins can do the same everywhere.
    reviewer = "reviewer"


class UserKind(enum.StrEnum):
    """A person, or a model judging as a labeler (app/ai_labeling); AI accounts never log in."""

    human = "human"
    ai = "ai"


class User(PublicIdMixin, CreatedAtMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(DISPLAY_NAME_MAX))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(str_enum(Role, "role"), default=Role.labeler)
    is_active: Mapped[bool] = mapped_column(default=True)
    kind: Mapped[UserKind] = mapped_column(str_enum(UserKind, "user_kind"), default=UserKind.human,
                                           server_default=UserKind.human.value)


class WebSession(CreatedAtMixin, Base):
    """A server-side session: only the SHA-256 of the cookie value is stored."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime]


class ApiToken(PublicIdMixin, CreatedAtMixin, Base):
    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
