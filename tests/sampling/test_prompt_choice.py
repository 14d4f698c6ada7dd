"""Which prompts a new round samples: none answered yet, not yet answered by this model,
every one, or the held-out ones (kept for evaluation and otherwise never sampled)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Completion, ModelKind, ModelVersion, Prompt, Role
from app.sampling.repository import prompts_to_sample
from tests.factories import add_member, bearer, make_project, make_prompt, make_user


def model(db: Session, name: str, tmp_path: Path) -> ModelVersion:
    mv = ModelVersion(name=name, kind=ModelKind.local, path=str(tmp_path), info={}, retired=False)
    db.add(mv)
    db.flush()
    return mv


def answer(db: Session, prompt_id: int, mv: ModelVersion) -> None:
    db.add(Completion(prompt_id=prompt_id, external_id=f"{mv.name}-{prompt_id}", content="An answer.",
                      model_version_id=mv.id, model_name=mv.name, sampling={}))
    db.flush()


class TestPromptChoice:
    def test_each_choice_picks_its_prompts_oldest_first_within_the_limit(
        self, db: Session, tmp_path: Path
    ) -> None:
        project = make_project(db, "ranking")
        sft, ppo = model(db, "sft", tmp_path), model(db, "ppo", tmp_path)
        fresh, by_sft, by_ppo, held = (make_prompt(db, project) for _ in range(4))
        held.held_out = True
        answer(db, by_sft.id, sft)
        answer(db, by_ppo.id, ppo)
        db.commit()

        def ids(choice: str, limit: int = 10) -> list[int]:
            rows = prompts_to_sample(db, project.id, prompt_public_ids=None, limit=limit,
                                     choice=choice, model_version_id=ppo.id)
            return [pid for pid, _ in rows]

        assert ids("unsampled") == [fresh.id]
        assert ids("not_by_model") == [fresh.id, by_sft.id]
        assert ids("all") == [fresh.id, by_sft.id, by_ppo.id]
        assert ids("all", limit=2) == [fresh.id, by_sft.id]
        assert ids("held_out") == [held.id]
        named = prompts_to_sample(db, project.id, prompt_public_ids=[held.public_id], limit=1)
        assert [pid for pid, _ in named] == [held.id]


class TestPromptsFromAnotherProject:
    def test_prompts_of_a_readable_project_are_copied_once_and_sampled(
        self, client: TestClient, db: Session, tmp_path: Path
    ) -> None:
        engineer = make_user(db, Role.engineer)
        target, source, hidden = (make_project(db, "ranking") for _ in range(3))
        add_member(db, target, engineer)
        add_member(db, source, engineer)
        mv = model(db, "sft", tmp_path)
        first, second = make_prompt(db, source, "First?"), make_prompt(db, source, "Second?")
        make_prompt(db, source, "Held out?").held_out = True
        make_prompt(db, hidden, "Secret?")
        db.commit()
        headers = bearer(db, engineer)
        ids = {"target": target.public_id, "source": source.public_id, "hidden": hidden.public_id,
               "model": mv.public_id}
        texts = [first.messages, second.messages]
        db.commit()  # end the read: on SQLite it holds the write lock the API needs

        def sample(src: str, limit: int = 10) -> Any:
            return client.post("/api/v1/jobs", headers=headers, json={"kind": "sample", "params": {
                "project_id": ids["target"], "model_id": ids["model"], "k": 4, "limit": limit,
                "from_project_id": ids[src]}})

        r = sample("source", limit=1)
        assert r.status_code == 201, r.text
        assert len(r.json()["params"]["prompt_ids"]) == 1
        r = sample("source")
        assert r.status_code == 201, r.text
        db.expire_all()
        copies = db.scalars(select(Prompt).where(Prompt.project_id == target.id)
                            .order_by(Prompt.id)).all()
        assert [p.messages for p in copies] == texts
        assert r.json()["params"]["prompt_ids"] == [copies[1].public_id]
        assert {p.source for p in copies} == {"copied"}
        db.commit()
        r = sample("source")
        assert r.status_code == 422 and "already in this project" in r.json()["detail"]
        assert sample("hidden").status_code == 404
        assert sample("target").status_code == 422
