"""A labeler reviews Constitutional AI candidates on the demonstration page: uses one and
edits it, or rejects it and writes their own."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.ai_labeling import repository as ai_repo
from app.models import Demonstration, Role
from app.registry import service as registry
from app.sampling.generation import Model
from tests.e2e.conftest import Server, log_in, shot
from tests.factories import PASSWORD, add_member, make_demo_item, make_labelers, make_project

pytestmark = pytest.mark.browser
REVISION = "Paris is the capital of France. (I am sure of this one.)"


def _project_with_candidate(server: Server, db: Session, page: Page) -> tuple[int, int]:
    (admin,) = make_labelers(db, 1, role=Role.admin)
    (labeler,) = make_labelers(db, 1)
    project = make_project(db, "demonstration")
    add_member(db, project, labeler)
    item = make_demo_item(db, project)
    mv = registry.register_endpoint(db, admin, name=f"cai-model-{project.id}", base_url="http://127.0.0.1:9/v1",
                                    endpoint_model="m", api_key=None)
    ai_repo.add_candidate(db, project.id, item.prompt_id, "cai-test", REVISION, Model.of(mv),
                          {"principle": "Be honest.", "initial": "Lyon.", "critique": "Lyon is wrong."})
    db.commit()
    log_in(page, server.url, labeler.email, PASSWORD)
    page.goto(f"{server.url}/projects/{project.public_id}/work")
    return project.id, mv.id


def _demonstration(db: Session, project_id: int) -> Demonstration:
    db.expire_all()
    return db.scalars(select(Demonstration).where(Demonstration.project_id == project_id)).one()


class TestCandidates:
    def test_a_used_and_edited_candidate_is_stored_with_the_model_that_wrote_it(
        self, server: Server, db: Session, page: Page
    ) -> None:
        project_id, model_id = _project_with_candidate(server, db, page)
        candidate = page.get_by_role("article", name="AI-written candidate 1")
        expect(candidate).to_contain_text(REVISION)
        shot(page, "constitutional-candidate")
        candidate.get_by_role("button", name="Use candidate 1").click()
        reply = page.get_by_label("Assistant reply")
        expect(reply).to_have_value(REVISION)
        reply.fill(REVISION.replace(" (I am sure of this one.)", ""))
        page.get_by_role("button", name="Submit demonstration").click()
        expect(page.locator("#status")).to_contain_text("Saved.")
        demo = _demonstration(db, project_id)
        assert demo.messages[-1]["content"] == "Paris is the capital of France."
        assert demo.suggestion_model_id == model_id

    def test_a_rejected_candidate_leaves_a_reply_of_ones_own(self, server: Server, db: Session, page: Page) -> None:
        project_id, _ = _project_with_candidate(server, db, page)
        page.get_by_role("button", name="Reject candidate 1").click()
        expect(page.locator("#candidates")).to_be_hidden()
        page.get_by_label("Assistant reply").fill("The capital of France is Paris.")
        page.get_by_role("button", name="Submit demonstration").click()
        expect(page.locator("#status")).to_contain_text("Saved.")
        demo = _demonstration(db, project_id)
        assert demo.messages[-1]["content"] == "The capital of France is Paris."
        assert demo.suggestion_model_id is None
