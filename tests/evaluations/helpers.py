"""Evaluation projects with stored verdicts, built straight in the database."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.models import (
    Completion,
    ItemCompletion,
    ModelVersion,
    PairwiseJudgement,
    Project,
    User,
    Winner,
    WorkItem,
)
from app.registry import service as registry
from tests.factories import add_member, make_project, make_prompt


def model(db: Session, admin: User, name: str) -> ModelVersion:
    """An endpoint model version (never called: the verdicts are stored directly)."""
    mv = registry.register_endpoint(db, admin, name=name, base_url="http://127.0.0.1:9/v1",
                                    endpoint_model=name, api_key=None)
    db.commit()
    return mv


def evaluation(db: Session, judge: User, verdicts: list[tuple[ModelVersion, ModelVersion, Winner, bool]],
               *members: User) -> Project:
    """An evaluation project with one item per verdict: (model at side A, at side B, the
    winner, whether A was shown first), each judged by ``judge``."""
    project: Project = make_project(db, "evaluation", overlap=1)
    add_member(db, project, judge, *members)
    for n, (ma, mb, winner, a_first) in enumerate(verdicts):
        prompt = make_prompt(db, project)
        sides = [Completion(prompt_id=prompt.id, external_id=f"eval-{s}", content=f"reply {s}",
                            model_version_id=m.id, model_name=m.name) for s, m in (("a", ma), ("b", mb))]
        db.add_all(sides)
        db.flush()
        item = WorkItem(project_id=project.id, prompt_id=prompt.id, required=1, taken=1, done=1, is_open=False)
        db.add(item)
        db.flush()
        db.add_all([ItemCompletion(item_id=item.id, position=i, completion_id=c.id) for i, c in enumerate(sides)])
        shown = [c.public_id for c in (sides if a_first else sides[::-1])]
        db.add(PairwiseJudgement(item_id=item.id, user_id=judge.id, project_id=project.id,
                                 idempotency_key=f"k-{project.id}-{n}", winner=winner, shown_order=shown))
    db.commit()
    return project


def sweep(old: ModelVersion, new: ModelVersion, new_wins: int, old_wins: int, ties: int = 0) -> list[Any]:
    """Verdicts of ``new`` against ``old`` with both sides and both shown orders balanced,
    so the reply shown first wins half of the decided ones when the counts are even."""
    rows: list[Any] = []
    for i in range(new_wins):  # the new model at side A every other time; A shown first every other pair
        a_first = (i // 2) % 2 == 0
        rows.append((new, old, Winner.a, a_first) if i % 2 == 0 else (old, new, Winner.b, a_first))
    for i in range(old_wins):
        rows.append((old, new, Winner.a, i % 2 == 0))
    rows += [(old, new, Winner.tie, True)] * ties
    return rows
