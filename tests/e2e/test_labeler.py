"""A labeler works one task of every kind in the browser, by keyboard where the page
advertises keys: each shortcut is pressed exactly as a person would, with nothing
clicked in between."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import (
    Completion,
    Demonstration,
    ItemCompletion,
    PairwiseJudgement,
    PromptSubmission,
    Ranking,
    RankingEntry,
    Winner,
)
from tests.e2e.conftest import TABLET, Server, log_in, shot
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


def _press(page: Page, *keys: str) -> int:
    for key in keys:
        page.keyboard.press(key)
    return len(keys)


def _entries(db: Session, ranking: Ranking) -> list[RankingEntry]:
    return list(db.scalars(select(RankingEntry).where(RankingEntry.ranking_id == ranking.id)))


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
        _press(page, "1", "ArrowDown", "2", "ArrowDown", "2", "ArrowDown", "3", "ArrowDown", "4", "ArrowDown", "5")
        expect(page.locator('.slot[data-rank="2"] .chip')).to_have_text(["B", "C"])
        expect(page.locator("#unranked")).to_contain_text("A  >  B = C  >  D  >  E  >  F")
        page.keyboard.press("g")
        expect(page.locator("#guidelines")).to_be_visible()
        expect(page.locator("#guidelines h2", has_text="How to judge")).to_be_visible()
        shot(page, "ranking-guidelines")
        page.keyboard.press("Escape")
        expect(page.locator("#guidelines")).to_be_hidden()
        shot(page, "ranking")
        page.keyboard.press("Control+Enter")

        expect(page.locator("#status")).to_have_text("Saved. There is nothing left for you in this project.")
        expect(page.locator("#empty")).to_be_visible()
        expect(page.locator("#skip")).to_be_hidden()
        (ranking,) = _judgements(db, Ranking, project.id)
        groups = sorted(e.tie_group or 0 for e in _entries(db, ranking))
        assert groups == [0, 1, 1, 2, 3, 4]

    def test_ranks_and_ratings_for_six_answers_take_eighteen_keys(
        self, server: Server, db: Session, page: Page
    ) -> None:
        _, project = _start(server, db, page, "ranking")
        make_ranking_item(db, project, k=6)
        page.goto(f"{server.url}/projects/{project.public_id}/work")
        expect(page.locator(".rcard").first).to_be_focused()
        keys = 0
        # Each answer: its rank, Shift+its rating, ↓ to the next one; then submit.
        for n, (rank, rating) in enumerate([(1, 7), (2, 6), (3, 5), (4, 4), (5, 3), (6, 1)]):
            keys += _press(page, str(rank), f"Shift+Digit{rating}")
            if n < 5:
                keys += _press(page, "ArrowDown")
        expect(page.locator("#rating-C")).to_have_value("5")
        expect(page.locator(".rcard").nth(2)).to_have_attribute("aria-label", "Answer C, rank 3, rating 5")
        keys += _press(page, "Control+Enter")
        expect(page.locator("#status")).to_contain_text("Saved.")
        assert keys == 18
        (ranking,) = _judgements(db, Ranking, project.id)
        assert sorted(((e.tie_group or 0), e.rating) for e in _entries(db, ranking)) == [
            (0, 7), (1, 6), (2, 5), (3, 4), (4, 3), (5, 1)
        ]

    def test_every_advertised_key_on_an_answer_works(self, server: Server, db: Session, page: Page) -> None:
        _, project = _start(server, db, page, "ranking")
        make_ranking_item(db, project, k=4)
        page.goto(f"{server.url}/projects/{project.public_id}/work")
        cards = page.locator(".rcard")
        expect(cards.first).to_be_focused()
        _press(page, "3")
        expect(cards.first).to_have_attribute("aria-label", "Answer A, rank 3")
        _press(page, "0")
        expect(cards.first).to_have_attribute("aria-label", "Answer A, not ranked")
        _press(page, "Shift+Digit4")
        expect(page.locator("#rating-A")).to_have_value("4")
        _press(page, "Shift+Digit0")
        expect(page.locator("#rating-A")).to_have_value("")
        _press(page, "j")
        expect(cards.nth(1)).to_be_focused()
        _press(page, "k")
        expect(cards.first).to_be_focused()
        # f opens the answer's flags; Space ticks the focused one; Esc goes back.
        _press(page, "f", "Space", "Escape")
        expect(cards.first).to_be_focused()
        expect(cards.first.locator("input.flag").first).to_be_checked()
        # c marks two answers; the second c opens them side by side.
        _press(page, "c", "ArrowDown", "c")
        expect(page.locator("#compare")).to_be_visible()
        expect(page.locator("#compare-cols h3")).to_have_text(["Answer A", "Answer B"])
        _press(page, "Escape")
        expect(page.locator("#compare")).to_be_hidden()
        expect(cards.nth(1)).to_be_focused()
        _press(page, "ArrowUp", "1", "ArrowDown", "2", "ArrowDown", "3", "ArrowDown", "4", "Control+Enter")
        expect(page.locator("#status")).to_contain_text("Saved.")
        (ranking,) = _judgements(db, Ranking, project.id)
        flagged = [e.flags for e in _entries(db, ranking) if e.flags]
        assert flagged == [[project.flags[0]]]

    def test_a_long_answer_expands_and_collapses_with_e(self, server: Server, db: Session, page: Page) -> None:
        _, project = _start(server, db, page, "ranking")
        item = make_ranking_item(db, project, k=4)
        first = db.scalar(select(Completion).join(ItemCompletion, ItemCompletion.completion_id == Completion.id)
                          .where(ItemCompletion.item_id == item.id).order_by(ItemCompletion.position))
        assert first is not None
        first.content = "A long answer. " * 80
        db.commit()
        page.goto(f"{server.url}/projects/{project.public_id}/work")
        long_card = page.locator(".rcard", has_text="A long answer.")
        expect(page.locator(".rcard").first).to_be_focused()
        while not long_card.evaluate("el => el === document.activeElement"):
            page.keyboard.press("ArrowDown")
        expect(long_card).to_have_class("rcard collapsed")
        _press(page, "e")
        expect(long_card).not_to_have_class("rcard collapsed")
        _press(page, "e")
        expect(long_card).to_have_class("rcard collapsed")

    def test_an_error_while_scrolled_down_is_brought_into_view(
        self, server: Server, db: Session, page: Page
    ) -> None:
        _, project = _start(server, db, page, "ranking")
        make_ranking_item(db, project, k=9)
        page.set_viewport_size(TABLET)
        page.goto(f"{server.url}/projects/{project.public_id}/work")
        cards = page.locator(".rcard")
        expect(cards.first).to_be_focused()
        _press(page, "1", "End")  # End scrolls the page to its bottom
        for _ in range(8):
            _press(page, "ArrowDown")
        expect(cards.last).to_be_focused()
        expect(page.locator("#status")).not_to_be_in_viewport()
        _press(page, "Control+Enter")
        status = page.locator("#status")
        expect(status).to_contain_text("B, C, D, E, F, G, H and I have none yet")
        expect(status).to_be_in_viewport()
        expect(status).to_have_attribute("aria-live", "assertive")
        shot(page, "ranking-error-in-view")

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
    def test_a_digit_then_enter_submits_the_choice(self, server: Server, db: Session, page: Page) -> None:
        _, project = _start(server, db, page, "pairwise")
        make_pairwise_item(db, project)
        page.goto(f"{server.url}/projects/{project.public_id}/work")
        expect(page.locator("#answer-a")).to_contain_text("Answer")
        _press(page, "3")
        expect(page.get_by_role("button", name="A is slightly better")).to_have_attribute("aria-pressed", "true")
        expect(page.get_by_role("button", name="A is slightly better")).to_be_focused()
        _press(page, "Enter")
        expect(page.locator("#status")).to_contain_text("Saved.")
        (j,) = _judgements(db, PairwiseJudgement, project.id)
        assert j.margin_label is not None and j.margin_label.value == "slightly_better"

    def test_evaluation_a_digit_then_enter_submits_the_choice(self, server: Server, db: Session, page: Page) -> None:
        _, project = _start(server, db, page, "evaluation")
        make_pairwise_item(db, project)
        page.goto(f"{server.url}/projects/{project.public_id}/work")
        expect(page.locator("#answer-b")).to_contain_text("Answer")
        _press(page, "8", "Enter")
        expect(page.locator("#status")).to_contain_text("Saved.")
        (j,) = _judgements(db, PairwiseJudgement, project.id)
        assert j.margin_label is not None and j.margin_label.value == "significantly_better"

    def test_safety_labels_by_keyboard_and_a_message_naming_the_answer(
        self, server: Server, db: Session, page: Page
    ) -> None:
        _, project = _start(server, db, page, "pairwise", safety_labels=True)
        make_pairwise_item(db, project)
        page.goto(f"{server.url}/projects/{project.public_id}/work")
        expect(page.locator("#answer-a")).to_contain_text("Answer")
        _press(page, "7", "Enter")
        status = page.locator("#status")
        expect(status).to_contain_text("mark answer A (a safe, Shift+A unsafe) and answer B (b safe, Shift+B unsafe)")
        _press(page, "a", "Shift+B")
        safety_b = page.locator("#safety-b")
        expect(safety_b.get_by_role("radio", name="Unsafe", exact=True)).to_have_attribute("aria-checked", "true")
        shot(page, "pairwise")
        # Focus is still on "B is better": Enter submits it.
        _press(page, "Enter")
        expect(status).to_contain_text("Saved.")
        (j,) = _judgements(db, PairwiseJudgement, project.id)
        assert j.margin_label is not None and j.margin_label.value == "better"
        assert sorted([j.safety_a.value if j.safety_a else "", j.safety_b.value if j.safety_b else ""]) == ["safe", "unsafe"]

    def test_both_bad_keeps_its_safety_labels(self, server: Server, db: Session, page: Page) -> None:
        _, project = _start(server, db, page, "pairwise", safety_labels=True)
        make_pairwise_item(db, project)
        page.goto(f"{server.url}/projects/{project.public_id}/work")
        expect(page.locator("#answer-a")).to_contain_text("Answer")
        _press(page, "0", "Enter")
        expect(page.locator("#status")).to_contain_text("also when both are bad")
        _press(page, "s", "Enter")
        expect(page.locator("#status")).to_contain_text("Saved.")
        (j,) = _judgements(db, PairwiseJudgement, project.id)
        assert (j.winner, j.safety_a, j.safety_b) == (Winner.both_bad, "safe", "safe")

    def test_shift_tab_onto_a_safety_label_lands_on_safe(self, server: Server, db: Session, page: Page) -> None:
        _, project = _start(server, db, page, "pairwise", safety_labels=True)
        make_pairwise_item(db, project)
        page.goto(f"{server.url}/projects/{project.public_id}/work")
        expect(page.locator("#answer-a")).to_contain_text("Answer")
        _press(page, "1", "Shift+Tab")
        safe_b = page.locator("#safety-b").get_by_role("radio", name="Safe", exact=True)
        expect(safe_b).to_be_focused()
        _press(page, "Shift+Tab")
        expect(page.locator("#safety-a").get_by_role("radio", name="Safe", exact=True)).to_be_focused()
        _press(page, "Space", "Tab")
        expect(safe_b).to_be_focused()
        # The arrows switch a focused label; Space chooses the focused one.
        _press(page, "ArrowRight")
        expect(page.locator("#safety-b").get_by_role("radio", name="Unsafe", exact=True)).to_be_focused()
        _press(page, "ArrowLeft", "Control+Enter")
        expect(page.locator("#status")).to_contain_text("Saved.")
        (j,) = _judgements(db, PairwiseJudgement, project.id)
        assert (j.safety_a, j.safety_b) == ("safe", "safe")

    def test_evaluation_both_bad_with_a_reason(self, server: Server, db: Session, page: Page) -> None:
        _, project = _start(server, db, page, "evaluation")
        make_pairwise_item(db, project)
        page.goto(f"{server.url}/projects/{project.public_id}/work")
        expect(page.locator("#answer-b")).to_contain_text("Answer")
        _press(page, "0", "Tab")
        expect(page.get_by_label("Reason (optional)")).to_be_focused()
        page.keyboard.type("both ignore the question")
        _press(page, "Enter")
        expect(page.locator("#status")).to_contain_text("Saved.")
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
        expect(page.locator("#status")).to_contain_text("Saved.")
        (demo,) = _judgements(db, Demonstration, project.id)
        written = demo.messages[demo.prompt_turns:]
        assert [m["role"] for m in written] == ["assistant", "user", "assistant"]
        assert written[-1]["content"] == "Second reply."

    def test_alt_g_opens_the_guidelines_while_typing(self, server: Server, db: Session, page: Page) -> None:
        _, project = _start(server, db, page, "demonstration")
        make_demo_item(db, project)
        page.goto(f"{server.url}/projects/{project.public_id}/work")
        reply = page.get_by_label("Assistant reply")
        expect(reply).to_be_focused()
        page.keyboard.type("g? are letters here")
        expect(page.locator("#guidelines")).to_be_hidden()
        _press(page, "Alt+g")
        expect(page.locator("#guidelines")).to_be_visible()
        _press(page, "Escape")
        expect(page.locator("#guidelines")).to_be_hidden()
        expect(reply).to_have_value("g? are letters here")


class TestPromptWriting:
    def test_writes_a_prompt_for_the_asked_category(self, server: Server, db: Session, page: Page) -> None:
        _, project = _start(server, db, page, "prompt_writing")
        make_prompt_writing_item(db, project, "brainstorming")
        page.goto(f"{server.url}/projects/{project.public_id}/work")
        expect(page.locator("#category-name")).to_have_text("brainstorming")
        page.get_by_label("Your prompt").fill("List ten names for a bakery.")
        shot(page, "prompt-writing")
        page.get_by_role("button", name="Submit prompt").click()
        expect(page.locator("#status")).to_contain_text("Saved.")
        (sub,) = _judgements(db, PromptSubmission, project.id)
        assert sub.category == "brainstorming" and sub.messages[0]["content"] == "List ten names for a bakery."


class TestQueue:
    def test_left_for_you_counts_down_and_an_empty_queue_offers_no_skip(
        self, server: Server, db: Session, page: Page
    ) -> None:
        _, project = _start(server, db, page, "pairwise")
        make_pairwise_item(db, project)
        make_pairwise_item(db, project)
        page.goto(f"{server.url}/projects/{project.public_id}/work")
        expect(page.locator("#progress")).to_have_text("Today 0 · total 0 · 2 left for you")
        _press(page, "1", "Enter")
        expect(page.locator("#status")).to_have_text("Saved. Here is the next task.")
        expect(page.locator("#progress")).to_have_text("Today 1 · total 1 · 1 left for you")
        expect(page.locator("#skip")).to_be_visible()
        _press(page, "5", "Enter")
        expect(page.locator("#status")).to_have_text("Saved. There is nothing left for you in this project.")
        expect(page.locator("#empty")).to_be_visible()
        expect(page.locator("#skip")).to_be_hidden()
        expect(page.locator("#task")).to_be_hidden()
        shot(page, "queue-empty")


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

    def test_an_answer_edited_after_a_lost_reply_is_kept_not_dropped(
        self, server: Server, db: Session, page: Page
    ) -> None:
        _, project = _start(server, db, page, "demonstration")
        make_demo_item(db, project)
        page.clock.install()  # the retries' pauses, moved on below instead of waited for
        page.goto(f"{server.url}/projects/{project.public_id}/work")
        reply = page.get_by_label("Assistant reply")
        reply.fill("The first version.")
        sent: list[str] = []

        def server_stores_the_first_but_no_reply_arrives(route: Route) -> None:
            sent.append((route.request.post_data_json or {})["turns"][0]["content"])
            if len(sent) == 1:
                route.fetch()
            if len(sent) <= 5:
                route.abort("connectionreset")
            else:
                route.continue_()

        page.route("**/submit", server_stores_the_first_but_no_reply_arrives)
        page.keyboard.press("Control+Enter")
        status = page.locator("#status")
        for _ in range(20):  # each failed send waits before the next: skip the waits
            if "Not saved yet" in (status.text_content() or ""):
                break
            page.clock.fast_forward(9000)
            page.wait_for_timeout(150)
        expect(status).to_contain_text("Not saved yet")
        assert len(sent) == 5
        reply.fill("The second, better version.")
        page.keyboard.press("Control+Enter")
        expect(status).to_contain_text("Your first answer to that task was already stored")
        expect(page.locator("#kept")).to_contain_text("The second, better version.")
        stored = [d.messages[-1]["content"] for d in _judgements(db, Demonstration, project.id)]
        assert stored == ["The first version."] and sent[-1] == "The second, better version."
