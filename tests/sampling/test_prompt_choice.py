"""Which prompts a new round samples: none answered yet, not yet answered by this model,
every one, or the held-out ones (kept for evaluation and otherwise never sampled)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from app.models import Completion, ModelKind, ModelVersion
from app.sampling.repository import prompts_to_sample
from tests.factories import make_project, make_prompt


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
