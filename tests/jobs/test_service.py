"""The job lifecycle in the database: claim, heartbeat, reaper, cancel, dependencies, and
what is stored of what a job reports."""

from __future__ import annotations

import math
import threading
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.db import unit_of_work
from app.errors import Conflict
from app.jobs import service
from app.models import Job, JobStatus, utcnow


def queue_jobs(db: Session, n: int, kind: str = "diagnostic") -> list[int]:
    ids = [service.enqueue(db, kind, {"steps": 1}).id for _ in range(n)]
    db.commit()
    return ids


class TestClaim:
    def test_each_job_is_claimed_exactly_once_by_concurrent_workers(
        self, db: Session, session_factory: sessionmaker[Session]
    ) -> None:
        ids = queue_jobs(db, 24)
        claimed: list[tuple[str, int]] = []
        errors: list[BaseException] = []
        barrier = threading.Barrier(8)

        def worker(name: str) -> None:
            try:
                barrier.wait()
                while True:
                    with unit_of_work(session_factory) as s:
                        job = service.claim(s, name)
                        if job is None:
                            return
                        claimed.append((name, job.id))
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors
        assert sorted(job_id for _, job_id in claimed) == sorted(ids)
        db.expire_all()
        rows = {j.id: j for j in db.query(Job).all()}
        assert all(rows[i].status == JobStatus.running for i in ids)
        assert {rows[job_id].worker for _, job_id in claimed} == {n for n, _ in claimed}
        assert all(rows[job_id].worker == name for name, job_id in claimed)

    def test_claims_the_oldest_job_of_the_kinds_asked_for(self, db: Session) -> None:
        first = queue_jobs(db, 1, "export")[0]
        second = queue_jobs(db, 1, "diagnostic")[0]
        job = service.claim(db, "w", kinds=["diagnostic"])
        assert job is not None and job.id == second
        job = service.claim(db, "w")
        assert job is not None and job.id == first
        assert service.claim(db, "w") is None


class TestReaper:
    def test_a_job_whose_worker_stopped_heartbeating_fails_with_the_reason(
        self, db: Session
    ) -> None:
        queue_jobs(db, 2)
        stale = service.claim(db, "host-a:1")
        fresh = service.claim(db, "host-b:2")
        assert stale is not None and fresh is not None
        stale.heartbeat_at = utcnow() - timedelta(minutes=5)
        db.commit()
        reaped = service.reap_stale(db, timedelta(seconds=60))
        db.commit()
        assert [j.id for j in reaped] == [stale.id]
        assert stale.status == JobStatus.failed
        assert "'host-a:1' stopped heartbeating" in (stale.error or "")
        assert fresh.status == JobStatus.running

    def test_a_reaped_worker_cannot_overwrite_the_verdict(self, db: Session) -> None:
        queue_jobs(db, 1)
        job = service.claim(db, "w")
        assert job is not None
        job.heartbeat_at = utcnow() - timedelta(minutes=5)
        db.flush()
        service.reap_stale(db, timedelta(seconds=60))
        assert service.succeed(db, job.id, "w", {"late": True}) is False
        assert service.heartbeat(db, job.id, "w") == (False, False)
        assert job.status == JobStatus.failed


class TestCancel:
    def test_a_queued_job_is_cancelled_at_once(self, db: Session) -> None:
        job = service.enqueue(db, "diagnostic", {})
        service.request_cancel(db, job)
        assert job.status == JobStatus.cancelled
        assert service.claim(db, "w") is None

    def test_a_running_job_is_flagged_for_its_worker(self, db: Session) -> None:
        queue_jobs(db, 1)
        job = service.claim(db, "w")
        assert job is not None
        service.request_cancel(db, job)
        assert job.status == JobStatus.running
        assert service.heartbeat(db, job.id, "w") == (True, True)

    def test_a_finished_job_cannot_be_cancelled(self, db: Session) -> None:
        queue_jobs(db, 1)
        job = service.claim(db, "w")
        assert job is not None
        service.succeed(db, job.id, "w", {})
        with pytest.raises(Conflict, match="already succeeded"):
            service.request_cancel(db, job)


