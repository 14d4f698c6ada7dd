"""How `next` latency grows with the project: 10,000 vs 1,000,000 items.

    .venv/bin/python bench/bench_next_scaling.py [--db sqlite|postgres] [--sizes 10000 1000000]

For each size it seeds a ranking project (bulk inserts: executemany on SQLite, COPY
on PostgreSQL), then times `next` (lease + commit, in-process through the service)
for a fresh labeler and for a veteran who has already judged 50,000 items (the case
where a naive NOT EXISTS walk would re-probe every item the veteran has seen).
Prints median and p99 per size and the ratio between the largest and smallest size.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, create_engine, text  # noqa: E402

from app.config import Settings  # noqa: E402
from app.db import make_engine, make_session_factory, unit_of_work  # noqa: E402
from app.labeling import service  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import User  # noqa: E402

PG_ADMIN = os.environ.get("RANKWISE_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SECRET = "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
# A precomputed argon2 hash: benchmark users log in with API tokens, never passwords.
DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG"


def pid() -> str:
    return base64.b32encode(os.urandom(10)).decode().lower()


@contextmanager
def database(kind: str) -> Iterator[Settings]:
    """A fresh, migrated database; dropped afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix="rankwise-bench-"))
    if kind == "sqlite":
        url = f"sqlite:///{tmp / 'bench.db'}"
        name = None
    else:
        name = f"rankwise_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = PG_ADMIN.rpartition("/")[0] + f"/{name}"
    settings = Settings(
        env="test", database_url=url, data_dir=tmp, secret_key=SECRET, start_worker=False, pool_size=60
    )  # type: ignore[call-arg]
    engine = make_engine(settings)
    upgrade(engine)
    engine.dispose()
    try:
        yield settings
    finally:
        if name:
            admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def _bulk(engine: Engine, table: str, columns: list[str], rows: Iterator[tuple[Any, ...]], batch: int = 50_000) -> None:
    if engine.dialect.name == "postgresql":
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in rows:
                    copy.write_row(row)
            raw.commit()
        finally:
            raw.close()
        return
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("BEGIN")
        chunk: list[tuple[Any, ...]] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= batch:
                cur.executemany(sql, chunk)
                chunk.clear()
        if chunk:
            cur.executemany(sql, chunk)
        cur.execute("COMMIT")
    finally:
        raw.close()


def _ts(engine: Engine, value: datetime) -> Any:
    return value.replace(tzinfo=None).isoformat(sep=" ") if engine.dialect.name == "sqlite" else value


def seed_ranking_project(
    engine: Engine, n_items: int, *, k: int = 4, overlap: int = 1, labelers: int = 1, prompt_pool: int = 1000
) -> tuple[str, list[int], list[str]]:
    """A ranking project with n_items items of k completions; returns (project public id,
    labeler user ids, their raw API tokens). Items share a pool of prompts: the queue
    never reads prompts while choosing an item, so the pool size does not matter."""
    now = datetime.now(UTC)
    ts = _ts(engine, now)
    with engine.begin() as conn:
        base = int(conn.execute(text("SELECT coalesce(max(id), 0) FROM work_items")).scalar_one()) + 1
        pbase = int(conn.execute(text("SELECT coalesce(max(id), 0) FROM prompts")).scalar_one()) + 1
        cbase = int(conn.execute(text("SELECT coalesce(max(id), 0) FROM completions")).scalar_one()) + 1
        ubase = int(conn.execute(text("SELECT coalesce(max(id), 0) FROM users")).scalar_one()) + 1
        project_pid = pid()
        conn.execute(
            text(
                "INSERT INTO projects (public_id, created_at, slug, name, task_kind, guidelines, k_min, k_max,"
                " overlap, lease_seconds, flags, categories, margin_scale, safety_labels, multi_turn, sampling,"
                " archived, prompts_per_category) VALUES (:p, :t, :s, :n, 'ranking', 'Rank best first.', 4, 9,"
                " :o, 1800, '[\"hallucination\"]', '[\"open_qa\"]', 'small', false, false, '{}', false, 10)"
            ),
            {"p": project_pid, "t": ts, "s": f"bench-{project_pid}", "n": f"Bench {n_items}", "o": overlap},
        )
        project_id = int(conn.execute(text("SELECT id FROM projects WHERE public_id = :p"), {"p": project_pid}).scalar_one())
    pool = min(prompt_pool, n_items)
    msg = '[{"role": "user", "content": "Explain the difference between TCP and UDP."}]'
    _bulk(engine, "prompts", ["id", "public_id", "created_at", "project_id", "external_id", "messages", "category", "source", "held_out"],
          ((pbase + i, pid(), ts, project_id, f"q{i}", msg, "open_qa", "import", False) for i in range(pool)))
    answer = "TCP is connection-oriented and reliable; UDP sends datagrams without delivery guarantees. " * 3
    _bulk(engine, "completions", ["id", "public_id", "created_at", "prompt_id", "external_id", "content", "model_name", "sampling"],
          ((cbase + i * k + j, pid(), ts, pbase + i, f"c{j}", f"{answer} ({j})", f"model-{j}", "{}") for i in range(pool) for j in range(k)))
    _bulk(engine, "work_items", ["id", "public_id", "created_at", "project_id", "prompt_id", "required", "taken", "done", "is_open", "is_gold"],
          ((base + i, pid(), ts, project_id, pbase + i % pool, overlap, 0, 0, True, False) for i in range(n_items)))
    _bulk(engine, "item_completions", ["item_id", "position", "completion_id"],
          ((base + i, j, cbase + (i % pool) * k + j) for i in range(n_items) for j in range(k)))
    tokens = [f"rw_bench_{uuid.uuid4().hex}" for _ in range(labelers)]
    _bulk(engine, "users", ["id", "public_id", "created_at", "email", "display_name", "password_hash", "role", "is_active"],
          ((ubase + i, pid(), ts, f"bench{ubase + i}@example.org", f"Bench {i}", DUMMY_HASH, "labeler", True) for i in range(labelers)))
    _bulk(engine, "api_tokens", ["public_id", "created_at", "user_id", "name", "token_hash", "last_used_at"],
          ((pid(), ts, ubase + i, "bench", hashlib.sha256(t.encode()).hexdigest(), ts) for i, t in enumerate(tokens)))
    _bulk(engine, "project_members", ["project_id", "user_id", "created_at"],
          ((project_id, ubase + i, ts) for i in range(labelers)))
    return project_pid, [ubase + i for i in range(labelers)], tokens


