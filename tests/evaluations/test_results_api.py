"""The results API, the evaluation list and the labeler list: figures from stored
verdicts, who may read them, and the CLI that prints them."""

from __future__ import annotations

import json
import math

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app import cli
from app.config import Settings
from app.models import (
    JudgementReview,
    PairwiseJudgement,
    ReviewVerdict,
    Role,
    User,
    UserKind,
    Winner,
)
from tests.evaluations.helpers import evaluation as _evaluation
from tests.evaluations.helpers import model as _model
from tests.evaluations.helpers import sweep as _sweep
from tests.factories import add_member, bearer, make_labelers, make_project, make_user


@pytest.fixture
def staff(db: Session) -> tuple[User, User]:
    engineer, = make_labelers(db, 1, Role.engineer)
    return engineer, make_user(db, Role.admin)


class TestResults:
    def test_a_clear_winner_with_its_interval_ratings_pairs_and_position_bias(
        self, client: TestClient, db: Session, staff: tuple[User, User]
    ) -> None:
        engineer, admin = staff
        (labeler,) = make_labelers(db, 1)
        sft, ppo = _model(db, admin, "sft-v1"), _model(db, admin, "ppo-v1")
        project = _evaluation(db, labeler, _sweep(sft, ppo, new_wins=30, old_wins=8, ties=2), engineer)
        r = client.get(f"/api/v1/evaluations/{project.public_id}/results", headers=bearer(db, engineer))
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["comparisons"] == 40 and out["projects"] == [project.public_id]
        (pair,) = out["pairs"]
        assert (pair["model_a"], pair["model_b"]) == ("sft-v1", "ppo-v1")  # the older version first
        assert (pair["a_wins"], pair["b_wins"], pair["ties"], pair["both_bad"]) == (8, 30, 2, 0)
        assert pair["win_rate"]["value"] == pytest.approx(9 / 40)
        board = out["leaderboard"]
        assert board["reference"] == "sft-v1"
        assert [(x["model"], x["rank"], x["model_id"]) for x in board["ratings"]] == [
            ("ppo-v1", 1, ppo.public_id), ("sft-v1", 2, sft.public_id)]
        top = board["ratings"][0]
        assert top["low"] < top["rating"] < top["high"] and top["low"] > 1000
        assert out["verdict"]["kind"] == "winner" and out["verdict"]["winner"] == "ppo-v1"
        assert out["verdict"]["win_rate"]["value"] == pytest.approx(31 / 40)
        assert "ppo-v1 beats sft-v1" in out["verdict"]["text"]
        # 38 decided verdicts; the reply shown first won 19 of them (the sweep alternates).
        assert out["position_bias"]["n"] == 38 and out["position_bias"]["value"] == pytest.approx(0.5)

    def test_rejected_judgements_are_left_out(self, client: TestClient, db: Session, staff: tuple[User, User]) -> None:
        engineer, admin = staff
        (labeler,) = make_labelers(db, 1)
        a, b = _model(db, admin, "left-a"), _model(db, admin, "left-b")
        project = _evaluation(db, labeler, [(a, b, Winner.a, True), (a, b, Winner.b, True)], engineer)
        rejected = db.query(PairwiseJudgement).filter_by(project_id=project.id, winner=Winner.a).one()
        db.add(JudgementReview(project_id=project.id, item_id=rejected.item_id, judgement_id=rejected.id,
                               labeler_id=labeler.id, reviewer_id=admin.id, verdict=ReviewVerdict.rejected))
        db.commit()
        out = client.get(f"/api/v1/evaluations/{project.public_id}/results", headers=bearer(db, engineer)).json()
        assert out["comparisons"] == 1 and out["pairs"][0]["b_wins"] == 1

    def test_the_verdicts_of_ai_judges_are_left_out(self, client: TestClient, db: Session,
                                                    staff: tuple[User, User]) -> None:
        engineer, admin = staff
        human, judge = make_labelers(db, 2)
        judge.kind = UserKind.ai
        db.commit()
        a, b = _model(db, admin, "ai-a"), _model(db, admin, "ai-b")
        by_people = _evaluation(db, human, _sweep(a, b, 3, 1), engineer)
        by_ai = _evaluation(db, judge, _sweep(a, b, 9, 0), engineer)
        auth = bearer(db, engineer)
        assert client.get(f"/api/v1/evaluations/{by_ai.public_id}/results", headers=auth).json()["comparisons"] == 0
        both = client.get("/api/v1/evaluations/leaderboard", headers=auth).json()
        assert both["comparisons"] == 4 and set(both["projects"]) == {by_people.public_id, by_ai.public_id}
        assert judge.public_id not in {u["id"] for u in client.get("/api/v1/evaluations/labelers", headers=auth).json()}

    def test_a_new_reference_is_fixed_at_1000_and_an_unknown_one_is_refused(
        self, client: TestClient, db: Session, staff: tuple[User, User]
    ) -> None:
        engineer, admin = staff
        (labeler,) = make_labelers(db, 1)
        a, b = _model(db, admin, "ref-a"), _model(db, admin, "ref-b")
        project = _evaluation(db, labeler, _sweep(a, b, 6, 3), engineer)
        url = f"/api/v1/evaluations/{project.public_id}/results"
        out = client.get(url, params={"reference": "ref-b"}, headers=bearer(db, engineer)).json()
        assert out["leaderboard"]["reference"] == "ref-b"
        assert {x["model"]: x["rating"] for x in out["leaderboard"]["ratings"]}["ref-b"] == 1000
        r = client.get(url, params={"reference": "nobody"}, headers=bearer(db, engineer))
        assert r.status_code == 422 and "ref-a" in r.json()["detail"]

    def test_an_evaluation_without_verdicts_says_so(self, client: TestClient, db: Session,
                                                     staff: tuple[User, User]) -> None:
        engineer, _ = staff
        project = _evaluation(db, engineer, [])
        out = client.get(f"/api/v1/evaluations/{project.public_id}/results", headers=bearer(db, engineer)).json()
        assert out["comparisons"] == 0 and out["verdict"]["kind"] == "no_data"
        assert out["leaderboard"]["ratings"] == [] and out["position_bias"]["value"] is None


