"""Fixtures shared by every test that touches the database or the HTTP app.

Databases are built by running the real Alembic migrations, once per test
session and backend. Every database test runs on SQLite *and* on the
PostgreSQL server at 127.0.0.1:5432 (``RANKWISE_TEST_PG`` overrides the URL);
if that server cannot be reached the PostgreSQL tests fail — they never skip —
so CI cannot go green without them. After each test every table is emptied,
which (unlike a rolled-back outer transaction) lets tests commit, run
concurrent clients and restart servers.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import make_engine
from app.main import create_app
from app.migrate import upgrade
from app.models import Base
from app.security import passwords

# Argon2id at production cost takes ~0.1 s a hash; the tests create hundreds of users.
passwords.configure(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))

PG_ADMIN_URL = os.environ.get("RANKWISE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TEST_SECRET = "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"


def _pg_database(name: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


class Databases:
    """One migrated database per backend, made on first use (SQLite-only runs never
    touch PostgreSQL); the PostgreSQL one is dropped when the session ends."""

    def __init__(self, tmp: pytest.TempPathFactory) -> None:
        self._tmp = tmp
        self._urls: dict[str, str] = {}
        self._pg_name: str | None = None

    def url(self, backend: str) -> str:
        if backend not in self._urls:
            url = self._create(backend)
            engine = make_engine(_settings(url, self._tmp.mktemp("data")))
            upgrade(engine)
            engine.dispose()
            self._urls[backend] = url
        return self._urls[backend]

    def _create(self, backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{self._tmp.mktemp('sqlite') / 'rankwise.db'}"
        name = f"rankwise_test_{uuid.uuid4().hex[:10]}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception as exc:
            pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is required for the postgres tests: {exc}")
        finally:
            admin.dispose()
        self._pg_name = name
        return _pg_database(name)

    def close(self) -> None:
        if self._pg_name:
            admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self._pg_name}" WITH (FORCE)'))
            admin.dispose()


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    dbs = Databases(tmp_path_factory)
    yield dbs
    dbs.close()


def _settings(url: str, data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "test",
        "database_url": url,
        "data_dir": data_dir,
        "secret_key": TEST_SECRET,
        "start_worker": False,
        "pool_size": 10,
        # Fake model endpoints run on loopback (tests/registry/fake_openai.py); the
        # endpoint-safety tests take this away again.
        "endpoint_allow": "127.0.0.1",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, databases: Databases) -> Iterator[str]:
    url = databases.url(backend)
    yield url
    _empty_all_tables(url)


def _empty_all_tables(url: str) -> None:
    engine = make_engine(_settings(url, Path("/tmp")))
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))
    engine.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return _settings(database_url, tmp_path)


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings, migrate=False)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def session_factory(app: FastAPI) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = app.state.session_factory
    return factory


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for arranging and inspecting data; call ``db.commit()`` to publish."""
    session = session_factory()
    yield session
    session.rollback()
    session.close()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def engine_factory() -> object:
    """Builds standalone engines for tests that need their own connections."""
    return lambda url: make_engine(_settings(url, Path("/tmp")))

