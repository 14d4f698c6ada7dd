"""Bodies of the user and API-token admin endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from app.inputs import RequestModel
from app.models import ApiToken, AuditEntry, Role, User

EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"


class UserCreate(RequestModel):
    email: str = Field(min_length=3, max_length=254, pattern=EMAIL_PATTERN)
    display_name: str = Field("", max_length=120)
    role: Role = Role.labeler
    password: str | None = Field(
        None, min_length=10, max_length=1024, description="generated and returned once when left out"
    )


class UserUpdate(RequestModel):
    role: Role | None = None
    is_active: bool | None = None
    display_name: str | None = Field(None, min_length=1, max_length=120)


class UserOut(BaseModel):
    id: str
    email: str
    display_name: str
    role: Role
    is_active: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.public_id,
            email=user.email,
            display_name=user.display_name,
            role=user.role,
            is_active=user.is_active,
            created_at=user.created_at,
        )


class UserCreated(BaseModel):
    user: UserOut
    password: str | None = Field(None, description="the generated password, shown this once")


class PasswordOut(BaseModel):
    password: str = Field(description="the new generated password, shown this once")


class TokenCreate(RequestModel):
    name: str = Field(min_length=1, max_length=120)


class TokenOut(BaseModel):
    id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken) -> TokenOut:
        return cls(
            id=token.public_id,
            name=token.name,
            created_at=token.created_at,
            last_used_at=token.last_used_at,
            revoked_at=token.revoked_at,
        )


class TokenCreated(TokenOut):
    token: str = Field(description="the raw token (rw_...), shown this once; only its hash is kept")


class Actor(BaseModel):
    id: str
    email: str


class AuditOut(BaseModel):
    id: int
    created_at: datetime
    actor: Actor | None
    action: str
    target: str
    details: dict[str, Any]

    @classmethod
    def of(cls, entry: AuditEntry, actor: User | None) -> AuditOut:
        return cls(
            id=entry.id,
            created_at=entry.created_at,
            actor=Actor(id=actor.public_id, email=actor.email) if actor else None,
            action=entry.action,
            target=entry.target,
            details=entry.details,
        )


class AuditPage(BaseModel):
    items: list[AuditOut]
    next_cursor: int | None
