"""The whole loop on CPU with the tiny offline model (trainer.tiny):

labelers judge through the API → the exports service writes the data-contract
files → SFT, reward-model and PPO jobs run through the worker and each output is
registered → a sample job from the PPO model puts a new round in the ranking
queue → a labeler ranks it through the API.

SQLite only, on purpose: the loop spawns four job processes that import torch
(about 5 s each here), and running it twice would double the suite's slowest
test. The backend-specific parts — claiming jobs (FOR UPDATE SKIP LOCKED vs
BEGIN IMMEDIATE), heartbeats, the reaper, leases and submits — are covered on
both backends by tests/jobs/test_worker.py, test_service.py and tests/labeling.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.exports import service as exports
from app.exports.schemas import ExportCreate, ExportSplit
from app.models import (
    Completion,
    Job,
    JobMetric,
    JobStatus,
    ModelVersion,
    Ranking,
    Role,
    User,
    WorkItem,
)
from app.registry import service as registry
from tests.factories import (
    add_member,
    bearer,
    make_demo_item,
    make_labelers,
    make_project,
    make_prompt,
    make_ranking_item,
    make_user,
)
from tests.jobs.helpers import run_worker, submit

_keys = itertools.count(1)


def run_jobs(settings: Settings, factory: sessionmaker[Session], n: int) -> None:
    run_worker(settings, factory, heartbeat_seconds=0.5, max_jobs=n)


def label_everything(client: TestClient, headers: dict[str, str], project_id: str) -> int:
    """Take tasks until the queue is empty, answering each the way its kind asks."""
    done = 0
    while True:
        r = client.post(f"/api/v1/projects/{project_id}/next", headers=headers)
        if r.status_code == 204:
            return done
        assert r.status_code == 200, r.text
        task = r.json()
        r = client.post(f"/api/v1/assignments/{task['assignment_id']}/submit", headers=headers,
                        json={"idempotency_key": f"loop-{next(_keys):04d}", "seconds": 3.0,
                              **answer(task)})
        assert r.status_code == 201, r.text
        done += 1


def answer(task: dict[str, Any]) -> dict[str, Any]:
    if task["task_kind"] == "demonstration":
        question = task["prompt"]["messages"][-1]["content"]
        return {"turns": [{"role": "assistant", "content": f"A kind answer to: {question}"}]}
    # Rank in the order shown: a full order, no ties, so every item gives C(4,2) pairs.
    return {"verdict": "ranked", "ranking": [[c["id"]] for c in task["completions"]]}


def export_of(db: Session, settings: Settings, factory: sessionmaker[Session], admin: User,
              project_id: str) -> str:
    request = ExportCreate(split=ExportSplit(validation_fraction=0.0))
    export = exports.request_export(db, admin, project_id, request)
    db.commit()
    exports.run_export(factory, settings, export.public_id)
    return export.public_id


def train(db: Session, admin: User, stage: str, **params: Any) -> Job:
    job = submit(db, admin, "train", {"stage": stage, "name": f"{stage}-v1", **params})
    db.commit()
    return job


def finished(db: Session, job: Job) -> Job:
    db.expire_all()
    done = db.get(Job, job.id)
    assert done is not None and done.status == JobStatus.succeeded, done and done.error
    return done


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
class TestClosingTheLoop:
    def test_labels_train_sft_rm_ppo_and_the_ppo_model_samples_a_round_that_is_ranked(
        self, db: Session, settings: Settings, session_factory: sessionmaker[Session],
        client: TestClient, tmp_path: Path,
    ) -> None:
        from trainer.tiny import build_tiny_model

        admin = make_user(db, Role.admin)
        labelers = make_labelers(db, 2)
        demo = make_project(db, "demonstration")
        ranking = make_project(db, "ranking", k_min=4, k_max=4)
        add_member(db, demo, *labelers)
        add_member(db, ranking, *labelers)
        for _ in range(4):
            make_demo_item(db, demo)
            make_ranking_item(db, ranking, k=4)
        tokens = [bearer(db, u) for u in labelers]

        # 1. Labelers work through the API, as the pages would.
        assert sum(label_everything(client, t, demo.public_id) for t in tokens) == 4
        assert sum(label_everything(client, t, ranking.public_id) for t in tokens) == 4

        # 2. The real exports service writes the data contract: called directly for the
        # rankings, and through "export now" (an export job the SFT run waits for) for the
        # demonstrations.
        rank_export = export_of(db, settings, session_factory, admin, ranking.public_id)

        # 3. SFT and the reward model from the base model, then PPO from both.
        base = registry.register_local(db, admin, name="tiny",
                                       path=str(build_tiny_model(tmp_path / "tiny")))
        db.commit()
        small = {"epochs": 1, "batch_size": 2, "max_length": 64, "learning_rate": 1e-3}
        sft_job = train(db, admin, "sft", model_id=base.public_id, hyperparameters=small,
                        export_now={"project_id": demo.public_id,
                                    "options": {"split": {"validation_fraction": 0.0}}})
        demo_export = sft_job.params["export_id"]
        export_job = db.query(Job).filter_by(public_id=sft_job.params["after_job"]).one()
        assert export_job.kind == "export" and export_job.params["export_id"] == demo_export
        rm_job = train(db, admin, "rm", export_id=rank_export, model_id=base.public_id,
                       hyperparameters=small)
        run_jobs(settings, session_factory, 3)
        assert finished(db, export_job).result["counts"]["sft.train"] == 4
        sft_job, rm_job = finished(db, sft_job), finished(db, rm_job)
        assert "train sft --config" in sft_job.result["command"]
        assert sft_job.progress["step"] == sft_job.progress["total"] == 2  # 4 demos / 2
        rm_curves = {k for m in db.query(JobMetric).filter_by(job_id=rm_job.id) for k in m.metrics}
        assert "accuracy" in rm_curves, rm_curves
        sft = db.query(ModelVersion).filter_by(name="sft-v1").one()
        rm = db.query(ModelVersion).filter_by(name="rm-v1").one()
        assert sft.parent_id == rm.parent_id == base.id
        assert sft.info["export"] == demo_export and rm.info["export"] == rank_export

        ppo_job = train(db, admin, "ppo", export_id=rank_export, model_id=sft.public_id,
                        reward_model_id=rm.public_id, hyperparameters={
                            "steps": 1, "rollout_batch_size": 4, "batch_size": 4,
                            "ppo_epochs": 1, "max_new_tokens": 4, "max_length": 64})
        run_jobs(settings, session_factory, 1)
        ppo_job = finished(db, ppo_job)
        ppo = db.query(ModelVersion).filter_by(name="ppo-v1").one()
        assert ppo.parent_id == sft.id and ppo.info["stage"] == "ppo"
        ppo_curves = {k for m in db.query(JobMetric).filter_by(job_id=ppo_job.id) for k in m.metrics}
        assert any("kl" in k for k in ppo_curves), ppo_curves

        # 4. The PPO model samples the next round into the ranking queue.
        fresh = make_prompt(db, ranking, "Tell me about rivers.")
        db.commit()
        sample = submit(db, admin, "sample", {
            "project_id": ranking.public_id, "model_id": ppo.public_id, "k": 4,
            "max_tokens": 4, "batch_size": 4})
        db.commit()
        run_jobs(settings, session_factory, 1)
        assert finished(db, sample).result["items"] == 1
        made = db.query(Completion).filter_by(prompt_id=fresh.id).all()
        assert len(made) == 4 and {c.model_version_id for c in made} == {ppo.id}
        item = db.query(WorkItem).filter_by(prompt_id=fresh.id).one()
        # End the read (on SQLite it holds the write lock the API needs) and touch no
        # expired row until the API call is done.
        ranking_id = ranking.public_id
        db.commit()

        # 5. …and a labeler ranks it through the API.
        assert label_everything(client, tokens[0], ranking_id) == 1
        db.expire_all()
        assert db.query(Ranking).filter_by(item_id=item.id).count() == 1
