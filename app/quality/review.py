"""Review and corrections.

A reviewer (the ``reviewer`` role, in projects they are a member of, or an admin) opens
an item and sees every labeler's judgement side by side; each judgement says on how many
of its untied pairs it differs from the majority of the others. Accepting or rejecting
takes a reason. A rejected judgement stops counting: its slot returns to the item (a
regular item reopens in the queue, so another labeler fills it), exports leave it out
and the figures are re-computed at once. Accepting it again takes the slot back, if
nobody has filled it meanwhile.

A labeler sees the verdicts on their history page, and may correct a judgement of
theirs within the project's correction window, if nobody reviewed it yet: the earlier
version is kept as a revision (and in the audit log), the row holds the latest, which is
what exports read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app import access, audit
from app.config import Settings
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.models import (
    JudgementReview,
    JudgementRevision,
    Project,
    ReviewVerdict,
    Role,
    Standing,
    User,
    utcnow,
)
from app.pagination import decode_cursor, encode_cursor
from app.quality import answers, service
from app.quality import repository as repo
from app.quality.gold import GoldSpec, correct
from app.quality.schemas import (
    CorrectionOut,
    DisputedOut,
    HistoryItemOut,
    HistoryOut,
    ReviewIn,
    ReviewItemOut,
    ReviewJudgementOut,
    ReviewOut,
    ReviewQueueOut,
    RevisionOut,
)
from app.quality.stats import copeland, pair_signs

NO_JUDGEMENT = "No such judgement, or it is not yours."
HISTORY = "h"  # the cursor prefix of a labeler's history


def _review_out(review: JudgementReview | None, public_id: str, reviewers: dict[int, User]) -> ReviewOut | None:
    if review is None:
        return None
    who = reviewers.get(review.reviewer_id) if review.reviewer_id is not None else None
    return ReviewOut(
        judgement_id=public_id, verdict=review.verdict, reason=review.reason,
        reviewer=who.display_name if who else None, updated_at=review.updated_at,
    )


# --- the reviewer's side ---------------------------------------------------------------------


def queue(db: Session, viewer: User, ref: str, limit: int) -> ReviewQueueOut:
    """The project's most disputed items (counted first, like the quality page)."""
    project = service.readable_project(db, viewer, ref)
    service.refresh(db, project)
    return ReviewQueueOut(items=[
        DisputedOut(item_id=pid, prompt=(text or "")[:200] or None, labelers=q.labelers, agreed=q.agreed,
                    compared=q.compared, dispute=q.dispute)
        for q, pid, text in repo.disputed_items(db, project.id, limit)
    ])


def _readable_item(db: Session, viewer: User, item_public_id: str) -> tuple[Any, Project]:
    item = repo.item_by_public_id(db, item_public_id)
    if item is None:
        raise NotFound("No such item, or you may not review it.")
    project = db.get(Project, item.project_id)
    assert project is not None
    try:
        service.readable_project(db, viewer, project.public_id)
    except NotFound:
        raise NotFound("No such item, or you may not review it.") from None
    return item, project


def item_view(db: Session, viewer: User, item_public_id: str) -> ReviewItemOut:
    """Every judgement of an item side by side, with where each differs from the others."""
    item, project = _readable_item(db, viewer, item_public_id)
    texts = repo.item_completion_texts(db, [item.id]).get(item.id, [])
    canonical = [cid for cid, _, _ in texts]
    letters = {cid: service.LETTERS[i] for i, cid in enumerate(canonical)}
    rows = repo.judgements_of_item(db, project.task_kind, item.id)
    completions = repo.completion_pairs(db, [item.id])[item.id]
    loaded = repo.load_items(db, project, [item.id]).get(item.id)
    votes = {v.judgement_id: v for v in loaded.item.votes} if loaded else {}
    rejected = loaded.rejected if loaded else frozenset()
    signs = {jid: pair_signs(v.ranks, canonical) for jid, v in votes.items() if v.ranks is not None}
    reviews = repo.reviews_for_item(db, item.id)
    people = repo.users_by_id(db, [j.user_id for j in rows] + [r.reviewer_id for r in reviews.values() if r.reviewer_id])
    revisions = repo.revision_counts(db, project.id, [j.id for j in rows])
    spec = GoldSpec.from_json(item.gold) if item.is_gold and item.gold else None
    out = []
    for j in rows:
        different, compared = _against_majority(j.id, signs, rejected)
        vote = votes.get(j.id)
        out.append(ReviewJudgementOut(
            id=j.public_id,
            labeler={"id": people[j.user_id].public_id, "name": people[j.user_id].display_name},
            created_at=j.created_at, seconds=float(j.seconds or 0.0),
            answer=answers.in_letters(answers.answer(db, project, j, completions), letters),
            disagreements=different, compared=compared,
            gold_correct=correct(spec, vote.ranks, vote.margin) if spec is not None and vote is not None else None,
            review=_review_out(reviews.get(j.id), j.public_id, people),
            revisions=revisions.get(j.id, 0),
        ))
    majority = copeland([s for jid, s in signs.items() if jid not in rejected], len(canonical))
    return ReviewItemOut(
        item_id=item.public_id,
        project={"id": project.public_id, "name": project.name},
        task_kind=project.task_kind,
        prompt=repo.prompt_messages(db, item.prompt_id),
        completions=[{"letter": letters[c], "id": c, "content": content, "model": model} for c, content, model in texts],
        gold=service.gold_in_letters(spec, letters) if spec is not None else None,
        consensus=[[service.LETTERS[i] for i in tier] for tier in majority],
        judgements=out,
    )


