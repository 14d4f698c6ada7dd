"""What one labeling call costs the database: statements, transactions and pool checkouts.

    .venv/bin/python bench/bench_statements.py [--db sqlite|postgres] [--show]

Runs the app in process (Starlette's TestClient, the full middleware and dependency
stack) on a fresh database with a small ranking project, and counts, for one
``submit?next=true``, one ``next`` and one plain ``submit`` (each the median of a few
calls after a warm-up), the SQL statements sent, the transactions begun and committed,
and the connections checked out of the pool. ``--show`` prints the statements of the
last call of each kind.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from bench_next_scaling import database, seed_ranking_project  # noqa: E402

from app.db import make_engine  # noqa: E402
from app.main import create_app  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--calls", type=int, default=5)
    ap.add_argument("--show", action="store_true")
    args = ap.parse_args(argv)
    with database(args.db) as settings:
        seed_engine = make_engine(settings)
        project, _, tokens = seed_ranking_project(seed_engine, 200, overlap=2, labelers=1)
        seed_engine.dispose()
        app = create_app(settings.model_copy(update={"submit_rate_per_minute": 100_000}))
        engine = app.state.engine
        counts: Counter[str] = Counter()
        statements: list[str] = []

        @event.listens_for(engine, "before_cursor_execute")
        def _statement(conn: Any, cursor: Any, sql: str, *rest: Any) -> None:
            counts["statements"] += 1
            statements.append(" ".join(sql.split())[:160])

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            counts["begins"] += 1

        @event.listens_for(engine, "commit")
        def _commit(conn: Any) -> None:
            counts["commits"] += 1

        @event.listens_for(engine, "checkout")
        def _checkout(*_: Any) -> None:
            counts["checkouts"] += 1

        headers = {"Authorization": f"Bearer {tokens[0]}"}
        seen: dict[str, list[Counter[str]]] = {"submit?next": [], "next": [], "submit": []}
        shown: dict[str, list[str]] = {}
        n = 0

        def call(name: str, path: str, body: dict[str, Any] | None = None) -> Any:
            counts.clear()
            statements.clear()
            r = client.post(path, json=body, headers=headers)
            assert r.status_code in (200, 201), r.text
            seen[name].append(Counter(counts))
            shown[name] = list(statements)
            return r.json()

        def answer(task: dict[str, Any]) -> dict[str, Any]:
            nonlocal n
            n += 1
            ids = [c["id"] for c in task["completions"]]
            return {"idempotency_key": f"key-{n:06d}", "seconds": 2.0, "verdict": "ranked",
                    "ranking": [[ids[0]], [ids[1]], ids[2:]]}

        with TestClient(app) as client:
            task = call("next", f"/api/v1/projects/{project}/next")
            for _ in range(args.calls + 1):
                task = call("submit?next", f"/api/v1/assignments/{task['assignment_id']}/submit?next=true",
                            answer(task))["next"]
            for _ in range(args.calls + 1):
                call("submit", f"/api/v1/assignments/{task['assignment_id']}/submit", answer(task))
                task = call("next", f"/api/v1/projects/{project}/next")
        engine.dispose()
    print(f"{args.db}: per call (median of {args.calls} after a warm-up)")
    for name, runs in seen.items():
        runs = runs[1:]
        figures = "  ".join(f"{k} {statistics.median(r[k] for r in runs):g}"
                            for k in ("statements", "begins", "commits", "checkouts"))
        print(f"  {name:<12} {figures}")
        if args.show:
            for s in shown[name]:
                print("      ", s)


if __name__ == "__main__":
    main()
