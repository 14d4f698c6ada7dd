"""An engineer samples a new round of a project from its page: the model from a list
(the project's sampler preselected), which prompts, K and the sampling parameters."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from app.models import Job, JobKind, ModelKind, ModelVersion, Role
from tests.e2e.conftest import Server, log_in, shot
from tests.factories import PASSWORD, add_member, make_labelers, make_project

pytestmark = pytest.mark.browser


class TestSamplePage:
    def test_the_form_starts_a_sample_job_with_what_was_chosen(
        self, server: Server, db: Session, page: Page, tmp_path: Path
    ) -> None:
        (engineer,) = make_labelers(db, 1, role=Role.engineer)
        project = make_project(db, "ranking", k_min=4, k_max=5)
        add_member(db, project, engineer)
        tag = project.public_id[:6]
        ppo = ModelVersion(name=f"ppo-{tag}", kind=ModelKind.local, path=str(tmp_path), info={},
                           retired=False)
        db.add(ppo)
        db.flush()
        project.sampler_model_id = ppo.id
        db.commit()
        log_in(page, server.url, engineer.email, PASSWORD)
        page.get_by_role("link", name="sample a round").first.wait_for()
        page.goto(f"{server.url}/admin/projects/{project.public_id}/sample")
        model = page.get_by_role("combobox", name=re.compile("^Model version"))
        expect(model).to_have_value(ppo.public_id)
        expect(model.locator("option:checked")).to_have_text(f"ppo-{tag} (the project's sampler)")
        page.get_by_role("radio", name="only the held-out prompts").check()
        page.get_by_label("Answers per prompt (K)").fill("5")
        page.get_by_label("Temperature").fill("0.7")
        shot(page, "sample-page")
        page.get_by_role("button", name="Sample").click()
        expect(page.locator("#sample-status")).to_contain_text(re.compile(r"Sample job \w{16}: queued"))
        db.expire_all()
        job = db.query(Job).filter_by(kind=JobKind.sample, project_id=project.id).one()
        assert job.params["model_id"] == ppo.public_id and job.params["prompts"] == "held_out"
        assert job.params["k"] == 5 and job.params["temperature"] == 0.7