def _against_majority(jid: int, signs: dict[int, dict[tuple[int, int], int]], rejected: frozenset[int]) -> tuple[int, int]:
    """(pairs where this judgement differs from the others' majority, pairs compared)."""
    mine = signs.get(jid)
    if mine is None:
        return 0, 0
    different = compared = 0
    for pair, sign in mine.items():
        others = sum(s.get(pair, 0) for other, s in signs.items() if other != jid and other not in rejected)
        if sign and others:
            compared += 1
            different += (others > 0) != (sign > 0)
    return different, compared


def decide(db: Session, reviewer: User, judgement_public_id: str, body: ReviewIn) -> ReviewOut:
    """Accept or reject a judgement; rejecting gives its slot back and re-counts the item."""
    found = repo.judgement_by_public_id(db, judgement_public_id)
    if found is None:
        raise NotFound("No such judgement, or you may not review it.")
    judgement, project = found
    try:
        service.readable_project(db, reviewer, project.public_id)
    except NotFound:
        raise NotFound("No such judgement, or you may not review it.") from None
    if judgement.user_id == reviewer.id:
        raise Forbidden("You cannot review your own judgement; ask another reviewer.")
    if body.verdict == ReviewVerdict.rejected and not (body.reason or "").strip():
        raise InvalidInput(
            "Say why the judgement is rejected: the labeler sees the reason.",
            details=[{"field": "reason", "message": "required when rejecting"}],
        )
    # The project's statistics first, then the item: every path that holds both takes
    # them in this order (content_change does), so two of them cannot deadlock.
    repo.lock_state(db, project.id)
    repo.lock_item(db, judgement.item_id)
    review = repo.review_of(db, project.id, judgement.id)
    before = review.verdict if review else None
    if before != ReviewVerdict.rejected and body.verdict == ReviewVerdict.rejected:
        repo.give_back_slot(db, judgement.item_id)
    elif before == ReviewVerdict.rejected and body.verdict == ReviewVerdict.accepted and not repo.take_back_slot(
        db, judgement.item_id
    ):
        raise Conflict(
            "Another labeler has filled this judgement's place since it was rejected, so the item "
            "has all the judgements it needs; the judgement stays rejected."
        )
    now = utcnow()
    if review is None:
        review = JudgementReview(
            project_id=project.id, item_id=judgement.item_id, judgement_id=judgement.id,
            labeler_id=judgement.user_id, created_at=now,
        )
    review.reviewer_id = reviewer.id
    review.verdict = body.verdict
    review.reason = (body.reason or "").strip() or None
    review.updated_at = now
    repo.add(db, review)
    if (before == ReviewVerdict.rejected) != (body.verdict == ReviewVerdict.rejected):
        service.recompute(db, project, [judgement.item_id])
    audit.record(db, reviewer, "judgement.review", project.slug, {
        "judgement": judgement.public_id, "from": before.value if before else None,
        "to": body.verdict.value, "reason": review.reason,
    })
    out = _review_out(review, judgement.public_id, {reviewer.id: reviewer})
    assert out is not None
    return out


# --- the labeler's side ----------------------------------------------------------------------


def correctable_until(created_at: datetime, minutes: int, reviewed: bool) -> datetime | None:
    return None if reviewed or minutes <= 0 else created_at + timedelta(minutes=minutes)


