"""A project holding every judgement kind, and a helper that exports it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.config import Settings
from app.exports.schemas import ExportCreate
from app.exports.service import ExportResult, write_export
from app.exports.snapshot import snapshot_session
from app.models import MarginLabel, Project, Safety, TaskKind, User, Winner
from tests.exports import factories as f


@dataclass
class World:
    project: Project
    labelers: list[User]
    # What the export must contain, worked out by hand from what was built.
    expected: dict[str, int] = field(default_factory=dict)
    ids: dict[str, Any] = field(default_factory=dict)


def build_world(db: Session) -> World:
    proj = f.project(db, TaskKind.ranking, safety_labels=True)
    u1, u2, u3 = (f.labeler(db) for _ in range(3))
    for i in range(10):
        pr = f.prompt(db, proj)
        wi, cs = f.item(db, proj, pr, 4, models=["sft-v1", "ppo-v2"])
        f.ranking(db, wi, u1, [[cs[0]], [cs[1]], [cs[2]], [cs[3]]], ratings={0: 7, 1: 5},
                  flags={3: ["hallucination"]}, when=f.at(i))
        if i % 2 == 0:  # a second labeler on half the items, with ties
            f.ranking(db, wi, u2, [[cs[0], cs[1]], [cs[2], cs[3]]], when=f.at(100 + i))
    wi, cs = f.item(db, proj, f.prompt(db, proj), 9)
    f.ranking(db, wi, u3, [[c] for c in cs])
    wi, cs = f.item(db, proj, f.prompt(db, proj), 4)
    f.ranking(db, wi, u3, [cs])  # everything tied: a ranking record, no pair
    wi, cs = f.item(db, proj, f.prompt(db, proj), 4)
    f.not_rankable(db, wi, u3, cs)
    for i in range(5):
        wi, cs = f.item(db, proj, f.prompt(db, proj), 2, models=["sft-v1", "ppo-v2"])
        f.pairwise(db, wi, u1, cs, Winner.a if i % 2 else Winner.b, MarginLabel.significantly_better,
                   safety=(Safety.safe, Safety.unsafe))
    wi, cs = f.item(db, proj, f.prompt(db, proj), 2)
    f.pairwise(db, wi, u2, cs, Winner.both_bad, None)
    for _ in range(4):
        f.demonstration(db, proj, f.prompt(db, proj), u2)
    for _ in range(3):
        f.prompt(db, proj)
    f.prompt(db, proj, held_out=True)
    db.commit()
    expected = {
        "rankings": 10 + 5 + 1 + 1,
        "pairs_ranking": 10 * 6 + 5 * 4 + 36 + 0,
        "pairs_pairwise": 5,
        "ratings": 10 * 2,
        "unusable": 2,
        "sft": 4,
        "prompts": 3,
    }
    return World(proj, [u1, u2, u3], expected)


@pytest.fixture
def world(db: Session) -> World:
    return build_world(db)


Exporter = Callable[..., tuple[Path, ExportResult]]


@pytest.fixture
def export(settings: Settings, tmp_path: Path) -> Exporter:
    """Export a project from a snapshot into a fresh folder: export(project, **request)."""
    counter = iter(range(1000))

    def run(project: Project, progress: Any = None, **request: Any) -> tuple[Path, ExportResult]:
        out = tmp_path / f"export{next(counter)}"
        with snapshot_session(settings) as snap:
            proj = snap.get(Project, project.id)
            assert proj is not None
            result = write_export(snap, settings, proj, ExportCreate.model_validate(request), out, progress)
        return out, result

    return run


def records(folder: Path, name: str) -> list[dict[str, Any]]:
    with (folder / name).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def both(folder: Path, kind: str) -> list[dict[str, Any]]:
    return records(folder, f"{kind}.train.jsonl") + records(folder, f"{kind}.validation.jsonl")
