"""Integers the database cannot hold are a 422, not a 500 (they reached the query before)."""

from __future__ import annotations

import base64

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Role
from tests.factories import bearer, make_project, make_user

TOO_BIG = 2**31  # one past PostgreSQL's INTEGER


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


class TestIntegersTheColumnsCannotHold:
    def test_the_audit_cursor(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        r = client.get(f"/api/v1/audit?before={TOO_BIG}", headers=admin)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "before"
        assert client.get(f"/api/v1/audit?before={TOO_BIG - 1}", headers=admin).status_code == 200

    def test_a_judgements_cursor_that_decodes_to_a_huge_number(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        project = make_project(db)
        for cursor in (_cursor("j:99999999999999999999999"), _cursor(f"j:{TOO_BIG}"), _cursor(f"j:{2**63}"), _cursor("j:0"), _cursor("j:-5")):
            r = client.get(f"/api/v1/projects/{project.public_id}/judgements?cursor={cursor}", headers=admin)
            assert r.status_code == 422 and "cursor" in r.json()["detail"], cursor
        ok = client.get(f"/api/v1/projects/{project.public_id}/judgements?cursor={_cursor(f'j:{TOO_BIG - 1}')}", headers=admin)
        assert ok.status_code == 200

    def test_the_metrics_step(self, client: TestClient, db: Session) -> None:
        engineer = bearer(db, make_user(db, Role.engineer))
        job = client.post("/api/v1/jobs", json={"kind": "diagnostic", "params": {}}, headers=engineer)
        assert job.status_code == 201, job.text
        url = f"/api/v1/jobs/{job.json()['id']}/metrics"
        r = client.get(f"{url}?after_step={TOO_BIG}", headers=engineer)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "after_step"
        assert client.get(f"{url}?after_step={TOO_BIG - 1}", headers=engineer).status_code == 200

    def test_a_body_integer(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        r = client.post("/api/v1/projects", json={"name": "P", "task_kind": "ranking", "overlap": TOO_BIG}, headers=admin)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "overlap"
