"""An admin runs a project from the browser; a hostile prompt stays inert text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session

from app.models import Role
from tests.e2e.conftest import LAPTOP, Server, log_in, shot
from tests.factories import PASSWORD, make_labelers

pytestmark = pytest.mark.browser

HOSTILE = 'Explain this: <script>window.__pwned = 1</script><img src="x" onerror="window.__pwned = 2">'


def _write(tmp: Path, name: str, lines: list[str]) -> Path:
    path = tmp / name
    path.write_text("\n".join(lines) + "\n")
    return path


class TestAdminRunsAProject:
    def test_create_import_assign_then_browse_the_new_judgement(
        self, server: Server, db: Session, page: Page, browser: Browser, tmp_path: Path
    ) -> None:
        (admin,) = make_labelers(db, 1, role=Role.admin)
        (labeler,) = make_labelers(db, 1)
        log_in(page, server.url, admin.email, PASSWORD)
        expect(page).to_have_url(f"{server.url}/admin")
        shot(page, "admin-dashboard")

        # Create a demonstration project; the guidelines preview renders as one types.
        page.goto(f"{server.url}/admin/projects")
        page.get_by_role("button", name="New project").click()
        page.get_by_label("Name", exact=True).fill("Helpful demos")
        page.get_by_label("Task kind").select_option("demonstration")
        page.get_by_label("Guidelines").fill("# Be helpful\n\n| do | don't |\n|---|---|\n| cite | guess |")
        expect(page.locator("#pf-preview h1")).to_have_text("Be helpful")
        expect(page.locator("#pf-preview table")).to_be_visible()
        shot(page, "admin-new-project")
        page.get_by_role("button", name="Create project").click()
        page.wait_for_url(lambda u: "/admin/projects/" in u)
        pid = page.url.rstrip("/").rsplit("/", 1)[1]

        # Assign the labeler.
        page.get_by_label(labeler.email).check()
        page.get_by_role("button", name="Save labelers").click()
        expect(page.locator("#members-status")).to_contain_text("1 person works")
        shot(page, "admin-project-edit")

        # Import: a bad file is reported line by line and cannot be stored ...
        page.get_by_role("link", name="Import").click()
        bad = _write(tmp_path, "bad.jsonl", [json.dumps({"text": "fine"}), "{not json", json.dumps({"text": ""})])
        page.get_by_label("File (.jsonl or .csv)").set_input_files(str(bad))
        page.get_by_role("button", name="Check the file").click()
        expect(page.locator("#error-table tbody tr")).to_have_count(2)
        expect(page.locator("#error-table tbody tr").first.locator("td").first).to_have_text("2")
        expect(page.locator("#confirm")).to_be_disabled()
        shot(page, "admin-import-errors")
        # ... a good one is checked, then stored on confirmation.
        good = _write(tmp_path, "good.jsonl", [json.dumps({"id": "h1", "text": HOSTILE}), json.dumps({"id": "h2", "text": "Plan a picnic."})])
        page.get_by_label("File (.jsonl or .csv)").set_input_files(str(good))
        page.get_by_role("button", name="Check the file").click()
        expect(page.locator("#import-status")).to_contain_text("Nothing is stored yet")
        page.get_by_role("button", name="Store 2 records").click()
        expect(page.locator("#import-status")).to_contain_text("Stored 2 records")

        # The labeler answers the hostile prompt: it shows as text and runs nothing.
        context = browser.new_context(viewport=LAPTOP)
        lp = context.new_page()
        log_in(lp, server.url, labeler.email, PASSWORD)
        expect(lp.get_by_role("heading", name="Helpful demos")).to_be_visible()
        shot(lp, "home")
        lp.get_by_role("link", name="Start working").click()
        expect(lp.locator("#conversation")).to_contain_text("<script>window.__pwned = 1</script>")
        assert lp.evaluate("window.__pwned === undefined")
        assert lp.locator("#conversation script, #conversation img").count() == 0
        lp.get_by_label("Assistant reply").fill("I will not run that script; here is what it does.")
        lp.get_by_role("button", name="Submit demonstration").click()
        expect(lp.locator("#status")).to_contain_text("Saved")
        context.close()

        # The admin finds the judgement in the browse page and opens it.
        page.goto(f"{server.url}/admin/projects/{pid}/judgements")
        row = page.locator("#j-table tbody tr")
        expect(row).to_have_count(1)
        expect(row).to_contain_text(labeler.display_name)
        expect(row.locator("td").nth(3)).to_have_text("1")  # the round: the prompt's first
        shot(page, "admin-judgements")
        page.get_by_role("link", name="Open").click()
        expect(page.locator("#jd-answer")).to_contain_text("I will not run that script")
        expect(page.locator("#jd-prompt")).to_contain_text("<script>window.__pwned = 1</script>")
        assert page.evaluate("window.__pwned === undefined")
        shot(page, "admin-judgement")

        page.goto(f"{server.url}/admin/projects/{pid}/progress")
        expect(page.locator("#chart-items svg")).to_be_visible()
        expect(page.locator("#chart-days svg rect")).to_have_count(1)
        expect(page.locator("#p-judgements")).to_have_text("1")
        shot(page, "admin-progress")


class TestAdminManagesUsers:
    def test_add_a_user_change_role_and_issue_a_token(self, server: Server, db: Session, page: Page) -> None:
        (admin,) = make_labelers(db, 1, role=Role.admin)
        log_in(page, server.url, admin.email, PASSWORD)
        page.goto(f"{server.url}/admin/users")
        page.get_by_label("E-mail").fill("new.person@example.org")
        page.get_by_label("Display name").fill("New Person")
        page.get_by_role("button", name="Add user").click()
        expect(page.locator("#cu-status .secret")).to_be_visible()
        row = page.locator("#users-table tbody tr", has_text="new.person@example.org")
        row.get_by_label("Role of New Person").select_option("engineer")
        expect(page.locator("#users-status")).to_contain_text("New Person is now engineer")
        row = page.locator("#users-table tbody tr", has_text="new.person@example.org")
        row.get_by_role("button", name="API tokens").click()
        page.get_by_label("New token name").fill("nightly export")
        page.get_by_role("button", name="Create token").click()
        expect(page.locator("#token-status .secret")).to_contain_text("rw_")
        shot(page, "admin-users")
