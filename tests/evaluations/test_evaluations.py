"""Blind pairwise evaluation of two model versions: the API, the sampling job, blindness."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.evaluations.runner import a_first
from app.exports.schemas import ExportCreate
from app.exports.service import write_export
from app.models import (
    AuditEntry,
    Completion,
    ItemCompletion,
    Job,
    JobStatus,
    ModelVersion,
    Project,
    ProjectMember,
    Prompt,
    Role,
    TaskKind,
    User,
    WorkItem,
)
from app.registry import service as registry
from tests.factories import add_member, bearer, make_labelers, make_project, make_prompt, make_user
from tests.jobs.helpers import run_worker
from tests.registry.fake_openai import fake_openai_server

SEED = 7


def _models(db: Session, admin: User, url: str = "http://127.0.0.1:9/v1") -> tuple[ModelVersion, ModelVersion]:
    a = registry.register_endpoint(db, admin, name="alpha-secret-model", base_url=url,
                                   endpoint_model="alpha", api_key=None)
    b = registry.register_endpoint(db, admin, name="beta-secret-model", base_url=url,
                                   endpoint_model="beta", api_key=None)
    db.commit()
    return a, b


def _source(db: Session, reader: User, held_out: int, other: int = 1) -> Project:
    """A ranking project with held-out prompts, which ``reader`` may read (a member)."""
    project: Project = make_project(db, "ranking")
    for i in range(held_out + other):
        prompt = make_prompt(db, project, f"Held question {i}?" if i < held_out else None)
        prompt.held_out = i < held_out
    db.commit()
    add_member(db, project, reader)
    return project


def _body(a: ModelVersion, b: ModelVersion, source: Project, **extra: Any) -> dict[str, Any]:
    return {"model_a": a.public_id, "model_b": b.public_id,
            "prompts": {"project_id": source.public_id},
            "sampling": {"temperature": 0.5, "top_p": 1.0, "max_tokens": 32}, "seed": SEED, **extra}


def _run_worker(settings: Settings, session_factory: sessionmaker[Session]) -> None:
    run_worker(settings, session_factory, poll_seconds=0.1)


def _count(db: Session, model: type) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


class TestStartEvaluation:
    def test_copies_the_held_out_prompts_into_a_new_evaluation_project_and_queues_one_job(
        self, client: TestClient, db: Session
    ) -> None:
        engineer, labeler = make_labelers(db, 1, Role.engineer) + make_labelers(db, 1)
        a, b = _models(db, engineer)
        source = _source(db, engineer, held_out=2, other=2)
        r = client.post("/api/v1/evaluations", headers=bearer(db, engineer),
                        json=_body(a, b, source, labelers=[labeler.public_id], overlap=2))
        assert r.status_code == 201, r.text
        out = r.json()
        assert out["prompts"] == 2
        project = db.scalar(select(Project).where(Project.public_id == out["project_id"]))
        assert project is not None and project.task_kind == TaskKind.evaluation and project.overlap == 2
        copied = db.scalars(select(Prompt).where(Prompt.project_id == project.id).order_by(Prompt.id)).all()
        originals = db.scalars(select(Prompt).where(Prompt.project_id == source.id, Prompt.held_out.is_(True))
                               .order_by(Prompt.id)).all()
        assert [(p.external_id, p.messages, p.source) for p in copied] == [
            (p.external_id, p.messages, "evaluation") for p in originals]
        job = db.scalar(select(Job).where(Job.public_id == out["job_id"]))
        assert job is not None and job.kind == "evaluation-sample" and job.status == JobStatus.queued
        assert (job.params["model_a"], job.params["model_b"]) == (a.public_id, b.public_id)
        audit = db.scalar(select(AuditEntry).where(AuditEntry.action == "evaluation.create"))
        assert audit is not None and audit.details["prompts"] == 2
        assert client.post(f"/api/v1/projects/{project.public_id}/next",
                           headers=bearer(db, labeler)).status_code == 204  # a member; nothing sampled yet

    def test_all_true_takes_every_prompt_up_to_max_prompts(self, client: TestClient, db: Session) -> None:
        (engineer,) = make_labelers(db, 1, Role.engineer)
        a, b = _models(db, engineer)
        source = _source(db, engineer, held_out=0, other=5)
        r = client.post("/api/v1/evaluations", headers=bearer(db, engineer),
                        json=_body(a, b, source, prompts={"project_id": source.public_id, "all": True},
                                   max_prompts=3))
        assert r.status_code == 201, r.text
        assert r.json()["prompts"] == 3

    def test_a_source_without_held_out_prompts_is_refused_with_how_to_fix_it(
        self, client: TestClient, db: Session
    ) -> None:
        (engineer,) = make_labelers(db, 1, Role.engineer)
        a, b = _models(db, engineer)
        source = _source(db, engineer, held_out=0, other=2)
        projects_before = _count(db, Project)
        r = client.post("/api/v1/evaluations", headers=bearer(db, engineer), json=_body(a, b, source))
        assert r.status_code == 422
        assert "held_out" in r.json()["detail"] and '"all": true' in r.json()["detail"]
        assert _count(db, Project) == projects_before and _count(db, Job) == 0

    def test_the_same_model_twice_is_refused(self, client: TestClient, db: Session) -> None:
        (engineer,) = make_labelers(db, 1, Role.engineer)
        a, _ = _models(db, engineer)
        r = client.post("/api/v1/evaluations", headers=bearer(db, engineer),
                        json=_body(a, a, _source(db, engineer, held_out=1)))
        assert r.status_code == 422 and "same model version" in r.text

    def test_a_retired_model_is_refused_and_nothing_is_stored(self, client: TestClient, db: Session) -> None:
        (engineer,) = make_labelers(db, 1, Role.engineer)
        a, b = _models(db, engineer)
        registry.retire(db, engineer, b)
        db.commit()
        projects_before = _count(db, Project)
        r = client.post("/api/v1/evaluations", headers=bearer(db, engineer),
                        json=_body(a, b, _source(db, engineer, held_out=1)))
        assert r.status_code == 422 and "retired" in r.json()["detail"]
        assert _count(db, Project) == projects_before + 1  # only the source made by this test

    def test_an_unknown_labeler_rolls_the_whole_request_back(self, client: TestClient, db: Session) -> None:
        (engineer,) = make_labelers(db, 1, Role.engineer)
        a, b = _models(db, engineer)
        source = _source(db, engineer, held_out=1)
        projects_before = _count(db, Project)
        r = client.post("/api/v1/evaluations", headers=bearer(db, engineer),
                        json=_body(a, b, source, labelers=["nobody"]))
        assert r.status_code == 422 and "nobody" in r.json()["detail"]
        assert _count(db, Project) == projects_before and _count(db, Job) == 0

    def test_only_active_labelers_may_be_named_as_labelers(self, client: TestClient, db: Session) -> None:
        engineer, other_engineer = make_labelers(db, 2, Role.engineer)
        active, gone = make_labelers(db, 2)
        gone.is_active = False
        db.commit()
        a, b = _models(db, engineer)
        source = _source(db, engineer, held_out=1)
        projects_before = _count(db, Project)
        r = client.post("/api/v1/evaluations", headers=bearer(db, engineer),
                        json=_body(a, b, source, labelers=[active.public_id, gone.public_id,
                                                           other_engineer.public_id]))
        assert r.status_code == 422
        detail = r.json()["detail"]
        assert gone.public_id in detail and other_engineer.public_id in detail and active.public_id not in detail
        assert _count(db, Project) == projects_before and _count(db, Job) == 0

    def test_labelers_may_not_start_one(self, client: TestClient, db: Session) -> None:
        engineer, labeler = make_labelers(db, 1, Role.engineer) + make_labelers(db, 1)
        a, b = _models(db, engineer)
        r = client.post("/api/v1/evaluations", headers=bearer(db, labeler),
                        json=_body(a, b, _source(db, engineer, held_out=1)))
        assert r.status_code == 403


class TestWhoMayEvaluateWhat:
    def test_an_engineer_cannot_use_the_prompts_of_a_project_they_may_not_read(
        self, client: TestClient, db: Session
    ) -> None:
        engineer, outsider = make_labelers(db, 2, Role.engineer)
        a, b = _models(db, engineer)
        source = _source(db, engineer, held_out=2)  # outsider is no member
        projects_before = _count(db, Project)
        r = client.post("/api/v1/evaluations", headers=bearer(db, outsider), json=_body(a, b, source))
        assert r.status_code == 404, r.text
        assert "Held question" not in r.text
        assert _count(db, Project) == projects_before and _count(db, Job) == 0

    def test_an_archived_source_is_as_unknown_to_an_engineer_as_a_missing_one(
        self, client: TestClient, db: Session
    ) -> None:
        (engineer,) = make_labelers(db, 1, Role.engineer)
        a, b = _models(db, engineer)
        source = _source(db, engineer, held_out=1)
        source.archived = True
        db.commit()
        r = client.post("/api/v1/evaluations", headers=bearer(db, engineer), json=_body(a, b, source))
        missing = client.post("/api/v1/evaluations", headers=bearer(db, engineer),
                              json={**_body(a, b, source), "prompts": {"project_id": "0" * 16}})
        assert r.status_code == missing.status_code == 404
        assert r.json()["detail"] == missing.json()["detail"]

    def test_an_admin_may_use_any_project(self, client: TestClient, db: Session) -> None:
        (engineer,) = make_labelers(db, 1, Role.engineer)
        admin = make_user(db, Role.admin)
        a, b = _models(db, engineer)
        source = _source(db, engineer, held_out=1)  # the admin is no member
        r = client.post("/api/v1/evaluations", headers=bearer(db, admin), json=_body(a, b, source))
        assert r.status_code == 201, r.text
        project = db.scalar(select(Project).where(Project.public_id == r.json()["project_id"]))
        assert project is not None
        members = {m.user_id for m in db.scalars(select(ProjectMember).where(
            ProjectMember.project_id == project.id))}
        assert admin.id not in members  # admins read every project already

    def test_the_new_project_gets_the_source_labelers_the_named_ones_and_its_engineer(
        self, client: TestClient, db: Session
    ) -> None:
        engineer, other_engineer = make_labelers(db, 2, Role.engineer)
        source_labelers = make_labelers(db, 2)
        (named,) = make_labelers(db, 1)
        a, b = _models(db, engineer)
        source = _source(db, engineer, held_out=1)
        add_member(db, source, *source_labelers, other_engineer)
        r = client.post("/api/v1/evaluations", headers=bearer(db, engineer),
                        json=_body(a, b, source, labelers=[named.public_id, source_labelers[0].public_id]))
        assert r.status_code == 201, r.text
        pid = r.json()["project_id"]
        project = db.scalar(select(Project).where(Project.public_id == pid))
        assert project is not None
        members = set(db.scalars(select(ProjectMember.user_id).where(ProjectMember.project_id == project.id)))
        assert members == {*(u.id for u in source_labelers), named.id, engineer.id}
        # The engineer who made it can read it; each source labeler finds it in their list.
        assert client.get(f"/api/v1/projects/{pid}", headers=bearer(db, engineer)).status_code == 200
        listed = client.get("/api/v1/projects", headers=bearer(db, source_labelers[1])).json()
        assert pid in {p["id"] for p in listed}


class TestEvaluationJob:
    def test_each_item_pairs_one_reply_of_each_model_in_mixed_positions_and_a_rerun_adds_nothing(
        self, client: TestClient, db: Session, settings: Settings, session_factory: sessionmaker[Session]
    ) -> None:
        (engineer,) = make_labelers(db, 1, Role.engineer)
        with fake_openai_server() as (url, fake):
            a, b = _models(db, engineer, url)
            source = _source(db, engineer, held_out=12)
            out = client.post("/api/v1/evaluations", headers=bearer(db, engineer),
                              json=_body(a, b, source)).json()
            _run_worker(settings, session_factory)
            assert fake.state.requests == 24
            db.expire_all()
            job = db.scalar(select(Job).where(Job.public_id == out["job_id"]))
            assert job is not None and job.status == JobStatus.succeeded, job and job.error
            assert job.result["items"] == 12
            project = db.scalar(select(Project).where(Project.public_id == out["project_id"]))
            assert project is not None
            again = Job(kind="evaluation-sample", params=job.params, project_id=project.id,
                        status=JobStatus.queued, progress={}, result={}, log_tail="")
            db.add(again)
            db.commit()
            _run_worker(settings, session_factory)
            assert fake.state.requests == 24
        db.expire_all()
        rerun = db.get(Job, again.id)
        assert rerun is not None and rerun.result["items"] == 0
        rows = db.execute(
            select(WorkItem.id, WorkItem.prompt_id, ItemCompletion.position, Completion.model_version_id)
            .join(ItemCompletion, ItemCompletion.item_id == WorkItem.id)
            .join(Completion, Completion.id == ItemCompletion.completion_id)
            .where(WorkItem.project_id == project.id)
            .order_by(WorkItem.id, ItemCompletion.position)
        ).all()
        by_item: dict[int, list[int]] = {}
        prompt_of: dict[int, int] = {}
        for item_id, prompt_id, _, model_id in rows:
            assert prompt_id is not None and model_id is not None
            by_item.setdefault(item_id, []).append(model_id)
            prompt_of[item_id] = prompt_id
        assert len(by_item) == 12
        assert all(sorted(models) == sorted([a.id, b.id]) for models in by_item.values())
        first = {item: models[0] for item, models in by_item.items()}
        assert set(first.values()) == {a.id, b.id}, "model A was always (or never) shown first"
        assert all((first[i] == a.id) == a_first(SEED, prompt_of[i]) for i in by_item)

    def test_a_labeler_judges_blind_and_the_export_names_the_models(
        self, client: TestClient, db: Session, settings: Settings, session_factory: sessionmaker[Session],
        tmp_path: Path,
    ) -> None:
        engineer, labeler = make_labelers(db, 1, Role.engineer) + make_labelers(db, 1)
        with fake_openai_server() as (url, _):
            a, b = _models(db, engineer, url)
            source = _source(db, engineer, held_out=1)
            out = client.post("/api/v1/evaluations", headers=bearer(db, engineer),
                              json=_body(a, b, source, labelers=[labeler.public_id])).json()
            _run_worker(settings, session_factory)
        auth = bearer(db, labeler)
        r = client.post(f"/api/v1/projects/{out['project_id']}/next", headers=auth)
        assert r.status_code == 200, r.text
        task = r.json()
        assert task["task_kind"] == "evaluation" and len(task["completions"]) == 2
        for secret in ("alpha", "beta", a.public_id, b.public_id):
            assert secret not in r.text
        chosen = task["completions"][1]["id"]
        r = client.post(f"/api/v1/assignments/{task['assignment_id']}/submit", headers=auth, json={
            "idempotency_key": "eval-judgement-1", "seconds": 3, "verdict": "preferred",
            "preferred": chosen, "margin_label": "better"})
        assert r.status_code == 201, r.text
        db.expire_all()
        project = db.scalar(select(Project).where(Project.public_id == out["project_id"]))
        assert project is not None
        result = write_export(db, settings, project, ExportCreate.model_validate({}), tmp_path / "export")
        assert result.counts["evaluations"] == 1
        (record,) = [json.loads(line) for line in (tmp_path / "export" / "evaluations.jsonl").open()]
        winner_model = db.scalar(select(Completion.model_name).where(Completion.public_id == chosen))
        names = {"a": record["model_a"], "b": record["model_b"]}
        assert sorted(names.values()) == ["alpha-secret-model", "beta-secret-model"]
        assert names[record["winner"]] == winner_model
