"""Every query of the labeling domain, each scoped to the project or the acting user.

The queue queries walk ``ix_work_items_queue (project_id, is_open, id)`` with a
``LIMIT``; the "not yet given to you" test is a probe of the unique index
``assignments (item_id, user_id)``. No query here scans all items or all
assignments of a project per request.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Table,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session

from app import access
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
    User,
    WorkItem,
)

JudgementModel = type[PromptSubmission] | type[Demonstration] | type[Ranking] | type[PairwiseJudgement]
Judgement = PromptSubmission | Demonstration | Ranking | PairwiseJudgement

# How many of the oldest open items `next` looks at before jumping past the labeler's frontier.
OLDEST_WINDOW = 200

# The hot path's statements are built once (``@cache``) with bound parameters and run
# with a parameter dict: building a statement and computing its cache key cost more
# Python than SQLite spends running it, and a prebuilt statement memoizes its key.
_ASSIGNMENTS = cast(Table, Assignment.__table__)
_ITEMS = cast(Table, WorkItem.__table__)
_STATUS = _ASSIGNMENTS.c.status.type
_TIME = _ASSIGNMENTS.c.expires_at.type


# --- projects and membership -------------------------------------------------------------


def project_by_id(db: Session, project_id: int) -> Project:
    project = db.get(Project, project_id)
    assert project is not None  # foreign keys guarantee it
    return project


def member_projects(db: Session, user: User) -> list[Project]:
    """The projects the user works in (app/access.py)."""
    return list(db.scalars(access.assigned(user).order_by(Project.id)))


def lock_user(db: Session, user_id: int) -> None:
    """Serialise one labeler's `next` calls (PostgreSQL; SQLite write transactions are
    serial already, so it skips the round trip)."""
    if db.get_bind().dialect.name == "sqlite":
        return
    # NO KEY UPDATE: inserts that reference the user (FOR KEY SHARE) are not blocked.
    db.execute(select(User.id).where(User.id == user_id).with_for_update(key_share=True))


# --- leases ------------------------------------------------------------------------------


@cache
def _active_assignment_stmt() -> Select[Assignment]:
    return (
        select(Assignment)
        .where(
            Assignment.user_id == bindparam("user_id"),
            Assignment.project_id == bindparam("project_id"),
            Assignment.status == AssignmentStatus.active,
        )
        .order_by(Assignment.id.desc())
        .limit(1)
    )


def active_assignment(db: Session, user_id: int, project_id: int) -> Assignment | None:
    return db.scalar(_active_assignment_stmt(), {"user_id": user_id, "project_id": project_id})


def assignment_of_user(db: Session, public_id: str, user_id: int, *, lock: bool) -> Assignment | None:
    query = select(Assignment).where(Assignment.public_id == public_id, Assignment.user_id == user_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.scalar(query)


@cache
def _submit_context_stmt() -> Select[Assignment, Project, bool, str | None]:
    user_id: Any = bindparam("user_id")
    member = exists().where(ProjectMember.project_id == Assignment.project_id, ProjectMember.user_id == user_id)
    return (
        select(Assignment, Project, member.label("member"), WorkItem.category)
        .join(Project, Project.id == Assignment.project_id)
        .join(WorkItem, WorkItem.id == Assignment.item_id)
        .where(Assignment.public_id == bindparam("public_id"), Assignment.user_id == user_id)
    )


def submit_context(
    db: Session, public_id: str, user_id: int
) -> tuple[Assignment, Project, bool, str | None] | None:
    """The user's assignment, its project, whether the user is still a member and the
    item's category, in one round trip (the submit's read phase; nothing is locked)."""
    row = db.execute(_submit_context_stmt(), {"public_id": public_id, "user_id": user_id}).first()
    return (row[0], row[1], bool(row[2]), row[3]) if row is not None else None


_EXTEND_LEASE = (
    update(_ASSIGNMENTS)
    .where(_ASSIGNMENTS.c.id == bindparam("p_id"), _ASSIGNMENTS.c.status == AssignmentStatus.active)
    .values(expires_at=bindparam("p_expires", type_=_TIME))
)


def extend_lease(db: Session, assignment_id: int, expires_at: datetime) -> bool:
    """Move an active lease's expiry; False if the lease is no longer active."""
    return _rowcount(_core(db).execute(_EXTEND_LEASE, {"p_id": assignment_id, "p_expires": expires_at})) == 1


