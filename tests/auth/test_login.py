"""Logging in and out with a browser session, and who a request is."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.cookies import SESSION_COOKIE
from app.models import Role, WebSession
from tests.factories import PASSWORD, bearer, login, make_user


class TestLogin:
    def test_sets_an_httponly_samesite_cookie_and_returns_a_csrf_token(
        self, client: TestClient, db: Session
    ) -> None:
        user = make_user(db)
        r = client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
        assert r.status_code == 200
        cookie = r.headers["set-cookie"]
        assert f"{SESSION_COOKIE}=" in cookie
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie
        assert len(r.json()["csrf_token"]) == 64
        assert client.get("/api/v1/auth/me").json()["email"] == user.email

    def test_wrong_password_and_unknown_email_get_the_same_answer(
        self, client: TestClient, db: Session
    ) -> None:
        user = make_user(db)
        wrong = client.post("/api/v1/auth/login", json={"email": user.email, "password": "nope-nope-nope"})
        unknown = client.post(
            "/api/v1/auth/login", json={"email": "ghost@example.org", "password": "nope-nope-nope"}
        )
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json() == unknown.json()

    def test_a_deactivated_user_cannot_log_in(self, client: TestClient, db: Session) -> None:
        user = make_user(db)
        user.is_active = False
        db.commit()
        r = client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
        assert r.status_code == 401

    def test_login_rotates_the_session_token(self, client: TestClient, db: Session) -> None:
        user = make_user(db)
        login(client, user)
        first = client.cookies.get(SESSION_COOKIE)
        login(client, user)
        second = client.cookies.get(SESSION_COOKIE)
        assert first and second and first != second
        assert db.scalar(select(func.count()).select_from(WebSession)) == 1

    def test_only_a_hash_of_the_session_token_is_stored(self, client: TestClient, db: Session) -> None:
        user = make_user(db)
        login(client, user)
        token = client.cookies.get(SESSION_COOKIE)
        stored = db.scalars(select(WebSession.token_hash)).all()
        assert token not in stored and len(stored) == 1


class TestLogout:
    def test_logout_needs_the_csrf_token_then_ends_the_session(
        self, client: TestClient, db: Session
    ) -> None:
        user = make_user(db)
        csrf = login(client, user)
        assert client.post("/api/v1/auth/logout").status_code == 403
        assert client.post("/api/v1/auth/logout", headers=csrf).status_code == 204
        assert client.get("/api/v1/auth/me").status_code == 401


class TestApiTokens:
    def test_a_bearer_token_authenticates_without_csrf(self, client: TestClient, db: Session) -> None:
        admin = make_user(db, Role.admin)
        headers = bearer(db, admin)
        r = client.get("/api/v1/auth/me", headers=headers)
        assert r.status_code == 200 and r.json()["role"] == "admin"

    def test_a_bad_bearer_token_is_refused(self, client: TestClient) -> None:
        r = client.get("/api/v1/auth/me", headers={"Authorization": "Bearer rw_forged"})
        assert r.status_code == 401
        assert "invalid" in r.json()["detail"]


class TestRehash:
    def test_a_hash_made_with_old_parameters_is_upgraded_at_login(
        self, client: TestClient, db: Session
    ) -> None:
        from argon2 import PasswordHasher

        user = make_user(db)
        old = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1).hash(PASSWORD)
        user.password_hash = old
        db.commit()
        login(client, user)
        db.refresh(user)
        assert user.password_hash != old
        assert user.password_hash.startswith("$argon2id$")


class TestOneSpellingOfAnAddress:
    def test_the_right_password_with_padding_logs_in_as_the_same_user(self, client: TestClient, db: Session) -> None:
        user = make_user(db, email="pad@example.org")
        r = client.post("/api/v1/auth/login", json={"email": "  PAD@example.org ", "password": PASSWORD})
        assert r.status_code == 200 and r.json()["user"]["id"] == user.public_id
