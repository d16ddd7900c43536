"""Bring a database to the latest schema with Alembic."""

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Alembic logs its plugin setup at import time: keep the operator's console for what matters.
logging.getLogger("alembic").setLevel(logging.WARNING)

from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from db.engine import ensure_sqlite_folder, sqlite_path  # noqa: E402

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_at_start(url: str, done_by_launcher: bool) -> None:
    """Migrate when a process starts, unless its launcher already did."""
    if not done_by_launcher:
        upgrade(url)


def upgrade(url: str) -> None:
    """Apply every migration not yet applied (safe to call at each start)."""
    ensure_sqlite_folder(url)
    with _one_at_a_time(url):
        command.upgrade(alembic_config(url), "head")


MIGRATION_LOCK = 0x0A5_1E7  # PostgreSQL advisory lock key: the OMS's schema migrations


@contextmanager
def _one_at_a_time(url: str) -> Iterator[None]:
    """The API and the worker each migrate when they start, often at the same moment: on a
    fresh database both would create the same tables and one would fail. They take turns."""
    path = sqlite_path(url)
    if path is not None:
        with open(f"{path}.migrate", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            yield
        return
    if not url.startswith("postgresql"):
        yield
        return
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK})")
            try:
                yield
            finally:
                connection.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})")
    finally:
        engine.dispose()