def reactivate(db: Session, assignment_id: int, expires_at: datetime) -> None:
    """An expired lease holds its slot again (the caller took the slot)."""
    db.execute(
        update(_ASSIGNMENTS)
        .where(_ASSIGNMENTS.c.id == assignment_id, _ASSIGNMENTS.c.status == AssignmentStatus.expired)
        .values(status=AssignmentStatus.active, expires_at=expires_at)
    )


def assignment_status(db: Session, assignment_id: int) -> AssignmentStatus | None:
    """The status as stored now, locking the row (PostgreSQL) for the rest of the transaction."""
    return db.scalar(select(Assignment.status).where(Assignment.id == assignment_id).with_for_update())


@cache
def _expired_leases_stmt(limit: int) -> Any:
    a = _ASSIGNMENTS.c
    return (
        select(a.id, a.item_id)
        .where(
            a.project_id == bindparam("project_id"),
            a.status == AssignmentStatus.active,
            a.expires_at < bindparam("now", type_=_TIME),
        )
        .order_by(a.expires_at, a.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def expired_leases(db: Session, project_id: int, now: datetime, limit: int) -> list[tuple[int, int]]:
    """(assignment id, item id) of leases past their expiry; rows another transaction is
    already reclaiming are skipped rather than waited for."""
    rows = _core(db).execute(_expired_leases_stmt(limit), {"project_id": project_id, "now": now}).all()
    return [(r[0], r[1]) for r in rows]


# Core (table) UPDATEs: the ORM's bulk-update layer would only add overhead, the
# session's identity map is not synchronised either way.
_SET_STATUS = (
    update(_ASSIGNMENTS)
    .where(_ASSIGNMENTS.c.id == bindparam("p_id"), _ASSIGNMENTS.c.status == bindparam("p_only_if", type_=_STATUS))
    .values(status=bindparam("p_status", type_=_STATUS))
)
_RELEASE_SLOT = (
    update(_ITEMS)
    .where(_ITEMS.c.id == bindparam("p_id"), _ITEMS.c.taken > 0)
    .values(taken=_ITEMS.c.taken - 1)
)
_TAKE_SLOT = (
    update(_ITEMS)
    .where(_ITEMS.c.id == bindparam("p_id"), _ITEMS.c.is_open == true(), _ITEMS.c.taken < _ITEMS.c.required)
    .values(taken=_ITEMS.c.taken + 1)
)
_RECORD_DONE = (
    update(_ITEMS)
    .where(_ITEMS.c.id == bindparam("p_id"))
    .values(
        done=_ITEMS.c.done + 1,
        is_open=case((_ITEMS.c.done + 1 >= _ITEMS.c.required, False), else_=_ITEMS.c.is_open),
    )
)
_FRONTIER = select(func.max(_ASSIGNMENTS.c.item_id)).where(
    _ASSIGNMENTS.c.user_id == bindparam("user_id"), _ASSIGNMENTS.c.project_id == bindparam("project_id")
)


def set_status(
    db: Session, assignment_id: int, new: AssignmentStatus, *, only_if: AssignmentStatus
) -> bool:
    result = _core(db).execute(_SET_STATUS, {"p_id": assignment_id, "p_only_if": only_if, "p_status": new})
    return _rowcount(result) == 1


def release_slot(db: Session, item_id: int) -> None:
    _core(db).execute(_RELEASE_SLOT, {"p_id": item_id})


def take_slot(db: Session, item_id: int) -> bool:
    """Take one slot if one is free; the CHECK (taken <= required) backs this up."""
    return _rowcount(_core(db).execute(_TAKE_SLOT, {"p_id": item_id})) == 1


def record_done(db: Session, item_id: int) -> None:
    """Count a judgement; the item closes when it has all the judgements it needs."""
    _core(db).execute(_RECORD_DONE, {"p_id": item_id})


def frontier(db: Session, user_id: int, project_id: int) -> int:
    """The newest item this labeler was ever given in the project (one index seek)."""
    value = _core(db).scalar(_FRONTIER, {"user_id": user_id, "project_id": project_id})
    return int(value or 0)


def _candidates(project_id: Any, user_id: Any) -> Select[int]:
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
    params: dict[str, Any] = {"project_id": project_id, "user_id": user_id}
    if after is not None:
        params["after"] = after
    value = _core(db).scalar(_candidate_stmt(after is not None, window and OLDEST_WINDOW, lock), params)
    return int(value) if value is not None else None


@cache
def _candidate_stmt(after: bool, window: int, lock: bool) -> Select[int]:
    """``window``: how many of the oldest open items to look at (0: no window)."""
    project_id: Any = bindparam("project_id")
    query = _candidates(project_id, bindparam("user_id"))
    if window:
        oldest = (
            select(WorkItem.id)
            .where(
                WorkItem.project_id == project_id,
                WorkItem.is_open == true(),
                WorkItem.taken < WorkItem.required,
            )
            .order_by(WorkItem.id)
            .limit(window)
        )
        query = query.where(WorkItem.id.in_(oldest.scalar_subquery()))
    if after:
        query = query.where(WorkItem.id > bindparam("after"))
    if lock:
        # NO KEY UPDATE: submits inserting judgements that reference the item (FOR KEY
        # SHARE) are not blocked by a labeler leasing it.
        query = query.with_for_update(skip_locked=True, key_share=True)
    return query


@cache
def _uncertain_stmt(lock: bool) -> Select[int]:
    project_id: Any = bindparam("project_id")
    query = (
        _candidates(project_id, bindparam("user_id"))
        .where(WorkItem.uncertainty.is_not(None))
        .order_by(None)
        .order_by(WorkItem.uncertainty, WorkItem.id)
    )
    if lock:
        query = query.with_for_update(skip_locked=True, key_share=True)
    return query


def find_uncertain(db: Session, project_id: int, user_id: int, *, lock: bool) -> int | None:
    """The open item with a free slot, never given to this labeler, whose reward-model
    margin is smallest (scored items only; ``ix_work_items_uncertainty``)."""
    value = _core(db).scalar(_uncertain_stmt(lock), {"project_id": project_id, "user_id": user_id})
    return int(value) if value is not None else None


# Waits for the row lock (no SKIP LOCKED); PostgreSQL then re-checks the conditions on
# the row as the holder left it.
_LOCK_IF_FREE = (
    select(WorkItem.id)
    .where(
        WorkItem.id == bindparam("item_id"),
        WorkItem.is_open == true(),
        WorkItem.taken < WorkItem.required,
    )
    .with_for_update(key_share=True)
)


def lock_if_free(db: Session, item_id: int) -> int | None:
    """Lock the item once no one else holds it; None if it has no free slot by then."""
    value = _core(db).scalar(_LOCK_IF_FREE, {"item_id": item_id})
    return int(value) if value is not None else None


_ITEM = select(WorkItem).where(WorkItem.id == bindparam("item_id"))


def item(db: Session, item_id: int) -> WorkItem:
    found = db.scalar(_ITEM, {"item_id": item_id})
    assert found is not None
    return found


_ITEM_COMPLETIONS = (
    select(Completion, ItemCompletion.position)
    .join(ItemCompletion, ItemCompletion.completion_id == Completion.id)
    .where(ItemCompletion.item_id == bindparam("item_id"))
    .order_by(ItemCompletion.position)
)
_COMPLETION_IDS = (
    select(Completion.public_id, Completion.id)
    .join(ItemCompletion, ItemCompletion.completion_id == Completion.id)
    .where(ItemCompletion.item_id == bindparam("item_id"))
    .order_by(ItemCompletion.position)
)
_PROMPT = select(Prompt).where(Prompt.id == bindparam("prompt_id"))


def item_completions(db: Session, item_id: int) -> list[tuple[Completion, int]]:
    """The item's completions with their canonical positions (0 = A, 1 = B)."""
    rows = db.execute(_ITEM_COMPLETIONS, {"item_id": item_id}).all()
    return [(r[0], r[1]) for r in rows]


def completion_ids(db: Session, item_id: int) -> list[tuple[str, int]]:
    """(public id, id) of the item's completions in canonical order (0 = A, 1 = B)."""
    rows = _core(db).execute(_COMPLETION_IDS, {"item_id": item_id}).all()
    return [(r[0], r[1]) for r in rows]


def completion_public_ids(db: Session, item_id: int) -> list[str]:
    return [r[0] for r in _core(db).execute(_COMPLETION_IDS, {"item_id": item_id})]


_TASK_VIEW = (
    select(
        WorkItem.public_id, WorkItem.category, Prompt.public_id, Prompt.messages, Prompt.category,
        Completion.public_id, Completion.content,
    )
    .select_from(WorkItem)
    .outerjoin(Prompt, Prompt.id == WorkItem.prompt_id)
    .outerjoin(ItemCompletion, ItemCompletion.item_id == WorkItem.id)
    .outerjoin(Completion, Completion.id == ItemCompletion.completion_id)
    .where(WorkItem.id == bindparam("item_id"))
    .order_by(ItemCompletion.position)
)


def task_view(db: Session, item_id: int) -> tuple[Any, dict[str, str]]:
    """What a task shows of its item, in one round trip without ORM objects: (item public
    id, item category, prompt public id, messages, category — None without a prompt) and
    completion public id → content."""
    rows = _core(db).execute(_TASK_VIEW, {"item_id": item_id}).all()
    return rows[0][:5], {r[5]: r[6] for r in rows if r[5] is not None}


_INSERT_ASSIGNMENT = insert(_ASSIGNMENTS).returning(_ASSIGNMENTS.c.id)


def insert_assignment(db: Session, values: dict[str, Any]) -> int:
    """One INSERT … RETURNING id, without the unit of work's flush machinery."""
    return int(_core(db).execute(_INSERT_ASSIGNMENT, values).scalar_one())


def prompt(db: Session, prompt_id: int) -> Prompt | None:
    return db.scalar(_PROMPT, {"prompt_id": prompt_id})


def item_prompt(db: Session, item_id: int) -> Prompt | None:
    """The prompt an item shows (None for prompt-writing items)."""
    return db.scalar(select(Prompt).join(WorkItem, WorkItem.prompt_id == Prompt.id).where(WorkItem.id == item_id))


def insert_prompt(db: Session, values: dict[str, Any]) -> int:
    """A prompt a labeler wrote, added to the project's pool; returns its id."""
    row = Prompt(**values)
    db.add(row)
    db.flush()
    return row.id


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


@cache
def _insert_judgement_stmt(model: JudgementModel, keys: frozenset[str]) -> Any:
    table = cast(Table, model.__table__)
    return insert(table).values({k: bindparam(f"p_{k}", type_=table.c[k].type) for k in keys}).returning(table.c.id)


def insert_judgement(db: Session, model: JudgementModel, values: dict[str, Any]) -> int:
    """One INSERT … RETURNING id: no ORM flush, no re-read of the row."""
    stmt = _insert_judgement_stmt(model, frozenset(values))
    return int(_core(db).execute(stmt, {f"p_{k}": v for k, v in values.items()}).scalar_one())


_RANKING_ENTRIES = insert(cast(Table, RankingEntry.__table__))


def insert_ranking_entries(db: Session, rows: list[dict[str, Any]]) -> None:
    """One executemany; every row carries every column (rating None is stored as NULL)."""
    if rows:
        _core(db).execute(_RANKING_ENTRIES, rows)


def judgement_by_public_id(db: Session, models: Iterable[JudgementModel], public_id: str) -> Judgement | None:
    for model in models:
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
    condition: ColumnElement[bool] | None,
    before_id: int | None,
    limit: int,
) -> list[tuple[Judgement, User, int]]:
    """A page of the project's judgements, newest first, with the labeler and the item's round."""
    query = (
        select(model, User, WorkItem.round)
        .join(User, User.id == model.user_id)
        .join(WorkItem, WorkItem.id == model.item_id)
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
    if condition is not None:
        query = query.where(condition)
    if before_id is not None:
        query = query.where(model.id < before_id)
    return [(r[0], r[1], int(r[2])) for r in db.execute(query).all()]  # type: ignore[misc]



# --- progress ----------------------------------------------------------------------------


# Items before the labeler's frontier are mostly ones they were given already; counting
# those they were not looks at this many of the oldest such items at most, so a veteran
# far ahead of the other labelers of an overlap > 1 project does not walk all their done
# items on every `next` (the rare item they passed beyond that is found by `next` itself).
BEFORE_FRONTIER_EXAMINED = 1_000


@cache
def _labeler_counts_stmt(model: JudgementModel, cap: int) -> Any:
    table = cast(Table, model.__table__)
    i, a = _ITEMS.c, _ASSIGNMENTS.c
    since = bindparam("since", type_=table.c.created_at.type)
    project_id: Any = bindparam("project_id")
    user_id: Any = bindparam("user_id")
    free = and_(i.project_id == project_id, i.is_open == true(), i.taken < i.required)
    frontier = func.coalesce(
        select(func.max(a.item_id)).where(a.user_id == user_id, a.project_id == project_id).scalar_subquery(), 0
    )
    # Past the frontier nothing was ever given to the labeler: no probe per item.
    past = select(i.id).where(free, i.id > frontier).order_by(i.id).limit(cap).subquery()
    before = select(i.id).where(free, i.id <= frontier).order_by(i.id).limit(BEFORE_FRONTIER_EXAMINED).subquery()
    # A probe of the (item_id, user_id) index per examined item, written as a per-row
    # subquery: as an anti-join PostgreSQL would hash all the labeler's assignments.
    given = exists().where(a.item_id == before.c.id, a.user_id == user_id)
    not_given = select(func.sum(case((~given, 1), else_=0))).select_from(before)
    holding = exists().where(a.user_id == user_id, a.project_id == project_id, a.status == AssignmentStatus.active)
    return select(
        func.count(),
        func.sum(case((table.c.created_at >= since, 1), else_=0)),
        select(func.count()).select_from(past).scalar_subquery(),
        not_given.scalar_subquery(),
        holding,
    ).where(table.c.user_id == user_id, table.c.project_id == project_id)


def labeler_counts(
    db: Session, model: JudgementModel, project_id: int, user_id: int, since: datetime, cap: int
) -> tuple[int, int, int]:
    """(all, since `since`, items left for this labeler up to ``cap``) in one round trip.

    Left for the labeler: open items with a free slot that were never given to them
    (not judged, skipped or let expire by them), plus the task they hold now."""
    row = _core(db).execute(
        _labeler_counts_stmt(model, cap), {"since": since, "user_id": user_id, "project_id": project_id}
    ).one()
    left = int(row[2] or 0) + int(row[3] or 0) + (1 if row[4] else 0)
    return int(row[0] or 0), int(row[1] or 0), min(left, cap)


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
        ).where(WorkItem.project_id == project_id, WorkItem.is_gold.is_(False))  # gold: app/quality
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


def _core(db: Session) -> Connection:
    """The session's connection, for Core statements on the hot path: executing them
    through the session adds its ORM execution layer (events, compile-state lookup) to
    every statement for nothing, as no entity is loaded or flushed."""
    return db.connection()


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0))
