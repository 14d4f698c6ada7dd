"""SIGKILL the server mid-stream: every acknowledged judgement survives, none is doubled.

Clients stream next/submit against a real uvicorn process; the server is killed
while submissions are in flight, restarted, and the clients retry what was in
flight with the same idempotency keys.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.orm import Session

from tests.concurrency.invariants import check_queue_invariants
from tests.concurrency.server import Server
from tests.conftest import TEST_SECRET
from tests.factories import add_member, bearer, make_labelers, make_project, make_ranking_item

CLIENTS = 8


class _Client(threading.Thread):
    def __init__(self, url: str, headers: dict[str, str], pid: str, name: str) -> None:
        super().__init__(daemon=True)
        self.url, self.headers, self.pid, self.name_ = url, headers, pid, name
        self.acked: dict[str, str] = {}  # idempotency key -> judgement id
        self.in_flight: tuple[str, dict[str, Any]] | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        n = 0
        with httpx.Client(base_url=self.url, headers=self.headers, timeout=30) as http:
            try:
                while True:
                    r = http.post(f"/api/v1/projects/{self.pid}/next")
                    if r.status_code == 204:
                        return
                    task = r.json()
                    n += 1
                    key = f"{self.name_}-{n:05d}"
                    body: dict[str, Any] = {
                        "idempotency_key": key,
                        "verdict": "ranked",
                        "ranking": [[c["id"]] for c in task["completions"]],
                    }
                    self.in_flight = (task["assignment_id"], body)
                    r = http.post(f"/api/v1/assignments/{task['assignment_id']}/submit", json=body)
                    assert r.status_code in (200, 201), r.text
                    self.acked[key] = r.json()["judgement_id"]
                    self.in_flight = None
            except httpx.TransportError:
                return  # the server died; in_flight says what to retry
            except BaseException as exc:
                self.error = exc


class TestCrash:
    def test_acknowledged_judgements_survive_a_sigkill(
        self, db: Session, database_url: str, tmp_path: Path
    ) -> None:
        project = make_project(db, "ranking", overlap=2)
        for _ in range(60):
            make_ranking_item(db, project, k=4)
        labelers = make_labelers(db, CLIENTS)
        add_member(db, project, *labelers)
        headers = [bearer(db, u) for u in labelers]
        db.commit()
        server = Server(database_url, tmp_path, TEST_SECRET)
        server.start()
        try:
            clients = [_Client(server.url, h, project.public_id, f"c{i}") for i, h in enumerate(headers)]
            for c in clients:
                c.start()
            deadline = time.monotonic() + 120
            while sum(len(c.acked) for c in clients) < 40 and time.monotonic() < deadline:
                time.sleep(0.01)
            server.kill()
            for c in clients:
                c.join(timeout=60)
            assert all(c.error is None for c in clients), [c.error for c in clients]
            acked_before = sum(len(c.acked) for c in clients)
            assert acked_before >= 40
            server.start()
            retried = 0
            with httpx.Client(base_url=server.url, timeout=30) as http:
                for c, h in zip(clients, headers, strict=True):
                    if c.in_flight is None:
                        continue
                    aid, body = c.in_flight
                    r = http.post(f"/api/v1/assignments/{aid}/submit", json=body, headers=h)
                    assert r.status_code in (200, 201), r.text
                    c.acked[body["idempotency_key"]] = r.json()["judgement_id"]
                    retried += 1
            # Usually several are in flight at the kill; zero is possible and still valid.
            assert retried <= CLIENTS
        finally:
            server.stop()
        acked = {j for c in clients for j in c.acked.values()}
        db.expire_all()
        db.rollback()
        counts = check_queue_invariants(db, project.id, acked)
        assert counts["judgements"] == len(acked)
