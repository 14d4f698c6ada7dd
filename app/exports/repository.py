"""Every query of the exports domain, scoped to one project.

The ``iter_*`` functions stream: they read with ``yield_per`` (a server-side
cursor on PostgreSQL) and fetch the rows a batch needs (ranking entries, the
two completions of a pair) with one extra query per batch, so memory is
bounded by the batch size, not by the project.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, String, and_, exists, func, or_, select, type_coerce
from sqlalchemy.orm import Session, aliased

from app.models import (
    AiJudgement,
    AiLabeler,
    Completion,
    Demonstration,
    Export,
    ItemCompletion,
    JudgementReview,
    PairwiseJudgement,
    Project,
    Prompt,
    PromptSubmission,
    Ranking,
    RankingEntry,
    RankingVerdict,
    ReviewVerdict,
    User,
    UserKind,
    WorkItem,
)

BATCH = 1_000
Judgement = type[PromptSubmission] | type[Demonstration] | type[Ranking] | type[PairwiseJudgement]


@dataclass(frozen=True)
class JudgementFilter:
    project_id: int
    since: datetime | None = None
    until: datetime | None = None
    user_ids: frozenset[int] | None = None
    excluded_user_ids: frozenset[int] = frozenset()
    models: tuple[str, ...] | None = None
    # Quality control (app/quality/review.py): rejected judgements and gold items are left
    # out unless asked for; ``review_status`` keeps only judgements in those states.
    exclude_rejected: bool = True
    review_status: tuple[str, ...] | None = None
    include_gold: bool = False
    # Judgements of AI labelers (app/ai_labeling): "exclude", "include" or "only".
    ai: str = "exclude"


@dataclass
class CompletionRow:
    public_id: str
    content: str
    model: str
    tie_group: int | None = None
    rating: int | None = None
    flags: list[str] = field(default_factory=list)


@dataclass
class JudgementRow:
    """What every judgement kind shares, plus its prompt."""

    public_id: str
    item_id: int
    user_id: int
    created_at: str  # ISO 8601 UTC with microseconds, as the export writes it (``iso_text``)
    seconds: float
    shown_order: list[str]
    prompt_public_id: str
    prompt_messages: list[dict[str, str]]
    prompt_category: str | None
    round: int  # the item's round (app/labeling/items.py)
    judge: dict[str, Any] | None = None  # an AI judgement's provenance; None for a person's


@dataclass
class DemonstrationRow(JudgementRow):
    messages: list[dict[str, str]] = field(default_factory=list)


@dataclass
class RankingRow(JudgementRow):
    item_public_id: str = ""
    verdict: str = "ranked"
    reason: str | None = None
    entries: list[CompletionRow] = field(default_factory=list)


@dataclass
class PairRow(JudgementRow):
    winner: str = "tie"
    margin_label: str | None = None
    safety_a: str | None = None
    safety_b: str | None = None
    reason: str | None = None
    a: CompletionRow | None = None
    b: CompletionRow | None = None


# ---------------------------------------------------------------- projects and users


def users_by_public_id(db: Session, public_ids: Sequence[str]) -> dict[str, int]:
    rows = db.execute(select(User.public_id, User.id).where(User.public_id.in_(public_ids)))
    return {pid: uid for pid, uid in rows}


def judging_users(db: Session, project_id: int) -> dict[int, str]:
    """user id -> public id for everyone who judged in the project."""
    ids: set[int] = set()
    for model in (Demonstration, Ranking, PairwiseJudgement, PromptSubmission):
        ids.update(db.scalars(select(model.user_id).where(model.project_id == project_id).distinct()))
    if not ids:
        return {}
    return {uid: pid for uid, pid in db.execute(select(User.id, User.public_id).where(User.id.in_(ids)))}


# ---------------------------------------------------------------- judgements


def _conditions(model: Judgement, flt: JudgementFilter) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [model.project_id == flt.project_id]
    if flt.since is not None:
        conds.append(model.created_at >= flt.since)
    if flt.until is not None:
        conds.append(model.created_at < flt.until)
    if flt.user_ids is not None:
        conds.append(model.user_id.in_(flt.user_ids))
    if flt.excluded_user_ids:
        conds.append(model.user_id.not_in(flt.excluded_user_ids))
    if flt.models is not None:
        # Only judgements whose every completion came from one of the listed models.
        other_model = (
            select(ItemCompletion.item_id)
            .join(Completion, Completion.id == ItemCompletion.completion_id)
            .where(ItemCompletion.item_id == model.item_id, Completion.model_name.not_in(flt.models))
        )
        conds.append(~exists(other_model))
    conds.extend(_quality_conditions(model, flt))
    if flt.ai != "include":
        voter = aliased(User)  # the outer query may join users already
        by_ai = exists(select(voter.id).where(voter.id == model.user_id, voter.kind == UserKind.ai))
        conds.append(by_ai if flt.ai == "only" else ~by_ai)
    return conds


def count_by_source(db: Session, flt: JudgementFilter) -> dict[str, dict[str, int]]:
    """Judgements the filter keeps, per table ("demonstrations", "rankings", "pairwise")
    and by who made them ("human", "ai"): one grouped count per table."""
    out: dict[str, dict[str, int]] = {}
    for name, model in (("demonstrations", Demonstration), ("rankings", Ranking),
                        ("pairwise", PairwiseJudgement)):
        per = {"human": 0, "ai": 0}
        rows = db.execute(
            select(User.kind, func.count()).select_from(model).join(User, User.id == model.user_id)
            .where(*_conditions(model, flt)).group_by(User.kind)
        )
        for kind, n in rows:
            per[UserKind(kind).value] += int(n)
        out[name] = per
    return out


def _judges(db: Session, public_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The provenance of the AI judgements among ``public_ids``, as export records carry it."""
    if not public_ids:
        return {}
    rows = db.execute(
        select(AiJudgement, AiLabeler.public_id)
        .join(AiLabeler, AiLabeler.id == AiJudgement.ai_labeler_id)
        .where(AiJudgement.judgement_public_id.in_(public_ids))
    )
    out: dict[str, dict[str, Any]] = {}
    for row, labeler in rows:
        calls = list(row.calls or [])
        out[row.judgement_public_id] = {
            "source": "ai", "ai_labeler": labeler, "model": row.model_name, "method": row.method,
            "constitution_version": row.constitution_version, "p_a": row.p_a,
            "prompt": calls[0].get("messages") if calls else None,
            "raw": [c.get("raw") for c in calls],
        }
    return out


