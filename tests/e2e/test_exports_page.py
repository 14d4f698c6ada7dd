"""An admin exports a project from the exports page, watches the job, compares two
exports side by side and follows "train from this export" to the training form."""

from __future__ import annotations

import re
import subprocess

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from app.models import Role
from tests.e2e.conftest import Server, log_in, shot
from tests.e2e.test_training import worker  # noqa: F401  (a real `rankwise worker`)
from tests.exports import factories as f
from tests.factories import PASSWORD, make_labelers

pytestmark = pytest.mark.browser


def judged_project(db: Session, items: int = 6) -> str:
    project = f.project(db)
    project.name = f"Exported answers {project.public_id[:6]}"
    people = [f.labeler(db), f.labeler(db)]
    for _ in range(items):
        wi, comps = f.item(db, project, f.prompt(db, project), 4)
        for who in people:
            f.ranking(db, wi, who, [[c] for c in comps])
    db.commit()
    return str(project.public_id)


class TestExportsPage:
    def test_export_twice_compare_and_train_from_an_export(
        self, server: Server, db: Session, page: Page, worker: subprocess.Popen[bytes],  # noqa: F811
    ) -> None:
        (admin,) = make_labelers(db, 1, role=Role.admin)
        pid = judged_project(db)
        log_in(page, server.url, admin.email, PASSWORD)
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Exports").click()
        expect(page).to_have_url(f"{server.url}/admin/exports")
        page.get_by_role("combobox", name=re.compile("^Project")).select_option(pid)
        page.get_by_label("Validation fraction").fill("0")
        page.get_by_role("button", name="Export", exact=True).click()
        status = page.locator("#export-status")
        expect(status).to_contain_text("succeeded", timeout=60_000)
        # Other tests' exports share the server: this project's rows are the ones that count.
        rows = page.locator("#exports-table tbody tr", has_text=f"Exported answers {pid[:6]}")
        expect(rows.first).to_contain_text("rankings.train: 12")

        # A second export: half held out, one Borda-aggregated ranking per item.
        page.get_by_label("Validation fraction").fill("0.5")
        page.get_by_role("combobox", name=re.compile("^Aggregation")).select_option("borda")
        page.get_by_role("button", name="Export", exact=True).click()
        expect(rows).to_have_count(2, timeout=60_000)  # the history reloads once the job is done
        expect(status).to_contain_text("succeeded")
        newest, oldest = rows.nth(0), rows.nth(1)
        # Borda: one ranking per item, split between train and validation by prompt.
        counts = re.search(r"rankings\.train: (\d+), rankings\.validation: (\d+)", newest.inner_text())
        assert counts is not None
        train, held_out = int(counts[1]), int(counts[2])
        assert train + held_out == 6 and held_out >= 1
        expect(newest.locator("code").nth(1)).to_have_text(re.compile(r"^[0-9a-f]{12}…$"))
        expect(newest.get_by_role("link", name="tar.gz")).to_have_attribute("href", re.compile(r"format=tar\.gz$"))
        newest.get_by_role("checkbox").check()
        oldest.get_by_role("checkbox").check()
        page.get_by_role("button", name="Compare the two ticked exports").click()
        table = page.locator("#compare-table")
        expect(table.locator("tr", has_text="rankings.train")).to_contain_text(re.compile(rf"{train}\s*12\s*-{12 - train}"))
        shot(page, "exports-page")

        newest.get_by_role("link", name="train from this").click()
        expect(page).to_have_url(re.compile(r"/admin/training\?export="))
        export_id = page.url.rsplit("=", 1)[-1]
        expect(page.get_by_role("combobox", name=re.compile("^Export"))).to_have_value(export_id)
