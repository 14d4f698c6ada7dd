"""End to end on CPU: an export → an SFT job through the worker → the output registered
→ a sample job from it fills a ranking project's queue."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.jobs import service
from app.jobs.worker import Worker, WorkerOptions
from app.models import Completion, Export, Job, JobMetric, JobStatus, ModelVersion, Role, WorkItem
from app.registry import service as registry
from tests.factories import make_project, make_prompt, make_user


def write_export(folder: Path) -> Path:
    folder.mkdir(parents=True)
    lines = [json.dumps({"id": f"d_{i}", "messages": [
        {"role": "user", "content": f"What is {i} plus {i}?"},
        {"role": "assistant", "content": f"{i} plus {i} is {2 * i}."}]}) for i in range(4)]
    data = ("\n".join(lines) + "\n").encode()
    (folder / "sft.train.jsonl").write_bytes(data)
    manifest = {"schema_version": 1, "project": "demo", "files": {"sft.train.jsonl": {
        "records": 4, "sha256": hashlib.sha256(data).hexdigest()}}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def run_one(settings: Settings, factory: sessionmaker[Session]) -> None:
    Worker(settings, WorkerOptions(name="w", poll_seconds=0.1, max_jobs=1), factory).run_forever()


class TestTrainThenSample:
    def test_an_sft_run_registers_a_model_that_samples_the_next_round(
        self, db: Session, settings: Settings, session_factory: sessionmaker[Session],
        tmp_path: Path,
    ) -> None:
        from trainer.tiny import build_tiny_model

        admin = make_user(db, Role.admin)
        project = make_project(db, "ranking", k_min=4, k_max=9)
        base = registry.register_local(db, admin, name="tiny",
                                       path=str(build_tiny_model(tmp_path / "tiny")))
        export = Export(project_id=project.id, status="succeeded",
                        path=str(write_export(tmp_path / "export")))
        db.add(export)
        db.commit()
        train = service.submit(db, admin, "train", {
            "stage": "sft", "export_id": export.public_id, "model_id": base.public_id,
            "name": "sft-v1", "hyperparameters": {"epochs": 1, "batch_size": 2, "max_length": 64}})
        db.commit()
        run_one(settings, session_factory)
        db.expire_all()
        done = db.get(Job, train.id)
        assert done is not None and done.status == JobStatus.succeeded, done and done.error
        assert "train sft --config" in done.result["command"]
        assert done.progress["step"] == done.progress["total"] == 2
        assert db.query(JobMetric).filter_by(job_id=train.id).count() >= 1
        sft = db.query(ModelVersion).filter_by(name="sft-v1").one()
        assert sft.parent_id == base.id and sft.info["manifest"]["kind"]
        assert Path(sft.path or "", "rankwise.json").is_file()

        prompt = make_prompt(db, project, "Say something nice.")
        db.commit()
        sample = service.submit(db, admin, "sample", {
            "project_id": project.public_id, "model_id": sft.public_id, "k": 4,
            "max_tokens": 8, "batch_size": 4})
        db.commit()
        run_one(settings, session_factory)
        db.expire_all()
        done = db.get(Job, sample.id)
        assert done is not None and done.status == JobStatus.succeeded, done and done.error
        completions = db.query(Completion).filter_by(prompt_id=prompt.id).all()
        assert len(completions) == 4 and {c.model_name for c in completions} == {"sft-v1"}
        assert db.query(WorkItem).filter_by(project_id=project.id, prompt_id=prompt.id).count() == 1
