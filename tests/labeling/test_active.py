"""Active selection: the queue ordered by the reward model's uncertainty."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.labeling import service
from app.labeling.active import score_margin
from app.models import QueueOrder
from tests.factories import add_member, make_labelers, make_pairwise_item, make_project


class TestScoreMargin:
    def test_the_gap_between_the_two_best_scores(self) -> None:
        assert score_margin([0.2, 1.5, -3.0, 1.1]) == 1.5 - 1.1
        assert score_margin([2.0, 2.0, 0.0]) == 0.0
        assert score_margin([1.0]) == 0.0


def _handed_out(db: Session, order: QueueOrder, margins: list[float | None]) -> list[float | None]:
    project = make_project(db, "pairwise", queue_order=order)
    items = [make_pairwise_item(db, project) for _ in margins]
    for item, margin in zip(items, margins, strict=True):
        item.uncertainty = margin
    labelers = make_labelers(db, len(items))
    add_member(db, project, *labelers)
    by_public = {i.public_id: i.uncertainty for i in items}
    got = []
    for labeler in labelers:  # overlap 1: each labeler takes the next item
        task = service.next_task(db, labeler, project.public_id)
        db.commit()
        assert task is not None
        got.append(by_public[task.item_id])
    return got


MARGINS: list[float | None] = [0.9, None, 0.1, 0.5, None]


class TestUncertaintyOrder:
    def test_the_least_certain_scored_items_come_first_then_the_rest_oldest_first(self, db: Session) -> None:
        assert _handed_out(db, QueueOrder.uncertainty, MARGINS) == [0.1, 0.5, 0.9, None, None]

    def test_the_default_order_ignores_the_scores(self, db: Session) -> None:
        assert _handed_out(db, QueueOrder.oldest, MARGINS) == MARGINS

    def test_a_scored_item_with_no_free_slot_is_passed_over(self, db: Session) -> None:
        project = make_project(db, "pairwise", queue_order=QueueOrder.uncertainty)
        full, open_ = make_pairwise_item(db, project), make_pairwise_item(db, project)
        full.uncertainty, open_.uncertainty = 0.01, 0.7
        full.taken = full.required
        (labeler,) = make_labelers(db, 1)
        add_member(db, project, labeler)
        task = service.next_task(db, labeler, project.public_id)
        assert task is not None and task.item_id == open_.public_id
