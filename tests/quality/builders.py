"""Projects, gold items and judgements built straight in the database for quality tests."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.models import (
    Completion,
    ItemCompletion,
    MarginLabel,
    PairwiseJudgement,
    Project,
    ProjectMember,
    Prompt,
    QualitySettings,
    Ranking,
    RankingEntry,
    RankingVerdict,
    TaskKind,
    User,
    Winner,
    WorkItem,
)
from app.quality import gold as gold_answers
from app.quality.gold_import import GOLD_SLOTS
from tests.factories import make_labelers
from tests.quality.simulate import Simulation, gold_order

_seq = itertools.count(1)
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def project(db: Session, kind: TaskKind = TaskKind.pairwise, **values: Any) -> Project:
    n = next(_seq)
    p = Project(**{"slug": f"quality-{n}", "name": f"Quality {n}", "task_kind": kind, **values})
    db.add(p)
    db.flush()
    return p


def settings(db: Session, p: Project, **values: Any) -> QualitySettings:
    row = QualitySettings(project_id=p.id, **values)
    db.add(row)
    db.flush()
    return row


def members(db: Session, p: Project, *users: User) -> None:
    db.add_all(ProjectMember(project_id=p.id, user_id=u.id) for u in users)
    db.flush()


def item(
    db: Session, p: Project, lengths: list[int], *, gold: dict[str, Any] | None = None, screening: bool = False,
    required: int | None = None,
) -> tuple[WorkItem, list[Completion]]:
    """An item showing completions of the given lengths; with ``gold`` (in indices, e.g.
    ``{"preferred": 0}``, ``{"above": [[0, 3]]}``) a gold item."""
    n = next(_seq)
    prompt = Prompt(project_id=p.id, external_id=f"q{n}", messages=[{"role": "user", "content": f"Question {n}?"}],
                    category="open_qa", source="gold" if gold else "import")
    db.add(prompt)
    db.flush()
    comps = [Completion(prompt_id=prompt.id, external_id=f"c{n}-{i}", content=f"{i}:" + "x" * max(1, size - 2),
                        model_name="m") for i, size in enumerate(lengths)]
    db.add_all(comps)
    db.flush()
    spec = None
    if gold is not None:
        ids = [c.public_id for c in comps]
        spec = gold_answers.parse(_by_id(gold, ids), ids, pairwise=p.task_kind != TaskKind.ranking,
                                  screening=screening).to_json()
    wi = WorkItem(project_id=p.id, prompt_id=prompt.id, required=GOLD_SLOTS if gold else (required or p.overlap),
                  is_gold=gold is not None, gold=spec, is_open=gold is None)
    db.add(wi)
    db.flush()
    db.add_all(ItemCompletion(item_id=wi.id, position=i, completion_id=c.id) for i, c in enumerate(comps))
    db.flush()
    return wi, comps


def _by_id(raw: dict[str, Any], ids: list[str]) -> dict[str, Any]:
    out = dict(raw)
    if "preferred" in out:
        out["preferred"] = ids[out["preferred"]]
    if "above" in out:
        out["above"] = [[ids[x], ids[y]] for x, y in out["above"]]
    if "ranking" in out:
        out["ranking"] = [[ids[c] for c in tier] for tier in out["ranking"]]
    return out


def pairwise(
    db: Session, wi: WorkItem, user: User, comps: list[Completion], a_wins: bool | None, *,
    margin: MarginLabel | None = MarginLabel.better, shown: list[int] | None = None, seconds: float = 20.0,
    when: datetime | None = None, count: bool = True,
) -> PairwiseJudgement:
    """``a_wins`` None: both bad. ``count`` also fills the item's slot, as a submit would."""
    order = shown or [0, 1]
    j = PairwiseJudgement(
        item_id=wi.id, user_id=user.id, project_id=wi.project_id, idempotency_key=f"key-{next(_seq):08d}",
        seconds=seconds, shown_order=[comps[i].public_id for i in order], created_at=when or T0,
        winner=Winner.both_bad if a_wins is None else Winner.a if a_wins else Winner.b,
        margin_label=None if a_wins is None else margin,
    )
    db.add(j)
    if count:
        _count(wi)
    db.flush()
    return j


def ranking(
    db: Session, wi: WorkItem, user: User, comps: list[Completion], groups: list[list[int]] | None, *,
    shown: list[int] | None = None, seconds: float = 30.0, when: datetime | None = None, count: bool = True,
) -> Ranking:
    """``groups``: tie groups of completion indices, best first; None: not rankable."""
    r = Ranking(
        item_id=wi.id, user_id=user.id, project_id=wi.project_id, idempotency_key=f"key-{next(_seq):08d}",
        seconds=seconds, shown_order=[comps[i].public_id for i in (shown or range(len(comps)))],
        created_at=when or T0, verdict=RankingVerdict.ranked if groups else RankingVerdict.not_rankable,
        reason=None if groups else "all broken",
    )
    db.add(r)
    db.flush()
    for g, tier in enumerate(groups or []):
        for i in tier:
            db.add(RankingEntry(ranking_id=r.id, completion_id=comps[i].id, tie_group=g))
    if count:
        _count(wi)
    db.flush()
    return r


def _count(wi: WorkItem) -> None:
    wi.taken += 1
    wi.done += 1
    if not wi.is_gold:
        wi.is_open = wi.done < wi.required


@dataclass
class SimWorld:
    project: Project
    labelers: list[User]
    items: list[tuple[WorkItem, list[Completion]]] = field(default_factory=list)


def build(db: Session, sim: Simulation) -> SimWorld:
    """The simulation stored: its labelers as users, its items (gold ones with their
    answer) and every judgement, made over a few days."""
    kind = TaskKind.pairwise if sim.kind == "pairwise" else TaskKind.ranking
    p = project(db, kind, overlap=len(sim.labelers), k_min=4)
    users = make_labelers(db, len(sim.labelers))
    for user, labeler in zip(users, sim.labelers, strict=True):
        user.display_name = labeler.name
    members(db, p, *users)
    world = SimWorld(p, users)
    for si in sim.items:
        gold = None
        if si.gold:
            best = gold_order(si)
            gold = {"preferred": best[0]} if kind == TaskKind.pairwise else {"above": [[best[0], best[-1]]]}
        world.items.append(item(db, p, si.lengths, gold=gold))
    for n, j in enumerate(sim.judgements):
        wi, comps = world.items[j.item]
        when = T0 + timedelta(minutes=7 * n)
        if kind == TaskKind.pairwise:
            a_wins = (j.groups or [[0]])[0][0] == 0
            pairwise(db, wi, users[j.labeler], comps, a_wins, margin=MarginLabel(j.margin or "better"), shown=j.shown,
                     seconds=j.seconds, when=when)
        else:
            ranking(db, wi, users[j.labeler], comps, j.groups, shown=j.shown, seconds=j.seconds, when=when)
    db.commit()
    return world
