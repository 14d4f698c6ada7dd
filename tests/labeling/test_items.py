"""How prompts and completions become work items, per task kind."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.labeling import items
from app.labeling.items import NotQueued, QueueReport
from app.models import Completion, ItemCompletion, Project, Prompt, TaskKind, WorkItem
from tests.projects.builders import completions, project, prompt


def _items(db: Session, proj: Project) -> list[WorkItem]:
    return list(db.scalars(select(WorkItem).where(WorkItem.project_id == proj.id).order_by(WorkItem.id)))


def _shown(db: Session, item: WorkItem) -> list[int]:
    query = select(ItemCompletion.completion_id).where(ItemCompletion.item_id == item.id)
    return list(db.scalars(query.order_by(ItemCompletion.position)))


class TestDemonstrationItems:
    def test_each_prompt_gets_one_item_needing_overlap_labelers_once(self, db: Session) -> None:
        proj = project(db, TaskKind.demonstration, overlap=3)
        p = prompt(db, proj)
        assert items.sync_prompt(db, proj, p) == 0
        assert items.backfill(db, proj) == 0
        [item] = _items(db, proj)
        assert (item.prompt_id, item.required, _shown(db, item)) == (p.id, 3, [])


class TestRankingItems:
    def test_a_prompt_below_k_min_waits_for_more_completions(self, db: Session) -> None:
        proj = project(db, TaskKind.ranking, k_min=4, k_max=6)
        p = prompt(db, proj)
        completions(db, proj, p, 3)
        assert _items(db, proj) == []
        four = completions(db, proj, p, 1)
        [item] = _items(db, proj)
        assert len(_shown(db, item)) == 4 and _shown(db, item)[-1] == four[0].id

    def test_more_than_k_max_uses_the_first_k_max_in_import_order(self, db: Session) -> None:
        proj = project(db, TaskKind.ranking, k_min=4, k_max=5)
        p = prompt(db, proj)
        made = completions(db, proj, p, 7)
        [item] = _items(db, proj)
        assert _shown(db, item) == [c.id for c in made[:5]]

    def test_completions_arriving_later_do_not_change_the_item(self, db: Session) -> None:
        proj = project(db, TaskKind.ranking, k_min=4, k_max=9)
        p = prompt(db, proj)
        first = completions(db, proj, p, 4)
        completions(db, proj, p, 3)
        assert items.sync_prompt(db, proj, p) == 0
        [item] = _items(db, proj)
        assert _shown(db, item) == [c.id for c in first]


class TestPairwiseItems:
    def test_consecutive_completions_pair_up_and_an_odd_one_waits(self, db: Session) -> None:
        proj = project(db, TaskKind.pairwise)
        p = prompt(db, proj)
        c = completions(db, proj, p, 3)
        assert [_shown(db, i) for i in _items(db, proj)] == [[c[0].id, c[1].id]]
        d = completions(db, proj, p, 1)
        assert [_shown(db, i) for i in _items(db, proj)] == [[c[0].id, c[1].id], [c[2].id, d[0].id]]
        assert items.sync_prompt(db, proj, p) == 0

    def test_evaluation_projects_pair_like_pairwise_ones(self, db: Session) -> None:
        proj = project(db, TaskKind.evaluation)
        p = prompt(db, proj)
        completions(db, proj, p, 4)
        assert [len(_shown(db, i)) for i in _items(db, proj)] == [2, 2]


class TestPromptWritingItems:
    def test_each_category_gets_prompts_per_category_items_once(self, db: Session) -> None:
        proj = project(db, TaskKind.prompt_writing, categories=["chat", "rewrite"], prompts_per_category=2)
        assert items.ensure_prompt_writing_items(db, proj) == 0
        made = _items(db, proj)
        assert sorted(str(i.category) for i in made) == ["chat", "chat", "rewrite", "rewrite"]
        assert all(i.prompt_id is None for i in made)

    def test_raising_prompts_per_category_tops_up_each_category(self, db: Session) -> None:
        proj = project(db, TaskKind.prompt_writing, categories=["chat"], prompts_per_category=1)
        proj.prompts_per_category = 3
        assert items.ensure_prompt_writing_items(db, proj) == 2
        assert len(_items(db, proj)) == 3


def _sample(db: Session, proj: Project, parent: Prompt, n: int, model: str, report: QueueReport) -> list[Completion]:
    """A sampler job's round: ``n`` completions from ``model``, queued with a report."""
    start = len(list(db.scalars(select(Completion.id).where(Completion.prompt_id == parent.id))))
    rows = [
        Completion(prompt_id=parent.id, external_id=f"{model}-{start + i}", content=f"{model} {i}", model_name=model)
        for i in range(n)
    ]
    db.add_all(rows)
    db.flush()
    items.add_completions(db, proj, parent, rows, report)
    return rows


