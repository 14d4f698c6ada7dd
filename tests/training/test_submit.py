"""Starting training runs through the API: checks before queueing, "export now" that
makes the run wait for its export, and the projects a caller may name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.jobs import service
from app.models import Export, ExportStatus, Job, JobKind, JobStatus, ModelKind, ModelVersion, Role
from tests.factories import add_member, bearer, make_labelers, make_project, make_user


def local_model(db: Session, folder: Path, name: str = "base") -> ModelVersion:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text("{}")
    mv = ModelVersion(name=name, kind=ModelKind.local, path=str(folder), info={}, retired=False)
    db.add(mv)
    db.commit()
    return mv


def count(db: Session, model: type) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model)) or 0


def train(client: TestClient, headers: dict[str, str], **params: Any) -> Any:
    return client.post("/api/v1/jobs", headers=headers, json={"kind": "train", "params": params})


class TestExportNow:
    def test_the_run_waits_for_its_export_job_without_occupying_a_worker(
        self, client: TestClient, db: Session, tmp_path: Path
    ) -> None:
        (engineer,) = make_labelers(db, 1, Role.engineer)
        project = make_project(db, "demonstration")
        add_member(db, project, engineer)
        base = local_model(db, tmp_path / "base")
        r = train(client, bearer(db, engineer), stage="sft", model_id=base.public_id,
                  export_now={"project_id": project.public_id,
                              "options": {"split": {"validation_fraction": 0.0}}})
        assert r.status_code == 201, r.text
        run = db.scalar(select(Job).where(Job.public_id == r.json()["id"]))
        assert run is not None
        export_job = db.scalar(select(Job).where(Job.kind == JobKind.export))
        assert export_job is not None and run.after_job_id == export_job.id
        assert run.params["after_job"] == export_job.public_id
        assert run.params["export_id"] == export_job.params["export_id"]
        export = db.scalar(select(Export).where(Export.public_id == run.params["export_id"]))
        assert export is not None and export.status == ExportStatus.pending
        assert export.filters["split"]["validation_fraction"] == 0.0

        claimed = service.claim(db, "w")
        assert claimed is not None and claimed.id == export_job.id
        assert service.claim(db, "w") is None  # the run is not ready while the export runs
        service.succeed(db, export_job.id, "w", {})
        claimed = service.claim(db, "w")
        assert claimed is not None and claimed.id == run.id

    def test_a_project_the_engineer_may_not_read_is_404_and_nothing_is_stored(
        self, client: TestClient, db: Session, tmp_path: Path
    ) -> None:
        (engineer,) = make_labelers(db, 1, Role.engineer)
        project = make_project(db, "demonstration")  # the engineer is no member
        base = local_model(db, tmp_path / "base")
        r = train(client, bearer(db, engineer), stage="sft", model_id=base.public_id,
                  export_now={"project_id": project.public_id})
        assert r.status_code == 404, r.text
        assert count(db, Export) == 0 and count(db, Job) == 0

    def test_an_export_of_a_project_the_engineer_may_not_read_cannot_be_trained_on(
        self, client: TestClient, db: Session, tmp_path: Path
    ) -> None:
        (engineer,) = make_labelers(db, 1, Role.engineer)
        project = make_project(db, "demonstration")
        export = Export(project_id=project.id, status=ExportStatus.succeeded, filters={},
                        counts={}, path=str(tmp_path))
        db.add(export)
        db.commit()
        run = {"stage": "sft", "model_id": local_model(db, tmp_path / "base").public_id,
               "export_id": export.public_id}
        headers = bearer(db, engineer)
        r = train(client, headers, **run)
        assert r.status_code == 404 and count(db, Job) == 0
        add_member(db, project, engineer)
        db.commit()  # end the read: on SQLite it holds the write lock the request needs
        r = train(client, headers, **run)
        assert r.status_code == 201, r.text
        assert r.json()["params"]["after_job"] is None


class TestChecks:
    def test_a_ppo_run_needs_a_reward_model(self, client: TestClient, db: Session, tmp_path: Path) -> None:
        admin = make_user(db, Role.admin)
        project = make_project(db, "ranking")
        export = Export(project_id=project.id, status=ExportStatus.succeeded, filters={},
                        counts={}, path=str(tmp_path))
        db.add(export)
        db.commit()
        base = local_model(db, tmp_path / "base")
        r = train(client, bearer(db, admin), stage="ppo", model_id=base.public_id,
                  export_id=export.public_id)
        assert r.status_code == 422 and "needs a reward model" in r.json()["detail"]

    def test_an_unknown_stage_or_kind_is_refused_with_the_choices(self, client: TestClient, db: Session) -> None:
        headers = bearer(db, make_user(db, Role.admin))
        r = train(client, headers, stage="grpo", model_id="1" * 16, export_id="0" * 16)
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "train.params.stage"
        assert "'best-of-k'" in r.json()["detail"]
        r = client.post("/api/v1/jobs", headers=headers, json={"kind": "suggest", "params": {}})
        assert r.status_code == 422
        assert "'train'" in r.json()["detail"] and "'diagnostic'" in r.json()["detail"]
        assert count(db, Job) == 0

    def test_the_server_sets_after_job_not_the_caller(self, client: TestClient, db: Session) -> None:
        headers = bearer(db, make_user(db, Role.admin))
        r = train(client, headers, stage="sft", model_id="1" * 16, export_id="0" * 16,
                  after_job="2" * 16)
        assert r.status_code == 422 and "after_job" in r.json()["detail"]


class TestJobStatusListing:
    def test_an_unknown_kind_filter_is_refused(self, client: TestClient, db: Session) -> None:
        headers = bearer(db, make_user(db, Role.admin))
        assert client.get("/api/v1/jobs?kind=nope", headers=headers).status_code == 422
        service.enqueue(db, JobKind.diagnostic, {})
        db.commit()
        listed = client.get("/api/v1/jobs?kind=diagnostic", headers=headers).json()
        assert [j["status"] for j in listed] == [JobStatus.queued.value]
