"""Renewing a lease while the labeler works: bounded, and never over a slot someone
else holds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import Conflict, LeaseExpired
from app.labeling import queue, service
from app.labeling.schemas import TaskOut
from app.models import Assignment, AssignmentStatus, User, utcnow
from tests.factories import add_member, bearer, make_demo_item, make_labelers, make_project


def _setup(db: Session, lease_seconds: int = 60, labelers: int = 2) -> tuple[Any, Any, list[User]]:
    project = make_project(db, "demonstration", overlap=1, lease_seconds=lease_seconds)
    item = make_demo_item(db, project)
    users = make_labelers(db, labelers)
    add_member(db, project, *users)
    return project, item, users


@dataclass
class Leased:
    """A demonstration project (60-second lease) whose one item alice leased at t0."""

    project: Any
    item: Any
    alice: User
    bob: User
    t0: datetime
    task: TaskOut

    def at(self, seconds: float) -> datetime:
        return self.t0 + timedelta(seconds=seconds)


def _leased(db: Session) -> Leased:
    project, item, (alice, bob) = _setup(db)
    t0 = utcnow()
    task = service.next_task(db, alice, project.public_id, now=t0)
    assert task is not None
    db.commit()
    return Leased(project, item, alice, bob, t0, task)


def _lease(db: Session, public_id: str) -> Assignment:
    """The lease as stored now (re-read, without expiring the test's other objects: on
    SQLite a lazy reload would open a write transaction the server then waits for)."""
    query = select(Assignment).where(Assignment.public_id == public_id)
    found = db.scalar(query.execution_options(populate_existing=True))
    assert found is not None
    return found


class TestRenew:
    def test_renewing_keeps_the_task_past_its_first_expiry(self, db: Session) -> None:
        w = _leased(db)
        out = service.renew(db, w.alice, w.task.assignment_id, now=w.at(50))
        db.commit()
        assert (out.expires_at, out.hold_until) == (w.at(110), w.t0 + queue.MAX_HOLD)
        # Past the first expiry nobody else gets the item: it is still alice's.
        assert service.next_task(db, w.bob, w.project.public_id, now=w.at(70)) is None
        db.commit()
        assert _lease(db, w.task.assignment_id).status == AssignmentStatus.active

    def test_renewals_stop_at_the_maximum_hold(self, db: Session) -> None:
        w = _leased(db)
        hold = queue.MAX_HOLD.total_seconds()
        assert service.renew(db, w.alice, w.task.assignment_id, now=w.at(hold - 10)).expires_at == w.at(hold)
        db.commit()
        assert service.renew(db, w.alice, w.task.assignment_id, now=w.at(hold + 5)).expires_at == w.at(hold)

    def test_a_lease_that_ran_out_takes_its_free_slot_back(self, db: Session) -> None:
        w = _leased(db)
        # Another labeler's `next` after the expiry gave the slot back to the pool.
        assert queue.reclaim_expired(db, w.project.id, w.at(61)) == 1
        db.commit()
        db.refresh(w.item)
        assert (_lease(db, w.task.assignment_id).status, w.item.taken) == (AssignmentStatus.expired, 0)
        out = service.renew(db, w.alice, w.task.assignment_id, now=w.at(62))
        db.commit()
        assert out.expires_at == w.at(122)
        db.refresh(w.item)
        assert (_lease(db, w.task.assignment_id).status, w.item.taken) == (AssignmentStatus.active, 1)

    def test_a_lease_that_ran_out_past_its_maximum_hold_does_not_take_its_slot_back(self, db: Session) -> None:
        w = _leased(db)
        hold = queue.MAX_HOLD.total_seconds()
        assert queue.reclaim_expired(db, w.project.id, w.at(hold + 1)) == 1
        db.commit()
        with pytest.raises(LeaseExpired, match="at most 4 hours"):
            service.renew(db, w.alice, w.task.assignment_id, now=w.at(hold + 10))
        db.rollback()
        db.refresh(w.item)
        assert (_lease(db, w.task.assignment_id).status, w.item.taken) == (AssignmentStatus.expired, 0)

    def test_a_slot_someone_else_took_is_gone(self, db: Session) -> None:
        w = _leased(db)
        taken = service.next_task(db, w.bob, w.project.public_id, now=w.at(61))
        db.commit()
        assert taken is not None and taken.item_id == w.task.item_id
        with pytest.raises(LeaseExpired):
            service.renew(db, w.alice, w.task.assignment_id, now=w.at(62))
        db.rollback()
        assert _lease(db, w.task.assignment_id).status == AssignmentStatus.expired
        db.refresh(w.item)
        assert w.item.taken == 1

    def test_a_submitted_task_is_not_renewed(self, db: Session, settings: Any) -> None:
        w = _leased(db)
        body = {"idempotency_key": "renew-0001", "turns": [{"role": "assistant", "content": "Done."}]}
        service.submit(db, w.alice, w.task.assignment_id, body, settings, now=w.at(1))
        db.commit()
        with pytest.raises(Conflict):
            service.renew(db, w.alice, w.task.assignment_id, now=w.at(2))


class TestRenewOverHttp:
    def test_only_the_holder_renews_and_410_when_the_slot_is_gone(self, client: TestClient, db: Session) -> None:
        project, _, (alice, bob) = _setup(db, lease_seconds=30)
        a, b = bearer(db, alice), bearer(db, bob)
        task = client.post(f"/api/v1/projects/{project.public_id}/next", headers=a).json()
        url = f"/api/v1/assignments/{task['assignment_id']}/renew"
        assert client.post(url, headers=b).status_code == 404
        ok = client.post(url, headers=a)
        assert ok.status_code == 200 and set(ok.json()) == {"expires_at", "hold_until"}
        lease = _lease(db, task["assignment_id"])
        lease.expires_at = utcnow() - timedelta(seconds=5)
        db.commit()
        assert client.post(f"/api/v1/projects/{project.public_id}/next", headers=b).status_code == 200
        gone = client.post(url, headers=a)
        assert gone.status_code == 410 and "another labeler" in gone.json()["detail"]