def seed_veteran(engine: Engine, project_pid: str, user_id: int, n: int) -> None:
    """The labeler has judged the project's first n items (assignments submitted)."""
    with engine.begin() as conn:
        project_id, first = conn.execute(
            text("SELECT p.id, min(w.id) FROM projects p JOIN work_items w ON w.project_id = p.id"
                 " WHERE p.public_id = :p GROUP BY p.id"), {"p": project_pid}
        ).one()
        conn.execute(text("UPDATE work_items SET taken = 1, done = 1 WHERE id >= :a AND id < :b"), {"a": first, "b": first + n})
    ts = _ts(engine, datetime.now(UTC) - timedelta(days=1))
    _bulk(engine, "assignments", ["public_id", "created_at", "item_id", "user_id", "project_id", "status", "leased_at", "expires_at", "shown_order"],
          ((pid(), ts, first + i, user_id, project_id, "submitted", ts, ts, "[]") for i in range(n)))


def time_next(settings: Settings, project_pid: str, user_id: int, calls: int) -> list[float]:
    """Milliseconds per `next` (lease and commit); each lease is skipped afterwards."""
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    with unit_of_work(factory) as db:
        user = db.get(User, user_id)
        assert user is not None
    out = []
    for _ in range(calls):
        t0 = time.perf_counter()
        with unit_of_work(factory) as db:
            task = service.next_task(db, user, project_pid)
        out.append((time.perf_counter() - t0) * 1000)
        assert task is not None
        with unit_of_work(factory) as db:
            service.skip(db, user, task.assignment_id)
    engine.dispose()
    return out


def p99(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.99) - 1)]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--veteran", type=int, default=50_000, help="items the veteran labeler already judged")
    args = ap.parse_args(argv)
    results: dict[int, dict[str, list[float]]] = {}
    for size in args.sizes:
        with database(args.db) as settings:
            engine = make_engine(settings)
            t0 = time.perf_counter()
            project_pid, users, _ = seed_ranking_project(engine, size, overlap=2, labelers=2)
            veteran_n = min(args.veteran, size // 2)
            seed_veteran(engine, project_pid, users[1], veteran_n)
            seeded = time.perf_counter() - t0
            if engine.dialect.name == "postgresql":
                with engine.connect() as conn:
                    conn.execute(text("ANALYZE"))
                    conn.commit()
            engine.dispose()
            fresh = time_next(settings, project_pid, users[0], args.calls)
            veteran = time_next(settings, project_pid, users[1], args.calls)
            results[size] = {"fresh": fresh, "veteran": veteran}
            print(f"{args.db} {size:>9,} items  seeded in {seeded:6.1f} s  "
                  f"fresh labeler: median {statistics.median(fresh):6.2f} ms  p99 {p99(fresh):6.2f} ms  |  "
                  f"veteran ({veteran_n:,} judged): median {statistics.median(veteran):6.2f} ms  p99 {p99(veteran):6.2f} ms",
                  flush=True)
    if len(results) > 1:
        small, large = min(results), max(results)
        for who in ("fresh", "veteran"):
            ratio_med = statistics.median(results[large][who]) / statistics.median(results[small][who])
            ratio_p99 = p99(results[large][who]) / p99(results[small][who])
            print(f"{who}: {large:,} vs {small:,} items: median ratio {ratio_med:.2f}x, p99 ratio {ratio_p99:.2f}x")


if __name__ == "__main__":
    main()
