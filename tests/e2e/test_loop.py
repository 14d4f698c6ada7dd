"""The loop in the browser with the tiny offline model: export from the exports page,
train SFT (cancelled, then resumed from its checkpoint) → reward model → PPO from the
training page, set the PPO model as the ranking project's sampler on the models page, and
sample a new round from the project's page; its items join the queue as round 2.

The labelers' judgements are made with the export factories (ranking through the pages
is covered by tests/e2e/test_labeler.py), so this test spends its time on the loop."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import (
    Completion,
    Job,
    JobKind,
    ModelKind,
    ModelVersion,
    Project,
    Role,
    TaskKind,
    WorkItem,
)
from tests.e2e.conftest import SECRET, Server, log_in, shot
from tests.exports import factories as f
from tests.factories import PASSWORD, make_labelers

pytestmark = pytest.mark.browser

MINUTES = 60_000


@pytest.fixture
def server_worker(server: Server) -> Iterator[subprocess.Popen[bytes]]:
    """A `rankwise worker` on the server's own database and data folder (a resumed run finds
    the cancelled run's checkpoint there), with a grace long enough to load torch."""
    engine = server.sessions.kw["bind"]
    env = {**os.environ, "RANKWISE_ENV": "test", "RANKWISE_SECRET_KEY": SECRET,
           "RANKWISE_DATABASE_URL": engine.url.render_as_string(hide_password=False),
           "RANKWISE_DATA_DIR": str(Path(str(engine.url.database)).parent)}
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "worker", "--poll", "0.2",
                             "--heartbeat", "0.5", "--cancel-grace", "300"], env=env,
                            stdout=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def labelled_projects(db: Session, tag: str) -> tuple[str, str]:
    people = [f.labeler(db), f.labeler(db)]
    demo = f.project(db, TaskKind.demonstration)
    demo.name = f"Demos {tag}"
    for i in range(4):
        f.demonstration(db, demo, f.prompt(db, demo), people[i % 2], reply="A kind answer.")
    ranking = f.project(db, TaskKind.ranking, k_min=4, k_max=4)
    ranking.name = f"Rankings {tag}"
    for _ in range(4):
        wi, comps = f.item(db, ranking, f.prompt(db, ranking), 4)
        f.ranking(db, wi, people[0], [[c] for c in comps])
    db.commit()
    return str(demo.public_id), str(ranking.public_id)


def start_run(page: Page, base: str, stage: str, project: str, name: str, hp: dict[str, str],
              models: dict[str, str], export_now: bool = False) -> None:
    page.goto(f"{base}/admin/training")
    page.get_by_role("combobox", name=re.compile("^Stage")).select_option(stage)
    page.get_by_role("combobox", name=re.compile("^Project")).select_option(label=project)
    if export_now:
        page.get_by_role("checkbox", name=re.compile("^Export the project now")).check()
    else:
        expect(page.get_by_role("combobox", name=re.compile("^Export"))).not_to_have_value("")
    for label, model in models.items():
        page.get_by_role("combobox", name=re.compile(f"^{label}")).select_option(label=model)
    page.get_by_label(re.compile("^Name of the new model")).fill(name)
    for key, value in hp.items():
        page.get_by_role("spinbutton", name=re.compile(f"^{key}( |$)")).fill(value)
    page.get_by_role("button", name="Start").click()
    page.wait_for_url(re.compile(r"/admin/training/[0-9a-z]{16}$"))


