"""The migrations build exactly the models' schema, and go down and up again."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, text

from app.db import make_engine
from app.migrate import downgrade, upgrade
from app.models import Base
from tests.conftest import PG_ADMIN_URL, _pg_database, _settings


@pytest.fixture
def empty_engine(backend: str, tmp_path: Path) -> Iterator[Engine]:
    """A brand-new empty database on the backend under test."""
    if backend == "sqlite":
        engine = make_engine(_settings(f"sqlite:///{tmp_path / 'm.db'}", tmp_path))
        yield engine
        engine.dispose()
        return
    name = f"rankwise_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(_settings(_pg_database(name), tmp_path))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _differences(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


class TestMigrations:
    def test_upgrading_an_empty_database_gives_exactly_the_models_schema(self, empty_engine: Engine) -> None:
        upgrade(empty_engine)
        assert _differences(empty_engine) == []

    def test_downgrade_to_base_then_upgrade_again_works(self, empty_engine: Engine) -> None:
        upgrade(empty_engine)
        downgrade(empty_engine, "base")
        assert set(inspect(empty_engine).get_table_names()) <= {"alembic_version"}
        upgrade(empty_engine)
        assert set(Base.metadata.tables) <= set(inspect(empty_engine).get_table_names())
        assert _differences(empty_engine) == []
