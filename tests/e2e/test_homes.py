"""Where each role lands, and error pages that keep the way back."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from app.models import Role
from tests.e2e.conftest import Server, log_in, shot
from tests.factories import PASSWORD, add_member, make_labelers, make_project

pytestmark = pytest.mark.browser


class TestHomes:
    def test_an_engineer_lands_on_the_studio_and_a_403_keeps_the_navigation(
        self, server: Server, db: Session, page: Page
    ) -> None:
        (engineer,) = make_labelers(db, 1, role=Role.engineer)
        project = make_project(db, "ranking")
        add_member(db, project, engineer)
        log_in(page, server.url, engineer.email, PASSWORD)
        expect(page.get_by_role("heading", name="Studio")).to_be_visible()
        expect(page.locator("#studio-projects")).to_contain_text(project.name)
        expect(page.get_by_text("not assigned to any project")).to_have_count(0)
        shot(page, "home-engineer")
        page.goto(f"{server.url}/admin/users")
        expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
        nav = page.get_by_role("navigation", name="Main")
        nav.get_by_role("link", name="Training").click()
        expect(page).to_have_url(f"{server.url}/admin/training")
        page.goto(f"{server.url}/no/such/page")
        expect(page.get_by_role("heading", name="Not found")).to_be_visible()
        expect(page.get_by_role("navigation", name="Main")).to_be_visible()
        shot(page, "error-404-engineer")
