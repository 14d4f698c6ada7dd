"""What the queue hands a labeler before its regular search: screening and gold items.

``pick`` is the lease policy the labeling queue calls first in ``lease_next``
(app/labeling/queue.py; app/main.py installs it there):

- a labeler who is paused, or failed screening, gets nothing;
- in a project that requires screening, a labeler who has not passed it gets the
  screening items first, in random order; when they have answered them all, they pass
  (``screening_pass`` of them right) or fail, and an admin can override either way;
- otherwise, with probability ``gold_rate``, one of the gold items this labeler has not
  seen yet — only while there is regular work for them, so gold never trails at the end
  of a queue, and in the same task shape as any other item (nothing in the payload or
  the order of calls tells it apart). With ``pause_on_gold_failure``, that moment also
  checks the labeler's gold record and pauses them, with the evidence, below the bar.

One query (settings and standing together) for a labeler in good standing; the gold
draw adds a few more only when it comes up.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from sqlalchemy.orm import Session

from app.labeling.queue import REGULAR, Pick
from app.models import Project, QualitySettings, Standing, User
from app.quality import repository as repo
from app.quality import service
from app.quality.gold import GoldSpec, correct

_random = random.SystemRandom()


BLOCKED = Pick(blocked=True)


def pick(db: Session, project: Project, user: User, has_regular_work: Callable[[], bool]) -> Pick:
    settings, standing = repo.policy(db, project.id, user.id)
    if standing in (Standing.paused, Standing.failed_screening):
        return BLOCKED
    if settings is None:
        return REGULAR
    if settings.require_screening and standing in (None, Standing.screening):
        screened = _screening(db, project, user, settings)
        if screened is not None:
            return screened
    if settings.gold_rate > 0 and _random.random() < settings.gold_rate:
        if settings.pause_on_gold_failure and _fails_gold(db, project, user, settings):
            return BLOCKED
        return _gold(db, project, user, has_regular_work)
    return REGULAR


def _screening(db: Session, project: Project, user: User, settings: QualitySettings) -> Pick | None:
    """A screening item, the end of screening, or None when there is nothing to screen with."""
    unseen = [i for i, spec in repo.unseen_gold(db, project.id, user.id) if GoldSpec.from_json(spec or {}).screening]
    if unseen:
        if repo.standing(db, project.id, user.id) is None:
            service.set_standing(db, None, project, user.id, Standing.screening, "screening in progress")
        return _take(db, unseen)
    answers = repo.gold_answers_of(db, project, user.id, screening=True)
    if not answers:
        return None  # the project has no screening items: screening cannot hold anyone back
    right = sum(correct(GoldSpec.from_json(item.gold or {}), v.ranks, v.margin) for item, v in answers)
    asked = sum(1 for spec in repo.gold_items(db, project.id) if GoldSpec.from_json(spec.gold or {}).screening)
    passed = right >= settings.screening_pass * max(asked, len(answers))
    row = service.set_standing(
        db, None, project, user.id, Standing.active if passed else Standing.failed_screening,
        f"screening: {right} of {asked} right (pass: {settings.screening_pass:.0%})",
    )
    row.screening_correct, row.screening_answered = right, len(answers)
    db.flush()
    return REGULAR if passed else BLOCKED


def _gold(db: Session, project: Project, user: User, has_regular_work: Callable[[], bool]) -> Pick:
    unseen = [i for i, spec in repo.unseen_gold(db, project.id, user.id) if not GoldSpec.from_json(spec or {}).screening]
    if not unseen or not has_regular_work():
        return REGULAR
    return _take(db, unseen)


def _take(db: Session, candidates: list[int]) -> Pick:
    order = list(candidates)
    _random.shuffle(order)
    for item_id in order:
        if repo.take_gold_slot(db, item_id):
            return Pick(item_id=item_id)
    return REGULAR


def _fails_gold(db: Session, project: Project, user: User, settings: QualitySettings) -> bool:
    # A labeler an admin put back to work is judged on the gold answers given since.
    row = repo.standing(db, project.id, user.id)
    since = row.updated_at if row is not None and row.decided_by is not None else None
    answers = repo.gold_answers_of(db, project, user.id, screening=False, since=since)
    if len(answers) < settings.gold_min_answers:
        return False
    right = sum(correct(GoldSpec.from_json(item.gold or {}), v.ranks, v.margin) for item, v in answers)
    if right >= settings.gold_min_accuracy * len(answers):
        return False
    missed = [item.public_id for item, v in answers if not correct(GoldSpec.from_json(item.gold or {}), v.ranks, v.margin)]
    service.set_standing(
        db, None, project, user.id, Standing.paused,
        f"gold: {right} of {len(answers)} right, below {settings.gold_min_accuracy:.0%}; "
        f"missed items {', '.join(missed[:20])}",
    )
    return True