class TestRounds:
    def test_a_new_round_of_completions_for_a_ranked_prompt_becomes_a_new_item(self, db: Session) -> None:
        proj = project(db, TaskKind.ranking, k_min=4, k_max=4)
        p = prompt(db, proj)
        first = _sample(db, proj, p, 4, "sft-v1", QueueReport())
        report = QueueReport()
        second = _sample(db, proj, p, 4, "ppo-v2", report)
        made = _items(db, proj)
        assert [(i.round, _shown(db, i)) for i in made] == [
            (1, [c.id for c in first]),
            (2, [c.id for c in second]),
        ]
        assert (report.created, dict(report.not_queued)) == (1, {})

    def test_a_round_too_small_to_rank_is_reported_and_joins_the_next_one(self, db: Session) -> None:
        proj = project(db, TaskKind.ranking, k_min=4, k_max=9)
        p = prompt(db, proj)
        _sample(db, proj, p, 4, "sft-v1", QueueReport())
        report = QueueReport()
        late = _sample(db, proj, p, 3, "ppo-v2", report)
        assert report.created == 0
        assert report.not_queued == {NotQueued.too_few_completions: 3}
        assert [(w.prompt_id, w.completions, w.reason) for w in report.waiting] == [
            (p.id, 3, NotQueued.too_few_completions)
        ]
        assert report.as_dict() == {"items": 0, "not_queued": {"too_few_completions": 3}}
        last = _sample(db, proj, p, 1, "ppo-v2", QueueReport())
        newest = _items(db, proj)[-1]
        assert (newest.round, _shown(db, newest)) == (2, [c.id for c in late + last])

    def test_more_completions_than_k_max_in_one_round_make_several_items_of_that_round(
        self, db: Session
    ) -> None:
        proj = project(db, TaskKind.ranking, k_min=4, k_max=4)
        p = prompt(db, proj)
        report = QueueReport()
        made = _sample(db, proj, p, 9, "sft-v1", report)
        assert [(i.round, _shown(db, i)) for i in _items(db, proj)] == [
            (1, [c.id for c in made[:4]]),
            (1, [c.id for c in made[4:8]]),
        ]
        assert report.created == 2 and report.not_queued == {NotQueued.too_few_completions: 1}

    def test_pairwise_reports_the_odd_one_out_and_pairs_it_in_the_next_round(self, db: Session) -> None:
        proj = project(db, TaskKind.pairwise)
        p = prompt(db, proj)
        report = QueueReport()
        old = _sample(db, proj, p, 3, "sft-v1", report)
        assert report.created == 1 and report.not_queued == {NotQueued.odd_one_out: 1}
        new = _sample(db, proj, p, 1, "ppo-v2", QueueReport())
        assert [(i.round, _shown(db, i)) for i in _items(db, proj)] == [
            (1, [old[0].id, old[1].id]),
            (2, [old[2].id, new[0].id]),
        ]

    def test_completions_for_a_kind_that_shows_none_are_reported_not_used(self, db: Session) -> None:
        proj = project(db, TaskKind.demonstration)
        p = prompt(db, proj)
        report = QueueReport()
        _sample(db, proj, p, 2, "sft-v1", report)
        assert report.not_queued == {NotQueued.not_used_by_kind: 2}
        assert [i.round for i in _items(db, proj)] == [1]
