"""Every query of the labeling domain, each scoped to the project or the acting user.

The queue queries walk ``ix_work_items_queue (project_id, is_open, id)`` with a
``LIMIT``; the "not yet given to you" test is a probe of the unique index
``assignments (item_id, user_id)``. No query here scans all items or all
assignments of a project per request.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, case, exists, func, insert, select, true, update
from sqlalchemy.orm import Session

from app.models import (
    Assignment,
    AssignmentStatus,
    Completion,
    Demonstration,
    ItemCompletion,
    ModelVersion,
    PairwiseJudgement,
    Project,
    ProjectMember,
    Prompt,
    PromptSubmission,
    Ranking,
    RankingEntry,
    TaskKind,
    User,
    WorkItem,
)

JudgementModel = type[PromptSubmission] | type[Demonstration] | type[Ranking] | type[PairwiseJudgement]
Judgement = PromptSubmission | Demonstration | Ranking | PairwiseJudgement

JUDGEMENT_MODELS: dict[TaskKind, JudgementModel] = {
    TaskKind.prompt_writing: PromptSubmission,
    TaskKind.demonstration: Demonstration,
    TaskKind.ranking: Ranking,
    TaskKind.pairwise: PairwiseJudgement,
    TaskKind.evaluation: PairwiseJudgement,
}
# How many of the oldest open items `next` looks at before jumping past the labeler's frontier.
OLDEST_WINDOW = 200


# --- projects and membership -------------------------------------------------------------


def member_project(db: Session, project_public_id: str, user_id: int) -> Project | None:
    """The project, if the user is a member of it (the one scope labelers have)."""
    return db.scalar(
        select(Project)
        .join(ProjectMember, ProjectMember.project_id == Project.id)
        .where(Project.public_id == project_public_id, ProjectMember.user_id == user_id)
    )


def is_member(db: Session, project_id: int, user_id: int) -> bool:
    found = db.scalar(
        select(ProjectMember.user_id).where(
            ProjectMember.project_id == project_id, ProjectMember.user_id == user_id
        )
    )
    return found is not None


def project_by_public_id(db: Session, project_public_id: str) -> Project | None:
    return db.scalar(select(Project).where(Project.public_id == project_public_id))


def project_by_id(db: Session, project_id: int) -> Project:
    project = db.get(Project, project_id)
    assert project is not None  # foreign keys guarantee it
    return project


def member_projects(db: Session, user_id: int) -> list[Project]:
    return list(
        db.scalars(
            select(Project)
            .join(ProjectMember, ProjectMember.project_id == Project.id)
            .where(ProjectMember.user_id == user_id, Project.archived.is_(False))
            .order_by(Project.id)
        )
    )


def lock_user(db: Session, user_id: int) -> None:
    """Serialise one labeler's `next` calls (PostgreSQL; SQLite write transactions are
    serial already, so it skips the round trip)."""
    if db.get_bind().dialect.name == "sqlite":
        return
    # NO KEY UPDATE: inserts that reference the user (FOR KEY SHARE) are not blocked.
    db.execute(select(User.id).where(User.id == user_id).with_for_update(key_share=True))


# --- leases ------------------------------------------------------------------------------


def active_assignment(db: Session, user_id: int, project_id: int) -> Assignment | None:
    return db.scalar(
        select(Assignment)
        .where(
            Assignment.user_id == user_id,
            Assignment.project_id == project_id,
            Assignment.status == AssignmentStatus.active,
        )
        .order_by(Assignment.id.desc())
        .limit(1)
    )


def assignment_of_user(db: Session, public_id: str, user_id: int, *, lock: bool) -> Assignment | None:
    query = select(Assignment).where(Assignment.public_id == public_id, Assignment.user_id == user_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.scalar(query)


def submit_context(db: Session, public_id: str, user_id: int) -> tuple[Assignment, Project, bool] | None:
    """The user's assignment, its project and whether the user is still a member, in one
    round trip (the submit's read phase; nothing is locked)."""
    member = exists().where(ProjectMember.project_id == Assignment.project_id, ProjectMember.user_id == user_id)
    row = db.execute(
        select(Assignment, Project, member.label("member"))
        .join(Project, Project.id == Assignment.project_id)
        .where(Assignment.public_id == public_id, Assignment.user_id == user_id)
    ).first()
    return (row[0], row[1], bool(row[2])) if row is not None else None


def assignment_status(db: Session, assignment_id: int) -> AssignmentStatus | None:
    """The status as stored now, locking the row (PostgreSQL) for the rest of the transaction."""
    return db.scalar(select(Assignment.status).where(Assignment.id == assignment_id).with_for_update())


def expired_leases(db: Session, project_id: int, now: datetime, limit: int) -> list[tuple[int, int]]:
    """(assignment id, item id) of leases past their expiry; rows another transaction is
    already reclaiming are skipped rather than waited for."""
    rows = db.execute(
        select(Assignment.id, Assignment.item_id)
        .where(
            Assignment.project_id == project_id,
            Assignment.status == AssignmentStatus.active,
            Assignment.expires_at < now,
        )
        .order_by(Assignment.expires_at, Assignment.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    return [(r[0], r[1]) for r in rows]


def set_status(
    db: Session, assignment_id: int, new: AssignmentStatus, *, only_if: AssignmentStatus
) -> bool:
    result = db.execute(
        update(Assignment)
        .where(Assignment.id == assignment_id, Assignment.status == only_if)
        .values(status=new)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


def release_slot(db: Session, item_id: int) -> None:
    db.execute(
        update(WorkItem)
        .where(WorkItem.id == item_id, WorkItem.taken > 0)
        .values(taken=WorkItem.taken - 1)
        .execution_options(synchronize_session=False)
    )


def take_slot(db: Session, item_id: int) -> bool:
    """Take one slot if one is free; the CHECK (taken <= required) backs this up."""
    result = db.execute(
        update(WorkItem)
        .where(WorkItem.id == item_id, WorkItem.is_open == true(), WorkItem.taken < WorkItem.required)
        .values(taken=WorkItem.taken + 1)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


def record_done(db: Session, item_id: int) -> None:
    """Count a judgement; the item closes when it has all the judgements it needs."""
    db.execute(
        update(WorkItem)
        .where(WorkItem.id == item_id)
        .values(
            done=WorkItem.done + 1,
            is_open=case((WorkItem.done + 1 >= WorkItem.required, False), else_=WorkItem.is_open),
        )
        .execution_options(synchronize_session=False)
    )


def frontier(db: Session, user_id: int, project_id: int) -> int:
    """The newest item this labeler was ever given in the project (one index seek)."""
    value = db.scalar(
        select(func.max(Assignment.item_id)).where(
            Assignment.user_id == user_id, Assignment.project_id == project_id
        )
    )
    return int(value or 0)


def _candidates(project_id: int, user_id: int) -> Select[int]:
    not_given = ~exists().where(Assignment.item_id == WorkItem.id, Assignment.user_id == user_id)
    return (
        select(WorkItem.id)
        .where(
            WorkItem.project_id == project_id,
            WorkItem.is_open == true(),
            WorkItem.taken < WorkItem.required,
            not_given,
        )
        .order_by(WorkItem.id)
        .limit(1)
    )


def find_candidate(
    db: Session, project_id: int, user_id: int, *, after: int | None, window: bool, lock: bool
) -> int | None:
    """The first open item with a free slot this labeler was never given.

    ``window`` limits the search to the project's oldest open items with a free slot
    (finish started items first); ``after`` starts past an item id.
    """
    query = _candidates(project_id, user_id)
    if window:
        oldest = (
            select(WorkItem.id)
            .where(
                WorkItem.project_id == project_id,
                WorkItem.is_open == true(),
                WorkItem.taken < WorkItem.required,
            )
            .order_by(WorkItem.id)
            .limit(OLDEST_WINDOW)
        )
        query = query.where(WorkItem.id.in_(oldest.scalar_subquery()))
    if after is not None:
        query = query.where(WorkItem.id > after)
    if lock:
        # NO KEY UPDATE: submits inserting judgements that reference the item (FOR KEY
        # SHARE) are not blocked by a labeler leasing it.
        query = query.with_for_update(skip_locked=True, key_share=True)
    value = db.scalar(query)
    return int(value) if value is not None else None


def item(db: Session, item_id: int) -> WorkItem:
    found = db.get(WorkItem, item_id)
    assert found is not None
    return found


def item_completions(db: Session, item_id: int) -> list[tuple[Completion, int]]:
    """The item's completions with their canonical positions (0 = A, 1 = B)."""
    rows = db.execute(
        select(Completion, ItemCompletion.position)
        .join(ItemCompletion, ItemCompletion.completion_id == Completion.id)
        .where(ItemCompletion.item_id == item_id)
        .order_by(ItemCompletion.position)
    ).all()
    return [(r[0], r[1]) for r in rows]


def completion_ids(db: Session, item_id: int) -> list[tuple[str, int]]:
    """(public id, id) of the item's completions in canonical order (0 = A, 1 = B)."""
    rows = db.execute(
        select(Completion.public_id, Completion.id)
        .join(ItemCompletion, ItemCompletion.completion_id == Completion.id)
        .where(ItemCompletion.item_id == item_id)
        .order_by(ItemCompletion.position)
    ).all()
    return [(r[0], r[1]) for r in rows]


def completion_public_ids(db: Session, item_id: int) -> list[str]:
    return list(
        db.scalars(
            select(Completion.public_id)
            .join(ItemCompletion, ItemCompletion.completion_id == Completion.id)
            .where(ItemCompletion.item_id == item_id)
            .order_by(ItemCompletion.position)
        )
    )


def prompt(db: Session, prompt_id: int) -> Prompt | None:
    return db.get(Prompt, prompt_id)


def model_names(db: Session, completions: Sequence[Completion]) -> dict[int, str]:
    """Completion id → the model's registered name (or the name it was imported under)."""
    ids = {c.model_version_id for c in completions if c.model_version_id is not None}
    names: dict[int, str] = {}
    if ids:
        names = {m.id: m.name for m in db.scalars(select(ModelVersion).where(ModelVersion.id.in_(ids)))}
    return {
        c.id: names.get(c.model_version_id, c.model_name) if c.model_version_id else c.model_name
        for c in completions
    }


# --- judgements --------------------------------------------------------------------------


def judgement_by_key(db: Session, model: JudgementModel, user_id: int, key: str) -> Judgement | None:
    return db.scalar(select(model).where(model.user_id == user_id, model.idempotency_key == key))  # type: ignore[return-value]


def insert_judgement(db: Session, model: JudgementModel, values: dict[str, Any]) -> int:
    """One INSERT … RETURNING id: no ORM flush, no re-read of the row."""
    return int(db.execute(insert(model).values(**values).returning(model.id)).scalar_one())


def insert_ranking_entries(db: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        db.execute(insert(RankingEntry), rows)


def judgement_by_public_id(db: Session, public_id: str) -> Judgement | None:
    for model in (Ranking, PairwiseJudgement, Demonstration, PromptSubmission):
        found = db.scalar(select(model).where(model.public_id == public_id))
        if found is not None:
            return found  # type: ignore[return-value]
    return None


def ranking_entries(db: Session, ranking_id: int) -> list[RankingEntry]:
    return list(db.scalars(select(RankingEntry).where(RankingEntry.ranking_id == ranking_id)))


def user(db: Session, user_id: int) -> User:
    found = db.get(User, user_id)
    assert found is not None
    return found


def user_by_public_id(db: Session, public_id: str) -> User | None:
    return db.scalar(select(User).where(User.public_id == public_id))


def browse(
    db: Session,
    model: JudgementModel,
    project_id: int,
    *,
    user_id: int | None,
    since: datetime | None,
    until: datetime | None,
    verdict: tuple[str, Any] | None,
    before_id: int | None,
    limit: int,
) -> list[tuple[Judgement, User]]:
    query = (
        select(model, User)
        .join(User, User.id == model.user_id)
        .where(model.project_id == project_id)
        .order_by(model.id.desc())
        .limit(limit)
    )
    if user_id is not None:
        query = query.where(model.user_id == user_id)
    if since is not None:
        query = query.where(model.created_at >= since)
    if until is not None:
        query = query.where(model.created_at < until)
    if verdict is not None:
        query = query.where(getattr(model, verdict[0]) == verdict[1])
    if before_id is not None:
        query = query.where(model.id < before_id)
    return [(r[0], r[1]) for r in db.execute(query).all()]  # type: ignore[misc]


# --- progress ----------------------------------------------------------------------------


def count_user_judgements(
    db: Session, model: JudgementModel, project_id: int, user_id: int, since: datetime
) -> tuple[int, int]:
    """(all, since `since`) judgements of the user in the project, walking (user_id, created_at)."""
    row = db.execute(
        select(func.count(), func.sum(case((model.created_at >= since, 1), else_=0))).where(
            model.user_id == user_id, model.project_id == project_id
        )
    ).one()
    return int(row[0] or 0), int(row[1] or 0)


def count_open_items(db: Session, project_id: int, cap: int) -> int:
    """Open items, counted up to ``cap`` so the answer stays cheap on huge projects."""
    inner = (
        select(WorkItem.id)
        .where(WorkItem.project_id == project_id, WorkItem.is_open == true())
        .limit(cap)
        .subquery()
    )
    return int(db.scalar(select(func.count()).select_from(inner)) or 0)


def item_counts(db: Session, project_id: int) -> dict[str, int]:
    row = db.execute(
        select(
            func.count(),
            func.sum(case((WorkItem.is_open == true(), 0), else_=1)),
            func.sum(
                case(
                    (and_(WorkItem.is_open == true(), (WorkItem.taken + WorkItem.done) > 0), 1),
                    else_=0,
                )
            ),
        ).where(WorkItem.project_id == project_id)
    ).one()
    total, done, in_progress = int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)
    return {
        "total": total,
        "done": done,
        "in_progress": in_progress,
        "remaining": total - done - in_progress,
    }


def judgement_stats(
    db: Session, model: JudgementModel, project_id: int, user_id: int | None
) -> list[tuple[int, datetime, float]]:
    """(user id, created_at, seconds) of the project's judgements, optionally one user's."""
    query = select(model.user_id, model.created_at, model.seconds).where(model.project_id == project_id)
    if user_id is not None:
        query = query.where(model.user_id == user_id)
    return [(r[0], r[1], float(r[2])) for r in db.execute(query).all()]


def users_by_id(db: Session, ids: set[int]) -> dict[int, User]:
    if not ids:
        return {}
    return {u.id: u for u in db.scalars(select(User).where(User.id.in_(ids)))}


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0))
