"""Progress, my projects, the judgement browser and one judgement's record."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Role
from tests.factories import add_member, bearer, make_labelers, make_project, make_ranking_item


def _rank_one(client: TestClient, project: Any, headers: dict[str, str], key: str, seconds: float) -> str:
    task = client.post(f"/api/v1/projects/{project.public_id}/next", headers=headers).json()
    c = [x["id"] for x in task["completions"]]
    r = client.post(
        f"/api/v1/assignments/{task['assignment_id']}/submit",
        json={"idempotency_key": key, "seconds": seconds, "verdict": "ranked", "ranking": [[x] for x in c]},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["judgement_id"])


def _setup(client: TestClient, db: Session) -> tuple[Any, dict[str, str], dict[str, str], dict[str, str], str, str]:
    project = make_project(db, "ranking", overlap=2)
    for _ in range(3):
        make_ranking_item(db, project)
    alice, bob = make_labelers(db, 2)
    (admin,) = make_labelers(db, 1, role=Role.admin)
    add_member(db, project, alice, bob)
    a, b, adm = bearer(db, alice), bearer(db, bob), bearer(db, admin)
    ja = _rank_one(client, project, a, "alice-0001", 10)
    _rank_one(client, project, a, "alice-0002", 30)
    jb = _rank_one(client, project, b, "bob-00001", 20)
    return project, a, b, adm, ja, jb


class TestReading:
    def test_admin_progress_counts_items_labelers_and_days(self, client: TestClient, db: Session) -> None:
        project, _, _, adm, _, _ = _setup(client, db)
        p = client.get(f"/api/v1/projects/{project.public_id}/progress", headers=adm).json()
        assert p["items"] == {"total": 3, "done": 1, "in_progress": 1, "remaining": 1}
        assert p["judgements"] == 3 and p["median_seconds"] == 20
        stats = {s["labeler"]: (s["total"], s["today"], s["median_seconds"]) for s in p["per_labeler"]}
        assert sorted(stats.values()) == [(1, 1, 20.0), (2, 2, 20.0)]
        assert sum(d["count"] for d in p["per_day"]) == 3

    def test_a_labeler_sees_only_their_own_numbers_and_judgements(self, client: TestClient, db: Session) -> None:
        project, a, b, _, ja, jb = _setup(client, db)
        p = client.get(f"/api/v1/projects/{project.public_id}/progress", headers=b).json()
        assert p["items"] is None and p["judgements"] == 1 and len(p["per_labeler"]) == 1
        assert client.get(f"/api/v1/judgements/{ja}", headers=b).status_code == 404
        mine = client.get(f"/api/v1/judgements/{jb}", headers=b).json()
        assert all(c["model"] is None for c in mine["completions"])
        assert client.get(f"/api/v1/projects/{project.public_id}/judgements", headers=b).status_code == 403
        me = client.get("/api/v1/me/projects", headers=a).json()
        assert [(m["id"], m["done_total"], m["done_today"]) for m in me] == [(project.public_id, 2, 2)]

    def test_admin_browses_with_a_cursor_and_sees_what_was_shown_with_model_names(
        self, client: TestClient, db: Session
    ) -> None:
        project, _, _, adm, ja, jb = _setup(client, db)
        url = f"/api/v1/projects/{project.public_id}/judgements"
        first = client.get(url, params={"limit": 2}, headers=adm).json()
        second = client.get(url, params={"limit": 2, "cursor": first["next_cursor"]}, headers=adm).json()
        ids = [j["id"] for j in first["items"] + second["items"]]
        assert len(ids) == 3 and ids[0] == jb and ids[-1] == ja and second["next_cursor"] is None
        assert client.get(url, params={"cursor": "garbage"}, headers=adm).status_code == 422
        detail = client.get(f"/api/v1/judgements/{ja}", headers=adm).json()
        assert [c["id"] for c in detail["completions"]] == detail["shown_order"]
        assert {c["model"] for c in detail["completions"]} == {"model-0", "model-1"}
        assert detail["answer"]["ranking"] == [[c] for c in detail["shown_order"]]
        assert detail["prompt"]["messages"][0]["role"] == "user"
        assert detail["round"] == 1 and {j["round"] for j in first["items"] + second["items"]} == {1}

    def test_the_browser_shows_the_round_of_each_judgements_item(self, client: TestClient, db: Session) -> None:
        project = make_project(db, "ranking")
        first_round = make_ranking_item(db, project)
        second_round = make_ranking_item(db, project)
        second_round.round = 2  # a newer model's completions for the same kind of prompt
        db.commit()
        (alice,) = make_labelers(db, 1)
        (admin,) = make_labelers(db, 1, role=Role.admin)
        add_member(db, project, alice)
        a, adm = bearer(db, alice), bearer(db, admin)
        older = _rank_one(client, project, a, "round-0001", 5)
        newer = _rank_one(client, project, a, "round-0002", 5)
        page = client.get(f"/api/v1/projects/{project.public_id}/judgements", headers=adm).json()
        assert [(j["id"], j["round"]) for j in page["items"]] == [(newer, 2), (older, 1)]
        assert client.get(f"/api/v1/judgements/{newer}", headers=adm).json()["round"] == 2
        assert first_round.round == 1
