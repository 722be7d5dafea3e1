"""The data version: bumped inside every writing transaction, read to derive ETags and cache keys."""

import sqlite3
from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from app.models.common import utcnow
from app.models.data_version import DataVersion

_BUMPED = "stancemap_data_version_bumped"


_VERSION_QUERY = select(DataVersion.version).where(DataVersion.id == 1)


def current_version(session: Session) -> int:
    return session.exec(_VERSION_QUERY).scalar_one()


def read_version(engine: Engine) -> int:
    """The version on a connection of its own: for callers that hold no session."""
    with engine.connect() as connection:
        return connection.execute(_VERSION_QUERY).scalar_one()


class SqliteVersionProbe:
    """Reads the SQLite data version on a connection of its own, without the pool or a thread.

    Used from the event loop only (one thread), in autocommit: every read is a fresh WAL snapshot,
    and a WAL reader never waits for writers, so the read costs microseconds and cannot block.
    """

    def __init__(self, database_path: str) -> None:
        self._path = database_path
        self._connection: sqlite3.Connection | None = None

    def read(self) -> int:
        if self._connection is None:
            self._connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        row = self._connection.execute("SELECT version FROM data_version WHERE id = 1").fetchone()
        return int(row[0])

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def version_probe(engine: Engine) -> SqliteVersionProbe | None:
    """A probe for file-backed SQLite; other databases are read through the pool instead."""
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database not in (None, "", ":memory:"):
        return SqliteVersionProbe(database)
    return None


def bump(connection_or_session: Any) -> None:
    connection_or_session.execute(
        update(DataVersion).where(DataVersion.id == 1).values(version=DataVersion.version + 1, changed_at=utcnow())
    )


@event.listens_for(OrmSession, "before_flush")
def _bump_on_write(session: OrmSession, _context: Any, _instances: Any) -> None:
    # Once per transaction, in that transaction: a write and its version bump commit or fail together.
    if session.info.get(_BUMPED) or not (session.new or session.dirty or session.deleted):
        return
    session.info[_BUMPED] = True
    bump(session)


@event.listens_for(OrmSession, "after_commit")
@event.listens_for(OrmSession, "after_rollback")
def _transaction_over(session: OrmSession) -> None:
    session.info.pop(_BUMPED, None)
