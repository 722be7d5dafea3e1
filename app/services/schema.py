"""Database schema state: applying Alembic migrations and checking they are at head."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

import migrations
from app.services import position_history, search_index

MIGRATIONS_DIR = Path(migrations.__file__).parent


def alembic_config(database_url: str) -> Config:
    # Built in code, not from an alembic.ini, so it works from any working directory.
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)
    engine = create_engine(database_url)
    try:
        build_derived_tables(engine)
    finally:
        engine.dispose()


def build_derived_tables(engine: Engine) -> None:
    """Derived tables are built by the code that reads them, once the schema is at head (a database
    that is not is left alone: /readyz reports it)."""
    if current_revision(engine) == head_revision():
        position_history.ensure_current(engine)
        search_index.ensure_current(engine)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
