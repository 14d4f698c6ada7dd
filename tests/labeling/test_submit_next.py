"""Submit with ?next=true: the judgement and the labeler's next lease in one request."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Assignment, AssignmentStatus, Ranking
from tests.factories import add_member, bearer, make_labelers, make_project, make_ranking_item


def _setup(client: TestClient, db: Session, items: int) -> tuple[dict[str, Any], dict[str, str], str]:
    project = make_project(db, "ranking")
    for _ in range(items):
        make_ranking_item(db, project)
    (labeler,) = make_labelers(db, 1)
    add_member(db, project, labeler)
    headers = bearer(db, labeler)
    r = client.post(f"/api/v1/projects/{project.public_id}/next", headers=headers)
    assert r.status_code == 200, r.text
    return r.json(), headers, project.public_id


def _submit(client: TestClient, task: dict[str, Any], headers: dict[str, str], query: str = "?next=true", **body: Any) -> Any:
    c = [x["id"] for x in task["completions"]]
    payload = {"idempotency_key": "key-0001", "verdict": "ranked", "ranking": [[c[0]], c[1:]], **body}
    return client.post(f"/api/v1/assignments/{task['assignment_id']}/submit{query}", json=payload, headers=headers)


def _count(db: Session, model: Any) -> int:
    return int(db.scalar(select(func.count()).select_from(model)) or 0)


class TestSubmitThenNext:
    def test_the_answer_carries_the_next_task_which_a_later_next_resumes(self, client: TestClient, db: Session) -> None:
        task, headers, pid = _setup(client, db, items=2)
        r = _submit(client, task, headers)
        assert r.status_code == 201, r.text
        body = r.json()
        following = body["next"]
        assert following is not None and body["next_available"] is True
        assert following["assignment_id"] != task["assignment_id"] and following["item_id"] != task["item_id"]
        assert len(following["completions"]) == 4 and following["progress"]["done_total"] == 1
        assert db.scalar(select(Ranking.public_id)) == body["judgement_id"]
        resumed = client.post(f"/api/v1/projects/{pid}/next", headers=headers).json()
        assert resumed["assignment_id"] == following["assignment_id"]

    def test_next_is_null_when_nothing_is_left(self, client: TestClient, db: Session) -> None:
        task, headers, _ = _setup(client, db, items=1)
        r = _submit(client, task, headers)
        assert r.status_code == 201, r.text
        assert "next" in r.json() and r.json()["next"] is None
        assert r.json()["next_available"] is False

    def test_a_plain_submit_answers_without_a_next_field(self, client: TestClient, db: Session) -> None:
        task, headers, _ = _setup(client, db, items=2)
        r = _submit(client, task, headers, query="")
        assert r.status_code == 201, r.text
        assert "next" not in r.json() and r.json()["next_available"] is True
        assert _count(db, Assignment) == 1

    def test_a_replay_returns_the_original_judgement_and_the_lease_the_first_call_made(
        self, client: TestClient, db: Session
    ) -> None:
        task, headers, _ = _setup(client, db, items=3)
        first = _submit(client, task, headers)
        again = _submit(client, task, headers)
        assert first.status_code == 201 and again.status_code == 200, again.text
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json()["judgement_id"] == first.json()["judgement_id"]
        assert again.json()["next"]["assignment_id"] == first.json()["next"]["assignment_id"]
        assert _count(db, Ranking) == 1 and _count(db, Assignment) == 2

    def test_an_invalid_answer_stores_nothing_and_leases_nothing(self, client: TestClient, db: Session) -> None:
        task, headers, _ = _setup(client, db, items=2)
        r = _submit(client, task, headers, ranking=[[task["completions"][0]["id"]]])
        assert r.status_code == 422, r.text
        assert _count(db, Ranking) == 0 and _count(db, Assignment) == 1
        status = db.scalar(select(Assignment.status))
        assert status == AssignmentStatus.active
