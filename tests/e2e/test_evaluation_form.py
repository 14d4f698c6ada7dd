"""An engineer starts a blind evaluation from the evaluations page, labelers judge it in
the browser, and the results page names the winner with its interval."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Settings
from app.models import (
    Assignment,
    AssignmentStatus,
    Completion,
    Job,
    JobStatus,
    ModelVersion,
    Role,
    User,
)
from app.registry import service as registry
from tests.e2e.conftest import LAPTOP, SECRET, SHOTS, TABLET, Server, log_in, shot
from tests.evaluations.helpers import evaluation, model, sweep
from tests.factories import PASSWORD, add_member, make_labelers, make_project, make_prompt
from tests.jobs.helpers import run_worker
from tests.registry.fake_openai import fake_openai_server

pytestmark = pytest.mark.browser

PROMPTS = 4


def full_shot(page: Page, name: str) -> None:
    """``shot`` plus the whole page at both widths: the charts sit below the fold."""
    shot(page, name)
    size = page.viewport_size or LAPTOP
    for label, viewport in (("laptop", LAPTOP), ("tablet", TABLET)):
        page.set_viewport_size(viewport)
        page.screenshot(path=str(SHOTS / f"{name}-{label}-full.png"), full_page=True)
    page.set_viewport_size(size)


def _models(db: Session, admin: User, url: str) -> tuple[ModelVersion, ModelVersion]:
    sft, ppo = (registry.register_endpoint(db, admin, name=name, base_url=url, endpoint_model=name, api_key=None)
                for name in ("walk-sft", "walk-ppo"))
    return sft, ppo


def _worker_settings(server: Server, data: Path) -> Settings:
    url = server.sessions.kw["bind"].url.render_as_string(hide_password=False)
    return Settings.model_validate({"env": "test", "data_dir": data, "database_url": url, "secret_key": SECRET,
                                    "endpoint_allow": "127.0.0.1"})


def _model_shown_first(db: Session, user_id: int, done: set[int]) -> tuple[int, str]:
    """The task the labeler's page shows now (leased when the page asked): its assignment
    and the model whose reply is shown first. Every SQLite transaction here begins
    IMMEDIATE, so each read ends its own before the server writes again."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = db.execute(
            select(Assignment.id, Assignment.shown_order)
            .where(Assignment.user_id == user_id, Assignment.status == AssignmentStatus.active)).all()
        fresh = [(aid, shown) for aid, shown in rows if aid not in done]
        if fresh:
            aid, shown = fresh[0]
            model = db.scalar(select(Completion.model_name).where(Completion.public_id == shown[0]))
            db.rollback()
            return aid, str(model)
        db.rollback()
        time.sleep(0.1)
    raise AssertionError("the work page leased no task")


def _judge_all(browser: Browser, server: Server, db: Session, judge: tuple[int, str], project_id: str,
               winner: str) -> int:
    """The labeler prefers ``winner``'s reply, strongly, on every task; returns how many."""
    user_id, email = judge
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    log_in(page, server.url, email, PASSWORD)
    page.goto(f"{server.url}/projects/{project_id}/work")
    done: set[int] = set()
    for _ in range(PROMPTS):
        expect(page.locator("#answer-a")).to_contain_text("reply to")
        lease, first = _model_shown_first(db, user_id, done)
        page.keyboard.press("1" if first == winner else "8")  # 1: A much better, 8: B much better
        page.keyboard.press("Enter")
        expect(page.locator("#status")).to_contain_text("Saved.")
        done.add(lease)
    context.close()
    return len(done)


