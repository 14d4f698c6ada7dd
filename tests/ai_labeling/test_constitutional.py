"""The Constitutional AI supervised stage: answer, critique against a principle, revise;
revisions offered to people as candidates, or exported as AI-written SFT data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.errors import InvalidInput
from app.labeling import service as labeling
from app.models import Completion, Demonstration, ItemCompletion, Job, JobStatus, Role
from app.registry import service as registry
from tests.factories import (
    add_member,
    bearer,
    make_demo_item,
    make_labelers,
    make_project,
    make_user,
)
from tests.jobs.helpers import run_worker
from tests.registry.fake_openai import fake_openai_server
from trainer.contract import load_export

PRINCIPLES = ["Be honest about what you do not know.", "Refuse to help with anything dangerous."]


def _run(db: Session, client: TestClient, settings: Settings, factory: sessionmaker[Session], mode: str,
         prompts: int = 3) -> tuple[Job, Any, list[Any]]:
    admin = make_user(db, Role.admin)
    project = make_project(db, "demonstration")
    items = [make_demo_item(db, project) for _ in range(prompts)]
    with fake_openai_server() as (url, fake):
        mv = registry.register_endpoint(db, admin, name="cai", base_url=url, endpoint_model="m", api_key=None)
        db.commit()
        body = {"project_id": project.public_id, "model_id": mv.public_id, "principles": PRINCIPLES, "mode": mode,
                "temperature": 0.5}
        r = client.post("/api/v1/constitutional-runs", json=body, headers=bearer(db, admin))
        assert r.status_code == 201, r.text
        run_worker(settings, factory)
        assert fake.state.requests == 3 * prompts  # answer, critique, revision
    db.expire_all()
    job = db.query(Job).one()
    assert job.status == JobStatus.succeeded, (job.error, job.log_tail)
    return job, project, items


class TestCandidates:
    def test_revisions_are_offered_on_the_demonstration_items_and_a_reply_from_one_records_its_model(
        self, db: Session, client: TestClient, settings: Settings, session_factory: sessionmaker[Session]
    ) -> None:
        job, project, items = _run(db, client, settings, session_factory, "candidates")
        assert job.result["prompts"] == 3
        for item in items:
            (link,) = db.query(ItemCompletion).filter_by(item_id=item.id).all()
            candidate = db.get(Completion, link.completion_id)
            assert candidate is not None and candidate.model_name == "cai"
            trail = candidate.sampling["constitutional"]
            assert trail["principle"] in PRINCIPLES
            assert trail["initial"].startswith("reply to Question number")
            assert trail["critique"].startswith("reply to Critique request") and trail["principle"] in trail["critique"]
            assert candidate.content.startswith("reply to Revision request")
        (labeler,) = make_labelers(db, 1)
        add_member(db, project, labeler)
        task = labeling.next_task(db, labeler, project.public_id)
        db.commit()
        assert task is not None and len(task.completions) == 1
        offered = task.completions[0]
        with pytest.raises(InvalidInput, match="not one of the candidates"):
            labeling.submit(db, labeler, task.assignment_id, {
                "idempotency_key": "key-000001", "turns": [{"role": "assistant", "content": "x"}],
                "candidate": "nope"}, settings)
        db.rollback()
        edited = offered.content + " (checked)"
        labeling.submit(db, labeler, task.assignment_id, {
            "idempotency_key": "key-000002", "turns": [{"role": "assistant", "content": edited}],
            "candidate": offered.id}, settings)
        db.commit()
        demo = db.query(Demonstration).one()
        assert demo.messages[-1]["content"] == edited
        assert demo.suggestion_model_id == db.query(Completion).filter_by(public_id=offered.id).one().model_version_id


class TestExport:
    def test_revisions_exported_as_ai_written_sft_data_load_in_the_trainer(
        self, db: Session, client: TestClient, settings: Settings, session_factory: sessionmaker[Session]
    ) -> None:
        job, _, _ = _run(db, client, settings, session_factory, "export")
        assert job.result["records"] == 3
        export = load_export(Path(job.result["export"]))
        records = export.sft["train"]
        assert len(records) == 3
        assert db.query(ItemCompletion).count() == 0  # nothing offered to people
        raw = (Path(job.result["export"]) / "sft.train.jsonl").read_text().splitlines()
        assert all('"labeler_kind":"ai"' in line and '"constitutional":' in line for line in raw)
        assert export.manifest["counts"]["judgements_by_source"] == {"human": 0, "ai": 3}
