"""A date-time input is an ISO 8601 date and time, as documented; a number is refused
(Pydantic would read ``until=12`` as twelve seconds after 1970). Found by the fuzzer."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Role
from tests.factories import bearer, make_project, make_user


@pytest.fixture
def backend() -> str:
    return "sqlite"


class TestDateTimes:
    def test_a_number_in_a_query_is_refused(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        url = f"/api/v1/projects/{make_project(db).public_id}/judgements"
        for value in ("12", "1700000000", "-5", "1.5"):
            r = client.get(url, params={"until": value}, headers=admin)
            assert r.status_code == 422 and "not a number" in r.json()["detail"], value
        assert client.get(url, params={"since": "2026-11-01T00:00:00Z"}, headers=admin).status_code == 200

    def test_a_number_in_a_body_is_refused(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        url = f"/api/v1/projects/{make_project(db).public_id}/exports"
        r = client.post(url, json={"filters": {"since": 12}}, headers=admin)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "filters.since"
