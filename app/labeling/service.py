"""The labeling rules: hand out tasks, store judgements exactly once, skip, report.

Submit is idempotent: ``UNIQUE(user_id, idempotency_key)`` and ``UNIQUE(item_id,
user_id)`` back it in the database. The assignment row is locked first, so two
identical submits racing on PostgreSQL run one after the other and the second
replays the first's answer; SQLite write transactions are serial anyway.

Lease expired at submit time: if the slot was not yet given to anyone else the
answer is accepted (the lease re-takes its slot) — refusing work that can still be
used would only waste the labeler's time; if the slot went to someone else the
answer is refused with 410 and nothing is stored.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import access
from app.config import Settings
from app.db import read_phase, retry_transient, write_phase
from app.errors import Conflict, InvalidInput, LeaseExpired, NotFound
from app.inputs import DB_INT_MAX
from app.labeling import progress, queue
from app.labeling import repository as repo
from app.labeling.kinds import JUDGEMENT_MODELS, AnyKind, kind_of
from app.labeling.kinds.base import Recording, Task
from app.labeling.repository import Judgement
from app.labeling.schemas import (
    CompletionOut,
    JudgementOut,
    JudgementPage,
    JudgementSummary,
    MessageOut,
    MyProjectOut,
    ProgressOut,
    ProjectBrief,
    PromptOut,
    RenewOut,
    ShownCompletion,
    SubmitOut,
    TaskOut,
)
from app.models import (
    Assignment,
    AssignmentStatus,
    Project,
    Prompt,
    Role,
    User,
    new_public_id,
    utcnow,
)

NO_ASSIGNMENT = "No such task for you; ask for the next one."


@dataclass(frozen=True)
class Submitted:
    answer: SubmitOut
    replayed: bool


# --- next ---------------------------------------------------------------------------------


def next_task(
    db: Session, user: User, project_ref: str, now: datetime | None = None
) -> TaskOut | None:
    now = now or utcnow()
    project = access.assigned_project(db, user, project_ref)  # archived ones hand out nothing
    return retry_transient(db, lambda: _next_for(db, project, user, now))


def _next_for(db: Session, project: Project, user: User, now: datetime) -> TaskOut | None:
    """Resume the labeler's unexpired lease (a read), else lease an item (a short write)."""
    lease = repo.active_assignment(db, user.id, project.id)
    if lease is None or lease.expires_at <= now:
        with write_phase(db):
            lease = queue.lease_next(db, project, user, now)
    if lease is None:
        return None
    return _task_out(db, project, user, lease, now)


def _task_out(db: Session, project: Project, user: User, lease: Assignment, now: datetime) -> TaskOut:
    item, contents = repo.task_view(db, lease.item_id)
    item_public_id, item_category, prompt_public_id, prompt_messages, prompt_category = item
    prompt_out = None
    if prompt_public_id is not None:
        prompt_out = PromptOut(
            id=prompt_public_id,
            messages=[MessageOut(role=m["role"], content=m["content"]) for m in prompt_messages],
            category=prompt_category,
        )
    return TaskOut(
        assignment_id=lease.public_id,
        item_id=item_public_id,
        task_kind=project.task_kind,
        project=ProjectBrief(
            id=project.public_id,
            name=project.name,
            guidelines=project.guidelines,
            flags=project.flags,
            categories=project.categories,
            margin_scale=project.margin_scale.value,
            safety_labels=project.safety_labels,
            multi_turn=project.multi_turn,
            lease_seconds=project.lease_seconds,
        ),
        expires_at=lease.expires_at,
        hold_until=queue.hold_until(project, lease),
        category=item_category,
        prompt=prompt_out,
        completions=[CompletionOut(id=cid, content=contents[cid]) for cid in lease.shown_order if cid in contents],
        progress=progress.labeler_progress(db, project, user, now),
    )


def _prompt_out(prompt: Prompt | None) -> PromptOut | None:
    if prompt is None:
        return None
    return PromptOut(
        id=prompt.public_id,
        messages=[MessageOut(role=m["role"], content=m["content"]) for m in prompt.messages],
        category=prompt.category,
    )


# --- submit -------------------------------------------------------------------------------