class TestDependencies:
    """A job queued ``after`` another is claimable once that one succeeded, and fails,
    naming it, when it failed or was cancelled."""

    def test_a_waiting_job_is_passed_over_until_its_dependency_succeeded(self, db: Session) -> None:
        first = service.enqueue(db, "export", {})
        waiting = service.enqueue(db, "train", {}, after=first)
        other = service.enqueue(db, "diagnostic", {})
        db.commit()
        assert service.claim(db, "w").id == first.id  # type: ignore[union-attr]
        # The export is running: the run is not ready, the next job in line is.
        assert service.claim(db, "w").id == other.id  # type: ignore[union-attr]
        assert service.claim(db, "w") is None
        assert waiting.status == JobStatus.queued
        service.succeed(db, first.id, "w", {})
        job = service.claim(db, "w")
        assert job is not None and job.id == waiting.id

    def test_a_job_whose_dependency_failed_is_failed_with_its_name_and_reason(self, db: Session) -> None:
        export = service.enqueue(db, "export", {})
        waiting = service.enqueue(db, "train", {}, after=export)
        db.commit()
        assert service.claim(db, "w").id == export.id  # type: ignore[union-attr]
        service.fail(db, export.id, "w", "disk full")
        assert service.claim(db, "w") is None
        assert waiting.status == JobStatus.failed and waiting.finished_at is not None
        assert f"export job {export.public_id}" in (waiting.error or "")
        assert "failed (disk full)" in (waiting.error or "")

    def test_cancelling_the_dependency_fails_the_chain_waiting_on_it(self, db: Session) -> None:
        export = service.enqueue(db, "export", {})
        run = service.enqueue(db, "train", {}, after=export)
        follow_up = service.enqueue(db, "sample", {}, after=run)
        service.request_cancel(db, export)
        db.commit()
        assert service.claim(db, "w") is None
        assert run.status == follow_up.status == JobStatus.failed
        assert f"export job {export.public_id} this job waited for was cancelled" in (run.error or "")
        assert f"train job {run.public_id}" in (follow_up.error or "")

    def test_concurrent_workers_claim_a_waiting_job_once_and_only_after_its_dependency(
        self, db: Session, session_factory: sessionmaker[Session]
    ) -> None:
        export = service.enqueue(db, "export", {})
        runs = [service.enqueue(db, "train", {}, after=export).id for _ in range(6)]
        db.commit()
        with unit_of_work(session_factory) as s:
            assert service.claim(s, "w0").id == export.id  # type: ignore[union-attr]
        claimed: list[int] = []
        errors: list[BaseException] = []
        barrier = threading.Barrier(4)

        def worker(name: str, rounds: int) -> None:
            try:
                barrier.wait()
                for _ in range(rounds):
                    with unit_of_work(session_factory) as s:
                        job = service.claim(s, name)
                        if job is not None:
                            claimed.append(job.id)
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(f"w{i}", 3)) for i in range(1, 5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors and claimed == []  # the export has not finished
        with unit_of_work(session_factory) as s:
            service.succeed(s, export.id, "w0", {})
        barrier.reset()
        threads = [threading.Thread(target=worker, args=(f"w{i}", 4)) for i in range(1, 5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors
        assert sorted(claimed) == runs


class TestStoredSafely:
    def test_numbers_json_cannot_hold_are_spelled_out_alike_on_both_databases(self, db: Session) -> None:
        queue_jobs(db, 1)
        job = service.claim(db, "w")
        assert job is not None
        service.record_progress(db, job.id, "w", progress={"step": 1, "eta_seconds": float("inf")},
                                metrics=[(1, {"loss": float("nan"), "kl": float("-inf"), "lr": 0.1})],
                                log_tail="bad byte \x00 here")
        service.succeed(db, job.id, "w", {"val_loss": float("nan"), "nested": [float("inf")]})
        db.commit()
        db.expire_all()
        stored = db.get(Job, job.id)
        assert stored is not None
        assert stored.progress == {"step": 1, "eta_seconds": "Infinity"}
        assert stored.result == {"val_loss": "NaN", "nested": ["Infinity"]}
        assert stored.log_tail == "bad byte \ufffd here"
        assert service.metrics(db, stored, -1, 10) == [
            {"step": 1, "loss": "NaN", "kl": "-Infinity", "lr": 0.1}]
        assert math.isnan(float(stored.result["val_loss"]))  # what float() reads back
