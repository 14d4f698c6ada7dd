"""One consistent, read-only view of the database for the length of an export.

PostgreSQL: a REPEATABLE READ, READ ONLY transaction — every query of the
export sees the database as of its first statement.

SQLite: the app's engine opens every transaction with BEGIN IMMEDIATE, which
takes the write lock and would stop every labeler's submit for the whole
export. Exports get their own engine whose transactions begin DEFERRED: in WAL
mode a reader's snapshot is fixed by its first read and writers carry on
beside it (https://www.sqlite.org/wal.html, "Concurrency").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from app.config import Settings
from app.db import SQLITE_BUSY_TIMEOUT_MS


def _engine(settings: Settings) -> Engine:
    url = settings.database_url
    if not settings.is_sqlite:
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        return create_engine(url, poolclass=NullPool, json_deserializer=orjson.loads)
    engine = create_engine(
        url,
        poolclass=NullPool,
        json_deserializer=orjson.loads,  # the JSON columns of every exported row
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA query_only=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN DEFERRED")

    return engine


@contextmanager
def snapshot_session(settings: Settings) -> Iterator[Session]:
    """A session whose every read comes from the same snapshot; it never writes."""
    engine = _engine(settings)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                conn = conn.execution_options(
                    isolation_level="REPEATABLE READ", postgresql_readonly=True
                )
            session = Session(bind=conn, autoflush=False)
            try:
                yield session
            finally:
                session.rollback()
                session.close()
    finally:
        engine.dispose()
