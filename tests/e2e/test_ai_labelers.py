"""An admin attaches an AI labeler to a pairwise project, runs it from the page and reads
its agreement with the people, there and on the quality page."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from app.models import Role, TaskKind
from app.registry import service as registry
from tests.ai_labeling.fake_judge import FakeJudge, Preference
from tests.ai_labeling.helpers import simulated_people, world
from tests.e2e.conftest import SECRET, Server, log_in, shot
from tests.factories import PASSWORD, make_labelers
from tests.registry.fake_openai import fake_openai_server

pytestmark = pytest.mark.browser


@pytest.fixture
def judge_worker(server: Server, tmp_path: Path) -> Iterator[None]:
    """A real `rankwise worker` allowed to reach the fake judge on loopback."""
    engine = server.sessions.kw["bind"]
    env = {**os.environ, "RANKWISE_ENV": "test", "RANKWISE_SECRET_KEY": SECRET,
           "RANKWISE_DATABASE_URL": engine.url.render_as_string(hide_password=False),
           "RANKWISE_DATA_DIR": str(tmp_path), "RANKWISE_ENDPOINT_ALLOW": "127.0.0.1"}
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "worker", "--poll", "0.2", "--heartbeat", "0.5"],
                            env=env, stdout=subprocess.DEVNULL)
    try:
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


class TestAiLabelersPage:
    def test_an_admin_attaches_a_judge_runs_it_and_compares_it_with_the_people(
        self, server: Server, db: Session, page: Page, judge_worker: None
    ) -> None:
        (admin,) = make_labelers(db, 1, role=Role.admin)
        w = world(db, TaskKind.pairwise, [[2, 7], [8, 3], [1, 9], [6, 4], [5, 9], [7, 1]], name="Helpful A/B")
        simulated_people(db, w, 3, accuracy=0.8, seed=2)
        with fake_openai_server(FakeJudge(Preference(bias=3.0))) as (url, fake):
            registry.register_endpoint(db, admin, name="judge-7b", base_url=url, endpoint_model="judge",
                                       api_key=None)
            db.commit()
            log_in(page, server.url, admin.email, PASSWORD)
            page.goto(f"{server.url}/admin/projects/{w.project.public_id}")
            page.get_by_role("link", name="AI labelers").click()
            expect(page).to_have_url(re.compile(r"/ai$"))
            page.get_by_label("Judge model").select_option(label="judge-7b (endpoint)")
            page.get_by_label("Name").fill("Judge bot")
            page.get_by_label("Constitution").fill("Prefer the answer that helps more.")
            page.get_by_role("button", name="Attach").click()
            expect(page.locator("#ai-status")).to_contain_text("Judge bot is attached")
            card = page.get_by_role("article", name="AI labeler Judge bot")
            expect(card).to_contain_text("both orders")
            card.get_by_role("button", name="Start a run of Judge bot").click()
            expect(card).to_contain_text("Run finished: 6 items judged with 12 model calls", timeout=60_000)
            assert fake.state.requests == 12
        # Judged in both orders, the biased judge still picks the better answer every time.
        expect(card.locator("p.small").first).to_contain_text("6 judgements")
        expect(card.locator(".ai-agreement")).to_contain_text("On 6 items judged by Judge bot and by people")
        expect(card.locator(".ai-agreement svg")).to_have_count(1)
        shot(page, "ai-labelers")
        card.get_by_label("Constitution, one principle a line").fill("Prefer honest answers.\nPrefer short answers.")
        card.get_by_role("button", name="Save the constitution").click()
        expect(card).to_contain_text("version 2")

        page.get_by_role("link", name="Quality").click()
        section = page.locator("#ai-agreement")
        expect(section).to_contain_text("Judge bot")
        expect(section).to_contain_text("agrees with the people's majority on")
        shot(page, "ai-agreement-quality")
