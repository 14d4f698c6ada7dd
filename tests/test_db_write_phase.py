"""SQLite's write discipline (app/db.py): reads without the writer lock, then one short
write transaction on the same connection, committed in the thread that holds the lock.

On PostgreSQL ``write_phase`` does nothing (the unit of work commits the request's one
transaction): tests/test_db.py checks what both databases keep.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.db import _WRITERS, in_read_phase, read_phase, write_phase
from app.models import User
from tests.factories import make_labelers


@pytest.fixture
def backend() -> str:
    return "sqlite"


def _rename(db: Session, user_id: int, name: str) -> None:
    db.execute(update(User).where(User.id == user_id).values(display_name=name))


def _stored_name(factory: sessionmaker[Session], user_id: int) -> str | None:
    with factory() as other:
        return other.scalar(select(User.display_name).where(User.id == user_id))


@pytest.fixture
def user_id(db: Session) -> int:
    (user,) = make_labelers(db, 1)
    db.commit()
    return user.id


class TestWritePhase:
    def test_the_block_is_committed_when_it_ends_and_reads_go_on_lock_free(
        self, session_factory: sessionmaker[Session], user_id: int
    ) -> None:
        with session_factory() as s:
            read_phase(s)
            with write_phase(s):
                _rename(s, user_id, "Written")
            # Another connection sees it: committed, not waiting for the end of the request.
            assert _stored_name(session_factory, user_id) == "Written"
            assert in_read_phase(s)
            assert s.scalar(select(User.display_name).where(User.id == user_id)) == "Written"
            assert not _WRITERS[s.get_bind()]._lock.locked()

    def test_an_error_inside_stores_nothing_and_frees_the_writer_lock(
        self, session_factory: sessionmaker[Session], user_id: int
    ) -> None:
        before = _stored_name(session_factory, user_id)
        with session_factory() as s:
            read_phase(s)
            with pytest.raises(RuntimeError), write_phase(s):
                _rename(s, user_id, "Half-stored")
                raise RuntimeError("the answer failed validation")
            s.rollback()
        assert _stored_name(session_factory, user_id) == before
        engine = session_factory.kw["bind"]
        assert not _WRITERS[engine]._lock.locked()
        with session_factory() as s:  # the next writer goes straight in
            read_phase(s)
            with write_phase(s):
                _rename(s, user_id, "Next")
        assert _stored_name(session_factory, user_id) == "Next"

    def test_a_request_reads_writes_and_reads_again_on_one_connection(
        self, session_factory: sessionmaker[Session], user_id: int
    ) -> None:
        engine = session_factory.kw["bind"]
        checkouts: list[Any] = []

        def _checkout(*_: Any) -> None:
            checkouts.append(1)

        event.listen(engine, "checkout", _checkout)
        try:
            with session_factory() as s:
                read_phase(s)
                s.scalar(select(User.id).where(User.id == user_id))
                with write_phase(s):
                    _rename(s, user_id, "Once")
                s.scalar(select(User.display_name).where(User.id == user_id))
                s.commit()
        finally:
            event.remove(engine, "checkout", _checkout)
        assert len(checkouts) == 1

    def test_writers_take_turns(self, session_factory: sessionmaker[Session], user_id: int) -> None:
        first_inside = threading.Event()
        let_first_finish = threading.Event()
        second_inside = threading.Event()
        order: list[str] = []

        def first() -> None:
            with session_factory() as s:
                read_phase(s)
                with write_phase(s):
                    _rename(s, user_id, "First")
                    first_inside.set()
                    let_first_finish.wait(30)
                    order.append("first commits")

        def second() -> None:
            first_inside.wait(30)
            with session_factory() as s:
                read_phase(s)
                with write_phase(s):
                    second_inside.set()
                    order.append("second writes")
                    _rename(s, user_id, "Second")

        threads = [threading.Thread(target=first), threading.Thread(target=second)]
        for t in threads:
            t.start()
        first_inside.wait(30)
        assert not second_inside.wait(0.3)  # still waiting for the writer lock
        let_first_finish.set()
        for t in threads:
            t.join(30)
        assert order == ["first commits", "second writes"]
        assert _stored_name(session_factory, user_id) == "Second"
