"""The model registry as an engineer reads it: lineage (model ← run ← export), and the
sampler of a project chosen from lists, not typed as an id."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from app.models import Export, ExportStatus, ModelKind, ModelVersion, Project, Role
from tests.e2e.conftest import Server, log_in, shot
from tests.factories import PASSWORD, add_member, make_labelers, make_project

pytestmark = pytest.mark.browser


class TestModelsPage:
    def test_lineage_is_shown_and_a_model_becomes_a_projects_sampler_from_lists(
        self, server: Server, db: Session, page: Page, tmp_path: Path
    ) -> None:
        (engineer,) = make_labelers(db, 1, role=Role.engineer)
        project = make_project(db, "ranking")
        project.name = "Next round"
        add_member(db, project, engineer)
        tag = project.public_id[:6]
        base = ModelVersion(name=f"base-{tag}", kind=ModelKind.local, path=str(tmp_path), info={},
                            retired=False)
        export = Export(project_id=project.id, status=ExportStatus.succeeded, filters={},
                        counts={"files": {"rankings.train.jsonl": {"records": 12, "sha256": "0" * 64}}},
                        path=str(tmp_path))
        db.add_all([base, export])
        db.flush()
        ppo = ModelVersion(name=f"ppo-{tag}", kind=ModelKind.local, path=str(tmp_path),
                           parent_id=base.id, retired=False,
                           info={"job": "runjob000000000a", "export": export.public_id,
                                 "stage": "ppo"})
        db.add(ppo)
        db.commit()
        log_in(page, server.url, engineer.email, PASSWORD)
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Models").click()
        row = page.locator(f"#models-table tr[data-model='{ppo.public_id}']")
        expect(row).to_contain_text(f"ppo-{tag}")
        cells = row.locator("td")
        expect(cells.nth(1)).to_have_text("ppo")
        expect(cells.nth(2)).to_have_text(f"base-{tag}")
        expect(cells.nth(3).get_by_role("link")).to_have_attribute("href", "/admin/training/runjob000000000a")
        expect(cells.nth(4)).to_have_text(export.public_id)
        used = page.locator("#exports-used tr", has_text=export.public_id)
        expect(used).to_contain_text(f"ppo-{tag}")
        # export ← judgements: the project and the records the model was trained on.
        expect(used.locator("[data-export-records]")).to_have_text("Next round · rankings.train 12")

        page.get_by_role("combobox", name=re.compile("^Use")).select_option(label=f"ppo-{tag}")
        page.get_by_role("combobox", name=re.compile("^as the sampler")).select_option(
            label="Next round (no sampler yet)")
        page.get_by_role("button", name="Use as sampler").click()
        expect(page.locator("#sampler-status")).to_have_text(
            f"ppo-{tag} now samples the next rounds of Next round.")
        expect(cells.nth(6)).to_have_text("sampler of Next round")
        expect(page.get_by_role("combobox", name=re.compile("^as the sampler")).locator(
            "option:checked")).to_have_text(f"Next round (sampler: ppo-{tag})")
        shot(page, "models-page")
        db.expire_all()
        assert db.get(Project, project.id).sampler_model_id == ppo.id  # type: ignore[union-attr]