def _judges_of(db: Session, flt: JudgementFilter, batch: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """``_judges`` of a batch of rows (public id second). AI judgements are stored under
    their AI labeler's own account (app/ai_labeling/service.py), so a filter that leaves
    AI accounts out has none to look up."""
    if flt.ai == "exclude":
        return {}
    return _judges(db, [row[1] for row in batch])


def _review(model: Judgement, verdict: ReviewVerdict | None) -> Any:
    """EXISTS a review of the judgement (with this verdict, when one is given)."""
    query = select(JudgementReview.id).where(
        JudgementReview.project_id == model.project_id, JudgementReview.judgement_id == model.id
    )
    return exists(query.where(JudgementReview.verdict == verdict) if verdict is not None else query)


def _quality_conditions(model: Judgement, flt: JudgementFilter) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if flt.exclude_rejected:
        conds.append(~_review(model, ReviewVerdict.rejected))
    if flt.review_status is not None:
        states = {
            "accepted": _review(model, ReviewVerdict.accepted),
            "rejected": _review(model, ReviewVerdict.rejected),
            "unreviewed": ~_review(model, None),
        }
        conds.append(or_(*(states[s] for s in flt.review_status)))
    if not flt.include_gold:
        gold = aliased(WorkItem)  # the outer query may join work_items already
        conds.append(~exists(select(gold.id).where(gold.id == model.item_id, gold.is_gold.is_(True))))
    return conds


ISO_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime(ISO_FORMAT)


def iso_text(value: str | datetime) -> str:
    """The export's text of a ``created_at`` read by ``_created_text``.

    SQLite stores UTC as "YYYY-MM-DD HH:MM:SS.ffffff" (SQLAlchemy's format, always
    with microseconds): two slices make it ISO, where parsing into a datetime and
    formatting it again was a tenth of an export's CPU. PostgreSQL formats it in SQL.
    Anything else (text written by hand without microseconds) takes the slow path.
    """
    if isinstance(value, str):
        if len(value) == 26 and value[10] == " ":
            return value[:10] + "T" + value[11:] + "Z"
        if len(value) == 27 and value[10] == "T" and value[26] == "Z":
            return value
        parsed = datetime.fromisoformat(value)
        value = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    return iso(value)


def _text(column: Any) -> Any:
    """A column read as the text stored, without its type's result processing."""
    return type_coerce(column, String)


def _created_text(db: Session, model: Judgement) -> Any:
    """``created_at`` as text, not parsed into a datetime (see ``iso_text``)."""
    if db.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", model.created_at), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    return _text(model.created_at)


def _common_columns(db: Session, model: Judgement) -> tuple[Any, ...]:
    return (
        model.id,
        model.public_id,
        model.item_id,
        model.user_id,
        _created_text(db, model),
        model.seconds,
        model.shown_order,
        Prompt.public_id,
        Prompt.messages,
        Prompt.category,
    )


def _common(row: Any) -> dict[str, Any]:
    return {
        "public_id": row[1],
        "item_id": row[2],
        "user_id": row[3],
        "created_at": iso_text(row[4]),
        "seconds": float(row[5] or 0.0),
        "shown_order": list(row[6] or []),
        "prompt_public_id": row[7],
        "prompt_messages": row[8],
        "prompt_category": row[9],
        "round": int(row[-1] or 1),  # every select ends with WorkItem.round
    }


def _batches(db: Session, stmt: Any) -> Iterator[Sequence[Any]]:
    # Core execution on the session's connection: plain rows, no ORM loading machinery.
    yield from db.connection().execute(stmt.execution_options(yield_per=BATCH)).partitions()


def count_judgements(db: Session, flt: JudgementFilter) -> dict[str, int]:
    """Judgements the filter keeps, per table."""
    return {name: sum(per.values()) for name, per in count_by_source(db, flt).items()}


def count_rejected(db: Session, flt: JudgementFilter) -> int:
    """Judgements the filter would keep but a reviewer rejected (the manifest counts them)."""
    rejected = dataclasses.replace(flt, exclude_rejected=False, review_status=("rejected",))
    return sum(count_judgements(db, rejected).values())


def iter_demonstrations(db: Session, flt: JudgementFilter) -> Iterator[DemonstrationRow]:
    stmt = (
        select(*_common_columns(db, Demonstration), Demonstration.messages, WorkItem.round)
        .join(Prompt, Prompt.id == Demonstration.prompt_id)
        .join(WorkItem, WorkItem.id == Demonstration.item_id)
        .where(*_conditions(Demonstration, flt))
        .order_by(Demonstration.id)
    )
    for batch in _batches(db, stmt):
        judges = _judges_of(db, flt, batch)
        for row in batch:
            yield DemonstrationRow(**_common(row), judge=judges.get(row[1]), messages=row[10])


def iter_rankings(db: Session, flt: JudgementFilter) -> Iterator[RankingRow]:
    """Rankings in item order (so an item's rankings are adjacent), with their entries."""
    stmt = (
        select(*_common_columns(db, Ranking), Ranking.verdict, Ranking.reason, WorkItem.public_id, WorkItem.round)
        .join(WorkItem, WorkItem.id == Ranking.item_id)
        .join(Prompt, Prompt.id == WorkItem.prompt_id)
        .where(*_conditions(Ranking, flt))
        .order_by(Ranking.item_id, Ranking.id)
    )
    for batch in _batches(db, stmt):
        entries: dict[int, list[CompletionRow]] = {row[0]: [] for row in batch}
        rows = db.execute(
            select(
                RankingEntry.ranking_id, Completion.public_id, Completion.content,
                Completion.model_name, RankingEntry.tie_group, RankingEntry.rating,
                RankingEntry.flags,
            )
            .join(Completion, Completion.id == RankingEntry.completion_id)
            .where(RankingEntry.ranking_id.in_(list(entries)))
            .order_by(RankingEntry.ranking_id, Completion.id)
        )
        for rid, cpid, content, model, tie_group, rating, flags in rows:
            entries[rid].append(CompletionRow(cpid, content, model, tie_group, rating, list(flags or [])))
        judges = _judges_of(db, flt, batch)
        for row in batch:
            verdict = row[10].value if isinstance(row[10], RankingVerdict) else str(row[10])
            yield RankingRow(
                **_common(row), judge=judges.get(row[1]), item_public_id=row[12], verdict=verdict, reason=row[11],
                entries=entries[row[0]],
            )


def iter_pairwise(db: Session, flt: JudgementFilter) -> Iterator[PairRow]:
    """Pairwise judgements with the item's completions at canonical positions 0 (A) and 1 (B)."""
    # The two sides come in the same streamed rows (outer joins on the item_completions
    # key): no second query per batch with an IN list of a thousand items.
    side_a, side_b = aliased(ItemCompletion), aliased(ItemCompletion)
    comp_a, comp_b = aliased(Completion), aliased(Completion)
    stmt = (
        select(
            *_common_columns(db, PairwiseJudgement),
            # The enums as the text they are stored as (the export writes that text).
            *(_text(c) for c in (PairwiseJudgement.winner, PairwiseJudgement.margin_label,
                                 PairwiseJudgement.safety_a, PairwiseJudgement.safety_b)),
            PairwiseJudgement.reason,
            comp_a.public_id, comp_a.content, comp_a.model_name,
            comp_b.public_id, comp_b.content, comp_b.model_name, WorkItem.round,
        )
        .join(WorkItem, WorkItem.id == PairwiseJudgement.item_id)
        .join(Prompt, Prompt.id == WorkItem.prompt_id)
        .outerjoin(side_a, and_(side_a.item_id == PairwiseJudgement.item_id, side_a.position == 0))
        .outerjoin(comp_a, comp_a.id == side_a.completion_id)
        .outerjoin(side_b, and_(side_b.item_id == PairwiseJudgement.item_id, side_b.position == 1))
        .outerjoin(comp_b, comp_b.id == side_b.completion_id)
        .where(*_conditions(PairwiseJudgement, flt))
        .order_by(PairwiseJudgement.id)
    )
    for batch in _batches(db, stmt):
        judges = _judges_of(db, flt, batch)
        for row in batch:
            yield PairRow(
                **_common(row),
                judge=judges.get(row[1]) if judges else None,
                winner=row[10] or "tie",
                margin_label=row[11],
                safety_a=row[12],
                safety_b=row[13],
                reason=row[14],
                a=None if row[15] is None else CompletionRow(row[15], row[16], row[17]),
                b=None if row[18] is None else CompletionRow(row[18], row[19], row[20]),
            )


# ---------------------------------------------------------------- prompts


def _unjudged_prompt_conditions(project_id: int) -> list[ColumnElement[bool]]:
    def judged_through_item(model: type[Ranking] | type[PairwiseJudgement]) -> Any:
        return exists(
            select(model.id).join(WorkItem, WorkItem.id == model.item_id)
            .where(WorkItem.prompt_id == Prompt.id)
        )

    return [
        Prompt.project_id == project_id,
        Prompt.held_out.is_(False),
        Prompt.source != "gold",  # gold items' prompts are for checking labelers, not training
        ~exists(select(Demonstration.id).where(Demonstration.prompt_id == Prompt.id)),
        ~judged_through_item(Ranking),
        ~judged_through_item(PairwiseJudgement),
    ]


def count_unjudged_prompts(db: Session, project_id: int) -> int:
    stmt = select(func.count()).select_from(Prompt).where(*_unjudged_prompt_conditions(project_id))
    return db.scalar(stmt) or 0


def iter_unjudged_prompts(db: Session, project_id: int) -> Iterator[tuple[str, list[dict[str, str]], str | None]]:
    """Prompts (held-out ones excluded) that no demonstration, ranking or pair uses."""
    stmt = (
        select(Prompt.public_id, Prompt.messages, Prompt.category)
        .where(*_unjudged_prompt_conditions(project_id))
        .order_by(Prompt.id)
    )
    for batch in _batches(db, stmt):
        yield from ((pid, messages, category) for pid, messages, category in batch)


def iter_unpooled_submissions(db: Session, flt: JudgementFilter) -> Iterator[tuple[str, list[dict[str, str]], str | None]]:
    """Written prompts that never entered the prompt pool (their pooled copy is a Prompt)."""
    stmt = (
        select(PromptSubmission.public_id, PromptSubmission.messages, PromptSubmission.category)
        .where(*_conditions(PromptSubmission, flt), PromptSubmission.prompt_id.is_(None))
        .order_by(PromptSubmission.id)
    )
    for batch in _batches(db, stmt):
        yield from ((pid, messages, category) for pid, messages, category in batch)


# ---------------------------------------------------------------- export records


def add_export(db: Session, export: Export) -> Export:
    db.add(export)
    db.flush()
    return export


def get_export(db: Session, public_id: str) -> Export | None:
    return db.scalars(select(Export).where(Export.public_id == public_id)).first()


def list_exports(db: Session, project_id: int, limit: int = 200) -> Sequence[Export]:
    stmt = (
        select(Export).where(Export.project_id == project_id)
        .order_by(Export.created_at.desc(), Export.id.desc()).limit(limit)
    )
    return db.scalars(stmt).all()


def recent_exports(db: Session, limit: int) -> Sequence[Export]:
    """Every project's exports, newest first (admins see all projects)."""
    stmt = select(Export).order_by(Export.created_at.desc(), Export.id.desc()).limit(limit)
    return db.scalars(stmt).all()


def project_by_id(db: Session, project_id: int) -> Project | None:
    return db.get(Project, project_id)


def user_public_id(db: Session, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    return db.scalar(select(User.public_id).where(User.id == user_id))
