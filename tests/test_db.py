"""Transient database aborts are retried; anything else is not."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.db import TRANSIENT_ATTEMPTS, retry_transient


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