class TestLeaderboard:
    def test_ratings_across_evaluations_link_models_never_compared_directly(
        self, client: TestClient, db: Session, staff: tuple[User, User]
    ) -> None:
        engineer, admin = staff
        (labeler,) = make_labelers(db, 1)
        sft, rm_bon, ppo = (_model(db, admin, n) for n in ("x-sft", "x-bon", "x-ppo"))
        first = _evaluation(db, labeler, _sweep(sft, rm_bon, 20, 10), engineer)
        second = _evaluation(db, labeler, _sweep(rm_bon, ppo, 20, 10), engineer)
        out = client.get("/api/v1/evaluations/leaderboard", headers=bearer(db, engineer)).json()
        assert set(out["projects"]) == {first.public_id, second.public_id}
        ratings = {x["model"]: x["rating"] for x in out["leaderboard"]["ratings"]}
        assert ratings["x-sft"] == 1000
        # A chain: each link is its own two-model fit, 20 wins to 10 plus the virtual tie.
        step = 400 * math.log10(20.5 / 10.5)
        assert ratings["x-bon"] == pytest.approx(1000 + step, abs=1e-3)
        assert ratings["x-ppo"] == pytest.approx(1000 + 2 * step, abs=1e-3)
        assert {(p["model_a"], p["model_b"]) for p in out["pairs"]} == {("x-sft", "x-bon"), ("x-bon", "x-ppo")}
        only = client.get("/api/v1/evaluations/leaderboard", params={"project": first.public_id},
                          headers=bearer(db, engineer)).json()
        assert only["projects"] == [first.public_id] and only["comparisons"] == 30

    def test_an_engineer_counts_only_the_evaluations_they_may_read(
        self, client: TestClient, db: Session, staff: tuple[User, User]
    ) -> None:
        engineer, admin = staff
        (labeler,) = make_labelers(db, 1)
        a, b = _model(db, admin, "vis-a"), _model(db, admin, "vis-b")
        mine = _evaluation(db, labeler, _sweep(a, b, 3, 1), engineer)
        other = _evaluation(db, labeler, _sweep(a, b, 5, 5))
        out = client.get("/api/v1/evaluations/leaderboard", headers=bearer(db, engineer)).json()
        assert out["projects"] == [mine.public_id] and out["comparisons"] == 4
        r = client.get("/api/v1/evaluations/leaderboard", params={"project": other.public_id},
                       headers=bearer(db, engineer))
        assert r.status_code == 404
        many = client.get("/api/v1/evaluations/leaderboard", params={"project": [f"p{i}" for i in range(201)]},
                          headers=bearer(db, engineer))
        assert many.status_code == 422 and "at most 200" in many.json()["detail"]
        assert client.get("/api/v1/evaluations/leaderboard",
                          headers=bearer(db, admin)).json()["comparisons"] == 14


