"""Request and response bodies of the auth endpoints."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.inputs import RequestModel
from app.models import Role, User


class LoginIn(RequestModel):
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


class UserOut(BaseModel):
    id: str
    email: str
    display_name: str
    role: Role


class LoginOut(BaseModel):
    user: UserOut
    csrf_token: str = Field(description="send as X-CSRF-Token on state-changing requests")


def user_out(user: User) -> UserOut:
    return UserOut(id=user.public_id, email=user.email, display_name=user.display_name, role=user.role)
