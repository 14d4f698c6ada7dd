"""Many labelers at once: the queue never over-assigns and never loses or doubles a judgement.

Each thread is one labeler with its own database session, calling the service the
way a request would (one unit of work per call).
"""

from __future__ import annotations

import random
import threading
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import read_phase, unit_of_work
from app.errors import DomainError
from app.labeling import service
from app.models import User
from tests.concurrency.invariants import check_queue_invariants
from tests.factories import add_member, make_labelers, make_project, make_ranking_item

LABELERS = 32


def _labeler(
    factory: sessionmaker[Session],
    settings: Settings,
    user: User,
    project_pid: str,
    seed: int,
    acked: set[str],
    errors: list[BaseException],
    lock: threading.Lock,
) -> None:
    rng = random.Random(seed)
    # Half the labelers submit with ?next=true (the next lease in the submit's transaction).
    then_next = seed % 2 == 0
    task = None
    try:
        for n in range(100):
            if task is None:
                with unit_of_work(factory) as db:
                    read_phase(db)  # as the HTTP routes do: reads outside the SQLite write lock
                    task = service.next_task(db, user, project_pid)
            if task is None:
                return
            if rng.random() < 0.15:
                with unit_of_work(factory) as db:
                    service.skip(db, user, task.assignment_id)
                task = None
                continue
            body = {
                "idempotency_key": f"user-{user.id}-task-{n}",
                "verdict": "ranked",
                "ranking": [[c.id] for c in task.completions],
                "seconds": 1.0,
            }
            # Some clients retry (a double click or a lost answer): the same key again.
            for _ in range(2 if rng.random() < 0.2 else 1):
                with unit_of_work(factory) as db:
                    read_phase(db)
                    result = service.submit(db, user, task.assignment_id, body, settings, then_next=then_next)
                with lock:
                    acked.add(result.answer.judgement_id)
            task = result.answer.next if then_next else None
            if then_next and task is None:
                return
    except (DomainError, Exception) as exc:
        errors.append(exc)


def _identical_submit(
    factory: sessionmaker[Session], settings: Settings, user: User, aid: str, body: dict[str, Any],
    out: list[Any], barrier: threading.Barrier,
) -> None:
    barrier.wait()
    try:
        with unit_of_work(factory) as db:
            read_phase(db)
            out.append(service.submit(db, user, aid, body, settings))
    except Exception as exc:
        out.append(exc)


class TestConcurrentLabelers:
    def test_32_labelers_with_overlap_3_keep_every_invariant(
        self, db: Session, session_factory: sessionmaker[Session], settings: Settings
    ) -> None:
        project = make_project(db, "ranking", overlap=3)
        for _ in range(24):
            make_ranking_item(db, project, k=4)
        labelers = make_labelers(db, LABELERS)
        add_member(db, project, *labelers)
        acked: set[str] = set()
        errors: list[BaseException] = []
        lock = threading.Lock()
        threads = [
            threading.Thread(
                target=_labeler,
                args=(session_factory, settings, u, project.public_id, i, acked, errors, lock),
            )
            for i, u in enumerate(labelers)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert not errors, errors[:3]
        db.expire_all()
        counts = check_queue_invariants(db, project.id, acked)
        # Every acknowledged judgement is stored once. A labeler told "nothing left" stops
        # here, while a slot someone else skips a moment later is free again, so the
        # project need not be finished: only never over-filled.
        assert counts["judgements"] == len(acked)
        assert 24 * 3 - LABELERS <= len(acked) <= 24 * 3

    def test_two_identical_submits_racing_store_one_judgement(
        self, db: Session, session_factory: sessionmaker[Session], settings: Settings
    ) -> None:
        project = make_project(db, "ranking", overlap=1)
        make_ranking_item(db, project)
        (user,) = make_labelers(db, 1)
        add_member(db, project, user)
        task = service.next_task(db, user, project.public_id)
        db.commit()
        assert task is not None
        body = {"idempotency_key": "same-key-1", "verdict": "ranked", "ranking": [[c.id] for c in task.completions]}
        out: list[Any] = []
        barrier = threading.Barrier(4)
        threads = [
            threading.Thread(target=_identical_submit, args=(session_factory, settings, user, task.assignment_id, body, out, barrier))
            for _ in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert all(not isinstance(r, BaseException) for r in out), out
        assert len({r.answer.judgement_id for r in out}) == 1
        assert sorted(r.replayed for r in out) == [False, True, True, True]
        db.expire_all()
        check_queue_invariants(db, project.id, {out[0].answer.judgement_id})
