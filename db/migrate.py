"""Alembic, driven from code: `oms migrate` and the tests call `upgrade(url)`."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    # Alembic announces each of its plugins at INFO; the migrations themselves are what matter.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    _ensure_sqlite_folder(url)
    command.upgrade(alembic_config(url), revision)


def _ensure_sqlite_folder(url: str) -> None:
    prefix = "sqlite+aiosqlite:///"
    if url.startswith(prefix) and ":memory:" not in url:
        Path(url[len(prefix):]).parent.mkdir(parents=True, exist_ok=True)


def include_name(name: str | None, type_: str, parent_names: dict) -> bool:
    """Schema comparison filter for the search structures of migration 0003, which Alembic
    cannot compare: SQLite's FTS5 tables and PostgreSQL's expression index."""
    if name is None:
        return True
    if type_ == "table":
        return not name.startswith("orders_fts")
    return not (type_ == "index" and name == "ix_orders_search")
