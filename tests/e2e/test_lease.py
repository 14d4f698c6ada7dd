"""A labeler never loses typed work: the page keeps the task while they type, and when
the task really went to someone else the answer stays on screen, copyable, and is
offered on the next task."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Assignment, AssignmentStatus, Demonstration, utcnow
from tests.e2e.conftest import Server, log_in, shot
from tests.factories import (
    PASSWORD,
    add_member,
    bearer,
    make_demo_item,
    make_labelers,
    make_project,
)

pytestmark = pytest.mark.browser

# About 700 characters, as in the report that lost one.
LONG_REPLY = (
    "Start by measuring what you have: list the tasks, how long each takes and which ones "
    "depend on others. Then order them so that nothing waits on a task that has not started. "
) * 5
LONG_REPLY = LONG_REPLY[:720].strip()


@dataclass(frozen=True)
class Lease:
    public_id: str
    status: AssignmentStatus
    leased_at: datetime
    expires_at: datetime


def _lease_of(db: Session, user_id: int, *, expire: bool = False) -> Lease:
    """The labeler's newest lease as stored now (optionally made to have run out). The
    session's transaction ends here: on SQLite an open one would hold the file's write
    lock the server process then waits for."""
    try:
        query = select(Assignment).where(Assignment.user_id == user_id).order_by(Assignment.id.desc())
        found = db.scalar(query.limit(1).execution_options(populate_existing=True))
        assert found is not None
        if expire:
            found.expires_at = utcnow() - timedelta(seconds=5)
            db.flush()
        lease = Lease(found.public_id, found.status, found.leased_at, found.expires_at)
        db.commit()
        return lease
    except BaseException:
        db.rollback()
        raise


def _next(server: Server, project_public_id: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{server.url}/api/v1/projects/{project_public_id}/next", headers=headers, timeout=10)


class TestTheLeaseIsRenewedWhileTheLabelerTypes:
    def test_a_long_demonstration_typed_past_a_short_lease_is_stored(
        self, server: Server, db: Session, page: Page
    ) -> None:
        alice, bob = make_labelers(db, 2)
        project = make_project(db, "demonstration", lease_seconds=30)
        make_demo_item(db, project)
        add_member(db, project, alice, bob)
        pid, alice_id, bob_headers = project.public_id, alice.id, bearer(db, bob)
        log_in(page, server.url, alice.email, PASSWORD)
        page.goto(f"{server.url}/projects/{project.public_id}/work")
        reply = page.get_by_label("Assistant reply")
        expect(reply).to_be_focused()
        assert len(LONG_REPLY) >= 700
        page.keyboard.type(LONG_REPLY, delay=50)  # ~36 s: longer than the lease
        lease = _lease_of(db, alice_id)
        assert lease.status == AssignmentStatus.active
        assert lease.expires_at - lease.leased_at > timedelta(seconds=40)  # renewed
        # Nobody else can have it: it is still alice's.
        assert _next(server, pid, bob_headers).status_code == 204
        page.keyboard.press("Control+Enter")
        expect(page.locator("#status")).to_contain_text("Saved.")
        stored = db.scalars(select(Demonstration.messages).where(Demonstration.user_id == alice_id)).all()
        assert [m[-1]["content"] for m in stored] == [LONG_REPLY]


class TestATaskThatWentToSomeoneElse:
    def test_the_answer_stays_on_screen_is_copyable_and_reused_on_the_next_task(
        self, server: Server, db: Session, page: Page
    ) -> None:
        alice, bob = make_labelers(db, 2)
        project = make_project(db, "demonstration")
        first = make_demo_item(db, project)
        add_member(db, project, alice, bob)
        pid, alice_id, bob_headers = project.public_id, alice.id, bearer(db, bob)
        first_pid = first.public_id
        page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        log_in(page, server.url, alice.email, PASSWORD)
        page.goto(f"{server.url}/projects/{project.public_id}/work")
        reply = page.get_by_label("Assistant reply")
        expect(reply).to_be_focused()
        page.keyboard.type("A careful reply that took a long time to write.")
        page.wait_for_timeout(400)  # the draft is saved after a short pause
        lost = _lease_of(db, alice_id, expire=True)
        # Expired leases are reclaimed lazily (app/labeling/queue.py): with nothing else
        # open, Bob's next takes Alice's expired slot at once.
        taken = _next(server, pid, bob_headers)
        assert taken.status_code == 200 and taken.json()["item_id"] == first_pid
        second_id = make_demo_item(db, project).id  # the task Alice's answer is reused on

        page.keyboard.press("Control+Enter")
        panel = page.locator("#lost")
        expect(panel).to_contain_text("This task is no longer yours")
        expect(panel).to_contain_text("another labeler has taken it")
        expect(reply).to_have_value("A careful reply that took a long time to write.")
        copy = page.get_by_role("button", name="Copy my answer")
        expect(copy).to_be_focused()
        shot(page, "lease-lost")
        page.keyboard.press("Enter")
        expect(page.locator("#status")).to_contain_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()") == "A careful reply that took a long time to write."
        # The draft of the lost task is never deleted.
        stored = page.evaluate(f"localStorage.getItem('rankwise:draft:{lost.public_id}')")
        assert stored is not None and "took a long time" in stored

        page.keyboard.press("Tab")
        expect(page.get_by_role("button", name="Go to the next task")).to_be_focused()
        page.keyboard.press("Enter")
        kept = page.locator("#kept")
        expect(kept).to_contain_text("A careful reply that took a long time to write.")
        expect(reply).to_have_value("")
        shot(page, "lease-kept")
        page.get_by_role("button", name="Use it for this task").click()
        expect(reply).to_have_value("A careful reply that took a long time to write.")
        expect(kept).to_be_hidden()
        page.keyboard.press("Control+Enter")
        expect(page.locator("#status")).to_contain_text("Saved.")
        stored = db.execute(select(Demonstration.item_id, Demonstration.messages).where(Demonstration.user_id == alice_id)).all()
        assert [(item_id, m[-1]["content"]) for item_id, m in stored] == [
            (second_id, "A careful reply that took a long time to write.")
        ]

    def test_a_renewal_that_finds_the_task_gone_keeps_the_answer_at_once(
        self, server: Server, db: Session, page: Page
    ) -> None:
        alice, bob = make_labelers(db, 2)
        project = make_project(db, "demonstration")
        make_demo_item(db, project)
        add_member(db, project, alice, bob)
        pid, alice_id, bob_headers = project.public_id, alice.id, bearer(db, bob)
        log_in(page, server.url, alice.email, PASSWORD)
        page.clock.install()  # the page's clock, moved on below instead of waiting
        page.goto(f"{server.url}/projects/{pid}/work")
        reply = page.get_by_label("Assistant reply")
        expect(reply).to_be_focused()
        page.keyboard.type("Half a reply")
        # Alice stops for 25 minutes (no renewal while idle); her lease runs out on the
        # server and bob gets the item.
        page.clock.fast_forward("25:00")
        _lease_of(db, alice_id, expire=True)
        assert _next(server, pid, bob_headers).status_code == 200
        # She types on: the page tries to keep the task, learns it is gone and says so.
        page.keyboard.type(", and the rest of it.")
        page.clock.fast_forward(2000)
        expect(page.locator("#lost")).to_contain_text("This task is no longer yours")
        expect(reply).to_have_value("Half a reply, and the rest of it.")
        kept = page.evaluate("JSON.parse(localStorage.getItem('rankwise:kept:demonstration'))[0].text")
        assert kept.startswith("Half a reply")


class TestTheWarning:
    def test_an_idle_labeler_is_warned_and_a_key_keeps_the_task(
        self, server: Server, db: Session, page: Page
    ) -> None:
        (alice,) = make_labelers(db, 1)
        project = make_project(db, "demonstration")  # the default 30-minute lease
        make_demo_item(db, project)
        add_member(db, project, alice)
        pid, alice_id = project.public_id, alice.id
        log_in(page, server.url, alice.email, PASSWORD)
        page.clock.install()
        page.goto(f"{server.url}/projects/{pid}/work")
        expect(page.get_by_label("Assistant reply")).to_be_focused()
        before = _lease_of(db, alice_id)
        page.clock.fast_forward("28:30")
        status = page.locator("#status")
        expect(status).to_contain_text("Keep working (any key or click) and it stays yours")
        expect(page.locator("#lease")).to_have_class("lease low")
        shot(page, "lease-warning")
        assert _lease_of(db, alice_id).expires_at == before.expires_at  # idle: not renewed
        page.keyboard.press("Shift")
        page.clock.fast_forward(2000)
        expect(page.locator("#lease")).not_to_have_class("lease low")
        expect(status).to_be_empty()
        assert _lease_of(db, alice_id).expires_at > before.expires_at