class TestTheLoop:
    def test_export_train_resume_sampler_and_a_new_round_from_the_pages(
        self, server: Server, db: Session, page: Page, server_worker: subprocess.Popen[bytes],
        tmp_path: Path,
    ) -> None:
        from trainer.tiny import build_tiny_model

        (admin,) = make_labelers(db, 1, role=Role.admin)
        tag = admin.public_id[:5]
        _demo_id, ranking_id = labelled_projects(db, tag)
        tiny = ModelVersion(name=f"tiny-{tag}", kind=ModelKind.local, retired=False, info={},
                            path=str(build_tiny_model(tmp_path / "tiny")))
        db.add(tiny)
        db.commit()
        base = server.url
        log_in(page, base, admin.email, PASSWORD)

        # Export the rankings from the exports page.
        page.goto(f"{base}/admin/exports")
        page.get_by_role("combobox", name=re.compile("^Project")).select_option(ranking_id)
        page.get_by_label("Validation fraction").fill("0")
        page.get_by_role("button", name="Export", exact=True).click()
        expect(page.locator("#export-status")).to_contain_text("succeeded", timeout=MINUTES)

        # SFT on the demonstrations ("export now"), cancelled, then resumed.
        small = {"epochs": "2", "batch_size": "2", "max_length": "64", "learning_rate": "0.001"}
        start_run(page, base, "sft", f"Demos {tag} (demonstration)", f"sft-{tag}", small,
                  {"Base model": f"tiny-{tag} (model)"}, export_now=True)
        expect(page.locator("#job-status")).to_have_text("running", timeout=2 * MINUTES)
        page.get_by_role("button", name="Cancel").click()
        expect(page.locator("#job-status")).to_have_text("cancelled", timeout=3 * MINUTES)
        cancelled_url = page.url
        page.get_by_role("button", name="Resume from the last checkpoint").click()
        page.wait_for_url(lambda url: url != cancelled_url)
        expect(page.locator("#job-status")).to_have_text("succeeded", timeout=4 * MINUTES)
        expect(page.locator("#job-step")).to_contain_text(re.compile(r"step (\d+)/\1$"))
        expect(page.locator("figure[data-metric='loss'] svg")).to_be_visible()
        shot(page, "loop-sft-resumed")

        # The reward model on the exported rankings, then PPO from both.
        start_run(page, base, "rm", f"Rankings {tag} (ranking)", f"rm-{tag}", small,
                  {"Base model": f"tiny-{tag} (model)"})
        expect(page.locator("#job-status")).to_have_text("succeeded", timeout=4 * MINUTES)
        start_run(page, base, "ppo", f"Rankings {tag} (ranking)", f"ppo-{tag}",
                  {"steps": "1", "rollout_batch_size": "4", "batch_size": "4", "ppo_epochs": "1",
                   "max_new_tokens": "4", "max_length": "64"},
                  {"Base model": f"sft-{tag} (sft)", "Reward model": f"rm-{tag} (reward_model)"})
        expect(page.locator("#job-status")).to_have_text("succeeded", timeout=4 * MINUTES)

        # The PPO model samples the ranking project's next round.
        page.goto(f"{base}/admin/models")
        page.get_by_role("combobox", name=re.compile("^Use")).select_option(label=f"ppo-{tag}")
        page.get_by_role("combobox", name=re.compile("^as the sampler")).select_option(
            label=f"Rankings {tag} (no sampler yet)")
        page.get_by_role("button", name="Use as sampler").click()
        expect(page.locator("#sampler-status")).to_contain_text("now samples")
        page.goto(f"{base}/admin/projects/{ranking_id}/sample")
        page.get_by_role("radio", name="every prompt (not the held-out ones)").check()
        page.get_by_label("At most this many prompts").fill("2")
        page.get_by_label("Max new tokens").fill("4")
        page.get_by_role("button", name="Sample").click()
        expect(page.locator("#sample-status")).to_contain_text("2 new items in the queue",
                                                               timeout=4 * MINUTES)
        shot(page, "loop-sampled")

        db.expire_all()
        ppo = db.scalars(select(ModelVersion).where(ModelVersion.name == f"ppo-{tag}")).one()
        sft = db.scalars(select(ModelVersion).where(ModelVersion.name == f"sft-{tag}")).one()
        assert ppo.parent_id == sft.id
        resumed = db.scalars(select(Job).where(Job.kind == JobKind.train,
                                               Job.public_id == sft.info["job"])).one()
        assert resumed.params["resume_from"] and resumed.params["resume"] is True
        new_items = db.scalars(select(WorkItem).join(Project, Project.id == WorkItem.project_id)
                               .where(Project.public_id == ranking_id, WorkItem.round == 2)).all()
        assert len(new_items) == 2
        made = db.scalars(select(Completion).where(Completion.model_version_id == ppo.id)).all()
        assert len(made) == 8
