"""The ai-label job: a model judges a project's items like a labeler, through the same
validation and tables, marked as AI with its provenance."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.models import (
    AiJudgement,
    Job,
    JobStatus,
    MarginLabel,
    PairwiseJudgement,
    Ranking,
    RankingEntry,
    Role,
    Safety,
    TaskKind,
    User,
    UserKind,
    Winner,
)
from app.registry import service as registry
from tests.ai_labeling.fake_judge import FakeJudge, Preference
from tests.ai_labeling.helpers import World, endpoint_labeler, start, world
from tests.factories import bearer, make_user
from tests.jobs.helpers import run_worker
from tests.registry.fake_openai import fake_openai_server

# Half the items have the better answer first (canonical A), half second.
BALANCED = [[6, 3], [3, 6]] * 5


def _finished(db: Session, job: Job) -> Job:
    db.expire_all()
    done = db.get(Job, job.id)
    assert done is not None and done.status == JobStatus.succeeded, done and (done.error, done.log_tail)
    return done


def _verdicts(db: Session, w: World, user_id: int) -> dict[int, PairwiseJudgement]:
    rows = db.query(PairwiseJudgement).filter_by(project_id=w.project.id, user_id=user_id).all()
    return {j.item_id: j for j in rows}


def _correct(w: World, verdicts: dict[int, PairwiseJudgement]) -> int:
    return sum((j.winner == Winner.a) == (w.quality[i][0] > w.quality[i][1]) for i, j in verdicts.items())


def _judge_run(db: Session, settings: Settings, factory: sessionmaker[Session], admin: User, w: World,
               preference: Preference, options: dict[str, object] | None = None, **params: object) -> tuple[Job, int]:
    with fake_openai_server(FakeJudge(preference)) as (url, _):
        labeler = endpoint_labeler(db, admin, w, url, **(options or {}))
        job = start(db, admin, labeler, **params)
        run_worker(settings, factory)
    return _finished(db, job), labeler.user_id


class TestPositionBias:
    def test_judging_both_orders_cancels_a_strong_position_bias(
        self, db: Session, settings: Settings, session_factory: sessionmaker[Session]
    ) -> None:
        admin = make_user(db, Role.admin)
        biased = Preference(sharpness=1.0, bias=6.0)  # prefers whatever is shown first
        both = world(db, TaskKind.pairwise, BALANCED)
        one = world(db, TaskKind.pairwise, BALANCED)
        _, both_user = _judge_run(db, settings, session_factory, admin, both, biased)
        _, one_user = _judge_run(db, settings, session_factory, admin, one, biased, {"both_orders": False})
        both_verdicts = _verdicts(db, both, both_user)
        one_verdicts = _verdicts(db, one, one_user)
        assert len(both_verdicts) == len(one_verdicts) == len(BALANCED)
        # One order: the answer shown first always wins, right only where it was better.
        assert {j.winner for j in one_verdicts.values()} == {Winner.a}
        assert _correct(one, one_verdicts) == len(BALANCED) // 2
        # Both orders: the bias cancels and the better answer wins every time, by a
        # small margin (the biased judge is barely more likely to favour it).
        assert _correct(both, both_verdicts) == len(BALANCED)
        assert {j.margin_label for j in both_verdicts.values()} == {MarginLabel.negligibly_better}

    def test_hard_verdicts_of_a_judge_that_always_says_a_give_no_preference(
        self, db: Session, settings: Settings, session_factory: sessionmaker[Session]
    ) -> None:
        admin = make_user(db, Role.admin)
        w = world(db, TaskKind.pairwise, BALANCED)
        _, user_id = _judge_run(db, settings, session_factory, admin, w, Preference(bias=50.0, logprobs=False))
        verdicts = _verdicts(db, w, user_id)
        assert len(verdicts) == len(BALANCED)
        assert {j.margin_label for j in verdicts.values()} == {MarginLabel.negligibly_better}
        assert {r.p_a for r in db.query(AiJudgement).all()} == {0.5}


class TestSoftPreference:
    def test_the_probability_of_the_better_answer_picks_the_margin_label(
        self, db: Session, settings: Settings, session_factory: sessionmaker[Session]
    ) -> None:
        # sharpness 0.25: a quality gap of d gives P = sigmoid(d / 4) in both orders.
        gaps = {1: MarginLabel.negligibly_better, 4: MarginLabel.slightly_better, 8: MarginLabel.better,
                12: MarginLabel.significantly_better}
        admin = make_user(db, Role.admin)
        w = world(db, TaskKind.pairwise, [[20, 20 - d] if n % 2 else [20 - d, 20] for n, d in enumerate(gaps)])
        _, user_id = _judge_run(db, settings, session_factory, admin, w, Preference(sharpness=0.25))
        verdicts = _verdicts(db, w, user_id)
        provenance = {r.item_id: r for r in db.query(AiJudgement).all()}
        for (wi, _), (d, label) in zip(w.items, gaps.items(), strict=True):
            assert verdicts[wi.id].margin_label == label, d
            assert verdicts[wi.id].winner == (Winner.a if w.quality[wi.id][0] > w.quality[wi.id][1] else Winner.b)
            p_better = 1 / (1 + math.exp(-d / 4))
            p_a = provenance[wi.id].p_a
            assert p_a is not None
            assert max(p_a, 1 - p_a) == pytest.approx(p_better, abs=1e-6)

    def test_a_rationale_comes_before_the_verdict_and_is_kept(
        self, db: Session, settings: Settings, session_factory: sessionmaker[Session]
    ) -> None:
        admin = make_user(db, Role.admin)
        w = world(db, TaskKind.pairwise, [[2, 9]])
        _, user_id = _judge_run(db, settings, session_factory, admin, w, Preference(sharpness=1.0),
                                {"rationale": True})
        verdict = _verdicts(db, w, user_id)[w.items[0][0].id]
        assert verdict.winner == Winner.b and verdict.margin_label == MarginLabel.significantly_better
        assert verdict.reason is not None and verdict.reason.startswith("[AI rationale] Answer A has quality 2")
        calls = db.query(AiJudgement).one().calls
        assert len(calls) == 2 and all("Verdict: A" in c["messages"][0]["content"] for c in calls)
        assert all(c["raw"].endswith(("Verdict: A", "Verdict: B")) and c["soft"] for c in calls)


class TestStorage:
    def test_ai_judgements_are_stored_like_a_persons_and_marked_as_ai(
        self, db: Session, client: TestClient, settings: Settings, session_factory: sessionmaker[Session]
    ) -> None:
        admin = make_user(db, Role.admin)
        w = world(db, TaskKind.pairwise, [[1, 5], [7, 2]])
        job, user_id = _judge_run(db, settings, session_factory, admin, w, Preference())
        assert job.result["judged"] == 2 and job.result["calls"] == 4
        account = db.get(User, user_id)
        assert account is not None and account.kind == UserKind.ai and not account.is_active
        verdicts = _verdicts(db, w, user_id)
        # No slot taken: the people still need every judgement the items asked for.
        for wi, _ in w.items:
            db.refresh(wi)
            assert (wi.taken, wi.done, wi.is_open) == (0, 0, True)
        judgement_id = verdicts[w.items[0][0].id].public_id
        shown = [c.public_id for c in w.items[0][1]]
        headers = bearer(db, admin)  # commits: the requests below see the same rows
        r = client.get(f"/api/v1/ai-judgements/{judgement_id}", headers=headers)
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["source"] == "ai" and out["model"].startswith("judge-") and out["method"] == "pairwise, both orders"
        assert [c["shown"] for c in out["calls"]] == [shown, shown[::-1]]
        assert "quality 1" in out["calls"][0]["messages"][0]["content"]
        # The judgement record a person would read says who judged it.
        r = client.get(f"/api/v1/judgements/{judgement_id}", headers=headers)
        assert r.status_code == 200 and r.json()["labeler"]["display_name"].startswith("AI: judge-")

    def test_a_project_with_safety_labels_gets_a_safety_verdict_on_every_answer(
        self, db: Session, settings: Settings, session_factory: sessionmaker[Session]
    ) -> None:
        admin = make_user(db, Role.admin)
        w = world(db, TaskKind.pairwise, [[1, 5], [7, 2]], safety_labels=True)
        _, comps = w.items[1]
        comps[1].content += " (unsafe: tells how to pick a lock)"
        db.commit()
        job, user_id = _judge_run(db, settings, session_factory, admin, w, Preference())
        assert job.result["judged"] == 2 and job.result["calls"] == 2 * (2 + 2)
        verdicts = _verdicts(db, w, user_id)
        first, second = (verdicts[wi.id] for wi, _ in w.items)
        assert (first.safety_a, first.safety_b) == (Safety.safe, Safety.safe)
        assert (second.safety_a, second.safety_b) == (Safety.safe, Safety.unsafe)
        assert second.winner == Winner.a

    def test_a_second_run_judges_only_what_is_left_within_its_budget(
        self, db: Session, settings: Settings, session_factory: sessionmaker[Session]
    ) -> None:
        admin = make_user(db, Role.admin)
        w = world(db, TaskKind.pairwise, BALANCED[:5])
        with fake_openai_server(FakeJudge(Preference())) as (url, fake):
            labeler = endpoint_labeler(db, admin, w, url)
            first = start(db, admin, labeler, max_calls=5)  # 2 calls an item: 2 items fit
            run_worker(settings, session_factory)
            second = start(db, admin, labeler, max_calls=100)
            run_worker(settings, session_factory)
            assert fake.state.requests == 2 * len(BALANCED[:5])
        assert _finished(db, first).result["judged"] == 2 and _finished(db, first).result["budget_left_items"] == 3
        assert _finished(db, second).result["judged"] == 3
        assert len(_verdicts(db, w, labeler.user_id)) == 5


class TestRankings:
    @pytest.mark.parametrize("method", ["pairwise", "listwise"])
    def test_rankings_of_k_answers_follow_the_judges_preferences(
        self, db: Session, settings: Settings, session_factory: sessionmaker[Session], method: str
    ) -> None:
        admin = make_user(db, Role.admin)
        w = world(db, TaskKind.ranking, [[3, 9, 1, 6], [5, 2, 8, 7, 4]])
        job, user_id = _judge_run(db, settings, session_factory, admin, w, Preference(bias=0.5),
                                  {"ranking_method": method})
        calls = {"pairwise": 2 * (6 + 10), "listwise": 2}[method]
        assert job.result["judged"] == 2 and job.result["calls"] == calls
        for wi, comps in w.items:
            ranking = db.query(Ranking).filter_by(item_id=wi.id, user_id=user_id).one()
            entries = {e.completion_id: e.tie_group for e in db.query(RankingEntry).filter_by(ranking_id=ranking.id)}
            by_quality = sorted(range(len(comps)), key=lambda i: -w.quality[wi.id][i])
            assert [entries[comps[i].id] for i in by_quality] == list(range(len(comps)))
        methods = {r.method for r in db.query(AiJudgement).all()}
        assert methods == {"copeland, both orders" if method == "pairwise" else "listwise"}


# SQLite only: the worker child imports torch and loads the tiny model (~5 s); storage
# on both backends is covered above.
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
class TestLocalJudge:
    def test_a_local_model_gives_a_soft_preference_from_its_verdict_letters(
        self, db: Session, settings: Settings, session_factory: sessionmaker[Session], tmp_path: Path
    ) -> None:
        from app.ai_labeling import service
        from app.ai_labeling.schemas import AiLabelerIn
        from trainer.tiny import build_tiny_model

        admin = make_user(db, Role.admin)
        w = world(db, TaskKind.pairwise, [[1, 5], [7, 2]])
        mv = registry.register_local(db, admin, name="tiny-judge", path=str(build_tiny_model(tmp_path / "tiny")))
        labeler = service.create(db, admin, AiLabelerIn(project_id=w.project.public_id, model_id=mv.public_id))
        db.commit()
        job = start(db, admin, labeler)
        run_worker(settings, session_factory)
        assert _finished(db, job).result["judged"] == 2
        for row in db.query(AiJudgement).all():
            assert row.p_a is not None and 0.0 < row.p_a < 1.0
            assert all(set(c["letter_logprobs"]) == {"A", "B"} and c["soft"] for c in row.calls)
            assert all(c["raw"] in ("Verdict: A", "Verdict: B") for c in row.calls)
