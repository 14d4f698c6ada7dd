"""An engineer starts a blind evaluation from the registry page."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Job, Role
from app.registry import service as registry
from tests.e2e.conftest import Server, log_in
from tests.factories import PASSWORD, make_labelers, make_project, make_prompt

pytestmark = pytest.mark.browser


class TestEvaluationForm:
    def test_the_form_starts_an_evaluation_and_links_to_its_project_and_job(
        self, server: Server, db: Session, page: Page
    ) -> None:
        (admin,) = make_labelers(db, 1, role=Role.admin)
        for name in ("form-model-one", "form-model-two"):
            registry.register_endpoint(db, admin, name=name, base_url="http://127.0.0.1:9/v1",
                                       endpoint_model=name, api_key=None)
        source = make_project(db, "ranking")
        source.name = "Form source prompts"
        for i in range(3):
            make_prompt(db, source, f"Form question {i}?").held_out = True
        email = admin.email
        # Every SQLite transaction here begins IMMEDIATE: end it before the server writes.
        db.commit()
        log_in(page, server.url, email, PASSWORD)
        page.goto(f"{server.url}/admin/models")

        page.get_by_label("Model A").select_option(label="form-model-one")
        page.get_by_label("Model B").select_option(label="form-model-one")
        page.get_by_label("Prompts from project").select_option(label="Form source prompts")
        page.get_by_role("button", name="Start evaluation").click()
        expect(page.locator("#eval-status")).to_contain_text("same model version")

        page.get_by_label("Model B").select_option(label="form-model-two")
        page.get_by_label("Number of prompts (empty: all)").fill("2")
        page.get_by_role("button", name="Start evaluation").click()
        expect(page.locator("#eval-status")).to_contain_text("Started on 2 prompts")
        job_link = page.get_by_role("link", name="sampling progress")
        job_id = (job_link.get_attribute("href") or "").rsplit("/", 1)[1]
        job = db.scalar(select(Job).where(Job.public_id == job_id))
        assert job is not None and job.kind == "evaluation-sample"
        project_id = job.params["project_id"]
        db.rollback()
        page.locator("#eval-status a").first.click()
        page.wait_for_url(lambda u: f"/admin/projects/{project_id}" in u)
