"""Validation answers say what to change in words, not Pydantic's text or a regex."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Role
from tests.factories import bearer, make_user


@pytest.fixture
def backend() -> str:
    return "sqlite"


class TestMessages:
    def test_a_bad_short_name_says_which_characters_are_allowed(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        r = client.post("/api/v1/projects", json={"name": "P", "task_kind": "ranking", "slug": "Bad Slug"}, headers=admin)
        assert r.status_code == 422
        detail = r.json()["detail"]
        assert detail.startswith("The project's short name may use a–z, 0–9 and dashes")
        assert "pattern" not in detail and "^[" not in detail
        assert r.json()["errors"] == [{"field": "slug", "message": detail.rstrip(".").replace("The", "the", 1)}]

    def test_common_problems_read_as_sentences(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        cases = [
            ({"task_kind": "ranking"}, "The name is required."),
            ({"name": "", "task_kind": "ranking"}, "The name must not be empty."),
            ({"name": "P", "task_kind": "ranking", "overlap": 0}, "overlap must be at least 1."),
            ({"name": "P", "task_kind": "ranking", "overlap": "two"}, "overlap must be a whole number."),
            ({"name": "P", "task_kind": "ranking", "colour": "red"}, "colour is not a field this request takes; leave it out."),
            ({"name": "P", "task_kind": "ranking", "sampling": {"top_p": 2}}, "sampling.top_p must be at most 1.0."),
            ({"name": "P", "task_kind": "ranking", "safety_labels": "yes"}, "safety_labels must be true or false."),
        ]
        for body, expected in cases:
            r = client.post("/api/v1/projects", json=body, headers=admin)
            assert (r.status_code, r.json()["detail"]) == (422, expected)

    def test_several_problems_are_all_listed(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        r = client.post("/api/v1/projects", json={"name": "", "task_kind": "nope"}, headers=admin)
        assert r.status_code == 422 and len(r.json()["errors"]) == 2
        assert "(1 more problem listed in errors.)" in r.json()["detail"]