class TestWhoMayRead:
    def test_labelers_and_reviewers_may_not_read_results_which_name_the_models(
        self, client: TestClient, db: Session, staff: tuple[User, User]
    ) -> None:
        _, admin = staff
        (labeler,) = make_labelers(db, 1)
        reviewer = make_user(db, Role.reviewer)
        a, b = _model(db, admin, "blind-a"), _model(db, admin, "blind-b")
        project = _evaluation(db, labeler, _sweep(a, b, 2, 1), reviewer)
        for user in (labeler, reviewer):
            auth = bearer(db, user)
            for url in (f"/api/v1/evaluations/{project.public_id}/results", "/api/v1/evaluations/leaderboard",
                        "/api/v1/evaluations", f"/api/v1/evaluations/{project.public_id}",
                        "/api/v1/evaluations/labelers"):
                r = client.get(url, headers=auth)
                assert r.status_code == 403, (user.role, url)
                assert "blind-a" not in r.text
            assert client.get(f"/evaluations/{project.public_id}", headers=auth).status_code == 403

    def test_an_engineer_gets_404_for_an_evaluation_they_are_not_member_of(
        self, client: TestClient, db: Session, staff: tuple[User, User]
    ) -> None:
        engineer, admin = staff
        (labeler,) = make_labelers(db, 1)
        a, b = _model(db, admin, "hid-a"), _model(db, admin, "hid-b")
        project = _evaluation(db, labeler, _sweep(a, b, 2, 1))
        for url in (f"/api/v1/evaluations/{project.public_id}/results", f"/api/v1/evaluations/{project.public_id}"):
            assert client.get(url, headers=bearer(db, engineer)).status_code == 404
        assert client.get(f"/api/v1/evaluations/{project.public_id}/results",
                          headers=bearer(db, admin)).status_code == 200

    def test_the_pages_open_for_engineers_who_may_read_the_evaluation(
        self, client: TestClient, db: Session, staff: tuple[User, User]
    ) -> None:
        engineer, other = make_labelers(db, 2, Role.engineer)
        _, admin = staff
        (labeler,) = make_labelers(db, 1)
        a, b = _model(db, admin, "page-a"), _model(db, admin, "page-b")
        project = _evaluation(db, labeler, _sweep(a, b, 2, 1), engineer)
        mine, theirs = bearer(db, engineer), bearer(db, other)
        for url in ("/evaluations", "/evaluations/new", f"/evaluations/{project.public_id}"):
            r = client.get(url, headers=mine)
            assert r.status_code == 200 and 'href="/evaluations"' in r.text, url  # the navigation links it
        assert client.get(f"/evaluations/{project.public_id}", headers=theirs).status_code == 404
        assert client.get("/evaluations", headers=theirs).status_code == 200

    def test_a_project_of_another_kind_has_no_evaluation_results(
        self, client: TestClient, db: Session, staff: tuple[User, User]
    ) -> None:
        engineer, _ = staff
        ranking = make_project(db, "ranking")
        add_member(db, ranking, engineer)
        r = client.get(f"/api/v1/evaluations/{ranking.public_id}/results", headers=bearer(db, engineer))
        assert r.status_code == 404 and "no blind evaluation" in r.json()["detail"]


class TestListing:
    def test_the_list_shows_models_counts_and_newest_first(self, client: TestClient, db: Session,
                                                          staff: tuple[User, User]) -> None:
        engineer, admin = staff
        (labeler,) = make_labelers(db, 1)
        a, b = _model(db, admin, "list-a"), _model(db, admin, "list-b")
        older = _evaluation(db, labeler, _sweep(a, b, 2, 1), engineer)
        newer = _evaluation(db, labeler, [], engineer)
        out = client.get("/api/v1/evaluations", headers=bearer(db, engineer)).json()
        assert [e["project_id"] for e in out] == [newer.public_id, older.public_id]
        assert out[1]["models"] == ["list-a", "list-b"]
        assert (out[1]["items"], out[1]["judgements"]) == (3, 3) and out[1]["job"] is None
        # Two models: the verdict from the win rate (2 wins of 3 holds an even match).
        assert out[1]["verdict"]["kind"] == "no_clear_winner" and out[1]["verdict"]["winner"] == "list-b"
        assert out[1]["verdict"]["win_rate"]["value"] == pytest.approx(2 / 3)
        assert out[0]["verdict"] is None  # nothing judged yet
        one = client.get(f"/api/v1/evaluations/{older.public_id}", headers=bearer(db, engineer)).json()
        assert one == out[1]

    def test_the_labeler_list_holds_active_labelers_only(self, client: TestClient, db: Session,
                                                         staff: tuple[User, User]) -> None:
        engineer, _ = staff
        active, gone = make_labelers(db, 2)
        gone.is_active = False
        db.commit()
        ids = {u["id"] for u in client.get("/api/v1/evaluations/labelers", headers=bearer(db, engineer)).json()}
        assert active.public_id in ids and gone.public_id not in ids and engineer.public_id not in ids


def _cli_env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setenv("RANKWISE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("RANKWISE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("RANKWISE_ENV", "test")


class TestCommand:
    def test_eval_results_prints_the_leaderboard_the_pairs_and_position_bias(
        self, db: Session, settings: Settings, staff: tuple[User, User], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        _, admin = staff
        (labeler,) = make_labelers(db, 1)
        a, b = _model(db, admin, "cli-sft"), _model(db, admin, "cli-ppo")
        project = _evaluation(db, labeler, _sweep(a, b, 30, 6))
        _cli_env(monkeypatch, settings)
        assert cli.main(["eval", "results", project.slug]) == 0
        text = capsys.readouterr().out
        assert text.startswith("cli-ppo beats cli-sft")
        assert "Leaderboard (36 comparisons; cli-sft fixed at 1000)" in text
        assert "A win rate (95%)" in text and "Position bias" in text
        assert cli.main(["eval", "results", project.public_id, "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["verdict"]["winner"] == "cli-ppo" and out["comparisons"] == 36

    def test_a_project_of_another_kind_is_refused(
        self, db: Session, settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        project = make_project(db, "ranking")
        _cli_env(monkeypatch, settings)
        assert cli.main(["eval", "results", project.slug]) == 2
        assert "not a blind evaluation" in capsys.readouterr().err
