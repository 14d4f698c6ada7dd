"""Queries of the evaluation domain. Only staff (engineers, admins) reach it; which
projects they may read is decided by the projects domain (app/projects), every
model version is visible to them, as in the jobs domain."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, func, insert, select
from sqlalchemy.orm import Session, aliased

from app.models import (
    Completion,
    ItemCompletion,
    Job,
    JobKind,
    JudgementReview,
    ModelVersion,
    PairwiseJudgement,
    Prompt,
    ReviewVerdict,
    Role,
    User,
    UserKind,
    Winner,
    WorkItem,
)


def model(db: Session, public_id: str) -> ModelVersion | None:
    return db.scalar(select(ModelVersion).where(ModelVersion.public_id == public_id))


def source_prompts(
    db: Session, project_id: int, *, held_out_only: bool, limit: int | None
) -> Sequence[Prompt]:
    query = select(Prompt).where(Prompt.project_id == project_id)
    if held_out_only:
        query = query.where(Prompt.held_out.is_(True))
    return db.scalars(query.order_by(Prompt.id).limit(limit)).all()


def count_prompts(db: Session, project_id: int) -> int:
    return db.scalar(select(func.count()).where(Prompt.project_id == project_id)) or 0


def copy_prompts(db: Session, project_id: int, rows: list[dict[str, Any]]) -> None:
    if rows:
        db.execute(insert(Prompt), [{**row, "project_id": project_id} for row in rows])


def prompts_to_sample(db: Session, project_id: int) -> list[tuple[int, list[dict[str, str]]]]:
    """The project's prompts that have no item yet, oldest first (a re-run resumes)."""
    with_item = select(WorkItem.prompt_id).where(WorkItem.project_id == project_id,
                                                 WorkItem.prompt_id.is_not(None))
    query = (select(Prompt.id, Prompt.messages)
             .where(Prompt.project_id == project_id, Prompt.id.not_in(with_item))
             .order_by(Prompt.id))
    return [(pid, list(messages)) for pid, messages in db.execute(query)]


def has_completions(db: Session, prompt_id: int) -> bool:
    return db.scalar(select(Completion.id).where(Completion.prompt_id == prompt_id).limit(1)) is not None


def active_labelers(db: Session) -> Sequence[User]:
    """Every active human labeler, by name: whom an evaluation may be assigned to (AI judges
    are attached on their own page, app/ai_labeling)."""
    return db.scalars(select(User).where(User.role == Role.labeler, User.is_active.is_(True),
                                         User.kind == UserKind.human)
                      .order_by(User.display_name, User.id)).all()


def users(db: Session, public_ids: list[str]) -> Sequence[User]:
    return db.scalars(select(User).where(User.public_id.in_(public_ids))).all()


def sampling_jobs(db: Session, project_ids: list[int]) -> dict[int, Job]:
    """The newest evaluation-sample job of each project."""
    newest = (select(func.max(Job.id)).where(Job.kind == JobKind.evaluation_sample.value,
                                              Job.project_id.in_(project_ids))
              .group_by(Job.project_id))
    jobs = db.scalars(select(Job).where(Job.id.in_(newest))).all()
    return {job.project_id: job for job in jobs if job.project_id is not None}


def item_counts(db: Session, project_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(items, judgements) of each project; gold items are not counted."""
    items = dict(db.execute(select(WorkItem.project_id, func.count()).where(
        WorkItem.project_id.in_(project_ids), WorkItem.is_gold.is_(False)).group_by(WorkItem.project_id)).all())
    judged = dict(db.execute(select(PairwiseJudgement.project_id, func.count()).where(
        PairwiseJudgement.project_id.in_(project_ids)).group_by(PairwiseJudgement.project_id)).all())
    return {pid: (int(items.get(pid, 0)), int(judged.get(pid, 0))) for pid in project_ids}


@dataclass(frozen=True)
class ComparisonRow:
    project_id: int
    winner: Winner
    shown_first: str | None  # the public id of the completion the labeler saw first
    a_completion: str
    a_model: str
    a_version: int | None
    b_completion: str
    b_model: str
    b_version: int | None


def comparisons(db: Session, project_ids: list[int]) -> list[ComparisonRow]:
    """Every human verdict of these projects with the model behind each side, leaving out
    gold items, the judgements a reviewer rejected and those of AI judges (a blind
    evaluation measures what people prefer)."""
    side_a, side_b = aliased(ItemCompletion), aliased(ItemCompletion)
    comp_a, comp_b = aliased(Completion), aliased(Completion)
    rejected = exists(select(JudgementReview.id).where(
        JudgementReview.project_id == PairwiseJudgement.project_id,
        JudgementReview.judgement_id == PairwiseJudgement.id,
        JudgementReview.verdict == ReviewVerdict.rejected))
    query = (
        select(PairwiseJudgement.project_id, PairwiseJudgement.winner, PairwiseJudgement.shown_order,
               comp_a.public_id, comp_a.model_name, comp_a.model_version_id,
               comp_b.public_id, comp_b.model_name, comp_b.model_version_id)
        .join(WorkItem, WorkItem.id == PairwiseJudgement.item_id)
        .join(side_a, (side_a.item_id == WorkItem.id) & (side_a.position == 0))
        .join(comp_a, comp_a.id == side_a.completion_id)
        .join(side_b, (side_b.item_id == WorkItem.id) & (side_b.position == 1))
        .join(comp_b, comp_b.id == side_b.completion_id)
        .join(User, User.id == PairwiseJudgement.user_id)
        .where(PairwiseJudgement.project_id.in_(project_ids), WorkItem.is_gold.is_(False), ~rejected,
               User.kind == UserKind.human)
        .order_by(PairwiseJudgement.id)
    )
    return [
        ComparisonRow(pid, winner, shown[0] if shown else None, ca, ma, va, cb, mb, vb)
        for pid, winner, shown, ca, ma, va, cb, mb, vb in db.execute(query)
    ]


def model_names(db: Session, public_ids: list[str]) -> dict[str, str]:
    """Name of each model version by registry id."""
    rows = db.execute(select(ModelVersion.public_id, ModelVersion.name).where(ModelVersion.public_id.in_(public_ids)))
    return {public_id: name for public_id, name in rows}


def model_ids(db: Session, names: list[str]) -> dict[str, str]:
    """Registry id of each named model version that exists."""
    rows = db.execute(select(ModelVersion.name, ModelVersion.public_id).where(ModelVersion.name.in_(names)))
    return {name: public_id for name, public_id in rows}


def oldest_first(models: Iterable[tuple[str, int | None]]) -> list[str]:
    """Model names ordered by their oldest registry version (imported names last)."""
    first: dict[str, int] = {}
    for name, version in models:
        key = version if version is not None else 2**62
        first[name] = min(first.get(name, key), key)
    return sorted(first, key=lambda m: (first[m], m))


def project_models(db: Session, project_ids: list[int]) -> dict[int, list[str]]:
    """The models whose replies each project holds, oldest registry version first."""
    rows = db.execute(
        select(Prompt.project_id, Completion.model_name, func.min(Completion.model_version_id))
        .join(Completion, Completion.prompt_id == Prompt.id)
        .where(Prompt.project_id.in_(project_ids))
        .group_by(Prompt.project_id, Completion.model_name)
    ).all()
    out: dict[int, list[tuple[str, int | None]]] = {}
    for pid, name, version in rows:
        out.setdefault(pid, []).append((name, version))
    return {pid: oldest_first(models) for pid, models in out.items()}
