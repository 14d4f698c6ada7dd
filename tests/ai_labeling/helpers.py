"""Projects whose answers carry a known quality, simulated people, and AI labelers."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from app.ai_labeling import service
from app.ai_labeling.schemas import AiLabelerIn
from app.models import (
    AiLabeler,
    Completion,
    ItemCompletion,
    MarginLabel,
    Project,
    Prompt,
    TaskKind,
    User,
    WorkItem,
)
from app.registry import service as registry
from tests.factories import make_labelers
from tests.quality import builders


@dataclass
class World:
    project: Project
    items: list[tuple[WorkItem, list[Completion]]] = field(default_factory=list)
    quality: dict[int, list[int]] = field(default_factory=dict)  # item id -> quality per position


def world(db: Session, kind: TaskKind, qualities: list[list[int]], **values: Any) -> World:
    """A project with one item per row of ``qualities`` (its answers' qualities in canonical
    order); each answer's text says its quality."""
    p = builders.project(db, kind, k_min=2 if kind == TaskKind.pairwise else 4, **values)
    w = World(p)
    for n, row in enumerate(qualities):
        prompt = Prompt(project_id=p.id, external_id=f"q{n}", messages=[{"role": "user", "content": f"Task {n}?"}],
                        category="open_qa")
        db.add(prompt)
        db.flush()
        comps = [Completion(prompt_id=prompt.id, external_id=f"c{n}-{i}", model_name="m",
                            content=f"Reply {i} of quality {q} to task {n}.") for i, q in enumerate(row)]
        db.add_all(comps)
        db.flush()
        wi = WorkItem(project_id=p.id, prompt_id=prompt.id, required=3)
        db.add(wi)
        db.flush()
        db.add_all(ItemCompletion(item_id=wi.id, position=i, completion_id=c.id) for i, c in enumerate(comps))
        db.flush()
        w.items.append((wi, comps))
        w.quality[wi.id] = row
    db.commit()
    return w


def simulated_people(db: Session, w: World, n: int, accuracy: float, seed: int = 0) -> list[User]:
    """``n`` people who each judge every item, preferring the better answer with
    probability ``accuracy`` (rankings: each adjacent swap with 1 − accuracy)."""
    rng = random.Random(seed)
    people = make_labelers(db, n)
    builders.members(db, w.project, *people)
    for wi, comps in w.items:
        q = w.quality[wi.id]
        for person in people:
            if w.project.task_kind == TaskKind.pairwise:
                better_a = q[0] > q[1]
                right = rng.random() < accuracy
                builders.pairwise(db, wi, person, comps, better_a == right, margin=MarginLabel.better)
            else:
                order = sorted(range(len(q)), key=lambda i: -q[i])
                for i in range(len(order) - 1):
                    if rng.random() > accuracy:
                        order[i], order[i + 1] = order[i + 1], order[i]
                builders.ranking(db, wi, person, comps, [[i] for i in order])
    db.commit()
    return people


def endpoint_labeler(db: Session, admin: User, w: World, url: str, **options: Any) -> AiLabeler:
    mv = registry.register_endpoint(db, admin, name=f"judge-{w.project.id}-{len(options)}", base_url=url,
                                    endpoint_model="judge", api_key=None)
    labeler = service.create(db, admin, AiLabelerIn(project_id=w.project.public_id, model_id=mv.public_id,
                                                    **options))
    db.commit()
    return labeler


def start(db: Session, admin: User, labeler: AiLabeler, **params: Any) -> Any:
    from app.ai_labeling.schemas import AiRunIn

    job = service.start_run(db, admin, labeler.public_id, AiRunIn(**params))
    db.commit()
    return job


def ai_judges(db: Session, admin: User, w: World, wrong_every: int) -> AiLabeler:
    """An AI labeler that prefers the better answer, except on every ``wrong_every``-th item."""
    mv = registry.register_endpoint(db, admin, name="judge", base_url="http://127.0.0.1:9/v1",
                                    endpoint_model="judge", api_key=None)
    labeler = service.create(db, admin, AiLabelerIn(project_id=w.project.public_id, model_id=mv.public_id))
    for n, (wi, comps) in enumerate(w.items):
        q = w.quality[wi.id]
        better = 0 if q[0] > q[1] else 1
        pick = better if n % wrong_every else 1 - better
        service.record(db, labeler, w.project, wi.id, None, [c.public_id for c in comps],
                       {"idempotency_key": f"ai-test-{n:04d}", "verdict": "preferred",
                        "preferred": comps[pick].public_id, "margin_label": "better"},
                       {"model": "judge", "method": "test", "calls": []}, 10_000)
    db.commit()
    return labeler
