"""A labeler works one task of every kind in the browser, by keyboard where it matters."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Demonstration, PairwiseJudgement, PromptSubmission, Ranking, RankingEntry
from tests.e2e.conftest import Server, log_in, shot
from tests.factories import (
    PASSWORD,
    add_member,
    make_demo_item,
    make_labelers,
    make_pairwise_item,
    make_project,
    make_prompt_writing_item,
    make_ranking_item,
)

pytestmark = pytest.mark.browser


def _start(server: Server, db: Session, page: Page, kind: str, **settings: object):  # type: ignore[no-untyped-def]
    (user,) = make_labelers(db, 1)
    project = make_project(db, kind, guidelines="## How to judge\n\nPrefer **honest** answers.", **settings)
    add_member(db, project, user)
    log_in(page, server.url, user.email, PASSWORD)
    return user, project


def _judgements(db: Session, model: Any, project_id: int) -> list[Any]:
    db.expire_all()
    return list(db.scalars(select(model).where(model.project_id == project_id)))


class TestRanking:
    def test_a_six_way_ranking_with_a_tie_by_keyboard_alone(
        self, server: Server, db: Session, page: Page
    ) -> None:
        _, project = _start(server, db, page, "ranking")
        make_ranking_item(db, project, k=6)
        page.goto(f"{server.url}/projects/{project.public_id}/work")
        cards = page.locator(".rcard")
        expect(cards).to_have_count(6)
        expect(cards.first).to_be_focused()

        page.keyboard.press("Control+Enter")
        expect(page.locator("#status")).to_contain_text("Give every answer a rank")

        # A=1, B=2, C=2 (tie), D=3, E=4, F=5; ↓ moves to the next answer.
        for key in ["1", "ArrowDown", "2", "ArrowDown", "2", "ArrowDown", "3", "ArrowDown", "4", "ArrowDown", "5"]:
            page.keyboard.press(key)
        expect(page.locator('.slot[data-rank="2"] .chip')).to_have_text(["B", "C"])
        expect(page.locator("#unranked")).to_contain_text("A  >  B = C  >  D  >  E  >  F")
        page.keyboard.press("g")
        expect(page.locator("#guidelines")).to_be_visible()
        expect(page.locator("#guidelines h2", has_text="How to judge")).to_be_visible()
        shot(page, "ranking-guidelines")
        page.keyboard.press("Escape")
        shot(page, "ranking")
        page.keyboard.press("Control+Enter")

        expect(page.locator("#status")).to_contain_text("Saved")
        expect(page.locator("#empty")).to_be_visible()
        (ranking,) = _judgements(db, Ranking, project.id)
        entries = db.scalars(select(RankingEntry).where(RankingEntry.ranking_id == ranking.id)).all()
        groups = sorted(e.tie_group or 0 for e in entries)
        assert len(entries) == 6 and groups == [0, 1, 1, 2, 3, 4]

    def test_marked_answers_open_side_by_side(self, server: Server, db: Session, page: Page) -> None:
        _, project = _start(server, db, page, "ranking")
        make_ranking_item(db, project, k=4)
        page.goto(f"{server.url}/projects/{project.public_id}/work")
        page.get_by_label("Compare").nth(0).check()
        page.get_by_label("Compare").nth(2).check()
        page.get_by_role("button", name="Compare the two marked").click()
        expect(page.locator("#compare-cols > div")).to_have_count(2)
        expect(page.locator("#compare-cols h3")).to_have_text(["Answer A", "Answer C"])
        shot(page, "ranking-compare")
        page.keyboard.press("Escape")
        expect(page.locator("#compare")).to_be_hidden()


class TestPairwise:
    def test_choice_by_keyboard_with_safety_labels(self, server: Server, db: Session, page: Page) -> None:
        _, project = _start(server, db, page, "pairwise", safety_labels=True)
        make_pairwise_item(db, project)
        page.goto(f"{server.url}/projects/{project.public_id}/work")
        expect(page.locator("#answer-a")).to_contain_text("Answer")
        page.keyboard.press("3")
        expect(page.get_by_role("button", name="A is slightly better")).to_have_attribute("aria-pressed", "true")
        page.locator("#prompt").click()
        page.keyboard.press("Enter")
        expect(page.locator("#status")).to_contain_text("safety label on both answers")
        page.locator("#safety-a").get_by_label("Safe", exact=True).check()
        page.locator("#safety-b").get_by_label("Unsafe").check()
        shot(page, "pairwise")
        page.get_by_role("button", name="Submit").click()
        expect(page.locator("#status")).to_contain_text("Saved")
        (j,) = _judgements(db, PairwiseJudgement, project.id)
        assert j.margin_label is not None and j.margin_label.value == "slightly_better"
        assert {j.safety_a.value if j.safety_a else None, j.safety_b.value if j.safety_b else None} == {"safe", "unsafe"}

    def test_evaluation_both_bad_with_a_reason(self, server: Server, db: Session, page: Page) -> None:
        _, project = _start(server, db, page, "evaluation")
        make_pairwise_item(db, project)
        page.goto(f"{server.url}/projects/{project.public_id}/work")
        expect(page.locator("#answer-b")).to_contain_text("Answer")
        page.keyboard.press("0")
        page.get_by_label("Reason (optional)").fill("both ignore the question")
        page.keyboard.press("Enter")
        expect(page.locator("#status")).to_contain_text("Saved")
        (j,) = _judgements(db, PairwiseJudgement, project.id)
        assert j.winner.value == "both_bad" and j.reason == "both ignore the question"


class TestDemonstration:
    def test_multi_turn_with_added_and_removed_turns(self, server: Server, db: Session, page: Page) -> None:
        _, project = _start(server, db, page, "demonstration", multi_turn=True)
        make_demo_item(db, project)
        page.goto(f"{server.url}/projects/{project.public_id}/work")
        page.get_by_label("Assistant reply").fill("First reply.")
        page.get_by_role("button", name="Suggest a draft from the model").click()
        expect(page.locator("#suggest-status")).to_contain_text("No suggestion available")
        add = page.get_by_role("button", name="Add a user turn and a reply")
        add.click()
        page.get_by_label("User (turn 2)").fill("A follow-up question.")
        page.get_by_label("Assistant (turn 3)").fill("Second reply.")
        add.click()
        expect(page.locator("#turns textarea")).to_have_count(5)
        page.get_by_role("button", name="Remove turns 4 and 5").click()
        expect(page.locator("#turns textarea")).to_have_count(3)
        shot(page, "demonstration")
        page.keyboard.press("Control+Enter")
        expect(page.locator("#status")).to_contain_text("Saved")
        (demo,) = _judgements(db, Demonstration, project.id)
        written = demo.messages[demo.prompt_turns:]
        assert [m["role"] for m in written] == ["assistant", "user", "assistant"]
        assert written[-1]["content"] == "Second reply."


class TestPromptWriting:
    def test_writes_a_prompt_for_the_asked_category(self, server: Server, db: Session, page: Page) -> None:
        _, project = _start(server, db, page, "prompt_writing")
        make_prompt_writing_item(db, project, "brainstorming")
        page.goto(f"{server.url}/projects/{project.public_id}/work")
        expect(page.locator("#category-name")).to_have_text("brainstorming")
        page.get_by_label("Your prompt").fill("List ten names for a bakery.")
        shot(page, "prompt-writing")
        page.get_by_role("button", name="Submit prompt").click()
        expect(page.locator("#status")).to_contain_text("Saved")
        (sub,) = _judgements(db, PromptSubmission, project.id)
        assert sub.category == "brainstorming" and sub.messages[0]["content"] == "List ten names for a bakery."


class TestDrafts:
    def test_a_draft_survives_a_reload(self, server: Server, db: Session, page: Page) -> None:
        _, project = _start(server, db, page, "demonstration")
        make_demo_item(db, project)
        url = f"{server.url}/projects/{project.public_id}/work"
        page.goto(url)
        page.get_by_label("Assistant reply").fill("A long reply I do not want to lose.")
        page.wait_for_timeout(400)
        page.reload()
        expect(page.get_by_label("Assistant reply")).to_have_value("A long reply I do not want to lose.")
        expect(page.locator("#status")).to_contain_text("draft for this task was restored")

    def test_a_lost_answer_is_retried_with_the_same_key_and_stored_once(
        self, server: Server, db: Session, page: Page
    ) -> None:
        _, project = _start(server, db, page, "demonstration")
        make_demo_item(db, project)
        page.goto(f"{server.url}/projects/{project.public_id}/work")
        page.get_by_label("Assistant reply").fill("Stored exactly once.")
        keys: list[str] = []

        def lose_first_answer(route: Route) -> None:
            keys.append((route.request.post_data_json or {})["idempotency_key"])
            if len(keys) == 1:
                route.fetch()  # the server stores it, but the answer never arrives
                route.abort("connectionreset")
            else:
                route.continue_()

        page.route("**/submit", lose_first_answer)
        page.get_by_role("button", name="Submit demonstration").click()
        expect(page.locator("#status")).to_contain_text("already had this answer")
        assert len(keys) == 2 and keys[0] == keys[1]
        assert len(_judgements(db, Demonstration, project.id)) == 1
        assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('rankwise:draft:')).length") == 0
