"""Builders for the rows tests arrange, and helpers to authenticate a client."""

from __future__ import annotations

import itertools
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth import service as auth_service
from app.models import Role, User

PASSWORD = "correct horse battery staple"
_seq = itertools.count(1)


def make_user(
    db: Session, role: Role = Role.labeler, email: str | None = None, password: str = PASSWORD
) -> User:
    n = next(_seq)
    user = auth_service.create_user(
        db, email or f"user{n}@example.org", f"User {n}", password, role=role
    )
    db.commit()
    return user


def login(client: TestClient, user: User, password: str = PASSWORD) -> dict[str, str]:
    """Log the client in with a session cookie; returns the CSRF header to send."""
    r = client.post("/api/v1/auth/login", json={"email": user.email, "password": password})
    assert r.status_code == 200, r.text
    return {"X-CSRF-Token": r.json()["csrf_token"]}


def bearer(db: Session, user: User, name: str = "test") -> dict[str, str]:
    _, raw = auth_service.create_api_token(db, user, name)
    db.commit()
    return {"Authorization": f"Bearer {raw}"}


def as_json(response: Any) -> Any:
    assert response.headers["content-type"].startswith("application/json"), response.text
    return response.json()
