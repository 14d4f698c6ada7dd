"""Resuming a cancelled or failed run from its last checkpoint: the new job copies the
checkpoint into its own folder, loads weights, optimizer, scheduler and step from it,
and continues at the saved step; refusals name what to do instead."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import unit_of_work
from app.job_kinds import RUNNERS
from app.jobs import service as jobs
from app.jobs.worker import Worker, WorkerOptions
from app.models import Export, ExportStatus, Job, JobKind, JobMetric, JobStatus, Project, Role, User
from app.training.service import output_folder
from tests.factories import add_member, bearer, make_project, make_user
from tests.trainer.export_factory import demo, write_export
from tests.training.test_submit import local_model
from trainer.run_folder import METRICS_FILE, STATE_FILE, checkpoint_name


def finished_export(db: Session, folder: Path, reader: User) -> Export:
    """A succeeded export, of a project ``reader`` works on, holding eight demonstrations."""
    write_export(folder, {"sft.train.jsonl": [
        demo(f"d{i}", f"Question {i}?", "A short and kind answer.") for i in range(8)]})
    project = make_project(db, "demonstration")
    add_member(db, project, reader)
    export = Export(project_id=project.id, status=ExportStatus.succeeded,
                    filters={}, counts={}, path=str(folder))
    db.add(export)
    db.commit()
    return export


def fresh(factory: sessionmaker[Session], public_id: str) -> Job:
    with unit_of_work(factory) as s:
        job = s.scalar(select(Job).where(Job.public_id == public_id))
        assert job is not None
        s.expunge(job)
        return job


def wait_for(check: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def worker(settings: Settings, factory: sessionmaker[Session]) -> Worker:
    # A long grace: the child must not be killed while it still imports torch.
    return Worker(settings, RUNNERS, WorkerOptions(name="w", poll_seconds=0.05,
                                                   heartbeat_seconds=0.2, max_jobs=1,
                                                   cancel_grace_seconds=300), factory)


def logged_steps(folder: Path) -> list[int]:
    lines = (folder / METRICS_FILE).read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["step"] for line in lines if "loss" in json.loads(line)]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
class TestResumeContinuesAtTheSavedStep:
    def test_a_cancelled_sft_run_resumes_from_its_checkpoint_and_finishes_the_remaining_steps(
        self, db: Session, settings: Settings, session_factory: sessionmaker[Session],
        client: TestClient, tmp_path: Path,
    ) -> None:
        from trainer.tiny import build_tiny_model

        engineer = make_user(db, Role.engineer)
        export = finished_export(db, tmp_path / "export", engineer)
        base = local_model(db, tmp_path / "unused")
        base.path = str(build_tiny_model(tmp_path / "tiny"))
        db.commit()
        headers = bearer(db, engineer)
        # 8 demonstrations, one per update, 5 epochs: 40 updates. The cancel is asked as
        # soon as the job runs, while its child is still loading torch; the trainer sees it
        # at the end of an update, so the run stops (and saves) long before its end.
        r = client.post("/api/v1/jobs", headers=headers, json={"kind": "train", "params": {
            "stage": "sft", "model_id": base.public_id, "export_id": export.public_id,
            "hyperparameters": {"epochs": 5, "batch_size": 1, "max_length": 64,
                                "learning_rate": 1e-3}}})
        assert r.status_code == 201, r.text
        first = r.json()["id"]

        thread = threading.Thread(target=worker(settings, session_factory).run_forever)
        thread.start()
        wait_for(lambda: fresh(session_factory, first).status == JobStatus.running)
        with unit_of_work(session_factory) as s:
            jobs.request_cancel(s, jobs.get(s, first))
        thread.join(120)
        cancelled = fresh(session_factory, first)
        assert cancelled.status == JobStatus.cancelled, cancelled.error
        saved = int(cancelled.result["step"])
        assert 1 <= saved < 40
        first_out = output_folder(settings, first)
        assert (first_out / "checkpoints" / checkpoint_name(saved) / STATE_FILE).is_file()

        r = client.post(f"/api/v1/training/runs/{first}/resume", headers=headers)
        assert r.status_code == 201, r.text
        second = r.json()
        assert second["params"]["resume_from"] == first and second["params"]["resume"] is True
        assert second["params"]["hyperparameters"]["epochs"] == 5
        assert second["progress"]["step"] == saved
        # The new job's curves start with the old run's points up to the checkpoint.
        db.expire_all()
        copied = db.scalars(select(JobMetric.step).join(Job, Job.id == JobMetric.job_id)
                            .where(Job.public_id == second["id"])).all()
        assert copied and max(copied) == saved
        db.commit()  # end the read: on SQLite it holds the write lock the worker needs

        worker(settings, session_factory).run_forever()
        done = fresh(session_factory, second["id"])
        assert done.status == JobStatus.succeeded, done.error
        assert done.progress["step"] == done.progress["total"] == 40
        out = output_folder(settings, second["id"])
        steps = logged_steps(out)
        # Steps 1..saved come from the first run; the resumed run trained only the rest,
        # starting right after the checkpoint, each step once.
        assert steps == list(range(1, 41))
        assert logged_steps(first_out) == list(range(1, saved + 1))
        manifest = json.loads((out / "rankwise.json").read_text(encoding="utf-8"))
        assert manifest["step"] == 40


class TestResumeRefusals:
    def run_of(self, db: Session, status: JobStatus, export: Export, model_id: str) -> Job:
        job = jobs.enqueue(db, JobKind.train, {"stage": "sft", "model_id": model_id,
                                               "export_id": export.public_id})
        job.status = status
        db.commit()
        return job

    def test_only_cancelled_or_failed_training_runs_with_a_checkpoint_resume(
        self, client: TestClient, db: Session, settings: Settings, tmp_path: Path
    ) -> None:
        engineer = make_user(db, Role.engineer)
        headers = bearer(db, engineer)
        export = finished_export(db, tmp_path / "export", engineer)
        base = local_model(db, tmp_path / "base").public_id
        url = "/api/v1/training/runs/{}/resume"
        done = self.run_of(db, JobStatus.succeeded, export, base)
        r = client.post(url.format(done.public_id), headers=headers)
        assert r.status_code == 409 and "only a cancelled or failed run" in r.json()["detail"]

        failed = self.run_of(db, JobStatus.failed, export, base)
        r = client.post(url.format(failed.public_id), headers=headers)
        assert r.status_code == 409 and "no checkpoint" in r.json()["detail"]

        # A checkpoint in the run's folder is what makes it resumable.
        folder = output_folder(settings, failed.public_id) / "checkpoints" / checkpoint_name(6)
        folder.mkdir(parents=True)
        (folder / STATE_FILE).write_text(json.dumps({"step": 6}), encoding="utf-8")
        r = client.post(url.format(failed.public_id), headers=headers)
        assert r.status_code == 201, r.text
        assert r.json()["progress"]["step"] == 6 and r.json()["status"] == "queued"

        diagnostic = jobs.enqueue(db, JobKind.diagnostic, {})
        diagnostic.status = JobStatus.failed
        db.commit()
        r = client.post(url.format(diagnostic.public_id), headers=headers)
        assert r.status_code == 409 and "only training runs resume" in r.json()["detail"]
        assert client.post(url.format("0" * 16), headers=headers).status_code == 404

    def test_labelers_may_not_resume_runs(self, client: TestClient, db: Session) -> None:
        headers = bearer(db, make_user(db, Role.labeler))
        r = client.post(f"/api/v1/training/runs/{'0' * 16}/resume", headers=headers)
        assert r.status_code == 403


class TestTrainableExports:
    def test_engineers_read_the_finished_exports_of_their_projects_only(
        self, client: TestClient, db: Session, tmp_path: Path
    ) -> None:
        engineer = make_user(db, Role.engineer)
        mine = finished_export(db, tmp_path / "mine", engineer)
        other = finished_export(db, tmp_path / "other", make_user(db, Role.engineer))
        pending = Export(project_id=mine.project_id, status=ExportStatus.pending, filters={},
                         counts={})
        db.add(pending)
        db.commit()
        ids = (mine.public_id, other.public_id, pending.public_id)
        pid = db.scalar(select(Project.public_id).join(Export, Export.project_id == Project.id)
                        .where(Export.public_id == ids[0]))
        db.commit()
        headers = bearer(db, engineer)
        r = client.get(f"/api/v1/training/exports/{ids[0]}", headers=headers)
        assert r.status_code == 200 and r.json()["id"] == ids[0]
        assert client.get(f"/api/v1/training/exports/{ids[1]}", headers=headers).status_code == 404
        assert client.get(f"/api/v1/training/exports/{ids[2]}", headers=headers).status_code == 404
        listed = client.get(f"/api/v1/training/exports?project_id={pid}", headers=headers).json()
        assert [e["id"] for e in listed] == [ids[0]]


class TestStages:
    def test_every_hyper_parameter_of_every_stage_comes_from_its_config_dataclass(
        self, client: TestClient, db: Session
    ) -> None:
        import dataclasses

        from app.training.stages import MANAGED_FIELDS
        from trainer.stages import STAGES

        r = client.get("/api/v1/training/stages", headers=bearer(db, make_user(db, Role.engineer)))
        assert r.status_code == 200
        served = {s["name"]: s for s in r.json()}
        assert list(served) == list(STAGES)
        for name, stage in STAGES.items():
            fields = {f.name: f for f in dataclasses.fields(stage.config)
                      if f.name not in MANAGED_FIELDS}
            got = {h["name"]: h for h in served[name]["hyperparameters"]}
            assert list(got) == list(fields)
            for key, field in fields.items():
                assert got[key]["help"] == field.metadata["help"]
        sft = {h["name"]: h for h in served["sft"]["hyperparameters"]}
        assert sft["epochs"]["default"] == 2 and sft["epochs"]["type"] == "integer"
        assert sft["mixed_precision"] == {**sft["mixed_precision"], "type": "choice",
                                          "choices": ["no", "bf16", "fp16"], "default": "no"}
        rm = {h["name"]: h for h in served["rm"]["hyperparameters"]}
        assert rm["margin_mapping"]["type"] == "mapping" and rm["margin_mapping"]["nullable"]
        ppo = {h["name"]: h for h in served["ppo"]["hyperparameters"]}
        assert ppo["safety_categories"] == {**ppo["safety_categories"], "type": "list",
                                            "default": ["safety"]}
        assert served["ppo"]["needs_reward_model"] and not served["sft"]["needs_reward_model"]

    def test_labelers_may_not_read_the_stages(self, client: TestClient, db: Session) -> None:
        r = client.get("/api/v1/training/stages", headers=bearer(db, make_user(db, Role.labeler)))
        assert r.status_code == 403
