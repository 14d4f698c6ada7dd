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
from app.models import (
    Export,
    ExportStatus,
    Job,
    JobKind,
    JobStatus,
    ModelKind,
    ModelVersion,
    Project,
    Role,
    User,
)
from tests.e2e.conftest import SECRET, Server, log_in, shot
from tests.factories import PASSWORD, add_member, make_labelers, make_project
from trainer.run_folder import STATE_FILE, checkpoint_name

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

        page.get_by_label("Steps", exact=True).fill("10")
        page.get_by_label("Seconds per step").fill("0.8")
        page.get_by_role("button", name="Run a check").click()
        page.wait_for_url(re.compile(r"/admin/training/[0-9a-z]{16}$"))

        step = page.locator("#job-step")
        expect(step).to_contain_text(re.compile(r"step [1-6]/10"), timeout=30_000)
        expect(page.locator("figure[data-metric='loss']")).to_be_visible()
        early = page.locator("figure[data-metric='loss'] polyline.line").get_attribute("points") or ""
        expect(page.locator("#job-status")).to_have_text("running")
        shot(page, "training-job-running")
        # The same page, untouched, catches up with the run: more steps, a longer curve.
        expect(step).to_contain_text("step 10/10", timeout=30_000)
        expect(page.locator("#job-status")).to_have_text("succeeded", timeout=15_000)
        late = page.locator("figure[data-metric='loss'] polyline.line").get_attribute("points") or ""
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
        assert len((loss.locator("polyline.line").get_attribute("points") or "").split()) == 2
        expect(page.locator("#job-status")).to_have_text("failed")
        shot(page, "training-job-diverged")


def data_dir(server: Server) -> Path:
    return Path(str(server.sessions.kw["bind"].url.database)).parent


def readable_export(db: Session, tmp_path: Path, engineer: User) -> tuple[Project, Export, ModelVersion]:
    project = make_project(db, "ranking")
    project.name = "Helpful answers"
    add_member(db, project, engineer)
    export = Export(project_id=project.id, status=ExportStatus.succeeded, filters={},
                    counts={"files": {"pairs.train.jsonl": {"records": 12, "sha256": "0" * 64}}},
                    path=str(tmp_path))
    (tmp_path / "base").mkdir()
    base = ModelVersion(name=f"tiny-{project.public_id}", kind=ModelKind.local, path=str(tmp_path / "base"),
                        info={}, retired=False)
    db.add_all([export, base])
    db.commit()
    return project, export, base


class TestTrainingForm:
    def test_project_and_export_come_from_lists_and_the_form_is_the_trainers_config(
        self, server: Server, db: Session, page: Page, tmp_path: Path
    ) -> None:
        (engineer,) = make_labelers(db, 1, role=Role.engineer)
        _project, export, base = readable_export(db, tmp_path, engineer)
        log_in(page, server.url, engineer.email, PASSWORD)
        page.goto(f"{server.url}/admin/training")
        page.get_by_role("combobox", name=re.compile("^Project")).select_option(label="Helpful answers (ranking)")
        exports = page.get_by_role("combobox", name=re.compile("^Export"))
        expect(exports).to_have_value(export.public_id)
        expect(exports.locator("option:checked")).to_contain_text("pairs.train 12")
        page.get_by_role("combobox", name=re.compile("^Stage")).select_option("rm")
        # Fields and help text come from RewardConfig, defaults filled in.
        margin = page.get_by_label(re.compile(r"^margin_scale"))
        expect(margin).to_have_value("export")
        expect(page.locator("#hp-fields")).to_contain_text("Llama 2 margin m(r)")
        expect(page.get_by_label(re.compile(r"^learning_rate"))).to_have_value("0.000009")
        expect(page.get_by_role("combobox", name=re.compile("^Reward model"))).to_be_hidden()
        page.get_by_label(re.compile(r"^epochs")).fill("3")
        margin.select_option("small")
        page.get_by_role("combobox", name=re.compile("^Base model")).select_option(label=f"{base.name} (model)")
        shot(page, "training-form")
        page.get_by_role("button", name="Start").click()
        page.wait_for_url(re.compile(r"/admin/training/[0-9a-z]{16}$"))
        jid = page.url.rsplit("/", 1)[-1]
        db.expire_all()
        job = db.query(Job).filter_by(public_id=jid).one()
        assert job.params["export_id"] == export.public_id and job.params["stage"] == "rm"
        assert job.params["model_id"] == base.public_id
        # Only what was changed is sent; the rest stays the trainer's default.
        assert job.params["hyperparameters"] == {"epochs": 3, "margin_scale": "small"}
        expect(page.locator("#job-status")).to_have_text("queued")

    def test_the_exports_page_link_preselects_the_export(
        self, server: Server, db: Session, page: Page, tmp_path: Path
    ) -> None:
        (engineer,) = make_labelers(db, 1, role=Role.engineer)
        project, export, _base = readable_export(db, tmp_path, engineer)
        log_in(page, server.url, engineer.email, PASSWORD)
        page.goto(f"{server.url}/admin/training?export={export.public_id}")
        expect(page.get_by_role("combobox", name=re.compile("^Project"))).to_have_value(project.public_id)
        expect(page.get_by_role("combobox", name=re.compile("^Export"))).to_have_value(export.public_id)