def history(db: Session, user: User, ref: str, limit: int, cursor: str | None) -> HistoryOut:
    """The labeler's own judgements in a project, newest first, with the reviewers' verdicts."""
    project = service.member_project(db, user, ref)
    minutes = service.settings_of(db, project.id).correction_minutes
    rows = repo.my_judgements(
        db, project.task_kind, project.id, user.id, decode_cursor(HISTORY, cursor), limit
    )
    reviews = repo.reviews_for(db, project.id, [j.id for j in rows])
    reviewers = repo.users_by_id(db, [r.reviewer_id for r in reviews.values() if r.reviewer_id])
    revisions = repo.revision_counts(db, project.id, [j.id for j in rows])
    items = repo.item_rows(db, [j.item_id for j in rows])
    completions = repo.completion_pairs(db, [j.item_id for j in rows])
    out = []
    for j in rows:
        # Letters as this labeler saw them: A is the answer shown first.
        letters = {cid: service.LETTERS[i] for i, cid in enumerate(j.shown_order or [])}
        review = reviews.get(j.id)
        out.append(HistoryItemOut(
            id=j.public_id,
            project={"id": project.public_id, "name": project.name},
            item_id=items[j.item_id].public_id,
            created_at=j.created_at,
            task_kind=project.task_kind,
            summary=answers.summary(answers.in_letters(
                answers.answer(db, project, j, completions[j.item_id]), letters)),
            shown=list(j.shown_order or []),
            review=_review_out(review, j.public_id, reviewers),
            correctable_until=correctable_until(j.created_at, minutes, review is not None),
            revisions=revisions.get(j.id, 0),
        ))
    return HistoryOut(items=out, next_cursor=encode_cursor(HISTORY, rows[-1].id) if len(rows) == limit else None)


def _own(db: Session, user: User, judgement_public_id: str) -> tuple[Any, Project]:
    found = repo.judgement_by_public_id(db, judgement_public_id)
    if found is None or found[0].user_id != user.id:
        raise NotFound(NO_JUDGEMENT)
    return found


def correct_judgement(
    db: Session, user: User, judgement_public_id: str, body: Mapping[str, Any], settings: Settings
) -> CorrectionOut:
    """Replace a judgement's answer within the correction window; the old one is kept."""
    judgement, project = _own(db, user, judgement_public_id)
    if not access.can_work(db, user, project.id):
        raise NotFound(NO_JUDGEMENT)
    standing = repo.standing(db, project.id, user.id)
    if standing is not None and standing.standing == Standing.paused:
        raise Conflict("You are paused in this project, so your judgements cannot be corrected now.")
    minutes = service.settings_of(db, project.id).correction_minutes
    now = utcnow()
    review = repo.review_of(db, project.id, judgement.id)
    if review is not None:
        raise Conflict(f"A reviewer has {review.verdict.value} this judgement, so it can no longer be corrected.")
    until = correctable_until(judgement.created_at, minutes, False)
    if until is None:
        raise Conflict("This project does not allow corrections.")
    if now > until:
        raise Conflict(f"The correction window of {minutes} minutes closed at {until:%Y-%m-%d %H:%M} UTC.")
    revision = repo.revision_counts(db, project.id, [judgement.id]).get(judgement.id, 0) + 1
    completions = repo.completion_pairs(db, [judgement.item_id])[judgement.item_id]
    old = answers.answer(db, project, judgement, completions)
    checked = answers.check(db, project, judgement, body, settings)
    with service.content_change(db, project, judgement.item_id):
        answers.correct(db, project, judgement, checked)
    repo.add(db, JudgementRevision(
        project_id=project.id, judgement_id=judgement.id, user_id=user.id, revision=revision, answer=old,
        replaced_at=now,
    ))
    new = answers.answer(db, project, judgement, completions)
    audit.record(db, user, "judgement.correct", project.slug, {
        "judgement": judgement.public_id, "revision": revision, "before": old, "after": new,
    })
    return CorrectionOut(judgement_id=judgement.public_id, revision=revision, answer=new)


def revisions(db: Session, viewer: User, judgement_public_id: str) -> list[RevisionOut]:
    """The earlier versions of a judgement: its labeler's, or for admins and reviewers."""
    found = repo.judgement_by_public_id(db, judgement_public_id)
    if found is None:
        raise NotFound(NO_JUDGEMENT)
    judgement, project = found
    if judgement.user_id != viewer.id:
        if viewer.role not in (Role.admin, Role.reviewer):
            raise NotFound(NO_JUDGEMENT)
        service.readable_project(db, viewer, project.public_id)
    return [
        RevisionOut(revision=r.revision, answer=r.answer, replaced_at=r.replaced_at)
        for r in repo.revisions(db, project.id, judgement.id)
    ]


def reviewable_projects(db: Session, viewer: User) -> list[Project]:
    if viewer.role not in (Role.admin, Role.reviewer):
        raise Forbidden("This needs the admin or reviewer role.")
    return repo.active_readable_projects(db, viewer)
