"""Progress numbers: a labeler's own counts, and the admin's view of a project."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from app.labeling import repository as repo
from app.labeling.kinds import kind_of
from app.labeling.schemas import DayCount, ItemCounts, LabelerProgress, LabelerStats, ProgressOut
from app.models import Project, User

# Counting every item left for a labeler of a million-item project on each `next` would
# cost more than the lease itself; beyond this the UI shows "1000+".
REMAINING_CAP = 1_000


def start_of_day(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def labeler_progress(db: Session, project: Project, user: User, now: datetime) -> LabelerProgress:
    model = kind_of(project.task_kind).judgement_model
    total, today, remaining = repo.labeler_counts(
        db, model, project.id, user.id, since=start_of_day(now), cap=REMAINING_CAP
    )
    return LabelerProgress(done_today=today, done_total=total, remaining=remaining)


def project_progress(
    db: Session, project: Project, viewer: User, *, admin: bool, now: datetime
) -> ProgressOut:
    """Admins see the whole project; a labeler sees only their own judgements."""
    model = kind_of(project.task_kind).judgement_model
    rows = repo.judgement_stats(db, model, project.id, None if admin else viewer.id)
    users = repo.users_by_id(db, {r[0] for r in rows}) if admin else {viewer.id: viewer}
    today = start_of_day(now)
    seconds: dict[int, list[float]] = defaultdict(list)
    per_day: dict[tuple[str, int], int] = defaultdict(int)
    done_today: dict[int, int] = defaultdict(int)
    for user_id, created_at, secs in rows:
        seconds[user_id].append(secs)
        done_today[user_id] += created_at >= today
        per_day[(created_at.astimezone(UTC).date().isoformat(), user_id)] += 1
    per_labeler = [
        LabelerStats(
            labeler=users[uid].display_name,
            id=users[uid].public_id,
            total=len(values),
            today=done_today[uid],
            median_seconds=statistics.median(values),
        )
        for uid, values in sorted(seconds.items(), key=lambda kv: users[kv[0]].display_name)
    ]
    everything = [s for values in seconds.values() for s in values]
    return ProgressOut(
        items=ItemCounts(**repo.item_counts(db, project.id)) if admin else None,
        judgements=len(rows),
        per_labeler=per_labeler,
        per_day=[
            DayCount(date=day, labeler=users[uid].display_name, count=n)
            for (day, uid), n in sorted(per_day.items())
        ],
        median_seconds=statistics.median(everything) if everything else None,
    )
