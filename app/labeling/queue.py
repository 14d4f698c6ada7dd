"""Leasing: which item a labeler gets next, and how slots are held and given back.

An item needs ``required`` distinct labelers. ``taken`` counts the slots held by an
active lease or a judgement; the database refuses ``taken > required``, so two
labelers can never both hold the last slot. A lease that runs out frees its slot:
expired leases are reclaimed lazily, a small batch at a time through the index
``(project_id, status, expires_at)``, never by scanning the project: by the first
lease of a project every ``SWEEP_INTERVAL`` in each process, and by any lease that
finds no free item otherwise.

On PostgreSQL the candidate item is locked with ``FOR UPDATE SKIP LOCKED``, so
concurrent labelers spread over different items instead of queueing on one row;
SQLite runs every write transaction serially (``BEGIN IMMEDIATE``, see app/db.py).

Search order: the oldest open items first (so started items are finished before new
ones are opened), then the items past the newest one this labeler was ever given (so a
labeler with 50k judgements does not re-probe them), and only when both are empty a
full walk of the open items (near the end of a project).

Uncertainty order (``Project.queue_order``, app/labeling/active.py): the open items the
reward model was scored on come first, the smallest margin between their two best
answers first; items not scored yet follow in the order above.

Renewal: while the labeler works, the page renews the lease (``renew``), so a long
multi-turn demonstration does not lose its slot to the lease alone; a lease is never
held longer than ``MAX_HOLD`` (or the project's lease, if longer) after it was given.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.errors import Conflict, LeaseExpired
from app.labeling import repository as repo
from app.models import Assignment, AssignmentStatus, Project, QueueOrder, User, new_public_id

SWEEP_BATCH = 20
SWEEP_INTERVAL = timedelta(seconds=10)
TAKE_ATTEMPTS = 3
# The longest a labeler can keep one task by renewing it: long enough for a long
# multi-turn demonstration, short enough that an abandoned tab does not hold an item
# all day (a tab renews only while the labeler is active: static/js/work.js).
MAX_HOLD = timedelta(hours=4)


def reclaim_expired(db: Session, project_id: int, now: datetime) -> int:
    """Give the slots of expired leases back; returns how many were reclaimed."""
    expired = repo.expired_leases(db, project_id, now, SWEEP_BATCH)
    freed: list[int] = []
    for assignment_id, item_id in expired:
        if repo.set_status(db, assignment_id, AssignmentStatus.expired, only_if=AssignmentStatus.active):
            freed.append(item_id)
    # Lock items in id order so two sweeping transactions cannot deadlock.
    for item_id in sorted(freed):
        repo.release_slot(db, item_id)
    return len(freed)


# When this process last swept each project (by the callers' clock).
_last_sweep: dict[int, datetime] = {}


def _sweep_due(project_id: int, now: datetime) -> bool:
    """Whether this lease should sweep the project's expired leases first: at most once
    per ``SWEEP_INTERVAL`` per process, not on every lease (the sweep is a query each
    time, and expired leases are rare); a lease that finds nothing sweeps anyway, so an
    expired lease never makes anyone wait for work."""
    last = _last_sweep.get(project_id)
    if last is not None and timedelta(0) <= now - last < SWEEP_INTERVAL:
        return False
    _last_sweep[project_id] = now
    return True


def current_lease(db: Session, project: Project, user: User, now: datetime) -> Assignment | None:
    """The labeler's unexpired lease on the project; an expired one gives its slot back."""
    lease = repo.active_assignment(db, user.id, project.id)
    if lease is None:
        return None
    if lease.expires_at > now:
        return lease
    if repo.set_status(db, lease.id, AssignmentStatus.expired, only_if=AssignmentStatus.active):
        repo.release_slot(db, lease.item_id)
    return None


def find_item(db: Session, project_id: int, user_id: int, *, lock: bool) -> int | None:
    item_id = repo.find_candidate(db, project_id, user_id, after=None, window=True, lock=lock)
    if item_id is not None:
        return item_id
    frontier = repo.frontier(db, user_id, project_id)
    item_id = repo.find_candidate(db, project_id, user_id, after=frontier, window=False, lock=lock)
    if item_id is not None or frontier == 0:
        return item_id
    return repo.find_candidate(db, project_id, user_id, after=None, window=False, lock=lock)


@dataclass(frozen=True)
class Pick:
    """What the lease policy decides before the regular search."""

    item_id: int | None = None  # lease this item (the policy has taken its slot)
    blocked: bool = False  # this labeler gets nothing now


REGULAR = Pick()
# (db, project, labeler, "is there regular work for them?") -> Pick
LeasePolicy = Callable[[Session, Project, User, Callable[[], bool]], Pick]


def _regular_only(db: Session, project: Project, user: User, has_regular_work: Callable[[], bool]) -> Pick:
    return REGULAR


_policy: LeasePolicy = _regular_only


def install_policy(policy: LeasePolicy) -> None:
    """The composition root installs quality control's policy (app/quality/queue_policy.py,
    wired in app/main.py), so the queue imports no other domain."""
    global _policy
    _policy = policy


