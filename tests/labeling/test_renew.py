"""Renewing a lease while the labeler works: bounded, and never over a slot someone
else holds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import Conflict, LeaseExpired
from app.labeling import queue, service
from app.models import Assignment, AssignmentStatus, User, utcnow
from tests.factories import add_member, bearer, make_demo_item, make_labelers, make_project


def _setup(db: Session, lease_seconds: int = 60, labelers: int = 2) -> tuple[Any, Any, list[User]]:
    project = make_project(db, "demonstration", overlap=1, lease_seconds=lease_seconds)
    item = make_demo_item(db, project)
    users = make_labelers(db, labelers)
    add_member(db, project, *users)
    return project, item, users


def _lease(db: Session, public_id: str) -> Assignment:
    """The lease as stored now (re-read, without expiring the test's other objects: on
    SQLite a lazy reload would open a write transaction the server then waits for)."""
    query = select(Assignment).where(Assignment.public_id == public_id)
    found = db.scalar(query.execution_options(populate_existing=True))
    assert found is not None
    return found


class TestRenew:
    def test_renewing_keeps_the_task_past_its_first_expiry(self, db: Session) -> None:
        project, _, (alice, bob) = _setup(db)
        t0 = utcnow()
        task = service.next_task(db, alice, project.public_id, now=t0)
        assert task is not None
        db.commit()
        out = service.renew(db, alice, task.assignment_id, now=t0 + timedelta(seconds=50))
        db.commit()
        assert out.expires_at == t0 + timedelta(seconds=110)
        assert out.hold_until == t0 + queue.MAX_HOLD
        # Past the first expiry nobody else gets the item: it is still alice's.
        assert service.next_task(db, bob, project.public_id, now=t0 + timedelta(seconds=70)) is None
        db.commit()
        assert _lease(db, task.assignment_id).status == AssignmentStatus.active

    def test_renewals_stop_at_the_maximum_hold(self, db: Session) -> None:
        project, _, (alice, _) = _setup(db)
        t0 = utcnow()
        task = service.next_task(db, alice, project.public_id, now=t0)
        assert task is not None
        db.commit()
        late = t0 + queue.MAX_HOLD - timedelta(seconds=10)
        assert service.renew(db, alice, task.assignment_id, now=late).expires_at == t0 + queue.MAX_HOLD
        db.commit()
        again = service.renew(db, alice, task.assignment_id, now=t0 + queue.MAX_HOLD + timedelta(seconds=5))
        assert again.expires_at == t0 + queue.MAX_HOLD

    def test_a_lease_that_ran_out_takes_its_free_slot_back(self, db: Session) -> None:
        project, item, (alice, _) = _setup(db)
        t0 = utcnow()
        task = service.next_task(db, alice, project.public_id, now=t0)
        assert task is not None
        db.commit()
        # Another labeler's `next` after the expiry gave the slot back to the pool.
        assert queue.reclaim_expired(db, project.id, t0 + timedelta(seconds=61)) == 1
        db.commit()
        db.refresh(item)
        assert (_lease(db, task.assignment_id).status, item.taken) == (AssignmentStatus.expired, 0)
        out = service.renew(db, alice, task.assignment_id, now=t0 + timedelta(seconds=62))
        db.commit()
        assert out.expires_at == t0 + timedelta(seconds=122)
        db.refresh(item)
        assert (_lease(db, task.assignment_id).status, item.taken) == (AssignmentStatus.active, 1)

    def test_a_slot_someone_else_took_is_gone(self, db: Session) -> None:
        project, item, (alice, bob) = _setup(db)
        t0 = utcnow()
        task = service.next_task(db, alice, project.public_id, now=t0)
        assert task is not None
        db.commit()
        taken = service.next_task(db, bob, project.public_id, now=t0 + timedelta(seconds=61))
        db.commit()
        assert taken is not None and taken.item_id == task.item_id
        with pytest.raises(LeaseExpired):
            service.renew(db, alice, task.assignment_id, now=t0 + timedelta(seconds=62))
        db.rollback()
        assert _lease(db, task.assignment_id).status == AssignmentStatus.expired
        db.refresh(item)
        assert item.taken == 1

    def test_a_submitted_task_is_not_renewed(self, db: Session, settings: Any) -> None:
        project, _, (alice, _) = _setup(db)
        task = service.next_task(db, alice, project.public_id)
        assert task is not None
        body = {"idempotency_key": "renew-0001", "turns": [{"role": "assistant", "content": "Done."}]}
        service.submit(db, alice, task.assignment_id, body, settings)
        db.commit()
        with pytest.raises(Conflict):
            service.renew(db, alice, task.assignment_id)


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
