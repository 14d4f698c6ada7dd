"""How prompts and completions become work items, per task kind."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import ItemCompletion, Project, TaskKind, WorkItem
from app.projects import items
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
