"""A NUL character (U+0000) is refused with 422 wherever it comes in, on both databases.

PostgreSQL cannot store it in text or JSON (SQLite can): before the input guard every
one of these answered 500 on PostgreSQL and stored the NUL on SQLite.
"""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Project, Prompt, Role, TaskKind, User
from app.security.middleware import json_has_nul
from tests.factories import bearer, login, make_project, make_user

NUL = "\u0000"


def _refused(r: object) -> None:
    assert r.status_code == 422, r.text  # type: ignore[attr-defined]
    body = r.json()  # type: ignore[attr-defined]
    assert body["error"] == "invalid_input" and "NUL character (U+0000)" in body["detail"]


class TestJsonBodies:
    def test_an_anonymous_login_with_a_nul_in_the_email(self, client: TestClient) -> None:
        _refused(client.post("/api/v1/auth/login", json={"email": f"a{NUL}@x.test", "password": "whatever-long"}))

    def test_a_project_name_and_guidelines(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        for field in ("name", "guidelines"):
            body = {"name": "P", "task_kind": "ranking", field: f"bad{NUL}text"}
            _refused(client.post("/api/v1/projects", json=body, headers=admin))
        assert db.scalar(select(func.count()).select_from(Project)) == 0

    def test_a_display_name_and_a_token_name(self, client: TestClient, db: Session) -> None:
        user = make_user(db, Role.admin)
        admin = bearer(db, user)
        _refused(client.patch(f"/api/v1/users/{user.public_id}", json={"display_name": f"x{NUL}"}, headers=admin))
        _refused(client.post(f"/api/v1/users/{user.public_id}/tokens", json={"name": f"t{NUL}"}, headers=admin))
        _refused(client.post("/api/v1/users", json={"email": "n@x.test", "display_name": NUL}, headers=admin))

    def test_inside_a_json_column(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        body = {"name": "P", "task_kind": "ranking", "flags": [f"a{NUL}"]}
        _refused(client.post("/api/v1/projects", json=body, headers=admin))

    def test_an_escaped_backslash_before_u0000_is_ordinary_text(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        raw = '{"name": "P", "task_kind": "ranking", "guidelines": "write \\\\u0000 to mean NUL"}'
        r = client.post("/api/v1/projects", content=raw, headers={**admin, "content-type": "application/json"})
        assert r.status_code == 201, r.text
        assert r.json()["guidelines"] == "write \\u0000 to mean NUL"


class TestUrlAndForms:
    def test_a_query_parameter(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        _refused(client.get("/api/v1/audit?action=a%00b", headers=admin))

    def test_a_path_segment(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        _refused(client.get("/api/v1/projects/ab%00cd", headers=admin))
        _refused(client.get("/api/v1/users/ab%00cd", headers=admin))

    def test_the_html_login_form_shows_the_message_on_a_page(self, client: TestClient) -> None:
        r = client.post("/login", data={"email": f"a{NUL}@x.test", "password": "whatever-long"})
        assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
        assert "NUL character" in r.text

    def test_a_logged_in_form_post(self, client: TestClient, db: Session) -> None:
        user = make_user(db, Role.labeler)
        headers = login(client, user)
        r = client.post("/logout", data={"csrf_token": headers["X-CSRF-Token"], "x": NUL})
        assert r.status_code == 422


class TestUploads:
    def test_a_nul_inside_an_imported_line_is_a_line_error(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        project = make_project(db, TaskKind.demonstration.value)
        lines = [json.dumps({"id": "ok", "text": "fine"}), json.dumps({"id": "bad", "text": f"a{NUL}b"}),
                 json.dumps({"id": f"x{NUL}", "text": "c"})]
        r = client.post(f"/api/v1/projects/{project.public_id}/prompts:import",
                        files={"file": ("p.jsonl", "\n".join(lines).encode())}, headers=admin)
        assert r.status_code == 422, r.text
        assert [(e["line"], "NUL" in e["message"]) for e in r.json()["errors"]] == [(2, True), (3, True)]
        assert db.scalar(select(func.count()).select_from(Prompt)) == 0

    def test_a_nul_in_a_csv_cell(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        project = make_project(db, TaskKind.demonstration.value)
        r = client.post(f"/api/v1/projects/{project.public_id}/prompts:import",
                        files={"file": ("p.csv", f"id,prompt\nx1,fine\nx2,a{NUL}b\n".encode())}, headers=admin)
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["line"] == 3 and "NUL" in r.json()["errors"][0]["message"]


class TestNothingElseIsTouched:
    def test_the_user_table_is_unchanged_after_refusals(self, client: TestClient, db: Session) -> None:
        user = make_user(db, Role.admin)
        admin = bearer(db, user)
        client.patch(f"/api/v1/users/{user.public_id}", json={"display_name": f"x{NUL}"}, headers=admin)
        db.expire_all()
        assert NUL not in db.get(User, user.id).display_name  # type: ignore[union-attr]


class TestTheScan:
    def test_it_tells_the_escape_from_an_escaped_backslash(self) -> None:
        assert json_has_nul(b'{"a": "\\u0000"}')
        assert json_has_nul(b'{"a": "\\\\\\u0000"}')  # an escaped backslash, then NUL
        assert not json_has_nul(b'{"a": "\\\\u0000"}')  # a backslash, then the text u0000
        assert not json_has_nul(b'{"a": "\\\\\\\\u0000"}')
        assert json_has_nul(b'{"a": "x\x00"}')  # a raw NUL byte is never valid JSON text
        assert not json_has_nul(b'{"a": "u0000"}')

    def test_long_backslash_runs_are_counted_exactly(self) -> None:
        for run in (0, 1, 2, 3, 1000, 1001, 100_000, 100_001):
            body = b'{"a": "' + b"\\" * run + b'\\u0000"}'
            assert json_has_nul(body) is (run % 2 == 0), run
        many = b'{"a": "' + b"\\\\u0000" * 50_000 + b'"}'  # a backslash, then "u0000", many times
        assert not json_has_nul(many)
        assert json_has_nul(many[:-2] + b'\\u0000"}')
