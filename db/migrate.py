"""Bring a database to the latest schema with Alembic."""

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config

from db.engine import ensure_sqlite_folder

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    """Apply every migration not yet applied (safe to call at each start)."""
    logging.getLogger("alembic").setLevel(logging.WARNING)
    ensure_sqlite_folder(url)
    command.upgrade(alembic_config(url), "head")
