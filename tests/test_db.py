"""Transient database aborts are retried; anything else is not. What a write phase keeps."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from app.db import TRANSIENT_ATTEMPTS, read_phase, retry_transient, unit_of_work, write_phase
from app.models import User
from tests.factories import make_labelers


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _aborted(sqlstate: str) -> DBAPIError:
    return DBAPIError("UPDATE work_items ...", {}, _PgError(sqlstate))


class TestRetryTransient:
    def test_a_deadlock_is_rolled_back_and_run_again(self, db: Session) -> None:
        calls: list[int] = []

        def work() -> str:
            calls.append(1)
            if len(calls) < TRANSIENT_ATTEMPTS:
                raise _aborted("40P01")
            return "stored"

        assert retry_transient(db, work) == "stored"
        assert len(calls) == TRANSIENT_ATTEMPTS

    def test_it_gives_up_after_the_last_attempt(self, db: Session) -> None:
        calls: list[int] = []

        def work() -> None:
            calls.append(1)
            raise _aborted("40001")

        with pytest.raises(DBAPIError):
            retry_transient(db, work)
        assert len(calls) == TRANSIENT_ATTEMPTS

    def test_other_database_errors_are_not_retried(self, db: Session) -> None:
        calls: list[int] = []

        def work() -> None:
            calls.append(1)
            raise _aborted("23505")  # unique violation: a real answer, not a hiccup

        with pytest.raises(DBAPIError):
            retry_transient(db, work)
        assert calls == [1]


class TestWritePhaseOnBothDatabases:
    """What a request keeps: on SQLite the write phase commits itself (tests/test_db_write_phase.py),
    on PostgreSQL the unit of work commits; either way an error stores nothing."""

    def test_a_write_phase_is_kept_and_a_failed_one_keeps_nothing(
        self, db: Session, session_factory: sessionmaker[Session]
    ) -> None:
        (user,) = make_labelers(db, 1)
        db.commit()
        with unit_of_work(session_factory) as s:
            read_phase(s)
            with write_phase(s):
                s.execute(update(User).where(User.id == user.id).values(display_name="Kept"))
        with pytest.raises(RuntimeError), unit_of_work(session_factory) as s:
            read_phase(s)
            with write_phase(s):
                s.execute(update(User).where(User.id == user.id).values(display_name="Lost"))
                raise RuntimeError("the answer failed validation")
        db.expire_all()
        assert db.scalar(select(User.display_name).where(User.id == user.id)) == "Kept"