class TestBlindEvaluationFromThePages:
    def test_an_engineer_starts_it_labelers_judge_and_the_results_name_the_winner(
        self, server: Server, db: Session, page: Page, browser: Browser, tmp_path: Path
    ) -> None:
        admin, = make_labelers(db, 1, role=Role.admin)
        engineer, = make_labelers(db, 1, role=Role.engineer)
        judges = make_labelers(db, 2)
        source = make_project(db, "ranking")
        source.name = "Walk source prompts"
        for i in range(PROMPTS + 2):
            make_prompt(db, source, f"Walk question {i}?").held_out = i < PROMPTS
        add_member(db, source, engineer)
        judge_logins = [(j.id, j.email) for j in judges]
        with fake_openai_server() as (url, _):
            _models(db, admin, url)
            # Every SQLite transaction here begins IMMEDIATE: end it before the server writes.
            db.commit()
            log_in(page, server.url, engineer.email, PASSWORD)
            page.get_by_role("link", name="Evaluations").click()
            page.get_by_role("link", name="New evaluation").click()
            page.get_by_label("Model A").select_option(label="walk-sft")
            page.get_by_label("Model B").select_option(label="walk-sft")
            page.get_by_label("Prompts from project").select_option(label="Walk source prompts")
            page.get_by_role("button", name="Start evaluation").click()
            expect(page.locator("#eval-status")).to_contain_text("at least one labeler")
            for judge in judges:
                page.get_by_label(judge.display_name).check()
            page.get_by_role("button", name="Start evaluation").click()
            expect(page.locator("#eval-status")).to_contain_text("same model version")
            page.get_by_label("Model B").select_option(label="walk-ppo")
            page.get_by_label("Labelers per item").fill("2")
            page.get_by_label("Project name").fill("Which reply is better?")
            shot(page, "evaluation-new")
            page.get_by_role("button", name="Start evaluation").click()
            expect(page.locator("#eval-status")).to_contain_text(f"Started on {PROMPTS} prompts")
            job_id = (page.get_by_role("link", name="sampling progress").get_attribute("href") or "").rsplit("/", 1)[1]
            job = db.scalar(select(Job).where(Job.public_id == job_id))
            assert job is not None and job.kind == "evaluation-sample"
            project_id = job.params["project_id"]
            db.rollback()
            # The e2e server is shared: other tests may have left jobs queued; take ours.
            run_worker(_worker_settings(server, tmp_path), server.sessions, poll_seconds=0.1,
                       kinds=["evaluation-sample"])
        db.expire_all()
        finished = db.scalar(select(Job).where(Job.public_id == job_id))
        status, error = (finished.status, finished.error) if finished else (None, "no job")
        db.rollback()
        assert status == JobStatus.succeeded, error

        judged = sum(_judge_all(browser, server, db, judge, project_id, "walk-ppo") for judge in judge_logins)
        assert judged == 2 * PROMPTS

        page.get_by_role("link", name="results of Which reply is better?").click()
        page.wait_for_url(lambda u: u.endswith(f"/evaluations/{project_id}"))
        verdict = page.locator("#verdict")
        expect(verdict).to_contain_text("walk-ppo beats walk-sft")
        expect(verdict).to_contain_text("95 % interval")
        expect(page.locator("#t-judged")).to_have_text(str(2 * PROMPTS))
        expect(page.locator("#board-table tbody tr").first).to_contain_text("walk-ppo")
        expect(page.locator("#chart-board svg circle")).to_have_count(2)
        expect(page.locator("#chart-heat svg rect.heat")).to_have_count(4)
        full_shot(page, "evaluation-results")
        page.get_by_role("link", name="All evaluations").click()
        expect(page.locator("#ev-table")).to_contain_text("walk-sft vs walk-ppo")
        expect(page.locator("#ev-table")).to_contain_text(f"{2 * PROMPTS} verdicts on {PROMPTS} items")
        expect(page.locator("#ev-table")).to_contain_text("winner walk-ppo: 100% (67.6%–100%)")
        expect(page.locator("#chart-board svg circle")).to_have_count(2)
        shot(page, "evaluation-list")


class TestResultsPages:
    def test_three_models_across_two_evaluations_are_drawn_with_intervals(
        self, server: Server, db: Session, page: Page
    ) -> None:
        admin, = make_labelers(db, 1, role=Role.admin)
        engineer, = make_labelers(db, 1, role=Role.engineer)
        labeler, = make_labelers(db, 1)
        sft, bon, ppo = (model(db, admin, name) for name in ("chart-sft", "chart-best-of-k-long-name", "chart-ppo"))
        first = evaluation(db, labeler, sweep(sft, bon, 26, 14, ties=4), engineer)
        evaluation(db, labeler, sweep(bon, ppo, 22, 20, ties=6) + sweep(sft, ppo, 12, 0), engineer)
        email, first_id = engineer.email, first.public_id
        db.commit()
        log_in(page, server.url, email, PASSWORD)
        page.goto(f"{server.url}/evaluations")
        expect(page.locator("#chart-board svg circle")).to_have_count(3)
        expect(page.locator("#chart-board svg line.whisker")).to_have_count(2)  # not the reference
        full_shot(page, "evaluation-list-three")
        page.goto(f"{server.url}/evaluations/{first_id}")
        expect(page.locator("#verdict")).to_contain_text("No clear winner yet")
        expect(page.locator("#pairs-table tbody tr")).to_have_count(1)
        expect(page.locator("#pairs-table")).to_contain_text("36.4% (23.8%–51.1%)")
        full_shot(page, "evaluation-results-unclear")
