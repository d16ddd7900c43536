"""The Alembic migrations build exactly the schema the models describe, on both backends."""

import multiprocessing
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import CheckConstraint, Engine, create_engine, inspect
from sqlmodel import SQLModel

import db.tables  # noqa: F401  (registers every table on SQLModel.metadata)
from db.migrate import alembic_config, upgrade


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def migrated(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    """A fresh database brought to head by the migrations alone (pg_url is migrated)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
        upgrade(url)
    else:
        url = request.getfixturevalue("pg_url")
    engine = create_engine(url)
    yield url, engine
    engine.dispose()


def schema_diff(engine: Engine) -> list:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            # compare_type is Alembic's default; server defaults are compared as well,
            # since a default the migration sets and the model lacks is drift too.
            opts={"compare_type": True, "compare_server_default": True},
        )
        return compare_metadata(context, SQLModel.metadata)


def test_the_migrations_build_the_models_schema(migrated: tuple[str, Engine]) -> None:
    _, engine = migrated
    assert schema_diff(engine) == []


def test_every_model_table_exists_after_the_migrations(migrated: tuple[str, Engine]) -> None:
    # A guard on the comparison above: it only means something if it saw the tables.
    _, engine = migrated
    tables = set(inspect(engine).get_table_names())
    assert set(SQLModel.metadata.tables) <= tables
    assert tables - set(SQLModel.metadata.tables) == {"alembic_version"}


def test_the_migrations_create_the_ledgers_check_constraints(
    migrated: tuple[str, Engine],
) -> None:
    # Autogenerate does not compare CHECK constraints, yet the stock row's checks are the
    # ledger's last line of defence against overselling: compare their names here.
    _, engine = migrated
    inspector = inspect(engine)
    for table in SQLModel.metadata.sorted_tables:
        expected = {c.name for c in table.constraints if isinstance(c, CheckConstraint)}
        found = {c["name"] for c in inspector.get_check_constraints(table.name)}
        assert found == expected, table.name
    assert {c["name"] for c in inspector.get_check_constraints("stock")} == {
        "stock_on_hand_not_negative",
        "stock_reserved_not_negative",
        "stock_reserved_within_on_hand",
    }


def test_downgrade_to_base_and_upgrade_again(migrated: tuple[str, Engine]) -> None:
    url, engine = migrated
    config = alembic_config(url)
    command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    command.upgrade(config, "head")
    assert schema_diff(engine) == []


def test_processes_starting_together_migrate_a_fresh_database_in_turn(tmp_path: Path):
    """The API and the worker both migrate at start: neither fails on the other's tables
    (PostgreSQL takes the same turns on an advisory lock, in every pg_url fixture)."""
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=upgrade, args=(url,)) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    engine = create_engine(url)
    assert schema_diff(engine) == []
    engine.dispose()
