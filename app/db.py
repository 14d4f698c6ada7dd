"""Engine, SQLite pragmas and the per-request unit of work.

SQLite runs in WAL mode with ``synchronous=FULL`` (an acknowledged judgement
survives a power cut) and foreign keys on. Its write discipline:

- **One writer at a time, handed over at once.** Every write transaction begins
  with ``BEGIN IMMEDIATE`` (a deferred one that reads, then writes can fail with
  "database is locked" without waiting) after taking this process's writer lock
  (``_WriterLock``), which the commit or rollback releases. Other processes
  (``rankwise serve --workers N``) coordinate through SQLite's busy timeout.
- **Reads take no lock.** The hot labeling path (``read_phase``) reads and
  validates with autocommit statements, each its own WAL snapshot; whatever it saw
  that can change is re-checked inside the write.
- **Writes are short and commit where they ran.** ``write_phase`` runs only the
  inserts and updates in ``BEGIN IMMEDIATE … COMMIT`` on the read phase's own
  connection, in the thread that holds the lock, then carries on with lock-free
  reads: the lock is held for a few statements and one fsync, never across a
  thread hop. A request is one connection and at most one write transaction.
- Other routes keep the plain unit of work: one ``BEGIN IMMEDIATE`` transaction
  from the first statement, committed when the route returns (app/deps.py); the
  edge middleware keeps the requests in flight below the thread pool, so such a
  route can always find a thread to commit in.

On PostgreSQL ``read_phase`` and ``write_phase`` are no-ops: the request is one
transaction under the unit of work, with row locks; transient aborts (deadlock,
serialization) are retried (``retry_transient``).
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Connection execution option: run this transaction's statements without BEGIN (each
# read is its own snapshot) and without taking the writer lock.
READ_PHASE = "rankwise_read_phase"


def make_engine(settings: Settings) -> Engine:
    url = settings.database_url
    if url.startswith("sqlite"):
        return _sqlite_engine(url, settings)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(
        url, pool_size=settings.pool_size, max_overflow=settings.pool_size, pool_pre_ping=True
    )


def _sqlite_engine(url: str, settings: Settings) -> Engine:
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        pool_size=settings.pool_size,
        max_overflow=settings.pool_size,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide where transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.close()

    writer = _WriterLock(SQLITE_BUSY_TIMEOUT_MS / 1000)
    _WRITERS[engine] = writer

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(READ_PHASE):
            return
        dbapi_conn = conn.connection.dbapi_connection
        writer.acquire(dbapi_conn)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            writer.release(dbapi_conn)
            raise

    dialect: Any = engine.dialect
    for name in ("do_commit", "do_rollback"):
        original = getattr(dialect, name)

        def _end(dbapi_conn: Any, _original: Any = original) -> None:
            try:
                _original(dbapi_conn)
            finally:
                writer.release(dbapi_conn)

        setattr(dialect, name, _end)

    # A connection that leaves the pool's hands without a commit or rollback (closed,
    # invalidated) must not keep every other writer waiting.
    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_conn: Any, _record: Any) -> None:
        writer.release(dbapi_conn)

    @event.listens_for(engine, "invalidate")
    def _on_invalidate(dbapi_conn: Any, _record: Any, _exc: Any) -> None:
        writer.release(dbapi_conn)

    return engine


class _WriterLock:
    """One write transaction at a time within this process, handed over at once.

    SQLite's busy handler polls with sleeps that grow to 100 ms, so under load a
    waiting transaction oversleeps the moment the lock is free; queueing in-process
    writers on a lock wakes the next one immediately. Other processes still
    coordinate through the busy timeout.
    """

    def __init__(self, timeout: float) -> None:
        self._lock = threading.Lock()
        self._holder: Any = None
        self._timeout = timeout

    def acquire(self, dbapi_conn: Any) -> None:
        dbapi_conn = getattr(dbapi_conn, "dbapi_connection", dbapi_conn)  # unwrap the pool proxy
        if self._holder is dbapi_conn:
            return
        if not self._lock.acquire(timeout=self._timeout):
            raise sqlite3.OperationalError("database is locked (waited for another writer)")
        self._holder = dbapi_conn

    def release(self, dbapi_conn: Any) -> None:
        dbapi_conn = getattr(dbapi_conn, "dbapi_connection", dbapi_conn)
        if self._holder is dbapi_conn:
            self._holder = None
            self._lock.release()


# Each SQLite engine's writer lock, for write phases that begin their transaction themselves.
_WRITERS: weakref.WeakKeyDictionary[Engine, _WriterLock] = weakref.WeakKeyDictionary()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False, autoflush=False)


def _is_sqlite(db: Session) -> bool:
    return db.get_bind().dialect.name == "sqlite"


def read_phase(db: Session) -> None:
    """Run what this session does next as lock-free reads (SQLite), until ``write_phase``.

    Must be called before the session's transaction starts (the first statement of the
    request); later it is a no-op and the session keeps its write transaction.
    """
    if _is_sqlite(db) and not db.in_transaction():
        db.connection(execution_options={READ_PHASE: True})


def in_read_phase(db: Session) -> bool:
    return db.in_transaction() and bool(db.connection().get_execution_options().get(READ_PHASE))


@contextmanager
def write_phase(db: Session) -> Iterator[None]:
    """The block's statements run in one write transaction, committed when it ends.

    SQLite, after ``read_phase``: on the read phase's own connection (no new checkout,
    no new session transaction), wait for the writer lock, ``BEGIN IMMEDIATE``, run the
    block, ``COMMIT`` — here, in the thread that holds the lock (it must never wait for a
    thread-pool slot while holding it) — and carry on with lock-free reads on the same
    connection. An error inside rolls the write back, so nothing is half-stored; the
    session itself does not know a transaction came and went, so its caller rolls the
    session back before going on (as on any error). Otherwise (PostgreSQL, or a session
    not in a read phase) it does nothing: the unit of work commits.
    """
    if not in_read_phase(db):
        yield
        return
    conn = db.connection()
    dbapi_conn: Any = conn.connection.dbapi_connection
    writer = _WRITERS[conn.engine]
    writer.acquire(dbapi_conn)
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield
            conn.exec_driver_sql("COMMIT")
        except BaseException:
            # SQLite may have ended the transaction itself (a full disk, an I/O error).
            if getattr(dbapi_conn, "in_transaction", False):
                dbapi_conn.execute("ROLLBACK")
            raise
    finally:
        writer.release(dbapi_conn)


# PostgreSQL's "deadlock detected" and "could not serialize": the transaction did
# nothing durable and succeeds if run again.
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})
TRANSIENT_ATTEMPTS = 5
TRANSIENT_PAUSE = 0.005  # seconds; doubled for each attempt, at most 0.16 s in all


def retry_transient(db: Session, work: Callable[[], T]) -> T:
    """Run ``work`` again (after a rollback) when the database aborted it as transient.

    Two labelers can lock each other's items in opposite order (one submits X and leases
    Y while the other submits Y and leases X); PostgreSQL then aborts one of them. The
    aborted transaction stored nothing, so running it again is safe and is what the
    client would otherwise have to do. A short random pause before each new attempt keeps
    the two from meeting again in the same order (32 labelers on 2 busy cores did).
    """
    for attempt in range(1, TRANSIENT_ATTEMPTS + 1):
        try:
            return work()
        except DBAPIError as exc:
            sqlstate = getattr(exc.orig, "sqlstate", None)
            if sqlstate not in TRANSIENT_SQLSTATES or attempt == TRANSIENT_ATTEMPTS:
                raise
            db.rollback()
            time.sleep(random.uniform(0, TRANSIENT_PAUSE * 2**attempt))
            read_phase(db)
    raise AssertionError("unreachable")


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