class _NotClaimed(Exception):
    """The lease changed between the read phase and the write lock (or was never active)."""

    def __init__(self, status: AssignmentStatus | None) -> None:
        self.status = status


@dataclass(frozen=True)
class _Sent:
    """The submit as sent: its key and the fingerprint of its answer."""

    key: str
    fingerprint: str


def submit(
    db: Session,
    user: User,
    assignment_public_id: str,
    body: Mapping[str, Any],
    settings: Settings,
    now: datetime | None = None,
    *,
    then_next: bool = False,
) -> Submitted:
    """``body`` is the JSON object as sent; the assignment's task kind says which schema
    it must follow (app/labeling/kinds/)."""
    return retry_transient(
        db, lambda: _submit(db, user, assignment_public_id, body, settings, now, then_next)
    )


def _submit(
    db: Session,
    user: User,
    assignment_public_id: str,
    raw: Mapping[str, Any],
    settings: Settings,
    now: datetime | None,
    then_next: bool,
) -> Submitted:
    """Store the answer exactly once; with ``then_next`` also lease the labeler's next task
    in the same write transaction (one commit, one fsync per judgement).

    Reads and validation come first, without the write lock; inside it, one conditional
    UPDATE re-checks that the lease is still active while marking it submitted.
    """
    now = now or utcnow()
    found = repo.submit_context(db, assignment_public_id, user.id)
    if found is None:
        raise NotFound(NO_ASSIGNMENT)
    lease, project, member, category = found
    kind = kind_of(project.task_kind)
    body = kind.parse(raw, lease.shown_order)
    sent = _Sent(body.idempotency_key, kind.fingerprint(body))
    if lease.status in (AssignmentStatus.submitted, AssignmentStatus.skipped):
        return _settled(db, kind, project, user, lease, sent, lease.status, now, then_next)
    if not member:
        raise NotFound(NO_ASSIGNMENT)
    answer = kind.validate(body, Task(project, list(lease.shown_order), category, settings.max_text_chars))
    following: Assignment | None = None
    try:
        with write_phase(db):
            was_active = _claim(db, lease)
            public_id = new_public_id()
            recording = Recording(db, project, lease, public_id)
            values: dict[str, Any] = {
                "public_id": public_id,
                "item_id": lease.item_id,
                "user_id": lease.user_id,
                "project_id": project.id,
                "idempotency_key": sent.key,
                "body_hash": sent.fingerprint,
                "seconds": body.seconds,
                "shown_order": list(lease.shown_order),
                "created_at": now,
                **kind.columns(recording, answer),
            }
            kind.after_insert(recording, repo.insert_judgement(db, kind.judgement_model, values), answer)
            if then_next:
                following = queue.lease_next(db, project, user, now, may_hold=not was_active)
            # Counted last: on PostgreSQL this UPDATE locks the item's row until the commit,
            # and other labelers' `next` skips locked items rather than wait for them.
            repo.record_done(db, lease.item_id)
    except _NotClaimed as exc:
        return _settled(db, kind, project, user, lease, sent, exc.status, now, then_next)
    except IntegrityError:
        # The unique constraints caught a duplicate the checks above could not see.
        db.rollback()
        read_phase(db)
        prior = repo.judgement_by_key(db, kind.judgement_model, user.id, sent.key)
        if prior is not None:
            return _replay(db, project, user, lease, prior, sent, now, then_next)
        raise Conflict("You already judged this item; the first judgement stands.") from None
    answer_out = SubmitOut(
        judgement_id=public_id,
        kind=project.task_kind,
        created_at=now,
        next_available=following is not None or queue.has_work(db, project.id, user.id),
    )
    if then_next:
        answer_out.next = _task_out(db, project, user, following, now) if following is not None else None
    return Submitted(answer_out, replayed=False)


def _claim(db: Session, lease: Assignment) -> bool:
    """Mark the lease submitted if it still holds its slot; True if it was the labeler's
    active lease (so they now hold none in the project).

    A lease that ran out but was not reclaimed still holds it; a reclaimed one gets it
    back only if the slot is still free. Otherwise raise with the status found.
    """
    if repo.set_status(db, lease.id, AssignmentStatus.submitted, only_if=AssignmentStatus.active):
        return True
    status = repo.assignment_status(db, lease.id)
    if status == AssignmentStatus.expired and repo.take_slot(db, lease.item_id):
        repo.set_status(db, lease.id, AssignmentStatus.submitted, only_if=AssignmentStatus.expired)
        return False
    raise _NotClaimed(status)


