"""The score-uncertainty job writes each open item's reward-model margin, which the
uncertainty queue order then reads."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.labeling.active import score_margin
from app.models import Job, JobStatus, Role, TaskKind, WorkItem
from app.registry import service as registry
from tests.ai_labeling.helpers import world
from tests.factories import bearer, make_user
from tests.jobs.helpers import run_worker


class TestSubmit:
    def test_a_model_that_is_not_a_local_folder_is_refused_at_once(self, db: Session, client: TestClient) -> None:
        admin = make_user(db, Role.admin)
        w = world(db, TaskKind.pairwise, [[1, 2]])
        mv = registry.register_endpoint(db, admin, name="ep", base_url="http://127.0.0.1:9/v1",
                                        endpoint_model="m", api_key=None)
        body = {"project_id": w.project.public_id, "model_id": mv.public_id}
        r = client.post("/api/v1/uncertainty-scores", json=body, headers=bearer(db, admin))
        assert r.status_code == 422 and "local folder" in r.json()["detail"]
        assert db.query(Job).count() == 0


# SQLite only: the worker child imports torch and loads the reward model (~5 s).
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
class TestScoreJob:
    def test_every_open_item_gets_the_margin_between_its_two_best_scores(
        self, db: Session, client: TestClient, settings: Settings, session_factory: sessionmaker[Session],
        tmp_path: Path,
    ) -> None:
        from transformers import AutoTokenizer

        from trainer.reward_model import load_reward_model
        from trainer.scoring import freeze, score_conversations
        from trainer.tiny import build_tiny_model

        folder = tmp_path / "rm"
        rm = load_reward_model(build_tiny_model(tmp_path / "tiny"))
        rm.save_pretrained(folder)
        AutoTokenizer.from_pretrained(tmp_path / "tiny").save_pretrained(folder)
        admin = make_user(db, Role.admin)
        w = world(db, TaskKind.ranking, [[1, 2, 3, 4], [5, 6, 7, 8], [9, 8, 7, 6]])
        mv = registry.register_local(db, admin, name="rm-tiny", path=str(folder))
        db.commit()
        r = client.post("/api/v1/uncertainty-scores", json={"project_id": w.project.public_id,
                                                            "model_id": mv.public_id}, headers=bearer(db, admin))
        assert r.status_code == 201, r.text
        run_worker(settings, session_factory)
        db.expire_all()
        job = db.query(Job).one()
        assert job.status == JobStatus.succeeded, job.error
        assert job.result["items"] == 3
        model, tokenizer = freeze(load_reward_model(folder)), AutoTokenizer.from_pretrained(folder)
        for n, (wi, comps) in enumerate(w.items):
            prompt = [{"role": "user", "content": f"Task {n}?"}]  # as tests/ai_labeling/helpers.world writes it
            scores = score_conversations(model, tokenizer, [prompt] * len(comps), [c.content for c in comps])
            stored = db.get(WorkItem, wi.id)
            assert stored is not None and stored.uncertainty == pytest.approx(score_margin(scores), abs=1e-5)
