"""Submitting judgements: validation against the task, storage, idempotency."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import (
    Completion,
    Demonstration,
    ItemCompletion,
    PairwiseJudgement,
    Prompt,
    PromptSubmission,
    Ranking,
    RankingEntry,
    Winner,
)
from tests.factories import (
    add_member,
    bearer,
    make_demo_item,
    make_labelers,
    make_pairwise_item,
    make_project,
    make_prompt_writing_item,
    make_ranking_item,
)


def _lease(client: TestClient, db: Session, kind: str, make_item: Any, **settings: Any) -> tuple[dict[str, Any], dict[str, str], Any]:
    project = make_project(db, kind, **settings)
    item = make_item(db, project)
    (labeler,) = make_labelers(db, 1)
    add_member(db, project, labeler)
    headers = bearer(db, labeler)
    r = client.post(f"/api/v1/projects/{project.public_id}/next", headers=headers)
    assert r.status_code == 200, r.text
    return r.json(), headers, item


def _submit(client: TestClient, task: dict[str, Any], headers: dict[str, str], **body: Any) -> Any:
    body.setdefault("idempotency_key", "key-0001")
    return client.post(f"/api/v1/assignments/{task['assignment_id']}/submit", json=body, headers=headers)


def _count(db: Session, model: Any) -> int:
    return int(db.scalar(select(func.count()).select_from(model)) or 0)


class TestRanking:
    def test_a_ranking_with_ties_ratings_and_flags_is_stored_and_closes_the_item(
        self, client: TestClient, db: Session
    ) -> None:
        task, headers, item = _lease(client, db, "ranking", make_ranking_item)
        c = [x["id"] for x in task["completions"]]
        r = _submit(
            client, task, headers, seconds=12.5, verdict="ranked", ranking=[[c[2]], [c[0], c[3]], [c[1]]],
            ratings={c[2]: 7, c[1]: 2}, flags={c[1]: ["hallucination"]},
        )
        assert r.status_code == 201, r.text
        assert r.json()["next_available"] is False
        ranking = db.scalar(select(Ranking))
        assert ranking is not None and ranking.public_id == r.json()["judgement_id"]
        assert ranking.shown_order == c and ranking.seconds == 12.5
        entries = {e.completion_id: e for e in db.scalars(select(RankingEntry))}
        groups = sorted((e.tie_group, e.rating, e.flags) for e in entries.values())
        assert groups == [(0, 7, []), (1, None, []), (1, None, []), (2, 2, ["hallucination"])]
        db.refresh(item)
        assert (item.taken, item.done, item.is_open) == (1, 1, False)

    def test_every_problem_is_reported_and_nothing_is_stored(self, client: TestClient, db: Session) -> None:
        task, headers, item = _lease(client, db, "ranking", make_ranking_item)
        c = [x["id"] for x in task["completions"]]
        r = _submit(
            client, task, headers, verdict="ranked", ranking=[[c[0]], [c[0], "zzzzzzzzzzzzzzzz"], [c[1]]],
            flags={c[1]: ["not-a-flag"]},
        )
        assert r.status_code == 422
        messages = [e["message"] for e in r.json()["errors"]]
        # Answers are named as the labeler saw them (letters in the shown order), never by id.
        assert "Answer A appears twice in the ranking; place each answer once." in messages
        assert any("'zzzzzzzzzzzzzzzz' is not one of the answers" in m for m in messages)
        assert "The ranking is missing answer C: rank every answer." in messages
        assert "The ranking is missing answer D: rank every answer." in messages
        assert any("Unknown flag 'not-a-flag'" in m for m in messages)
        assert not any(cid in m for cid in c for m in messages)
        assert r.json()["detail"].startswith(f"{len(messages)} problems")
        assert _count(db, Ranking) == 0 and _count(db, RankingEntry) == 0
        db.refresh(item)
        assert (item.done, item.is_open) == (0, True)

    def test_a_rating_outside_1_to_7_is_refused(self, client: TestClient, db: Session) -> None:
        task, headers, _ = _lease(client, db, "ranking", make_ranking_item)
        c = [x["id"] for x in task["completions"]]
        r = _submit(client, task, headers, verdict="ranked", ranking=[c], ratings={c[0]: 9})
        assert r.status_code == 422 and "ratings" in r.json()["detail"]

    def test_not_rankable_is_a_judgement_with_a_reason(self, client: TestClient, db: Session) -> None:
        task, headers, item = _lease(client, db, "ranking", make_ranking_item)
        assert _submit(client, task, headers, verdict="not_rankable").status_code == 422
        r = _submit(client, task, headers, verdict="not_rankable", reason="  all answers are cut off  ")
        assert r.status_code == 201, r.text
        ranking = db.scalar(select(Ranking))
        assert ranking is not None and ranking.verdict == "not_rankable" and ranking.reason == "all answers are cut off"
        db.refresh(item)
        assert item.done == 1


class TestIdempotency:
    def test_the_same_key_replays_the_first_answer_without_a_second_row(
        self, client: TestClient, db: Session
    ) -> None:
        task, headers, item = _lease(client, db, "ranking", make_ranking_item)
        c = [x["id"] for x in task["completions"]]
        first = _submit(client, task, headers, verdict="ranked", ranking=[c])
        again = _submit(client, task, headers, verdict="ranked", ranking=[c])
        assert first.status_code == 201 and again.status_code == 200
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json()["judgement_id"] == first.json()["judgement_id"]
        assert _count(db, Ranking) == 1
        db.refresh(item)
        assert item.done == 1

    def test_a_second_submit_with_another_key_is_a_conflict(self, client: TestClient, db: Session) -> None:
        task, headers, _ = _lease(client, db, "ranking", make_ranking_item)
        c = [x["id"] for x in task["completions"]]
        assert _submit(client, task, headers, verdict="ranked", ranking=[c]).status_code == 201
        r = _submit(client, task, headers, idempotency_key="key-0002", verdict="ranked", ranking=[c])
        assert r.status_code == 409 and "already judged" in r.json()["detail"]
        assert _count(db, Ranking) == 1

    def test_a_retry_with_another_time_spent_is_still_the_same_answer(self, client: TestClient, db: Session) -> None:
        task, headers, _ = _lease(client, db, "ranking", make_ranking_item)
        c = [x["id"] for x in task["completions"]]
        first = _submit(client, task, headers, seconds=10, verdict="ranked", ranking=[c], ratings={})
        # After a reload the page sends the same answer with a later `seconds`.
        again = _submit(client, task, headers, seconds=95, verdict="ranked", ranking=[c])
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json()["judgement_id"] == first.json()["judgement_id"]

    def test_the_same_key_with_a_different_answer_is_refused_naming_the_key(
        self, client: TestClient, db: Session
    ) -> None:
        task, headers, _ = _lease(client, db, "ranking", make_ranking_item)
        c = [x["id"] for x in task["completions"]]
        assert _submit(client, task, headers, verdict="ranked", ranking=[c]).status_code == 201
        r = _submit(client, task, headers, verdict="ranked", ranking=[[x] for x in c])
        assert r.status_code == 422, r.text
        assert "'key-0001'" in r.json()["detail"] and "different answer" in r.json()["detail"]
        assert r.json()["errors"][0]["field"] == "idempotency_key"
        stored = db.scalar(select(Ranking))
        assert stored is not None and _count(db, Ranking) == 1
        entries = db.scalars(select(RankingEntry).where(RankingEntry.ranking_id == stored.id)).all()
        assert {e.tie_group for e in entries} == {0}  # the first answer stands

    def test_a_key_used_for_another_task_is_refused_naming_the_key(self, client: TestClient, db: Session) -> None:
        project = make_project(db, "ranking")
        make_ranking_item(db, project)
        make_ranking_item(db, project)
        (labeler,) = make_labelers(db, 1)
        add_member(db, project, labeler)
        headers = bearer(db, labeler)
        url = f"/api/v1/projects/{project.public_id}/next"
        first = client.post(url, headers=headers).json()
        assert _submit(client, first, headers, verdict="ranked", ranking=[[x["id"] for x in first["completions"]]]).status_code == 201
        second = client.post(url, headers=headers).json()
        r = _submit(client, second, headers, verdict="ranked", ranking=[[x["id"] for x in second["completions"]]])
        assert r.status_code == 422 and "'key-0001' was already used for another task" in r.json()["detail"]
        assert _count(db, Ranking) == 1

    def test_submits_are_rate_limited_per_user(self, client: TestClient, db: Session) -> None:
        task, headers, _ = _lease(client, db, "ranking", make_ranking_item)
        client.app.state.submit_limiter.limit = 2  # type: ignore[attr-defined]
        c = [x["id"] for x in task["completions"]]
        codes = [_submit(client, task, headers, verdict="ranked", ranking=[c]).status_code for _ in range(3)]
        assert codes == [201, 200, 429]


class TestPairwise:
    def test_the_preferred_completion_maps_to_the_canonical_winner_with_safety(
        self, client: TestClient, db: Session
    ) -> None:
        task, headers, item = _lease(client, db, "pairwise", make_pairwise_item, safety_labels=True)
        shown = [x["id"] for x in task["completions"]]
        missing = _submit(client, task, headers, verdict="preferred", preferred=shown[1], margin_label="better")
        assert missing.status_code == 422 and "safe or unsafe" in missing.json()["detail"]
        r = _submit(
            client, task, headers, verdict="preferred", preferred=shown[1], margin_label="better",
            safety={shown[0]: "unsafe", shown[1]: "safe"},
        )
        assert r.status_code == 201, r.text
        canonical = list(
            db.scalars(
                select(Completion.public_id)
                .join(ItemCompletion, ItemCompletion.completion_id == Completion.id)
                .where(ItemCompletion.item_id == item.id)
                .order_by(ItemCompletion.position)
            )
        )
        judgement = db.scalar(select(PairwiseJudgement))
        assert judgement is not None and judgement.shown_order == shown
        expected = Winner.a if shown[1] == canonical[0] else Winner.b
        assert (judgement.winner, judgement.margin_label) == (expected, "better")
        assert {canonical[0]: judgement.safety_a, canonical[1]: judgement.safety_b} == {
            shown[0]: "unsafe",
            shown[1]: "safe",
        }
        db.commit()  # end the read: SQLite transactions here hold the write lock
        detail = client.get(f"/api/v1/judgements/{judgement.public_id}", headers=headers).json()
        assert detail["answer"]["preferred"] == shown[1]

    def test_both_bad_keeps_the_safety_labels_the_project_asks_for(self, client: TestClient, db: Session) -> None:
        task, headers, item = _lease(client, db, "pairwise", make_pairwise_item, safety_labels=True)
        shown = [x["id"] for x in task["completions"]]
        missing = _submit(client, task, headers, verdict="both_bad", safety={shown[0]: "unsafe"})
        assert missing.status_code == 422
        assert missing.json()["detail"].startswith("Mark answer B as safe or unsafe")
        assert shown[1] not in missing.json()["detail"]
        r = _submit(client, task, headers, verdict="both_bad", safety={shown[0]: "unsafe", shown[1]: "safe"})
        assert r.status_code == 201, r.text
        judgement = db.scalar(select(PairwiseJudgement))
        assert judgement is not None and judgement.winner == Winner.both_bad
        canonical = list(
            db.scalars(
                select(Completion.public_id)
                .join(ItemCompletion, ItemCompletion.completion_id == Completion.id)
                .where(ItemCompletion.item_id == item.id)
                .order_by(ItemCompletion.position)
            )
        )
        labels = {canonical[0]: judgement.safety_a, canonical[1]: judgement.safety_b}
        assert labels == {shown[0]: "unsafe", shown[1]: "safe"}

    def test_both_bad_needs_no_preference(self, client: TestClient, db: Session) -> None:
        task, headers, _ = _lease(client, db, "pairwise", make_pairwise_item)
        r = _submit(client, task, headers, verdict="both_bad")
        assert r.status_code == 201, r.text
        judgement = db.scalar(select(PairwiseJudgement))
        assert judgement is not None and judgement.winner == Winner.both_bad


class TestDemonstration:
    def test_a_single_reply_is_stored_after_the_prompt(self, client: TestClient, db: Session) -> None:
        task, headers, _ = _lease(client, db, "demonstration", make_demo_item)
        r = _submit(client, task, headers, turns=[{"role": "assistant", "content": "  The answer.  "}])
        assert r.status_code == 201, r.text
        demo = db.scalar(select(Demonstration))
        assert demo is not None and demo.prompt_turns == 1
        assert demo.messages[-1] == {"role": "assistant", "content": "The answer."}

    def test_multi_turn_needs_a_multi_turn_project_and_alternating_roles(
        self, client: TestClient, db: Session
    ) -> None:
        task, headers, _ = _lease(client, db, "demonstration", make_demo_item)
        three = [
            {"role": "assistant", "content": "a"},
            {"role": "user", "content": "b"},
            {"role": "assistant", "content": "c"},
        ]
        r = _submit(client, task, headers, turns=three)
        assert r.status_code == 422 and "single reply" in r.json()["detail"]
        bad = [{"role": "assistant", "content": "a"}, {"role": "user", "content": " "}]
        r = _submit(client, task, headers, turns=bad)
        messages = [e["message"] for e in r.json()["errors"]]
        assert any("end with an assistant turn" in m for m in messages)
        assert any("turn 2 is empty" in m for m in messages)
        assert _count(db, Demonstration) == 0

    def test_a_reply_over_the_text_limit_is_refused(self, client: TestClient, db: Session) -> None:
        task, headers, _ = _lease(client, db, "demonstration", make_demo_item)
        limit = client.app.state.settings.max_text_chars  # type: ignore[attr-defined]
        r = _submit(client, task, headers, turns=[{"role": "assistant", "content": "x" * (limit + 1)}])
        assert r.status_code == 422 and f"at most {limit}" in r.json()["detail"]


class TestPromptWriting:
    def test_the_written_prompt_joins_the_projects_prompts(self, client: TestClient, db: Session) -> None:
        task, headers, _ = _lease(client, db, "prompt_writing", make_prompt_writing_item)
        assert task["category"] == "open_qa" and task["prompt"] is None
        unknown = _submit(client, task, headers, messages=[{"role": "user", "content": "Hi?"}], category="poetry")
        assert unknown.status_code == 422 and "Unknown category 'poetry'" in unknown.json()["detail"]
        r = _submit(client, task, headers, messages=[{"role": "user", "content": "Why is the sky blue?"}])
        assert r.status_code == 201, r.text
        submission = db.scalar(select(PromptSubmission))
        prompt = db.scalar(select(Prompt).where(Prompt.source == "labeler"))
        assert submission is not None and prompt is not None
        assert submission.prompt_id == prompt.id and prompt.category == "open_qa"
        assert prompt.messages == [{"role": "user", "content": "Why is the sky blue?"}]


class TestTheBodyFollowsTheTasksKind:
    def test_a_field_of_another_kind_is_refused_with_the_kind_named(self, client: TestClient, db: Session) -> None:
        task, headers, _ = _lease(client, db, "demonstration", make_demo_item)
        c = "x" * 16
        r = _submit(client, task, headers, turns=[{"role": "assistant", "content": "Hi."}], ranking=[[c]])
        assert r.status_code == 422
        assert r.json()["detail"] == (
            "'ranking' does not belong to a demonstration task; remove it (a demonstration answer takes 'turns', 'candidate')."
        )
        assert _count(db, Demonstration) == 0

    def test_a_body_that_is_not_an_object_is_refused(self, client: TestClient, db: Session) -> None:
        task, headers, _ = _lease(client, db, "ranking", make_ranking_item)
        r = client.post(f"/api/v1/assignments/{task['assignment_id']}/submit", json=["ranked"], headers=headers)
        assert r.status_code == 422 and "JSON object" in r.json()["detail"]

    def test_a_missing_verdict_is_named(self, client: TestClient, db: Session) -> None:
        task, headers, _ = _lease(client, db, "pairwise", make_pairwise_item)
        r = _submit(client, task, headers, preferred=task["completions"][0]["id"], margin_label="better")
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "verdict"