def _settled(
    db: Session,
    kind: AnyKind,
    project: Project,
    user: User,
    lease: Assignment,
    sent: _Sent,
    status: AssignmentStatus | None,
    now: datetime,
    then_next: bool,
) -> Submitted:
    """The lease is no longer open to this answer: a replay, or the reason why not."""
    prior = repo.judgement_by_key(db, kind.judgement_model, user.id, sent.key)
    if prior is not None:
        return _replay(db, project, user, lease, prior, sent, now, then_next)
    if status == AssignmentStatus.submitted:
        # One assignment per (item, labeler): a submitted one means the item is judged.
        raise Conflict("You already judged this item; the first judgement stands and this one was not stored.")
    if status == AssignmentStatus.skipped:
        raise Conflict("You skipped this task, so it takes no answer; ask for the next task.")
    raise LeaseExpired(
        "Your time on this task ran out and another labeler has taken it; your answer was "
        "not stored. Ask for the next task."
    )


def _replay(
    db: Session,
    project: Project,
    user: User,
    lease: Assignment,
    prior: Judgement,
    sent: _Sent,
    now: datetime,
    then_next: bool,
) -> Submitted:
    """The same key again: the first answer, if this is the same answer (a retry)."""
    if prior.item_id != lease.item_id:
        raise InvalidInput(
            f"The idempotency key '{sent.key}' was already used for another task; send a new "
            "key with each answer.",
            details=[{"field": "idempotency_key", "message": "already used for another task"}],
        )
    # Rows stored before answers were fingerprinted have no hash: replay them as before.
    if prior.body_hash is not None and prior.body_hash != sent.fingerprint:
        raise InvalidInput(
            f"The idempotency key '{sent.key}' was already used with a different answer, which "
            "stands; a retry must send the same answer, and a new answer needs a new key.",
            details=[{"field": "idempotency_key", "message": "already used with a different answer"}],
        )
    # A lost answer retried with ?next=true gets the task the first call leased (the
    # labeler's current lease), or a new one.
    following = _next_for(db, project, user, now) if then_next and not project.archived else None
    out = SubmitOut(
        judgement_id=prior.public_id,
        kind=project.task_kind,
        created_at=prior.created_at,
        next_available=following is not None or queue.has_work(db, project.id, user.id),
    )
    if then_next:
        out.next = following
    return Submitted(out, replayed=True)


# --- renew --------------------------------------------------------------------------------


def renew(db: Session, user: User, assignment_public_id: str, now: datetime | None = None) -> RenewOut:
    """Keep the task while the labeler works on it (bounded by queue.MAX_HOLD)."""
    now = now or utcnow()
    found = repo.submit_context(db, assignment_public_id, user.id)
    if found is None or not found[2]:
        raise NotFound(NO_ASSIGNMENT)
    lease, project, _, _ = found
    with write_phase(db):
        expires = queue.renew(db, project, lease, now)
    return RenewOut(expires_at=expires, hold_until=queue.hold_until(project, lease))


# --- skip, suggest --------------------------------------------------------------------------


def skip(db: Session, user: User, assignment_public_id: str) -> None:
    """The item goes back to the pool and is never offered to this labeler again."""
    # Giving the slot back locks the item, which other labelers' leases and submits lock
    # too, in their own order: PostgreSQL may abort one of them as a deadlock.
    retry_transient(db, lambda: _skip(db, user, assignment_public_id))


def _skip(db: Session, user: User, assignment_public_id: str) -> None:
    lease = repo.assignment_of_user(db, assignment_public_id, user.id, lock=True)
    if lease is None:
        raise NotFound(NO_ASSIGNMENT)
    if lease.status == AssignmentStatus.skipped:
        return
    if lease.status == AssignmentStatus.submitted:
        raise Conflict("You already submitted this task; it cannot be skipped any more.")
    queue.release(db, lease, AssignmentStatus.skipped)


