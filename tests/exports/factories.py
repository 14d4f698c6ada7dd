"""Rows for export tests, built directly with the models (no queue, no HTTP)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.models import (
    Completion,
    Demonstration,
    ItemCompletion,
    MarginLabel,
    PairwiseJudgement,
    Project,
    Prompt,
    Ranking,
    RankingEntry,
    RankingVerdict,
    Safety,
    TaskKind,
    User,
    Winner,
    WorkItem,
)

_seq = itertools.count(1)
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def labeler(db: Session, name: str | None = None) -> User:
    """A labeler without a real password hash (argon2 is slow and these never log in)."""
    n = next(_seq)
    user = User(email=f"labeler{n}@corp.example", display_name=name or f"Ada Lovelace {n}",
                password_hash="!unusable")
    db.add(user)
    db.flush()
    return user


def project(db: Session, kind: TaskKind = TaskKind.ranking, **kw: Any) -> Project:
    n = next(_seq)
    p = Project(slug=f"proj-{n}", name=f"Project {n}", task_kind=kind, **kw)
    db.add(p)
    db.flush()
    return p


def prompt(db: Session, proj: Project, text: str | None = None, **kw: Any) -> Prompt:
    n = next(_seq)
    p = Prompt(project_id=proj.id, external_id=f"x{n}",
               messages=[{"role": "user", "content": text or f"Question number {n}?"}],
               category="open_qa", **kw)
    db.add(p)
    db.flush()
    return p


def item(db: Session, proj: Project, pr: Prompt, k: int, models: list[str] | None = None) -> tuple[WorkItem, list[Completion]]:
    """A work item showing ``k`` fresh completions of ``pr`` (positions 0..k-1)."""
    wi = WorkItem(project_id=proj.id, prompt_id=pr.id, required=3)
    db.add(wi)
    comps = []
    for i in range(k):
        c = Completion(prompt_id=pr.id, external_id=f"c{next(_seq)}", content=f"Answer {i} to {pr.external_id}",
                       model_name=(models or ["sft-v1"])[i % len(models or ["sft-v1"])])
        db.add(c)
        comps.append(c)
    db.flush()
    for i, c in enumerate(comps):
        db.add(ItemCompletion(item_id=wi.id, position=i, completion_id=c.id))
    db.flush()
    return wi, comps


def _base(wi: WorkItem, user: User, when: datetime | None, shown: list[Completion]) -> dict[str, Any]:
    return {
        "item_id": wi.id, "user_id": user.id, "project_id": wi.project_id,
        "idempotency_key": f"key-{next(_seq):08d}", "seconds": 12.5,
        "shown_order": [c.public_id for c in shown], "created_at": when or T0,
    }


def ranking(
    db: Session, wi: WorkItem, user: User, tiers: list[list[Completion]],
    ratings: dict[int, int] | None = None, flags: dict[int, list[str]] | None = None,
    when: datetime | None = None,
) -> Ranking:
    """``tiers`` best first; ``ratings``/``flags`` keyed by completion index within the item."""
    comps = [c for t in tiers for c in t]
    r = Ranking(**_base(wi, user, when, comps[::-1]), verdict=RankingVerdict.ranked)
    db.add(r)
    db.flush()
    order = sorted(comps, key=lambda c: c.id)
    for g, tier in enumerate(tiers):
        for c in tier:
            i = order.index(c)
            db.add(RankingEntry(ranking_id=r.id, completion_id=c.id, tie_group=g,
                                rating=(ratings or {}).get(i), flags=(flags or {}).get(i, [])))
    db.flush()
    return r


def not_rankable(db: Session, wi: WorkItem, user: User, comps: list[Completion]) -> Ranking:
    r = Ranking(**_base(wi, user, None, comps), verdict=RankingVerdict.not_rankable,
                reason="all answers broken")
    db.add(r)
    db.flush()
    return r


def pairwise(
    db: Session, wi: WorkItem, user: User, comps: list[Completion], winner: Winner,
    margin: MarginLabel | None = MarginLabel.better, safety: tuple[Safety, Safety] | None = None,
    when: datetime | None = None,
) -> PairwiseJudgement:
    p = PairwiseJudgement(
        **_base(wi, user, when, comps[::-1]), winner=winner, margin_label=margin,
        safety_a=safety[0] if safety else None, safety_b=safety[1] if safety else None,
        reason="both wrong" if winner == Winner.both_bad else None,
    )
    db.add(p)
    db.flush()
    return p


def demonstration(db: Session, proj: Project, pr: Prompt, user: User, reply: str = "A careful reply.") -> Demonstration:
    wi = WorkItem(project_id=proj.id, prompt_id=pr.id)
    db.add(wi)
    db.flush()
    d = Demonstration(**_base(wi, user, None, []), prompt_id=pr.id,
                      messages=[*pr.messages, {"role": "assistant", "content": reply}],
                      prompt_turns=len(pr.messages))
    db.add(d)
    db.flush()
    return d


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)
