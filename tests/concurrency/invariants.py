"""The queue's invariants, checked against the rows after a concurrent run."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Assignment, AssignmentStatus, Ranking, WorkItem


def check_queue_invariants(db: Session, project_id: int, acknowledged: set[str]) -> dict[str, int]:
    """Assert every invariant; returns counts for the caller's own checks."""
    judgements = db.execute(
        select(Ranking.public_id, Ranking.item_id, Ranking.user_id).where(Ranking.project_id == project_id)
    ).all()
    stored_ids = [j[0] for j in judgements]
    per_item = Counter(j[1] for j in judgements)
    per_pair = Counter((j[1], j[2]) for j in judgements)
    assert len(stored_ids) == len(set(stored_ids))
    assert max(per_pair.values(), default=1) == 1, "a labeler judged an item twice"
    missing = acknowledged - set(stored_ids)
    assert not missing, f"acknowledged judgements lost: {sorted(missing)[:5]}"
    active = Counter(
        row[0]
        for row in db.execute(
            select(Assignment.item_id).where(
                Assignment.project_id == project_id, Assignment.status == AssignmentStatus.active
            )
        )
    )
    items = db.scalars(select(WorkItem).where(WorkItem.project_id == project_id)).all()
    for item in items:
        n = per_item.get(item.id, 0)
        assert n <= item.required, f"item {item.id} has {n} judgements for overlap {item.required}"
        assert item.done == n, f"item {item.id}: done={item.done} but {n} judgements"
        assert item.taken == n + active.get(item.id, 0), f"item {item.id}: taken={item.taken}"
        assert item.is_open == (n < item.required)
    submitted = db.scalar(
        select(func.count())
        .select_from(Assignment)
        .where(Assignment.project_id == project_id, Assignment.status == AssignmentStatus.submitted)
    )
    assert submitted == len(stored_ids)
    return {"judgements": len(stored_ids), "items": len(items), "closed": sum(not i.is_open for i in items)}
