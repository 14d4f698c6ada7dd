"""An engineer starts a run from the training page and watches it progress live."""

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

from app.jobs import service
from app.models import JobKind, Role
from tests.e2e.conftest import SECRET, Server, log_in, shot
from tests.factories import PASSWORD, make_labelers

pytestmark = pytest.mark.browser


@pytest.fixture
def worker(server: Server, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real `rankwise worker` on the server's SQLite file, as `rankwise serve` starts one."""
    engine = server.sessions.kw["bind"]
    env = {**os.environ, "RANKWISE_ENV": "test", "RANKWISE_SECRET_KEY": SECRET,
           "RANKWISE_DATABASE_URL": engine.url.render_as_string(hide_password=False),
           "RANKWISE_DATA_DIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "worker", "--poll", "0.2",
                             "--heartbeat", "0.5"], env=env, stdout=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


class TestTrainingPage:
    def test_a_started_run_shows_its_progress_and_curve_updating(
        self, server: Server, db: Session, page: Page, worker: subprocess.Popen[bytes]
    ) -> None:
        (engineer,) = make_labelers(db, 1, role=Role.engineer)
        log_in(page, server.url, engineer.email, PASSWORD)
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Training").click()
        expect(page).to_have_url(f"{server.url}/admin/training")

        page.get_by_label("Steps").fill("10")
        page.get_by_label("Seconds per step").fill("0.8")
        page.get_by_role("button", name="Run a check").click()
        page.wait_for_url(re.compile(r"/admin/training/[0-9a-z]{16}$"))

        step = page.locator("#job-step")
        expect(step).to_contain_text(re.compile(r"step [1-6]/10"), timeout=30_000)
        expect(page.locator("figure[data-metric='loss']")).to_be_visible()
        early = page.locator("figure[data-metric='loss'] polyline").get_attribute("points") or ""
        expect(page.locator("#job-status")).to_have_text("running")
        shot(page, "training-job-running")
        # The same page, untouched, catches up with the run: more steps, a longer curve.
        expect(step).to_contain_text("step 10/10", timeout=30_000)
        expect(page.locator("#job-status")).to_have_text("succeeded", timeout=15_000)
        late = page.locator("figure[data-metric='loss'] polyline").get_attribute("points") or ""
        assert len(late.split()) == 10 > len(early.split()) >= 1
        expect(page.locator("#job-log")).to_contain_text("step 10/10")
        expect(page.locator("#job-cancel")).to_be_hidden()

    def test_a_diverged_run_shows_its_finite_curve_and_where_it_went_nan(
        self, server: Server, db: Session, page: Page
    ) -> None:
        (engineer,) = make_labelers(db, 1, role=Role.engineer)
        job = service.enqueue(db, JobKind.diagnostic, {})
        db.commit()
        claimed = service.claim(db, "e2e-worker")
        assert claimed is not None
        service.record_progress(db, claimed.id, "e2e-worker", progress={"step": 4, "total": 4},
                                metrics=[(1, {"loss": 2.0}), (2, {"loss": 1.5}),
                                         (3, {"loss": float("nan")}), (4, {"loss": float("inf")})])
        service.fail(db, claimed.id, "e2e-worker", "loss is NaN")
        db.commit()
        log_in(page, server.url, engineer.email, PASSWORD)
        page.goto(f"{server.url}/admin/training/{job.public_id}")
        loss = page.locator("figure[data-metric='loss']")
        expect(loss.locator("[data-non-finite]")).to_have_text("Infinity at step 4 (2 points not drawn)")
        assert len((loss.locator("polyline").get_attribute("points") or "").split()) == 2
        expect(page.locator("#job-status")).to_have_text("failed")
        shot(page, "training-job-diverged")
