"""The work queue: who gets which item, leases, expiry and skips."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.labeling import service
from app.models import Assignment, AssignmentStatus, utcnow
from tests.factories import (
    add_member,
    bearer,
    make_labelers,
    make_project,
    make_ranking_item,
)


def _ranking(client: TestClient, headers: dict[str, str], cids: list[str], key: str, aid: str) -> object:
    return client.post(
        f"/api/v1/assignments/{aid}/submit",
        json={"idempotency_key": key, "verdict": "ranked", "ranking": [[c] for c in cids]},
        headers=headers,
    )


class TestNext:
    def test_a_member_gets_a_task_with_shuffled_completions_and_no_model_names(
        self, client: TestClient, db: Session
    ) -> None:
        project = make_project(db, "ranking")
        item = make_ranking_item(db, project, k=6)
        (alice,) = make_labelers(db, 1)
        add_member(db, project, alice)
        r = client.post(f"/api/v1/projects/{project.public_id}/next", headers=bearer(db, alice))
        assert r.status_code == 200, r.text
        task = r.json()
        assert task["item_id"] == item.public_id and task["task_kind"] == "ranking"
        assert len(task["completions"]) == 6
        assert all(set(c) == {"id", "content"} for c in task["completions"])
        stored = db.scalar(select(Assignment).where(Assignment.public_id == task["assignment_id"]))
        assert stored is not None and stored.shown_order == [c["id"] for c in task["completions"]]
        assert task["progress"] == {"done_today": 0, "done_total": 0, "remaining": 1}

    def test_a_non_member_gets_404(self, client: TestClient, db: Session) -> None:
        project = make_project(db, "ranking")
        make_ranking_item(db, project)
        (mallory,) = make_labelers(db, 1)
        r = client.post(f"/api/v1/projects/{project.public_id}/next", headers=bearer(db, mallory))
        assert r.status_code == 404

    def test_asking_again_resumes_the_same_lease(self, client: TestClient, db: Session) -> None:
        project = make_project(db, "ranking")
        make_ranking_item(db, project)
        make_ranking_item(db, project)
        (alice,) = make_labelers(db, 1)
        add_member(db, project, alice)
        headers = bearer(db, alice)
        first = client.post(f"/api/v1/projects/{project.public_id}/next", headers=headers).json()
        again = client.post(f"/api/v1/projects/{project.public_id}/next", headers=headers).json()
        assert again["assignment_id"] == first["assignment_id"]
        assert again["completions"] == first["completions"]

    def test_the_last_slot_goes_to_one_labeler_only(self, client: TestClient, db: Session) -> None:
        project = make_project(db, "ranking", overlap=1)
        make_ranking_item(db, project)
        alice, bob = make_labelers(db, 2)
        add_member(db, project, alice, bob)
        assert client.post(f"/api/v1/projects/{project.public_id}/next", headers=bearer(db, alice)).status_code == 200
        assert client.post(f"/api/v1/projects/{project.public_id}/next", headers=bearer(db, bob)).status_code == 204

    def test_an_expired_lease_frees_its_slot_for_someone_else(self, db: Session) -> None:
        project = make_project(db, "ranking", overlap=1, lease_seconds=60)
        item = make_ranking_item(db, project)
        alice, bob = make_labelers(db, 2)
        add_member(db, project, alice, bob)
        t0 = utcnow()
        assert service.next_task(db, alice, project.public_id, now=t0) is not None
        db.commit()
        assert service.next_task(db, bob, project.public_id, now=t0 + timedelta(seconds=30)) is None
        task = service.next_task(db, bob, project.public_id, now=t0 + timedelta(seconds=61))
        db.commit()
        assert task is not None and task.item_id == item.public_id
        statuses = sorted(s.value for s in db.scalars(select(Assignment.status)))
        assert statuses == ["active", "expired"]
        db.refresh(item)
        assert item.taken == 1

    def test_a_labeler_far_ahead_skips_the_items_they_already_had(self, db: Session) -> None:
        project = make_project(db, "ranking", overlap=2)
        items = [make_ranking_item(db, project) for _ in range(5)]
        (alice,) = make_labelers(db, 1)
        add_member(db, project, alice)
        for expected in items:
            task = service.next_task(db, alice, project.public_id)
            assert task is not None and task.item_id == expected.public_id
            service.skip(db, alice, task.assignment_id)
            db.commit()
        assert service.next_task(db, alice, project.public_id) is None


class TestSkip:
    def test_a_skipped_item_frees_the_slot_and_never_comes_back(self, client: TestClient, db: Session) -> None:
        project = make_project(db, "ranking", overlap=1)
        item = make_ranking_item(db, project)
        alice, bob = make_labelers(db, 2)
        add_member(db, project, alice, bob)
        a, b = bearer(db, alice), bearer(db, bob)
        task = client.post(f"/api/v1/projects/{project.public_id}/next", headers=a).json()
        assert client.post(f"/api/v1/assignments/{task['assignment_id']}/skip", headers=a).status_code == 204
        assert client.post(f"/api/v1/projects/{project.public_id}/next", headers=a).status_code == 204
        other = client.post(f"/api/v1/projects/{project.public_id}/next", headers=b)
        assert other.status_code == 200 and other.json()["item_id"] == item.public_id

    def test_someone_elses_assignment_is_not_found(self, client: TestClient, db: Session) -> None:
        project = make_project(db, "ranking")
        make_ranking_item(db, project)
        alice, bob = make_labelers(db, 2)
        add_member(db, project, alice, bob)
        task = client.post(f"/api/v1/projects/{project.public_id}/next", headers=bearer(db, alice)).json()
        assert client.post(f"/api/v1/assignments/{task['assignment_id']}/skip", headers=bearer(db, bob)).status_code == 404


class TestLeaseExpiryAtSubmit:
    def test_an_expired_lease_whose_slot_is_still_free_is_accepted(self, client: TestClient, db: Session) -> None:
        project = make_project(db, "ranking", overlap=1, lease_seconds=30)
        item = make_ranking_item(db, project)
        (alice,) = make_labelers(db, 1)
        add_member(db, project, alice)
        headers = bearer(db, alice)
        task = client.post(f"/api/v1/projects/{project.public_id}/next", headers=headers).json()
        lease = db.scalar(select(Assignment).where(Assignment.public_id == task["assignment_id"]))
        assert lease is not None
        lease.expires_at = utcnow() - timedelta(seconds=5)
        lease.status = AssignmentStatus.expired
        db.refresh(item)
        item.taken = 0  # the sweep of another request reclaimed the slot
        db.commit()
        r = _ranking(client, headers, [c["id"] for c in task["completions"]], "key-expired-1", task["assignment_id"])
        assert r.status_code == 201, r.text  # type: ignore[attr-defined]
        db.refresh(item)
        assert (item.taken, item.done, item.is_open) == (1, 1, False)

    def test_an_expired_lease_whose_slot_went_to_someone_else_gets_410(
        self, client: TestClient, db: Session
    ) -> None:
        project = make_project(db, "ranking", overlap=1, lease_seconds=30)
        item = make_ranking_item(db, project)
        alice, bob = make_labelers(db, 2)
        add_member(db, project, alice, bob)
        a = bearer(db, alice)
        task = client.post(f"/api/v1/projects/{project.public_id}/next", headers=a).json()
        lease = db.scalar(select(Assignment).where(Assignment.public_id == task["assignment_id"]))
        assert lease is not None
        lease.expires_at = utcnow() - timedelta(seconds=5)
        db.commit()
        taken = client.post(f"/api/v1/projects/{project.public_id}/next", headers=bearer(db, bob))
        assert taken.json()["item_id"] == item.public_id
        r = _ranking(client, a, [c["id"] for c in task["completions"]], "key-expired-2", task["assignment_id"])
        assert r.status_code == 410  # type: ignore[attr-defined]
        assert "another labeler" in r.json()["detail"]  # type: ignore[attr-defined]
        db.refresh(item)
        assert (item.taken, item.done) == (1, 0)


class TestLeftForYou:
    def test_it_counts_what_this_labeler_can_still_get(self, client: TestClient, db: Session) -> None:
        project = make_project(db, "ranking", overlap=2)
        for _ in range(4):
            make_ranking_item(db, project)
        alice, bob = make_labelers(db, 2)
        add_member(db, project, alice, bob)
        a, b = bearer(db, alice), bearer(db, bob)
        first = client.post(f"/api/v1/projects/{project.public_id}/next", headers=a).json()
        assert first["progress"]["remaining"] == 4  # the task in hand and three more
        r = client.post(
            f"/api/v1/assignments/{first['assignment_id']}/submit?next=true",
            json={"idempotency_key": "left-0001", "verdict": "ranked", "ranking": [[c["id"] for c in first["completions"]]]},
            headers=a,
        )
        second = r.json()["next"]
        assert second["progress"]["remaining"] == 3  # the judged item is open for others, not for alice
        assert client.post(f"/api/v1/assignments/{second['assignment_id']}/skip", headers=a).status_code == 204
        third = client.post(f"/api/v1/projects/{project.public_id}/next", headers=a).json()
        assert third["progress"]["remaining"] == 2  # nor is the skipped one
        mine = {p["id"]: p["remaining"] for p in client.get("/api/v1/me/projects", headers=a).json()}
        theirs = {p["id"]: p["remaining"] for p in client.get("/api/v1/me/projects", headers=b).json()}
        assert (mine[project.public_id], theirs[project.public_id]) == (2, 4)

    def test_an_item_whose_slots_are_all_held_is_not_counted(self, client: TestClient, db: Session) -> None:
        project = make_project(db, "ranking", overlap=1)
        make_ranking_item(db, project)
        make_ranking_item(db, project)
        carol, dave = make_labelers(db, 2)
        add_member(db, project, carol, dave)
        url = f"/api/v1/projects/{project.public_id}/next"
        assert client.post(url, headers=bearer(db, carol)).json()["progress"]["remaining"] == 2
        assert client.post(url, headers=bearer(db, dave)).json()["progress"]["remaining"] == 1
        assert client.post(url, headers=bearer(db, make_labelers(db, 1)[0])).status_code == 404  # not a member
