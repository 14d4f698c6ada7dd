"""The quality page's figures, counted incrementally in the database, on both backends."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.db import unit_of_work
from app.models import Project, Role, TaskKind, utcnow
from app.quality import repository as repo
from app.quality import service
from app.quality.stats import summarize
from tests.factories import bearer, make_labelers
from tests.quality import builders as b
from tests.quality.simulate import Labeler, simulate
from tests.quality.test_stats import bins_of, items_of

ACCURATE = Labeler("Accurate Ada", "accurate", accuracy=0.92)
NOISY = Labeler("Noisy Ned", "accurate", accuracy=0.65)
POSITION = Labeler("Leftie Lou", "position", accuracy=0.92, bias=0.8)
FAST = Labeler("Speedy Sam", "fast", accuracy=0.6)
SECOND = Labeler("Careful Cy", "accurate", accuracy=0.9)
LABELERS = [ACCURATE, NOISY, POSITION, FAST, SECOND]


def _page(client: TestClient, db: Session, project: Project) -> dict[str, Any]:
    (admin,) = make_labelers(db, 1, role=Role.admin)
    r = client.get(f"/api/v1/projects/{project.public_id}/quality", headers=bearer(db, admin))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


class TestThePage:
    def test_the_figures_recover_the_simulated_labelers_and_flag_the_biased_and_fast_ones(
        self, client: TestClient, db: Session
    ) -> None:
        sim = simulate(LABELERS, kind="pairwise", items=160, gold=50, seed=7)
        world = b.build(db, sim)
        first = _page(client, db, world.project)
        # A view counts a few hundred judgements before answering; the rest after it answers.
        budget = service.PAGE_BUDGET
        assert (first["figures"]["judgements"], first["pending"]) == (budget, len(sim.judgements) - budget)
        page = _page(client, db, world.project)
        by = {row["name"]: row for row in page["labelers"]}
        known = ((ACCURATE, 0.92), (NOISY, 0.65), (POSITION, 0.8 * 0.5 + 0.2 * 0.92), (FAST, 0.6), (SECOND, 0.9))
        inside = [by[lab.name]["gold"]["low"] <= value <= by[lab.name]["gold"]["high"] for lab, value in known]
        # 95 % intervals: one of five may miss (tests/quality/test_stats.py checks the coverage).
        assert sum(inside) >= 4 and all(by[lab.name]["gold"]["n"] == 50 for lab, _ in known)
        lou = by[POSITION.name]["position"]
        assert lou["low"] <= 0.9 <= lou["high"]
        assert "position_bias" in by[POSITION.name]["flags"] and "too_fast" in by[FAST.name]["flags"]
        assert by[ACCURATE.name]["flags"] == [] and by[SECOND.name]["flags"] == []
        # The same figures as the statistics computed straight from the simulation.
        pure = summarize(bins_of(items_of(sim)), seed=world.project.id)
        for lf, labeler in zip(pure.labelers, LABELERS, strict=True):
            row = by[labeler.name]
            assert row["gold"]["value"] == pytest.approx(lf.gold.value)
            assert row["agreement"]["value"] == pytest.approx(lf.agreement.value)
            assert row["position"]["value"] == pytest.approx(lf.position.value)
        assert page["figures"]["alpha"]["value"] == pytest.approx(pure.alpha.value)
        assert page["figures"]["judgements"] == len(sim.judgements) and page["pending"] == 0
        assert len(page["pairs"]) == 10 and page["days"] and page["disputed"]
        assert page["disputed"][0]["dispute"] >= page["disputed"][-1]["dispute"]

    def test_counting_in_steps_gives_the_same_bins_as_counting_from_scratch(self, db: Session) -> None:
        sim = simulate([ACCURATE, NOISY, POSITION], kind="ranking", items=30, gold=6, seed=3)
        first, second = sim.judgements[: len(sim.judgements) // 2], sim.judgements[len(sim.judgements) // 2 :]
        sim.judgements = first
        world = b.build(db, sim)
        service.refresh(db, world.project, budget=7)  # a small budget: several passes
        while service.refresh(db, world.project, budget=7).pending:
            pass
        for j in second:  # made now, as a submit would be: after everything counted so far
            wi, comps = world.items[j.item]
            b.ranking(db, wi, world.labelers[j.labeler], comps, j.groups, shown=j.shown, seconds=j.seconds,
                      when=utcnow())
        db.commit()
        assert service.refresh(db, world.project).counted == len(second)
        stepwise = sorted(repo.bins(db, world.project.id))
        service.rebuild(db, world.project)
        assert sorted(repo.bins(db, world.project.id)) == stepwise
        assert service.refresh(db, world.project).counted == 0

    def test_a_page_view_counts_a_bounded_number_and_reports_the_rest(self, db: Session) -> None:
        world = b.build(db, simulate([ACCURATE, SECOND], kind="pairwise", items=40, gold=0))
        done = service.refresh(db, world.project, budget=25)
        assert (done.counted, done.pending) == (25, 55)


class TestWhoSeesWhat:
    def test_a_labeler_gets_their_own_figures_and_nobody_elses(self, client: TestClient, db: Session) -> None:
        world = b.build(db, simulate([ACCURATE, NOISY, SECOND], kind="pairwise", items=30, gold=5))
        me = world.labelers[1]
        headers = bearer(db, me)
        assert client.get(f"/api/v1/projects/{world.project.public_id}/quality", headers=headers).status_code == 403
        r = client.get(f"/api/v1/projects/{world.project.public_id}/quality/me", headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["labeler"]["id"] == me.public_id and body["labeler"]["judgements"] == 35
        text = json.dumps(body)
        for other in (world.labelers[0], world.labelers[2]):
            assert other.public_id not in text and other.display_name not in text
        detail = f"/api/v1/projects/{world.project.public_id}/quality/labelers/{world.labelers[0].public_id}"
        assert client.get(detail, headers=headers).status_code == 403

    def test_a_reviewer_reads_the_projects_they_belong_to_only(self, client: TestClient, db: Session) -> None:
        mine = b.build(db, simulate([ACCURATE, SECOND], kind="pairwise", items=5, gold=0))
        other = b.build(db, simulate([ACCURATE, SECOND], kind="pairwise", items=5, gold=0))
        (reviewer,) = make_labelers(db, 1, role=Role.reviewer)
        b.members(db, mine.project, reviewer)
        db.commit()
        headers = bearer(db, reviewer)
        assert client.get(f"/api/v1/projects/{mine.project.public_id}/quality", headers=headers).status_code == 200
        assert client.get(f"/api/v1/projects/{other.project.slug}/quality", headers=headers).status_code == 404
        settings = client.put(f"/api/v1/projects/{mine.project.public_id}/quality/settings", json={"gold_rate": 0.1},
                              headers=headers)
        assert settings.status_code == 403

    def test_settings_are_checked_and_audited(self, client: TestClient, db: Session) -> None:
        p = b.project(db, TaskKind.pairwise)
        db.commit()
        (admin,) = make_labelers(db, 1, role=Role.admin)
        headers = bearer(db, admin)
        url = f"/api/v1/projects/{p.public_id}/quality/settings"
        bad = client.put(url, json={"gold_rate": 0.9}, headers=headers)
        assert bad.status_code == 422 and "gold_rate" in bad.json()["detail"]
        ok = client.put(url, json={"gold_rate": 0.2, "correction_minutes": 30}, headers=headers)
        assert ok.status_code == 200 and ok.json()["gold_rate"] == 0.2
        assert client.get(url, headers=headers).json()["correction_minutes"] == 30


class TestConcurrentCounting:
    def test_two_counts_at_once_count_each_judgement_once(
        self, db: Session, session_factory: sessionmaker[Session]
    ) -> None:
        world = b.build(db, simulate([ACCURATE, NOISY, SECOND], kind="pairwise", items=80, gold=10, seed=5))
        project_id = world.project.id
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def count() -> None:
            try:
                barrier.wait(timeout=30)  # both start together (SQLite then runs them one by one)
                with unit_of_work(session_factory) as session:
                    project = session.get(Project, project_id)
                    assert project is not None
                    service.refresh(session, project, budget=10_000)
            except BaseException as exc:  # reported below, not lost in the thread
                errors.append(exc)

        threads = [threading.Thread(target=count) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert errors == []
        counted = sorted(repo.bins(db, project_id))
        service.rebuild(db, world.project)
        assert counted == sorted(repo.bins(db, project_id))