def lease_next(
    db: Session, project: Project, user: User, now: datetime, *, may_hold: bool = True
) -> Assignment | None:
    """Resume the labeler's lease, or lease them a new item; None when nothing is left.

    ``may_hold=False``: the caller has just closed the labeler's active lease in this
    project in this transaction (a labeler holds at most one: every lease is made here,
    after this check, with the labeler locked), so there is none to look for.
    """
    repo.lock_user(db, user.id)
    if may_hold:
        lease = current_lease(db, project, user, now)
        if lease is not None:
            return lease
    swept = _sweep_due(project.id, now)
    if swept:
        reclaim_expired(db, project.id, now)
    # Quality control first (the installed policy): screening and gold items, or nothing
    # for a labeler who is paused or failed screening.
    picked = _policy(db, project, user, lambda: has_work(db, project.id, user.id))
    if picked.blocked:
        return None
    item_id = picked.item_id if picked.item_id is not None else _regular_item(db, project, user.id)
    if item_id is None and not swept and reclaim_expired(db, project.id, now):
        item_id = _regular_item(db, project, user.id)
    if item_id is None:
        return None
    public_id = new_public_id()
    values = {
        "public_id": public_id,
        "item_id": item_id,
        "user_id": user.id,
        "project_id": project.id,
        "status": AssignmentStatus.active,
        "leased_at": now,
        "expires_at": now + timedelta(seconds=project.lease_seconds),
        "shown_order": shown_order(repo.completion_public_ids(db, item_id), public_id),
    }
    # A Core INSERT … RETURNING (no unit-of-work flush); the object handed back carries
    # what the callers read and is not attached to the session.
    lease = Assignment(**values)
    lease.id = repo.insert_assignment(db, values)
    return lease


def _regular_item(db: Session, project: Project, user_id: int) -> int | None:
    """Take a slot on the first regular item this labeler may get (the search order above;
    a project ordered by uncertainty first offers its scored items, least certain first)."""
    project_id = project.id
    for _ in range(TAKE_ATTEMPTS):
        item_id = None
        if project.queue_order == QueueOrder.uncertainty:
            item_id = repo.find_uncertain(db, project_id, user_id, lock=True)
        if item_id is None:
            item_id = find_item(db, project_id, user_id, lock=True)
        if item_id is None and db.get_bind().dialect.name == "postgresql":
            # SKIP LOCKED passes over items other transactions hold for a moment (a
            # submit counting its judgement, another labeler leasing); near the end of
            # a project they can be the only ones with a free slot. Rather than answer
            # "nothing left", wait for one that a plain read still sees free.
            held = find_item(db, project_id, user_id, lock=False)
            if held is None:
                return None
            item_id = repo.lock_if_free(db, held)
            if item_id is None:
                continue  # its last slot went to the holder: look again
        if item_id is None:
            return None
        if repo.take_slot(db, item_id):
            return item_id
    return None


def shown_order(completion_ids: list[str], seed: str) -> list[str]:
    """A per-labeler shuffle, reproducible from the assignment (position bias is measured
    from it, so it is stored rather than recomputed)."""
    order = list(completion_ids)
    random.Random(seed).shuffle(order)
    return order


def has_work(db: Session, project_id: int, user_id: int) -> bool:
    return find_item(db, project_id, user_id, lock=False) is not None


def release(db: Session, lease: Assignment, new_status: AssignmentStatus) -> None:
    """End an active lease without a judgement (skip): its slot goes back to the pool.
    A lease already reclaimed as expired holds no slot any more."""
    if repo.set_status(db, lease.id, new_status, only_if=AssignmentStatus.active):
        repo.release_slot(db, lease.item_id)
    else:
        repo.set_status(db, lease.id, new_status, only_if=AssignmentStatus.expired)
    # The UPDATE above already stored it; keep the loaded object in step without a flush.
    set_committed_value(lease, "status", new_status)


def hold_until(project: Project, lease: Assignment) -> datetime:
    """The latest expiry renewals can reach for this lease."""
    return lease.leased_at + max(MAX_HOLD, timedelta(seconds=project.lease_seconds))


def renew(db: Session, project: Project, lease: Assignment, now: datetime) -> datetime:
    """Extend the lease by the project's lease time from now, up to ``hold_until``; returns
    the new expiry. A lease that ran out but whose slot is still free takes it back; one
    whose slot went to someone else answers 410, a submitted or skipped one 409."""
    expires = max(lease.expires_at, min(now + timedelta(seconds=project.lease_seconds), hold_until(project, lease)))
    if repo.extend_lease(db, lease.id, expires):
        return expires
    status = repo.assignment_status(db, lease.id)
    if status == AssignmentStatus.expired:
        current = repo.active_assignment(db, lease.user_id, project.id)
        if current is not None and current.id != lease.id:
            raise Conflict("You have moved on to another task in this project; this one was given back.")
        if expires <= now:
            # Past its longest hold: taking the slot back would only hold it for a dead lease.
            raise LeaseExpired("Your time on this task ran out (a task is held for at most "
                               f"{MAX_HOLD.total_seconds() / 3600:g} hours); ask for the next task.")
        if repo.take_slot(db, lease.item_id):
            repo.reactivate(db, lease.id, expires)
            return expires
        raise LeaseExpired(
            "Your time on this task ran out and another labeler has taken it; ask for the next task."
        )
    if status == AssignmentStatus.submitted:
        raise Conflict("This task is already submitted; ask for the next one.")
    raise Conflict("You skipped this task; ask for the next one.")
