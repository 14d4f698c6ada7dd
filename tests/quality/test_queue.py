"""Gold and screening items in the labeler's queue, through the real API."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import LabelerQuality, Role, Standing, TaskKind, User, WorkItem
from tests.factories import bearer, make_labelers
from tests.quality import builders as b

_keys = iter(range(10**6))


def _next(client: TestClient, project_id: str, headers: dict[str, str]) -> dict[str, Any] | None:
    r = client.post(f"/api/v1/projects/{project_id}/next", headers=headers)
    assert r.status_code in (200, 204), r.text
    return r.json() if r.status_code == 200 else None


def _answer(client: TestClient, task: dict[str, Any], headers: dict[str, str], pick: int) -> dict[str, Any] | None:
    """Prefer the completion at canonical position ``pick`` (0 = A); returns the next task."""
    preferred = task["_canonical"][pick]
    r = client.post(
        f"/api/v1/assignments/{task['assignment_id']}/submit?next=true",
        json={"idempotency_key": f"quality-key-{next(_keys)}", "verdict": "preferred", "preferred": preferred,
              "margin_label": "better", "seconds": 12.0},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    following: dict[str, Any] | None = r.json()["next"]
    return following


def _with_canonical(db: Session, task: dict[str, Any] | None, canonical: dict[str, list[str]]) -> dict[str, Any] | None:
    if task is not None:
        task["_canonical"] = canonical[task["item_id"]]
    return task


def _work_through(
    client: TestClient, db: Session, project_id: str, headers: dict[str, str], canonical: dict[str, list[str]],
    pick: int, limit: int = 10_000,
) -> list[str]:
    """Take and answer tasks (always preferring position ``pick``) until none is left or
    ``limit`` are done; the items served, in order."""
    served: list[str] = []
    task = _with_canonical(db, _next(client, project_id, headers), canonical)
    while task is not None and len(served) < limit:
        served.append(task["item_id"])
        task = _with_canonical(db, _answer(client, task, headers, pick), canonical)
    return served


def _pairwise_project(db: Session, regular: int, gold: int, screening: int = 0, **quality: Any) -> tuple[Any, dict[str, list[str]], set[str], set[str]]:
    p = b.project(db, TaskKind.pairwise, overlap=1)
    canonical: dict[str, list[str]] = {}
    gold_ids: set[str] = set()
    screening_ids: set[str] = set()
    for _ in range(regular):
        wi, comps = b.item(db, p, [120, 140])
        canonical[wi.public_id] = [c.public_id for c in comps]
    for n in range(gold + screening):
        wi, comps = b.item(db, p, [120, 140], gold={"preferred": 0}, screening=n >= gold)
        canonical[wi.public_id] = [c.public_id for c in comps]
        (screening_ids if n >= gold else gold_ids).add(wi.public_id)
    b.settings(db, p, **quality)
    db.commit()
    return p, canonical, gold_ids, screening_ids


def _labeler(db: Session, project: Any) -> tuple[User, dict[str, str]]:
    (user,) = make_labelers(db, 1)
    b.members(db, project, user)
    db.commit()
    return user, bearer(db, user)


class TestGoldItems:
    def test_gold_items_come_at_the_configured_rate_and_look_like_any_other_task(
        self, client: TestClient, db: Session
    ) -> None:
        p, canonical, gold_ids, _ = _pairwise_project(db, regular=200, gold=60, gold_rate=0.25)
        _, headers = _labeler(db, p)
        task = _with_canonical(db, _next(client, p.public_id, headers), canonical)
        served: list[dict[str, Any]] = []
        while task is not None and len(served) < 120:
            served.append({k: v for k, v in task.items() if k != "_canonical"})
            task = _with_canonical(db, _answer(client, task, headers, pick=0), canonical)
        gold_tasks = [t for t in served if t["item_id"] in gold_ids]
        regular_tasks = [t for t in served if t["item_id"] not in gold_ids]
        # Binomial(120, 0.25): 30 expected, standard deviation 4.7; these bounds are ±3.8σ.
        assert 12 <= len(gold_tasks) <= 48, len(gold_tasks)
        assert len({t["item_id"] for t in gold_tasks}) == len(gold_tasks)  # each gold item once

        def shape(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: shape(v) for k, v in sorted(value.items())}
            if isinstance(value, list):
                return [shape(v) for v in value[:1]]
            return type(value).__name__

        assert {json.dumps(shape(t)) for t in gold_tasks} == {json.dumps(shape(t)) for t in regular_tasks}
        assert all("gold" not in json.dumps(t).lower() for t in gold_tasks)
        # The labeler's counts run on through gold tasks as through any other.
        assert [t["progress"]["done_total"] for t in served] == list(range(len(served)))

    def test_no_gold_item_is_handed_out_once_the_regular_work_is_done(self, client: TestClient, db: Session) -> None:
        p, canonical, gold_ids, _ = _pairwise_project(db, regular=3, gold=20, gold_rate=0.5)
        _, headers = _labeler(db, p)
        items = _work_through(client, db, p.public_id, headers, canonical, pick=0)
        assert len([i for i in items if i not in gold_ids]) == 3
        assert items[-1] not in gold_ids  # the last task was regular work, not a trailing gold item
        assert _next(client, p.public_id, headers) is None

    def test_gold_items_stay_out_of_the_regular_queue_and_its_counts(self, client: TestClient, db: Session) -> None:
        p, canonical, gold_ids, _ = _pairwise_project(db, regular=2, gold=5, gold_rate=0.0)
        _, headers = _labeler(db, p)
        seen = _work_through(client, db, p.public_id, headers, canonical, pick=0)
        assert len(seen) == 2 and not set(seen) & gold_ids
        gold = db.scalars(select(WorkItem).where(WorkItem.project_id == p.id, WorkItem.is_gold.is_(True))).all()
        assert all(not g.is_open for g in gold)

    def test_a_labeler_below_the_gold_bar_is_paused_with_the_evidence(self, client: TestClient, db: Session) -> None:
        p, canonical, gold_ids, _ = _pairwise_project(
            db, regular=80, gold=30, gold_rate=0.5, pause_on_gold_failure=True, gold_min_answers=4,
            gold_min_accuracy=0.7,
        )
        user, headers = _labeler(db, p)
        answered = _work_through(client, db, p.public_id, headers, canonical, pick=1)  # always B: gold says A
        assert len(answered) < 80  # paused before the regular work ran out
        row = db.get(LabelerQuality, (p.id, user.id))
        assert row is not None and row.standing == Standing.paused and "gold" in (row.reason or "")
        (admin,) = make_labelers(db, 1, role=Role.admin)
        admin_headers = bearer(db, admin)
        detail = client.get(f"/api/v1/projects/{p.public_id}/quality/labelers/{user.public_id}", headers=admin_headers)
        assert detail.status_code == 200, detail.text
        mistakes = detail.json()["mistakes"]
        assert len(mistakes) >= 4 and {m["item_id"] for m in mistakes} <= gold_ids
        assert mistakes[0]["gold"]["above"] == [["A", "B"]] and mistakes[0]["answer"]["ranking"] == [["B"], ["A"]]
        resumed = client.put(f"/api/v1/projects/{p.public_id}/quality/labelers/{user.public_id}/standing",
                             json={"standing": "active", "reason": "retrained"}, headers=admin_headers)
        assert resumed.status_code == 200 and _next(client, p.public_id, headers) is not None


class TestScreening:
    def test_a_failing_labeler_gets_the_screening_items_first_then_nothing_until_an_admin_overrides(
        self, client: TestClient, db: Session
    ) -> None:
        p, canonical, _, screening = _pairwise_project(
            db, regular=10, gold=0, screening=4, require_screening=True, screening_pass=0.75
        )
        user, headers = _labeler(db, p)
        first = _work_through(client, db, p.public_id, headers, canonical, pick=1)
        assert set(first) == screening and len(first) == 4  # screening first, and nothing after failing
        row = db.get(LabelerQuality, (p.id, user.id))
        assert row is not None and row.standing == Standing.failed_screening
        assert (row.screening_correct, row.screening_answered) == (0, 4)
        (admin,) = make_labelers(db, 1, role=Role.admin)
        admin_headers = bearer(db, admin)
        page = client.get(f"/api/v1/projects/{p.public_id}/quality", headers=admin_headers).json()
        assert page["screening_items"] == 4
        assert {r["id"]: r["standing"] for r in page["labelers"]}[user.public_id] == "failed_screening"
        client.put(f"/api/v1/projects/{p.public_id}/quality/labelers/{user.public_id}/standing",
                   json={"standing": "active", "reason": "spoke to them"}, headers=admin_headers)
        after = _next(client, p.public_id, headers)
        assert after is not None and after["item_id"] not in screening

    def test_a_passing_labeler_goes_on_to_real_work(self, client: TestClient, db: Session) -> None:
        p, canonical, _, screening = _pairwise_project(
            db, regular=3, gold=0, screening=4, require_screening=True, screening_pass=0.75
        )
        user, headers = _labeler(db, p)
        order = _work_through(client, db, p.public_id, headers, canonical, pick=0)
        assert set(order[:4]) == screening and len(order) == 7
        row = db.get(LabelerQuality, (p.id, user.id))
        assert row is not None and row.standing == Standing.active and row.screening_correct == 4