# --- reading --------------------------------------------------------------------------------


def my_projects(db: Session, user: User, now: datetime | None = None) -> list[MyProjectOut]:
    now = now or utcnow()
    out = []
    for project in repo.member_projects(db, user):
        p = progress.labeler_progress(db, project, user, now)
        out.append(
            MyProjectOut(
                id=project.public_id,
                name=project.name,
                task_kind=project.task_kind,
                done_today=p.done_today,
                done_total=p.done_total,
                remaining=p.remaining,
            )
        )
    return out


def project_progress(db: Session, user: User, project_ref: str) -> ProgressOut:
    project = access.readable_project(db, user, project_ref)
    return progress.project_progress(db, project, user, admin=user.role == Role.admin, now=utcnow())


def browse(
    db: Session,
    admin: User,
    project_ref: str,
    *,
    labeler: str | None,
    kind: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    cursor: str | None,
) -> JudgementPage:
    project = access.readable_project(db, admin, project_ref)
    task_kind = kind_of(project.task_kind)
    user_id = None
    if labeler:
        found = repo.user_by_public_id(db, labeler)
        if found is None:
            raise InvalidInput(f"No labeler with id '{labeler}'.")
        user_id = found.id
    condition = None
    if kind and kind != project.task_kind.value:
        filters = task_kind.verdict_filters()
        if kind not in filters:
            choices = ", ".join([project.task_kind.value, *filters])
            raise InvalidInput(f"Unknown kind '{kind}' for this project; use one of: {choices}.")
        condition = filters[kind]
    rows = repo.browse(
        db, task_kind.judgement_model, project.id, user_id=user_id, since=since, until=until,
        condition=condition, before_id=_decode_cursor(cursor), limit=limit,
    )
    items = [
        JudgementSummary(
            id=j.public_id,
            kind=project.task_kind,
            labeler=u.display_name,
            created_at=j.created_at,
            seconds=j.seconds,
            round=item_round,
            summary=task_kind.summary(j),
        )
        for j, u, item_round in rows
    ]
    next_cursor = _encode_cursor(rows[-1][0].id) if len(rows) == limit else None
    return JudgementPage(items=items, next_cursor=next_cursor)


def _encode_cursor(value: int) -> str:
    return base64.urlsafe_b64encode(f"j:{value}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = raw.partition(":")
        value = int(number)
        if prefix != "j" or not 1 <= value <= DB_INT_MAX:  # what an INTEGER id column holds
            raise ValueError(raw)
        return value
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("The cursor is not one this server gave out; start again without it.") from None


def judgement_detail(db: Session, viewer: User, judgement_public_id: str) -> JudgementOut:
    judgement = repo.judgement_by_public_id(db, JUDGEMENT_MODELS, judgement_public_id)
    is_admin = viewer.role == Role.admin
    if judgement is None or (not is_admin and judgement.user_id != viewer.id):
        raise NotFound("No such judgement, or it is not yours.")
    project = repo.project_by_id(db, judgement.project_id)
    item = repo.item(db, judgement.item_id)
    labeler = repo.user(db, judgement.user_id)
    pairs = repo.item_completions(db, item.id)
    completions = {c.public_id: c for c, _ in pairs}
    # Labelers never see model names (evaluations are blind); admins do.
    names = repo.model_names(db, [c for c, _ in pairs]) if is_admin else {}
    prompt = repo.prompt(db, item.prompt_id) if item.prompt_id is not None else None
    return JudgementOut(
        id=judgement.public_id,
        kind=project.task_kind,
        project={"id": project.public_id, "name": project.name},
        labeler={"id": labeler.public_id, "display_name": labeler.display_name},
        item_id=item.public_id,
        round=item.round,
        created_at=judgement.created_at,
        seconds=judgement.seconds,
        shown_order=list(judgement.shown_order),
        prompt=_prompt_out(prompt),
        completions=[
            ShownCompletion(id=cid, content=completions[cid].content, model=names.get(completions[cid].id))
            for cid in judgement.shown_order
            if cid in completions
        ],
        answer=kind_of(project.task_kind).answer_out(db, judgement, [(c.public_id, c.id) for c, _ in pairs]),
    )
