"""Every query of the quality domain, scoped to one project (or one item of it).

Judgements are read per task kind through one table of loaders (``VOTE_LOADERS``) that
turn rows into the ``Vote`` the statistics read; IN lists are sent in chunks.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    String,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app import access
from app.labeling.kinds import JUDGEMENT_MODELS, kind_of
from app.models import (
    Assignment,
    AssignmentStatus,
    Completion,
    ItemCompletion,
    JudgementReview,
    JudgementRevision,
    LabelerQuality,
    Metric,
    PairwiseJudgement,
    Project,
    ProjectMember,
    Prompt,
    QualityBin,
    QualityItem,
    QualitySettings,
    QualityState,
    Ranking,
    RankingEntry,
    RankingVerdict,
    ReviewVerdict,
    Standing,
    TaskKind,
    User,
    UserKind,
    Winner,
    WorkItem,
)
from app.quality.gold import MARGIN_MAGNITUDE, GoldSpec
from app.quality.stats import BinKey, BinRow, ItemData, Vote

CHUNK = 500
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PAIRED = frozenset({TaskKind.pairwise, TaskKind.evaluation})


def judgement_model(kind: TaskKind) -> Any:
    """The table holding a project's judgements (its kind's, app/labeling/kinds/)."""
    return kind_of(kind).judgement_model


def _chunks(values: Sequence[int], size: int = CHUNK) -> Iterator[Sequence[int]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def day_of(moment: datetime) -> int:
    return (moment.astimezone(UTC) - EPOCH).days


# --- projects, users, settings ------------------------------------------------------------


def is_member(db: Session, project_id: int, user_id: int) -> bool:
    found = db.scalar(
        select(ProjectMember.user_id).where(ProjectMember.project_id == project_id, ProjectMember.user_id == user_id)
    )
    return found is not None


def member_projects(db: Session, user: User) -> list[Project]:
    """The projects the user works in (app/access.py)."""
    return list(db.scalars(access.assigned(user).order_by(Project.name, Project.id)))


def active_readable_projects(db: Session, viewer: User) -> list[Project]:
    """The active projects the viewer may read (app/access.py)."""
    query = access.readable(viewer).where(Project.archived.is_(False))
    return list(db.scalars(query.order_by(Project.name, Project.id)))


def users_by_id(db: Session, ids: Iterable[int]) -> dict[int, User]:
    wanted = sorted(set(ids))
    found: dict[int, User] = {}
    for chunk in _chunks(wanted):
        found.update({u.id: u for u in db.scalars(select(User).where(User.id.in_(chunk)))})
    return found


def user_by_public_id(db: Session, public_id: str) -> User | None:
    return db.scalar(select(User).where(User.public_id == public_id))


def settings(db: Session, project_id: int) -> QualitySettings | None:
    return db.get(QualitySettings, project_id)


def save_settings(db: Session, row: QualitySettings) -> QualitySettings:
    db.add(row)
    db.flush()
    return row


def standing(db: Session, project_id: int, user_id: int) -> LabelerQuality | None:
    return db.get(LabelerQuality, (project_id, user_id))


def standings(db: Session, project_id: int) -> list[LabelerQuality]:
    return list(db.scalars(select(LabelerQuality).where(LabelerQuality.project_id == project_id)))


def save_standing(db: Session, row: LabelerQuality) -> None:
    db.add(row)
    db.flush()


def skip_counts(db: Session, project_id: int) -> dict[int, int]:
    """Skipped tasks per labeler (walks the skipped slice of the status index)."""
    query = (
        select(Assignment.user_id, func.count())
        .where(Assignment.project_id == project_id, Assignment.status == AssignmentStatus.skipped)
        .group_by(Assignment.user_id)
    )
    return {int(u): int(n) for u, n in db.execute(query)}


def members(db: Session, project_id: int) -> list[User]:
    query = (
        select(User)
        .join(ProjectMember, ProjectMember.user_id == User.id)
        .where(ProjectMember.project_id == project_id)
        .order_by(User.display_name, User.id)
    )
    return list(db.scalars(query))


# --- the statistics' state -----------------------------------------------------------------


def lock_state(db: Session, project_id: int) -> QualityState:
    """The project's statistics state, locked for the rest of the transaction on
    PostgreSQL (SQLite write transactions are serial): two refreshes never apply the
    same item's change twice."""
    state = db.scalar(
        select(QualityState)
        .where(QualityState.project_id == project_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if state is None:
        db.execute(
            _insert(db, QualityState).values(project_id=project_id, recent=[], version=0)
            .on_conflict_do_nothing()
        )
        state = db.scalar(
            select(QualityState)
            .where(QualityState.project_id == project_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    assert state is not None
    return state


def state(db: Session, project_id: int) -> QualityState | None:
    return db.get(QualityState, project_id)


@dataclass(frozen=True)
class NewJudgement:
    id: int
    item_id: int
    created_at: datetime


def judgements_since(
    db: Session, kind: TaskKind, project_id: int, since: datetime | None, limit: int
) -> list[NewJudgement]:
    """The project's judgements made at or after ``since``, oldest first (a range of the
    judgement table's (project_id, created_at) index)."""
    model = judgement_model(kind)
    query = select(model.id, model.item_id, model.created_at).where(model.project_id == project_id)
    if since is not None:
        query = query.where(model.created_at >= since)
    rows = db.execute(query.order_by(model.created_at, model.id).limit(limit))
    return [NewJudgement(int(i), int(item), at) for i, item, at in rows]


def count_since(db: Session, kind: TaskKind, project_id: int, since: datetime | None, cap: int) -> int:
    model = judgement_model(kind)
    inner = select(model.id).where(model.project_id == project_id)
    if since is not None:
        inner = inner.where(model.created_at >= since)
    return int(db.scalar(select(func.count()).select_from(inner.limit(cap).subquery())) or 0)


def shared_or_gold_item_ids(db: Session, kind: TaskKind, project_id: int) -> list[int]:
    """Items judged by two labelers or more, and gold items with a judgement."""
    model = judgement_model(kind)
    query = (
        select(model.item_id)
        .join(WorkItem, WorkItem.id == model.item_id)
        .where(model.project_id == project_id)
        .group_by(model.item_id, WorkItem.is_gold)
        .having((func.count() >= 2) | (WorkItem.is_gold == true()))
        .order_by(model.item_id)
    )
    return [int(i) for i in db.scalars(query)]


def quality_items(db: Session, item_ids: Sequence[int]) -> dict[int, QualityItem]:
    found: dict[int, QualityItem] = {}
    for chunk in _chunks(item_ids):
        found.update({q.item_id: q for q in db.scalars(select(QualityItem).where(QualityItem.item_id.in_(chunk)))})
    return found


def save_quality_items(db: Session, rows: list[dict[str, Any]]) -> None:
    """Insert or replace the items' rows (``rows`` carry every column)."""
    if not rows:
        return
    stmt = _insert(db, QualityItem)
    stmt = stmt.on_conflict_do_update(
        index_elements=[QualityItem.item_id],
        set_={k: stmt.excluded[k] for k in ("judgements", "labelers", "agreed", "compared", "dispute", "updated_at")},
    )
    db.execute(stmt, rows)


def add_to_bins(db: Session, project_id: int, deltas: Mapping[BinKey, int]) -> None:
    """Add each delta to its bin (an upsert per bin); bins that reach zero are removed."""
    rows = [
        {"project_id": project_id, "metric": m, "user_id": u, "other_id": o, "day": d, "a": a, "c": c, "n": n}
        for (m, u, o, d, a, c), n in deltas.items()
        if n
    ]
    if not rows:
        return
    stmt = _insert(db, QualityBin)
    stmt = stmt.on_conflict_do_update(
        index_elements=[QualityBin.project_id, QualityBin.metric, QualityBin.user_id, QualityBin.other_id,
                        QualityBin.day, QualityBin.a, QualityBin.c],
        set_={"n": QualityBin.n + stmt.excluded.n},
    )
    for start in range(0, len(rows), 5 * CHUNK):
        db.execute(stmt, rows[start : start + 5 * CHUNK])
    db.execute(delete(QualityBin).where(QualityBin.project_id == project_id, QualityBin.n <= 0))
    _new_version(db, project_id)


def bins(db: Session, project_id: int) -> list[BinRow]:
    query = select(
        QualityBin.metric, QualityBin.user_id, QualityBin.other_id, QualityBin.day, QualityBin.a, QualityBin.c,
        QualityBin.n,
    ).where(QualityBin.project_id == project_id)
    return [(Metric(m), int(u), int(o), int(d), int(a), int(c), int(n)) for m, u, o, d, a, c, n in db.execute(query)]


def clear_statistics(db: Session, project_id: int) -> None:
    db.execute(delete(QualityBin).where(QualityBin.project_id == project_id))
    db.execute(delete(QualityItem).where(QualityItem.project_id == project_id))
    db.execute(
        update(QualityState).where(QualityState.project_id == project_id).values(counted_before=None, recent=[])
    )
    _new_version(db, project_id)


def _new_version(db: Session, project_id: int) -> None:
    version = secrets.randbits(31)
    db.execute(update(QualityState).where(QualityState.project_id == project_id).values(version=version))


def disputed_items(db: Session, project_id: int, limit: int) -> list[tuple[QualityItem, str, str | None]]:
    """The items labelers disagree on most, with the item's public id and prompt."""
    query = (
        select(QualityItem, WorkItem.public_id, Prompt.messages)
        .join(WorkItem, WorkItem.id == QualityItem.item_id)
        .outerjoin(Prompt, Prompt.id == WorkItem.prompt_id)
        .where(QualityItem.project_id == project_id, QualityItem.compared > 0)
        .order_by(QualityItem.dispute.desc(), QualityItem.item_id.desc())  # the index's order
        .limit(limit)
    )
    return [(q, pid, _first_user_text(messages)) for q, pid, messages in db.execute(query)]


def _first_user_text(messages: Any) -> str | None:
    for message in messages or []:
        if isinstance(message, dict) and message.get("role") == "user":
            return str(message.get("content", ""))
    return None


# --- items and votes -------------------------------------------------------------------------


@dataclass
class ItemRow:
    id: int
    public_id: str
    project_id: int
    prompt_id: int | None
    category: str | None
    is_gold: bool
    gold: dict[str, Any] | None
    prompt_chars: int


def item_rows(db: Session, item_ids: Sequence[int]) -> dict[int, ItemRow]:
    chars = func.coalesce(func.length(cast(Prompt.messages, String)), 0)
    found: dict[int, ItemRow] = {}
    for chunk in _chunks(item_ids):
        query = (
            select(WorkItem.id, WorkItem.public_id, WorkItem.project_id, WorkItem.prompt_id, WorkItem.category,
                   WorkItem.is_gold, WorkItem.gold, chars)
            .outerjoin(Prompt, Prompt.id == WorkItem.prompt_id)
            .where(WorkItem.id.in_(chunk))
        )
        for row in db.execute(query):
            found[int(row[0])] = ItemRow(
                int(row[0]), row[1], int(row[2]), row[3], row[4], bool(row[5]), row[6], int(row[7])
            )
    return found


def item_by_public_id(db: Session, public_id: str) -> WorkItem | None:
    return db.scalar(select(WorkItem).where(WorkItem.public_id == public_id))


def item_completion_texts(db: Session, item_ids: Sequence[int]) -> dict[int, list[tuple[str, str, str]]]:
    """Canonical order (A first) of each item's completions: (public id, content, model)."""
    found: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
    for chunk in _chunks(item_ids):
        query = (
            select(ItemCompletion.item_id, Completion.public_id, Completion.content, Completion.model_name)
            .join(Completion, Completion.id == ItemCompletion.completion_id)
            .where(ItemCompletion.item_id.in_(chunk))
            .order_by(ItemCompletion.item_id, ItemCompletion.position)
        )
        for item_id, cid, content, model in db.execute(query):
            found[int(item_id)].append((cid, content, model))
    return found


def item_completion_lengths(db: Session, item_ids: Sequence[int]) -> dict[int, list[tuple[str, int]]]:
    found: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for chunk in _chunks(item_ids):
        query = (
            select(ItemCompletion.item_id, Completion.public_id, func.length(Completion.content))
            .join(Completion, Completion.id == ItemCompletion.completion_id)
            .where(ItemCompletion.item_id.in_(chunk))
            .order_by(ItemCompletion.item_id, ItemCompletion.position)
        )
        for item_id, cid, length in db.execute(query):
            found[int(item_id)].append((cid, int(length or 0)))
    return found


def rejected_ids(db: Session, project_id: int, item_ids: Sequence[int]) -> set[int]:
    found: set[int] = set()
    for chunk in _chunks(item_ids):
        query = select(JudgementReview.judgement_id).where(
            JudgementReview.project_id == project_id,
            JudgementReview.item_id.in_(chunk),
            JudgementReview.verdict == ReviewVerdict.rejected,
        )
        found.update(int(i) for i in db.scalars(query))
    return found


@dataclass(frozen=True)
class Loaded:
    """An item's judgements as votes, and which of them a reviewer rejected."""

    item: ItemData
    rejected: frozenset[int]

    def only(self, ids: Iterable[int]) -> ItemData:
        keep = set(ids)
        return _with_votes(self.item, tuple(v for v in self.item.votes if v.judgement_id in keep))

    def valid(self) -> ItemData:
        return _with_votes(self.item, tuple(v for v in self.item.votes if v.judgement_id not in self.rejected))


def _with_votes(item: ItemData, votes: tuple[Vote, ...]) -> ItemData:
    return ItemData(item.item_id, item.completions, item.lengths, item.chars, votes, item.gold, item.pairwise)


def ai_user_ids(db: Session) -> frozenset[int]:
    return frozenset(db.scalars(select(User.id).where(User.kind == UserKind.ai)))


def load_items(
    db: Session, project: Project, item_ids: Sequence[int], *, people_only: bool = True
) -> dict[int, Loaded]:
    """Every judgement of the items (rejected ones marked), with what the statistics need
    of the items themselves. ``people_only``: without the judgements of AI labelers
    (app/ai_labeling), so they never move the people's figures; their own agreement with
    the people is computed beside them."""
    items = item_rows(db, item_ids)
    completions = item_completion_lengths(db, item_ids)
    votes = VOTE_LOADERS[project.task_kind](db, item_ids)
    if people_only:
        machines = ai_user_ids(db)
        if machines:
            votes = {i: [v for v in vs if v.user_id not in machines] for i, vs in votes.items()}
    rejected = rejected_ids(db, project.id, item_ids)
    out: dict[int, Loaded] = {}
    for item_id in item_ids:
        row = items.get(item_id)
        if row is None:
            continue
        cs = completions.get(item_id, [])
        gold = GoldSpec.from_json(row.gold) if row.is_gold and row.gold else None
        data = ItemData(
            item_id=item_id,
            completions=tuple(c for c, _ in cs),
            lengths={c: n for c, n in cs},
            chars=row.prompt_chars + sum(n for _, n in cs),
            votes=tuple(sorted(votes.get(item_id, []), key=lambda v: v.judgement_id)),
            gold=gold,
            pairwise=project.task_kind in PAIRED,
        )
        out[item_id] = Loaded(data, frozenset(v.judgement_id for v in data.votes if v.judgement_id in rejected))
    return out


def _ranking_votes(db: Session, item_ids: Sequence[int]) -> dict[int, list[Vote]]:
    out: dict[int, list[Vote]] = defaultdict(list)
    for chunk in _chunks(item_ids):
        rows = db.execute(
            select(Ranking.id, Ranking.item_id, Ranking.user_id, Ranking.created_at, Ranking.seconds,
                   Ranking.shown_order, Ranking.verdict)
            .where(Ranking.item_id.in_(chunk))
        ).all()
        ranks: dict[int, dict[str, int]] = defaultdict(dict)
        for rchunk in _chunks([int(r[0]) for r in rows]):
            entries = select(RankingEntry.ranking_id, Completion.public_id, RankingEntry.tie_group).join(
                Completion, Completion.id == RankingEntry.completion_id
            )
            for rid, cid, group in db.execute(
                entries.where(RankingEntry.ranking_id.in_(rchunk), RankingEntry.tie_group.is_not(None))
            ):
                ranks[int(rid)][cid] = int(group or 0)
        for rid, item_id, user_id, at, seconds, shown, verdict in rows:
            ranked = verdict == RankingVerdict.ranked and bool(ranks.get(int(rid)))
            out[int(item_id)].append(
                Vote(int(rid), int(user_id), day_of(at), float(seconds or 0.0), tuple(shown or ()),
                     ranks[int(rid)] if ranked else None)
            )
    return out


_SIGN = {Winner.a: 1, Winner.b: -1, Winner.tie: 0}


def _pairwise_votes(db: Session, item_ids: Sequence[int]) -> dict[int, list[Vote]]:
    out: dict[int, list[Vote]] = defaultdict(list)
    sides = item_completion_lengths(db, item_ids)
    for chunk in _chunks(item_ids):
        rows = db.execute(
            select(PairwiseJudgement.id, PairwiseJudgement.item_id, PairwiseJudgement.user_id,
                   PairwiseJudgement.created_at, PairwiseJudgement.seconds, PairwiseJudgement.shown_order,
                   PairwiseJudgement.winner, PairwiseJudgement.margin_label)
            .where(PairwiseJudgement.item_id.in_(chunk))
        )
        for jid, item_id, user_id, at, seconds, shown, winner, label in rows:
            ids = [c for c, _ in sides.get(int(item_id), [])]
            sign = _SIGN.get(Winner(winner))
            ranks = None
            margin = None
            if sign is not None and len(ids) == 2:
                ranks = {ids[0]: int(sign < 0), ids[1]: int(sign > 0)}
                margin = 0 if sign == 0 else (MARGIN_MAGNITUDE[label] * sign if label is not None else None)
            out[int(item_id)].append(
                Vote(int(jid), int(user_id), day_of(at), float(seconds or 0.0), tuple(shown or ()), ranks, margin)
            )
    return out


def _plain_votes(kind: TaskKind) -> Callable[[Session, Sequence[int]], dict[int, list[Vote]]]:
    """Kinds without a preference (prompts, demonstrations): only time and speed count."""
    model = judgement_model(kind)

    def load(db: Session, item_ids: Sequence[int]) -> dict[int, list[Vote]]:
        out: dict[int, list[Vote]] = defaultdict(list)
        for chunk in _chunks(item_ids):
            query = select(model.id, model.item_id, model.user_id, model.created_at, model.seconds).where(
                model.item_id.in_(chunk)
            )
            for jid, item_id, user_id, at, seconds in db.execute(query):
                out[int(item_id)].append(Vote(int(jid), int(user_id), day_of(at), float(seconds or 0.0), (), None))
        return out

    return load


VOTE_LOADERS: dict[TaskKind, Callable[[Session, Sequence[int]], dict[int, list[Vote]]]] = {
    TaskKind.ranking: _ranking_votes,
    TaskKind.pairwise: _pairwise_votes,
    TaskKind.evaluation: _pairwise_votes,
    TaskKind.demonstration: _plain_votes(TaskKind.demonstration),
    TaskKind.prompt_writing: _plain_votes(TaskKind.prompt_writing),
}


# --- gold items ----------------------------------------------------------------------------


def gold_counts(db: Session, project_id: int) -> tuple[int, int]:
    """(gold items, of which screening items) of the project."""
    screening = WorkItem.gold["screening"].as_boolean()
    row = db.execute(
        select(func.count(), func.coalesce(func.sum(case((screening, 1), else_=0)), 0))
        .where(WorkItem.project_id == project_id, WorkItem.is_gold == true())
    ).one()
    return int(row[0]), int(row[1])


def gold_items(db: Session, project_id: int) -> list[WorkItem]:
    query = (
        select(WorkItem)
        .where(WorkItem.project_id == project_id, WorkItem.is_gold == true())
        .order_by(WorkItem.id)
    )
    return list(db.scalars(query))


def unseen_gold(db: Session, project_id: int, user_id: int) -> list[tuple[int, dict[str, Any] | None]]:
    """(id, gold answer) of the gold items this labeler was never given."""
    given = select(Assignment.id).where(Assignment.item_id == WorkItem.id, Assignment.user_id == user_id)
    query = select(WorkItem.id, WorkItem.gold).where(
        WorkItem.project_id == project_id,
        WorkItem.is_gold == true(),
        WorkItem.taken < WorkItem.required,
        ~given.exists(),
    )
    return [(int(i), g) for i, g in db.execute(query)]


def take_gold_slot(db: Session, item_id: int) -> bool:
    """A gold item is never open in the regular queue; its slots are taken here."""
    result = db.execute(
        update(WorkItem).where(WorkItem.id == item_id, WorkItem.taken < WorkItem.required).values(taken=WorkItem.taken + 1)
    )
    return int(getattr(result, "rowcount", 0)) == 1


def gold_answers_of(
    db: Session, project: Project, user_id: int, screening: bool | None, since: datetime | None = None
) -> list[tuple[WorkItem, Vote]]:
    """The labeler's judgements on the project's gold items (screening ones, others, or
    all), made after ``since`` when given."""
    model = judgement_model(project.task_kind)
    query = (
        select(WorkItem, model.id)
        .join(model, model.item_id == WorkItem.id)
        .where(WorkItem.project_id == project.id, WorkItem.is_gold == true(), model.user_id == user_id)
    )
    if since is not None:
        query = query.where(model.created_at > since)
    rows = [(item, int(jid)) for item, jid in db.execute(query)]
    items = [item for item, _ in rows if screening is None or _is_screening(item) == screening]
    votes = VOTE_LOADERS[project.task_kind](db, [i.id for i in items])
    out = []
    for item in items:
        for vote in votes.get(item.id, []):
            if vote.user_id == user_id:
                out.append((item, vote))
    return out


def _is_screening(item: WorkItem) -> bool:
    return bool((item.gold or {}).get("screening"))


def add_prompt_with_item(
    db: Session, project: Project, prompt: dict[str, Any], completions: list[dict[str, Any]], item: dict[str, Any]
) -> WorkItem:
    """A prompt, its completions and one work item showing them in the given order."""
    prompt_row = Prompt(project_id=project.id, **prompt)
    db.add(prompt_row)
    db.flush()
    rows = [Completion(prompt_id=prompt_row.id, **c) for c in completions]
    db.add_all(rows)
    db.flush()
    work = WorkItem(project_id=project.id, prompt_id=prompt_row.id, category=prompt_row.category, **item)
    db.add(work)
    db.flush()
    db.execute(insert(ItemCompletion), [
        {"item_id": work.id, "position": i, "completion_id": c.id} for i, c in enumerate(rows)
    ])
    return work


def existing_external_ids(db: Session, project_id: int, external_ids: Iterable[str]) -> set[str]:
    wanted = sorted(set(external_ids))
    found: set[str] = set()
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        found.update(db.scalars(select(Prompt.external_id).where(Prompt.project_id == project_id,
                                                                 Prompt.external_id.in_(chunk))))
    return found


# --- slots ---------------------------------------------------------------------------------


def give_back_slot(db: Session, item_id: int) -> None:
    """A rejected judgement no longer fills its slot: the item needs one more (regular
    items reopen; gold items are never in the regular queue)."""
    db.execute(
        update(WorkItem)
        .where(WorkItem.id == item_id, WorkItem.done > 0)
        .values(done=WorkItem.done - 1, taken=WorkItem.taken - 1, is_open=~WorkItem.is_gold)
    )


def take_back_slot(db: Session, item_id: int) -> bool:
    """A judgement accepted again fills a slot, if one is still free."""
    result = db.execute(
        update(WorkItem)
        .where(WorkItem.id == item_id, WorkItem.taken < WorkItem.required)
        .values(
            taken=WorkItem.taken + 1,
            done=WorkItem.done + 1,
            is_open=case((WorkItem.done + 1 >= WorkItem.required, False), else_=and_(WorkItem.is_open, true())),
        )
    )
    return int(getattr(result, "rowcount", 0)) == 1


# --- reviews and revisions -----------------------------------------------------------------


def review_of(db: Session, project_id: int, judgement_id: int) -> JudgementReview | None:
    return db.scalar(
        select(JudgementReview).where(JudgementReview.project_id == project_id,
                                      JudgementReview.judgement_id == judgement_id)
    )


def reviews_for_item(db: Session, item_id: int) -> dict[int, JudgementReview]:
    return {r.judgement_id: r for r in db.scalars(select(JudgementReview).where(JudgementReview.item_id == item_id))}


def reviews_for(db: Session, project_id: int, judgement_ids: Sequence[int]) -> dict[int, JudgementReview]:
    found: dict[int, JudgementReview] = {}
    for chunk in _chunks(judgement_ids):
        query = select(JudgementReview).where(
            JudgementReview.project_id == project_id, JudgementReview.judgement_id.in_(chunk)
        )
        found.update({r.judgement_id: r for r in db.scalars(query)})
    return found


def add(db: Session, row: Any) -> None:
    db.add(row)
    db.flush()


def judgement(db: Session, kind: TaskKind, judgement_id: int) -> Any:
    return db.get(judgement_model(kind), judgement_id)


def judgement_by_public_id(db: Session, public_id: str) -> tuple[Any, Project] | None:
    """A judgement of any kind by its public id, with its project."""
    for model in sorted(JUDGEMENT_MODELS, key=lambda m: m.__tablename__):
        row = db.execute(
            select(model, Project).join(Project, Project.id == model.project_id).where(model.public_id == public_id)
        ).first()
        if row is not None:
            return row[0], row[1]
    return None


def judgements_of_item(db: Session, kind: TaskKind, item_id: int) -> list[Any]:
    model = judgement_model(kind)
    return list(db.scalars(select(model).where(model.item_id == item_id).order_by(model.id)))


def my_judgements(
    db: Session, kind: TaskKind, project_id: int, user_id: int, before_id: int | None, limit: int
) -> list[Any]:
    model = judgement_model(kind)
    query = (
        select(model)
        .where(model.project_id == project_id, model.user_id == user_id)
        .order_by(model.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        query = query.where(model.id < before_id)
    return list(db.scalars(query))


def revisions(db: Session, project_id: int, judgement_id: int) -> list[JudgementRevision]:
    query = (
        select(JudgementRevision)
        .where(JudgementRevision.project_id == project_id, JudgementRevision.judgement_id == judgement_id)
        .order_by(JudgementRevision.revision)
    )
    return list(db.scalars(query))


def revision_counts(db: Session, project_id: int, judgement_ids: Sequence[int]) -> dict[int, int]:
    found: dict[int, int] = {}
    for chunk in _chunks(judgement_ids):
        query = (
            select(JudgementRevision.judgement_id, func.count())
            .where(JudgementRevision.project_id == project_id, JudgementRevision.judgement_id.in_(chunk))
            .group_by(JudgementRevision.judgement_id)
        )
        found.update({int(j): int(n) for j, n in db.execute(query)})
    return found


def delete_ranking_entries(db: Session, ranking_id: int) -> None:
    db.execute(delete(RankingEntry).where(RankingEntry.ranking_id == ranking_id))


def completion_pairs(db: Session, item_ids: Sequence[int]) -> dict[int, list[tuple[str, int]]]:
    """(public id, id) of each item's completions in canonical order (A first)."""
    found: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for chunk in _chunks(item_ids):
        query = (
            select(ItemCompletion.item_id, Completion.public_id, Completion.id)
            .join(ItemCompletion, ItemCompletion.completion_id == Completion.id)
            .where(ItemCompletion.item_id.in_(chunk))
            .order_by(ItemCompletion.item_id, ItemCompletion.position)
        )
        for item_id, public_id, cid in db.execute(query):
            found[int(item_id)].append((public_id, int(cid)))
    return found


def _insert(db: Session, model: type[Any]) -> Any:
    """An INSERT that can say what to do ON CONFLICT, in the session's dialect."""
    table = model.__table__
    return postgresql.insert(table) if db.get_bind().dialect.name == "postgresql" else sqlite.insert(table)


# Built once: every lease runs it (a prebuilt statement memoizes its cache key).
_POLICY = (
    select(QualitySettings, LabelerQuality.standing)
    .select_from(Project)
    .outerjoin(QualitySettings, QualitySettings.project_id == Project.id)
    .outerjoin(
        LabelerQuality,
        and_(LabelerQuality.project_id == Project.id, LabelerQuality.user_id == bindparam("user_id")),
    )
    .where(Project.id == bindparam("project_id"))
)


def policy(db: Session, project_id: int, user_id: int) -> tuple[QualitySettings | None, Standing | None]:
    """The project's quality settings and this labeler's standing, in one round trip."""
    row = db.execute(_POLICY, {"project_id": project_id, "user_id": user_id}).first()
    if row is None:
        return None, None
    return row[0], (Standing(row[1]) if row[1] is not None else None)


def lock_item(db: Session, item_id: int) -> WorkItem | None:
    """The item, locked until the end of the transaction (PostgreSQL), so two reviews of
    its judgements change its slots one after the other."""
    return db.scalar(
        select(WorkItem).where(WorkItem.id == item_id).with_for_update().execution_options(populate_existing=True)
    )


def prompt_messages(db: Session, prompt_id: int | None) -> list[dict[str, str]] | None:
    if prompt_id is None:
        return None
    return db.scalar(select(Prompt.messages).where(Prompt.id == prompt_id))
