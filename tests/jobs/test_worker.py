"""The worker: jobs run in a child process, report progress, fail, cancel, and are
reaped when the worker dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import unit_of_work
from app.job_kinds import RUNNERS
from app.jobs import service
from app.jobs.context import Runner
from app.jobs.worker import Worker, WorkerOptions
from app.models import Job, JobMetric, JobStatus, Role
from tests.factories import bearer, make_user
from tests.jobs import fixture_runners


def options(**kw: object) -> WorkerOptions:
    values: dict[str, object] = {"name": "test-worker", "poll_seconds": 0.1,
                                 "heartbeat_seconds": 0.3, "cancel_grace_seconds": 5.0,
                                 "max_jobs": 1}
    values.update(kw)
    return WorkerOptions(**values)  # type: ignore[arg-type]


def queue(db: Session, **params: object) -> Job:
    job = service.enqueue(db, "diagnostic", dict(params))
    db.commit()
    return job


def wait_for(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def fresh(factory: sessionmaker[Session], job_id: int) -> Job:
    with unit_of_work(factory) as s:
        job = s.get(Job, job_id)
        assert job is not None
        s.expunge(job)
        return job


class TestWorker:
    def test_a_job_runs_to_success_with_progress_metrics_and_log(
        self, db: Session, settings: Settings, session_factory: sessionmaker[Session]
    ) -> None:
        job = queue(db, steps=3, step_seconds=0.05)
        Worker(settings, RUNNERS, options(), session_factory).run_forever()
        done = fresh(session_factory, job.id)
        assert done.status == JobStatus.succeeded, done.error
        assert done.result == {"steps": 3}
        assert done.progress["step"] == 3 and done.progress["total"] == 3
        steps = [m.step for m in db.query(JobMetric).filter_by(job_id=job.id).order_by(JobMetric.step)]
        assert steps == [1, 2, 3]
        assert "step 3/3" in done.log_tail

    def test_a_job_that_raises_is_failed_with_its_error(
        self, db: Session, settings: Settings, session_factory: sessionmaker[Session]
    ) -> None:
        job = queue(db, steps=5, step_seconds=0.0, fail_at=2)
        Worker(settings, RUNNERS, options(), session_factory).run_forever()
        done = fresh(session_factory, job.id)
        assert done.status == JobStatus.failed
        assert done.error == "RuntimeError: diagnostic failure requested at step 2"
        assert "Traceback" in done.log_tail

    def test_cancelling_a_running_job_stops_it_within_seconds(
        self, db: Session, settings: Settings, session_factory: sessionmaker[Session]
    ) -> None:
        job = queue(db, steps=2000, step_seconds=0.05)
        worker = Worker(settings, RUNNERS, options(), session_factory)
        thread = threading.Thread(target=worker.run_forever)
        thread.start()
        wait_for(lambda: fresh(session_factory, job.id).progress.get("step", 0) >= 2)
        with unit_of_work(session_factory) as s:
            service.request_cancel(s, service.get(s, job.public_id))
        asked = time.monotonic()
        thread.join(30)
        assert time.monotonic() - asked < 5
        done = fresh(session_factory, job.id)
        assert done.status == JobStatus.cancelled
        assert 2 <= done.result["stopped_at_step"] < 2000


class TestDeadWorker:
    def test_a_killed_worker_leaves_a_job_the_reaper_fails_with_a_reason(
        self, db: Session, settings: Settings, session_factory: sessionmaker[Session]
    ) -> None:
        job = queue(db, steps=2000, step_seconds=0.05)
        env = {**os.environ, "RANKWISE_DATABASE_URL": settings.database_url,
               "RANKWISE_DATA_DIR": str(settings.data_dir), "RANKWISE_ENV": "test",
               "RANKWISE_SECRET_KEY": settings.secret_key}
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker", "--poll", "0.1", "--heartbeat", "0.3"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(lambda: fresh(session_factory, job.id).progress.get("step", 0) >= 1, 60)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
        time.sleep(1.5)
        with unit_of_work(session_factory) as s:
            reaped = service.reap_stale(s, timedelta(seconds=1))
        assert [j.id for j in reaped] == [job.id]
        done = fresh(session_factory, job.id)
        assert done.status == JobStatus.failed
        assert "stopped heartbeating" in (done.error or "")
        # The orphaned child noticed and exited: no more progress arrives.
        step = done.progress["step"]
        time.sleep(1.0)
        assert fresh(session_factory, job.id).progress["step"] == step


def metrics_of(factory: sessionmaker[Session], job_id: int) -> list[dict[str, object]]:
    with unit_of_work(factory) as s:
        job = s.get(Job, job_id)
        assert job is not None
        return service.metrics(s, job, -1, 100)


def run_then_a_diagnostic(settings: Settings, factory: sessionmaker[Session], db: Session,
                          runner: Runner) -> tuple[Job, Job]:
    """A job of a test-only kind, then a diagnostic one; one worker runs both in turn."""
    first = service.enqueue(db, "test-only", {})
    after = queue(db, steps=1, step_seconds=0.0)
    Worker(settings, {**RUNNERS, "test-only": runner}, options(max_jobs=2), factory).run_forever()
    return fresh(factory, first.id), fresh(factory, after.id)


class TestBookkeeping:
    """What a job reports is stored the same on both databases, and nothing the worker
    fails to record leaves a job running or stops the worker."""

    def test_nan_and_infinite_metrics_are_stored_spelled_out_and_the_worker_goes_on(
        self, db: Session, settings: Settings, session_factory: sessionmaker[Session],
        client: TestClient,
    ) -> None:
        diverging, after = run_then_a_diagnostic(settings, session_factory, db,
                                                 fixture_runners.non_finite_metrics)
        assert diverging.status == JobStatus.succeeded, diverging.error
        assert diverging.result == {"final_loss": "NaN", "best": {"loss": 0.5, "kl": "Infinity"}}
        assert metrics_of(session_factory, diverging.id) == [
            {"step": 1, "loss": 0.5, "grad_norm": 1.0},
            {"step": 2, "loss": "NaN", "grad_norm": "Infinity"},
            {"step": 3, "loss": "-Infinity", "grad_norm": "NaN"},
        ]
        assert after.status == JobStatus.succeeded
        headers = bearer(db, make_user(db, Role.engineer))
        r = client.get(f"/api/v1/jobs/{diverging.public_id}/metrics", headers=headers)
        assert r.status_code == 200, r.text
        assert [row["loss"] for row in r.json()["items"]] == [0.5, "NaN", "-Infinity"]
        assert client.get(f"/api/v1/jobs/{diverging.public_id}", headers=headers).status_code == 200

    def test_a_result_that_cannot_be_stored_fails_the_job_with_the_reason(
        self, db: Session, settings: Settings, session_factory: sessionmaker[Session]
    ) -> None:
        done, after = run_then_a_diagnostic(settings, session_factory, db,
                                            fixture_runners.unstorable_result)
        assert done.status == JobStatus.failed
        assert "could not record" in (done.error or "") and "not JSON serializable" in (done.error or "")
        assert after.status == JobStatus.succeeded

    def test_progress_that_cannot_be_stored_stops_the_job_and_fails_it(
        self, db: Session, settings: Settings, session_factory: sessionmaker[Session]
    ) -> None:
        broken = service.enqueue(db, "test-unstorable-progress", {})
        db.commit()
        runners = {**RUNNERS, "test-unstorable-progress": fixture_runners.unstorable_progress}
        started = time.monotonic()
        Worker(settings, runners, options(), session_factory).run_forever()
        assert time.monotonic() - started < 30  # stopped, not run through its 1000 steps

        done = fresh(session_factory, broken.id)
        assert done.status == JobStatus.failed
        assert "could not record the job's progress" in (done.error or "")

    def test_a_lost_connection_delays_the_reports_but_loses_none(
        self, db: Session, settings: Settings, session_factory: sessionmaker[Session]
    ) -> None:
        job = queue(db, steps=10, step_seconds=0.2)
        failures = {"left": 3}

        def flaky() -> Session:
            # Once the first step is recorded, the next three transactions find the
            # database gone, while the job goes on reporting steps.
            if failures["left"] and fresh(session_factory, job.id).progress.get("step", 0) >= 1:
                failures["left"] -= 1
                raise OperationalError("SELECT 1", {}, ConnectionError("server closed the connection"))
            return session_factory()

        Worker(settings, RUNNERS, options(), flaky).run_forever()  # type: ignore[arg-type]
        assert failures["left"] == 0
        done = fresh(session_factory, job.id)
        assert done.status == JobStatus.succeeded, done.error
        assert [m["step"] for m in metrics_of(session_factory, job.id)] == list(range(1, 11))

    def test_a_worker_claims_only_the_kinds_it_can_run(
        self, db: Session, settings: Settings, session_factory: sessionmaker[Session]
    ) -> None:
        foreign = service.enqueue(db, "kind-of-another-worker", {})
        mine = queue(db, steps=1, step_seconds=0.0)
        Worker(settings, RUNNERS, options(), session_factory).run_forever()
        assert fresh(session_factory, mine.id).status == JobStatus.succeeded
        assert fresh(session_factory, foreign.id).status == JobStatus.queued

    def test_a_worker_refuses_kinds_it_has_no_runner_for(self, settings: Settings) -> None:
        with pytest.raises(ValueError, match="No runner for the job kinds"):
            Worker(settings, RUNNERS, options(kinds=["train", "no-such-kind"]))
