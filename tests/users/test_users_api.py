"""User administration, API tokens and the audit log."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import ApiToken, Role, WebSession
from app.security.tokens import sha256_hex
from tests.factories import bearer, login, make_user


class TestCreateUser:
    def test_a_generated_password_is_returned_once_and_works(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        r = client.post("/api/v1/users", json={"email": "New@Example.org", "display_name": "New", "role": "engineer"}, headers=admin)
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["user"]["email"] == "new@example.org" and body["user"]["role"] == "engineer"
        assert len(body["password"]) >= 16
        login_r = client.post("/api/v1/auth/login", json={"email": "new@example.org", "password": body["password"]})
        assert login_r.status_code == 200
        listed = client.get("/api/v1/users", headers=admin).json()
        assert "password" not in str(listed) and len(listed) == 2

    def test_a_given_password_is_not_echoed_and_a_duplicate_email_conflicts(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        body = {"email": "a@example.org", "display_name": "A", "password": "long enough pw"}
        assert client.post("/api/v1/users", json=body, headers=admin).json()["password"] is None
        r = client.post("/api/v1/users", json=body, headers=admin)
        assert r.status_code == 409 and "a@example.org" in r.json()["detail"]

    def test_bad_input_names_the_field(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        for body, field in (
            ({"email": "not-an-email"}, "email"),
            ({"email": "a@example.org", "password": "short"}, "password"),
            ({"email": "a@example.org", "role": "owner"}, "role"),
        ):
            r = client.post("/api/v1/users", json=body, headers=admin)
            assert r.status_code == 422 and r.json()["errors"][0]["field"] == field

    def test_non_admins_get_403(self, client: TestClient, db: Session) -> None:
        for role in (Role.labeler, Role.engineer):
            headers = bearer(db, make_user(db, role))
            assert client.get("/api/v1/users", headers=headers).status_code == 403
            assert client.post("/api/v1/users", json={"email": "x@example.org"}, headers=headers).status_code == 403
            assert client.get("/api/v1/audit", headers=headers).status_code == 403


class TestUpdateUser:
    def test_a_role_change_ends_the_users_sessions(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        labeler = make_user(db)
        login(client, labeler)
        client.cookies.clear()
        r = client.patch(f"/api/v1/users/{labeler.public_id}", json={"role": "engineer"}, headers=admin)
        assert r.status_code == 200 and r.json()["role"] == "engineer"
        assert db.scalars(select(WebSession).where(WebSession.user_id == labeler.id)).all() == []

    def test_deactivated_users_tokens_stop_working(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        labeler = make_user(db)
        theirs = bearer(db, labeler)
        assert client.get("/api/v1/auth/me", headers=theirs).status_code == 200
        client.patch(f"/api/v1/users/{labeler.public_id}", json={"is_active": False}, headers=admin)
        assert client.get("/api/v1/auth/me", headers=theirs).status_code == 401

    def test_the_last_active_admin_cannot_demote_or_deactivate_themselves(self, client: TestClient, db: Session) -> None:
        admin_user = make_user(db, Role.admin)
        admin = bearer(db, admin_user)
        for body in ({"role": "labeler"}, {"is_active": False}):
            r = client.patch(f"/api/v1/users/{admin_user.public_id}", json=body, headers=admin)
            assert r.status_code == 409 and "last active admin" in r.json()["detail"]
        make_user(db, Role.admin)
        r = client.patch(f"/api/v1/users/{admin_user.public_id}", json={"role": "labeler"}, headers=admin)
        assert r.status_code == 200

    def test_password_reset_returns_a_new_password_and_ends_sessions(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        labeler = make_user(db)
        login(client, labeler)
        client.cookies.clear()
        r = client.post(f"/api/v1/users/{labeler.public_id}/password", headers=admin)
        new = r.json()["password"]
        assert client.post("/api/v1/auth/login", json={"email": labeler.email, "password": new}).status_code == 200
        assert client.post("/api/v1/auth/login", json={"email": labeler.email, "password": "correct horse battery staple"}).status_code == 401


class TestApiTokens:
    def test_the_raw_token_is_shown_once_and_only_its_hash_is_stored(self, client: TestClient, db: Session) -> None:
        admin_user = make_user(db, Role.admin)
        admin = bearer(db, admin_user)
        r = client.post(f"/api/v1/users/{admin_user.public_id}/tokens", json={"name": "sampler"}, headers=admin)
        assert r.status_code == 201
        raw = r.json()["token"]
        assert raw.startswith("rw_")
        listed = client.get(f"/api/v1/users/{admin_user.public_id}/tokens", headers=admin).json()
        assert raw not in str(listed) and [t["name"] for t in listed] == ["test", "sampler"]
        stored = db.scalars(select(ApiToken.token_hash)).all()
        assert sha256_hex(raw) in stored and raw not in stored

    def test_a_revoked_token_gets_401(self, client: TestClient, db: Session) -> None:
        admin_user = make_user(db, Role.admin)
        admin = bearer(db, admin_user)
        made = client.post(f"/api/v1/users/{admin_user.public_id}/tokens", json={"name": "x"}, headers=admin).json()
        headers = {"Authorization": f"Bearer {made['token']}"}
        assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
        assert client.delete(f"/api/v1/tokens/{made['id']}", headers=admin).status_code == 204
        assert client.get("/api/v1/auth/me", headers=headers).status_code == 401

    def test_labelers_manage_only_their_own_tokens(self, client: TestClient, db: Session) -> None:
        alice, bob = make_user(db), make_user(db)
        alice_h = bearer(db, alice)
        assert client.get(f"/api/v1/users/{bob.public_id}/tokens", headers=alice_h).status_code == 404
        bob_token = client.post(f"/api/v1/users/{bob.public_id}/tokens", json={"name": "x"}, headers=bearer(db, bob)).json()
        assert client.delete(f"/api/v1/tokens/{bob_token['id']}", headers=alice_h).status_code == 404


class TestAuditLog:
    def test_admin_actions_are_listed_newest_first_with_their_actor(self, client: TestClient, db: Session) -> None:
        admin_user = make_user(db, Role.admin)
        admin = bearer(db, admin_user)
        client.post("/api/v1/users", json={"email": "b@example.org"}, headers=admin)
        client.post("/api/v1/projects", json={"name": "P", "task_kind": "pairwise"}, headers=admin)
        page = client.get("/api/v1/audit?limit=1", headers=admin).json()
        assert [e["action"] for e in page["items"]] == ["project.create"]
        assert page["items"][0]["actor"]["email"] == admin_user.email
        rest = client.get(f"/api/v1/audit?before={page['next_cursor']}", headers=admin).json()
        assert [e["action"] for e in rest["items"]] == ["user.create"] and rest["next_cursor"] is None


class TestDeactivationIsForGood:
    def test_reactivating_a_user_does_not_revive_their_tokens(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        labeler = make_user(db)
        theirs = bearer(db, labeler)
        client.patch(f"/api/v1/users/{labeler.public_id}", json={"is_active": False}, headers=admin)
        r = client.patch(f"/api/v1/users/{labeler.public_id}", json={"is_active": True}, headers=admin)
        assert r.status_code == 200 and r.json()["is_active"] is True
        assert client.get("/api/v1/auth/me", headers=theirs).status_code == 401
        tokens = client.get(f"/api/v1/users/{labeler.public_id}/tokens", headers=admin).json()
        assert [t["revoked_at"] is not None for t in tokens] == [True]
        assert client.get("/api/v1/auth/me", headers=bearer(db, labeler, "new")).status_code == 200

    def test_booleans_are_strict(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        labeler = make_user(db)
        for value in (0, 1, "false", "no", None):
            r = client.patch(f"/api/v1/users/{labeler.public_id}", json={"is_active": value}, headers=admin)
            if value is None:
                assert r.status_code == 200  # null means "leave it as it is"
                continue
            assert r.status_code == 422, (value, r.text)
            assert r.json()["errors"][0] == {"field": "is_active", "message": "is_active must be true or false"}
        db.expire_all()
        assert db.get(type(labeler), labeler.id).is_active is True  # type: ignore[union-attr]


class TestLimitsFitTheColumns:
    def test_a_160_character_email_without_a_display_name(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        email = "a" * 60 + "@" + "b" * 95 + ".test"
        r = client.post("/api/v1/users", json={"email": email}, headers=admin)
        assert r.status_code == 201, r.text
        assert len(r.json()["user"]["display_name"]) <= 120 and r.json()["user"]["display_name"] == "a" * 60

    def test_too_long_values_get_422_on_both_databases(self, client: TestClient, db: Session) -> None:
        admin_user = make_user(db, Role.admin)
        admin = bearer(db, admin_user)
        cases = [
            ("post", "/api/v1/users", {"email": "a@b.test", "display_name": "x" * 121}, "display_name"),
            ("post", "/api/v1/users", {"email": "a" * 60 + "@" + "b" * 200 + ".test"}, "email"),
            ("patch", f"/api/v1/users/{admin_user.public_id}", {"display_name": "y" * 121}, "display_name"),
            ("post", f"/api/v1/users/{admin_user.public_id}/tokens", {"name": "t" * 121}, "name"),
        ]
        for method, url, body, field in cases:
            r = getattr(client, method)(url, json=body, headers=admin)
            assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, r.text
