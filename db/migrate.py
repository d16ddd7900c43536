"""Bring a database to the latest schema with Alembic."""

import logging
import os
from pathlib import Path

# Alembic logs its plugin setup at import time: keep the operator's console for what matters.
logging.getLogger("alembic").setLevel(logging.WARNING)

from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402

from db.engine import ensure_sqlite_folder  # noqa: E402

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_at_start(url: str) -> None:
    """Migrate when a process starts, unless its launcher already did (OMS_SKIP_MIGRATIONS=1)."""
    if os.environ.get("OMS_SKIP_MIGRATIONS") != "1":
        upgrade(url)


def upgrade(url: str) -> None:
    """Apply every migration not yet applied (safe to call at each start)."""
    ensure_sqlite_folder(url)
    command.upgrade(alembic_config(url), "head")
