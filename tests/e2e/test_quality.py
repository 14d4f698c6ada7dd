"""Quality control in the browser: a reviewer resolves a disagreement, the labeler reads
the feedback, and the quality page draws its charts."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session

from app.models import MarginLabel, PairwiseJudgement, Role, TaskKind, Winner, utcnow
from tests.e2e.conftest import LAPTOP, Server, log_in, shot
from tests.factories import PASSWORD, make_labelers
from tests.quality import builders as b
from tests.quality.simulate import Labeler, simulate

pytestmark = pytest.mark.browser


class TestReviewer:
    def test_a_reviewer_rejects_the_odd_judgement_out_and_its_labeler_reads_why(
        self, server: Server, db: Session, page: Page, browser: Browser
    ) -> None:
        p = b.project(db, TaskKind.pairwise, overlap=3, name="Helpfulness A/B")
        wi, comps = b.item(db, p, [200, 80])
        ann, bea, bob = make_labelers(db, 3)
        (reviewer,) = make_labelers(db, 1, role=Role.reviewer)
        b.members(db, p, ann, bea, bob, reviewer)
        b.pairwise(db, wi, ann, comps, True, when=utcnow())
        b.pairwise(db, wi, bea, comps, True, margin=MarginLabel.significantly_better, when=utcnow())
        b.pairwise(db, wi, bob, comps, False, margin=MarginLabel.slightly_better, when=utcnow())
        db.commit()

        log_in(page, server.url, reviewer.email, PASSWORD)
        page.get_by_role("link", name="Review", exact=True).click()
        page.get_by_role("link", name="Disputed items").click()
        expect(page.locator("#rq-table tbody tr")).to_have_count(1)
        shot(page, "review-queue")
        page.get_by_role("link", name="Review", exact=True).last.click()
        cards = page.locator(".review-card")
        expect(cards).to_have_count(3)
        odd = page.get_by_role("article", name=f"Judgement by {bob.display_name}")
        expect(odd).to_have_class("review-card disagrees")
        expect(odd).to_contain_text("Differs from the majority on 1 of 1 pairs")
        expect(odd.locator(".chip.off")).to_have_count(2)
        expect(page.get_by_role("article", name=f"Judgement by {ann.display_name}")).to_have_class("review-card")
        shot(page, "review-item")

        odd.get_by_label("Reason").fill("B misses the second half of the question.")
        odd.get_by_role("button", name=f"Reject {bob.display_name}'s judgement").click()
        expect(page.locator("#rv-status")).to_contain_text("judgement rejected")
        expect(odd.locator(".badge").first).to_contain_text(f"rejected by {reviewer.display_name}")
        page.get_by_role("article", name=f"Judgement by {ann.display_name}").get_by_role(
            "button", name=f"Accept {ann.display_name}'s judgement").click()
        expect(page.get_by_role("article", name=f"Judgement by {ann.display_name}").locator(".badge").first).to_contain_text("accepted")
        shot(page, "review-item-resolved")

        context = browser.new_context(viewport=LAPTOP)
        lp = context.new_page()
        log_in(lp, server.url, bob.email, PASSWORD)
        lp.get_by_role("link", name="My judgements").click()
        row = lp.locator("#h-table tbody tr")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("rejected")
        expect(row).to_contain_text("B misses the second half of the question.")
        shot(lp, "labeler-history")
        context.close()


class TestQualityPage:
    def test_the_quality_page_draws_its_charts_and_sorts_its_table(
        self, server: Server, db: Session, page: Page
    ) -> None:
        people = [Labeler("Accurate Ada", "accurate", accuracy=0.92), Labeler("Noisy Ned", "accurate", accuracy=0.65),
                  Labeler("Leftie Lou", "position", accuracy=0.92, bias=0.8), Labeler("Speedy Sam", "fast", accuracy=0.6),
                  Labeler("Careful Cy", "accurate", accuracy=0.9)]
        world = b.build(db, simulate(people, kind="pairwise", items=120, gold=30, seed=7))
        (admin,) = make_labelers(db, 1, role=Role.admin)
        log_in(page, server.url, admin.email, PASSWORD)
        page.goto(f"{server.url}/admin/projects/{world.project.public_id}")
        page.get_by_role("link", name="Quality").click()
        expect(page.locator("#q-judgements")).to_have_text(str(5 * 150))
        expect(page.locator("#chart-time svg polyline")).to_have_count(1)
        expect(page.locator("#chart-time svg polygon.band")).to_have_count(1)
        expect(page.locator("#chart-heat svg rect.heat")).to_have_count(25)
        expect(page.locator("#chart-position svg circle")).to_have_count(5)
        expect(page.locator("#chart-gold svg line.reference")).to_have_count(1)
        rows = page.locator("#labeler-table tbody tr")
        expect(rows).to_have_count(5)
        expect(rows.filter(has_text="Leftie Lou")).to_contain_text("position bias")
        expect(rows.filter(has_text="Speedy Sam")).to_contain_text("too fast to have read")
        expect(rows.filter(has_text="Accurate Ada")).to_contain_text("—")
        shot(page, "quality-page")

        page.get_by_role("button", name="Median seconds").click()
        expect(page.locator('#labeler-table th[data-key="seconds"]')).to_have_attribute("aria-sort", "ascending")
        expect(rows.first.locator("th")).to_contain_text("Speedy Sam")
        page.get_by_role("button", name="First shown wins").click()
        page.get_by_role("button", name="First shown wins").click()
        expect(rows.first.locator("th")).to_contain_text("Leftie Lou")

        rows.filter(has_text="Leftie Lou").get_by_role("button", name="Details of Leftie Lou").click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_contain_text("Gold items answered wrongly")
        expect(dialog.locator("tbody tr").first).to_contain_text("above")
        shot(page, "quality-labeler")
        dialog.get_by_label("Reason").fill("Always picks the left answer")
        dialog.get_by_role("button", name="Pause").click()
        expect(page.locator("#ld-status")).to_contain_text("Leftie Lou is now paused")
        page.get_by_role("button", name="Close").click()
        expect(rows.filter(has_text="Leftie Lou")).to_contain_text("paused")

        page.locator("#disputed-table").get_by_role("link", name="Review").first.click()
        expect(page.locator(".review-card")).to_have_count(5)


class TestLabelerCorrects:
    def test_a_labeler_corrects_a_comparison_from_their_history_by_keyboard(
        self, server: Server, db: Session, page: Page
    ) -> None:
        p = b.project(db, TaskKind.pairwise, overlap=1)
        wi, comps = b.item(db, p, [50, 90])
        (cat,) = make_labelers(db, 1)
        b.members(db, p, cat)
        b.settings(db, p, correction_minutes=30)
        j = b.pairwise(db, wi, cat, comps, True, shown=[1, 0], when=utcnow())  # A on screen was canonical B
        db.commit()
        log_in(page, server.url, cat.email, PASSWORD)
        page.get_by_role("link", name="My judgements").click()
        field = page.get_by_label("Corrected answer")
        expect(field).to_have_value("B better")  # canonical A, shown second
        field.fill("A slightly better")
        field.press("Enter")
        expect(page.locator("#h-status")).to_contain_text("Corrected")
        expect(page.locator("#h-table tbody tr")).to_contain_text("corrected 1×")
        shot(page, "labeler-history-corrected")
        db.expire_all()
        stored = db.get(PairwiseJudgement, j.id)
        assert stored is not None and stored.winner == Winner.b and stored.margin_label == MarginLabel.slightly_better
