"""The floor: the least a FastAPI app on the same uvicorn can do per judgement.

    uvicorn bench.floor_app:create_app --factory     (FLOOR_DATABASE_URL=sqlite:///… or postgresql://…)

``POST /judge`` parses a JSON object and inserts it as one row, committed before the
answer: on SQLite in WAL mode with ``synchronous=FULL`` (the durability Rankwise
promises), on PostgreSQL with the server's defaults. One connection per worker thread,
no ORM, no auth, no middleware. bench/bench_queue_http.py runs it beside Rankwise and
prints Rankwise's server CPU per judgement as a multiple of this one's.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from typing import Any

from fastapi import Body, FastAPI

DDL = "CREATE TABLE IF NOT EXISTS judgements (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"
PG_DDL = "CREATE TABLE IF NOT EXISTS judgements (id BIGSERIAL PRIMARY KEY, body TEXT NOT NULL)"


def _sqlite(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def create_app() -> FastAPI:
    url = os.environ["FLOOR_DATABASE_URL"]
    local = threading.local()
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        _sqlite(path).execute(DDL)

        def insert(body: str) -> int:
            conn = getattr(local, "conn", None)
            if conn is None:
                conn = local.conn = _sqlite(path)
            conn.execute("BEGIN IMMEDIATE")
            try:
                row_id = conn.execute("INSERT INTO judgements (body) VALUES (?)", (body,)).lastrowid
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return int(row_id or 0)
    else:
        import psycopg

        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn, autocommit=True) as setup:
            setup.execute(PG_DDL)

        def insert(body: str) -> int:
            conn = getattr(local, "conn", None)
            if conn is None:
                conn = local.conn = psycopg.connect(dsn)
            with conn.transaction():
                row = conn.execute("INSERT INTO judgements (body) VALUES (%s) RETURNING id", (body,)).fetchone()
            return int(row[0]) if row else 0

    app = FastAPI()

    @app.get("/ready")
    def ready() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/judge", status_code=201)
    def judge(body: dict[str, Any] = Body()) -> dict[str, int]:
        return {"id": insert(json.dumps(body))}

    return app