class TestResume:
    def test_a_cancelled_run_is_resumed_from_its_page_and_the_new_run_continues_its_curve(
        self, server: Server, db: Session, page: Page, tmp_path: Path
    ) -> None:
        (engineer,) = make_labelers(db, 1, role=Role.engineer)
        _project, export, base = readable_export(db, tmp_path, engineer)
        job = service.enqueue(db, JobKind.train, {"stage": "sft", "model_id": base.public_id,
                                                  "export_id": export.public_id,
                                                  "hyperparameters": {"save_steps": 2}})
        job.status, job.worker = JobStatus.running, "e2e-worker"  # as claim() leaves it
        db.commit()
        service.record_progress(db, job.id, "e2e-worker", progress={"step": 5, "total": 20},
                                metrics=[(s, {"loss": 3.0 - 0.1 * s, "learning_rate": 2e-5})
                                         for s in range(1, 6)],
                                log_tail="\x1b[32msft\x1b[0m:  25%|##5 | 5/20 [00:05<00:15]")
        service.mark_cancelled(db, job.id, "e2e-worker", {"step": 5})
        db.commit()
        folder = job_dir_of(server, job.public_id) / "checkpoints" / checkpoint_name(4)
        folder.mkdir(parents=True)
        (folder / STATE_FILE).write_text('{"step": 4}', encoding="utf-8")

        log_in(page, server.url, engineer.email, PASSWORD)
        page.goto(f"{server.url}/admin/training/{job.public_id}")
        expect(page.locator("#job-status")).to_have_text("cancelled")
        expect(page.locator("#job-log")).to_have_text("sft:  25%|##5 | 5/20 [00:05<00:15]")
        loss = page.locator("figure[data-metric='loss']")
        expect(loss.locator("text.axis-label")).to_have_text(["step", "nats per token"])
        expect(loss.locator("polyline.raw")).to_have_count(1)
        shot(page, "training-job-cancelled")
        page.get_by_role("button", name="Resume from the last checkpoint").click()
        page.wait_for_url(lambda url: job.public_id not in url)
        expect(page.get_by_role("link", name=job.public_id)).to_be_visible()
        expect(page.locator("#job-step")).to_contain_text("step 4/20")
        # The new run's curve starts with the old one's points up to the checkpoint.
        expect(page.locator("figure[data-metric='loss'] polyline.line")).to_have_attribute(
            "points", re.compile(r"^(\S+ ){3}\S+$"))
        db.expire_all()
        new = db.query(Job).filter_by(public_id=page.url.rsplit("/", 1)[-1]).one()
        assert new.params["resume_from"] == job.public_id and new.status == JobStatus.queued


def job_dir_of(server: Server, public_id: str) -> Path:
    return job_dir_root(server) / public_id / "model"


def job_dir_root(server: Server) -> Path:
    return data_dir(server) / "jobs"
