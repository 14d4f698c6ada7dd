"""Nobody anonymous can make the server read a form or an upload, except the login form,
and that one has the ordinary body limit."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Role, TaskKind
from tests.factories import bearer, login, make_project, make_user

BOUNDARY = "----rankwise-test"


def _multipart(size: int, *, broken: bool = False) -> tuple[bytes, dict[str, str]]:
    body = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.jsonl\"\r\n\r\n").encode()
    body += b"x" * size
    if not broken:
        body += f"\r\n--{BOUNDARY}--\r\n".encode()
    return body, {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}


@pytest.fixture
def backend() -> str:
    return "sqlite"


class TestAnonymousClientsCannotMakeTheServerParse:
    def test_an_upload_route_answers_401_before_reading_the_body(self, client: TestClient, db: Session) -> None:
        project = make_project(db, TaskKind.demonstration.value)
        body, headers = _multipart(100, broken=True)  # would be a 422 if it were parsed
        r = client.post(f"/api/v1/projects/{project.public_id}/prompts:import", content=body, headers=headers)
        assert r.status_code == 401

    def test_multipart_to_any_other_route_is_415(self, client: TestClient) -> None:
        body, headers = _multipart(100)
        for url in ("/api/v1/auth/login", "/api/v1/projects", "/login", "/logout"):
            r = client.post(url, content=body, headers=headers)
            assert r.status_code == 415, (url, r.status_code)

    def test_a_big_multipart_body_gets_the_ordinary_limit_outside_uploads(self, client: TestClient) -> None:
        limit = client.app.state.settings.max_body_bytes  # type: ignore[attr-defined]
        body, headers = _multipart(limit + 1)
        assert client.post("/login", content=body, headers=headers).status_code == 413
        assert client.post("/api/v1/auth/login", content=body, headers=headers).status_code == 413

    def test_a_login_form_over_the_ordinary_limit_is_413(self, client: TestClient) -> None:
        limit = client.app.state.settings.max_body_bytes  # type: ignore[attr-defined]
        body = b"email=a%40b.test&password=" + b"x" * limit
        r = client.post("/login", content=body, headers={"content-type": "application/x-www-form-urlencoded"})
        assert r.status_code == 413


class TestLoggedInUploads:
    def test_an_admin_uploads_with_a_bearer_token(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        project = make_project(db, TaskKind.demonstration.value)
        r = client.post(f"/api/v1/projects/{project.public_id}/prompts:import",
                        files={"file": ("p.jsonl", b'{"text": "hi"}\n')}, headers=admin)
        assert r.status_code == 200 and r.json()["stored"] == 1

    def test_a_labeler_is_refused_before_the_upload_is_read(self, client: TestClient, db: Session) -> None:
        labeler = bearer(db, make_user(db))
        project = make_project(db, TaskKind.demonstration.value)
        body, headers = _multipart(100, broken=True)
        r = client.post(f"/api/v1/projects/{project.public_id}/prompts:import", content=body, headers={**headers, **labeler})
        assert r.status_code == 403

    def test_a_browser_upload_needs_the_csrf_header(self, client: TestClient, db: Session) -> None:
        csrf = login(client, make_user(db, Role.admin))
        project = make_project(db, TaskKind.demonstration.value)
        url = f"/api/v1/projects/{project.public_id}/prompts:import"
        files = {"file": ("p.jsonl", b'{"text": "hi"}\n')}
        assert client.post(url, files=files, data={"csrf_token": csrf["X-CSRF-Token"]}).status_code == 403
        assert client.post(url, files=files, headers=csrf).status_code == 200

    def test_a_broken_upload_from_an_admin_is_a_422(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        project = make_project(db, TaskKind.demonstration.value)
        body, headers = _multipart(100, broken=True)
        r = client.post(f"/api/v1/projects/{project.public_id}/prompts:import", content=body, headers={**headers, **admin})
        assert r.status_code == 422 and "multipart" in r.json()["detail"]
