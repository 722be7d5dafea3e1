"""The data version: bumped inside every writing transaction (app/services/unit_of_work.py), read
to derive ETags and cache keys."""

import asyncio
import logging
import sqlite3
import threading
from contextlib import suppress
from typing import Any

import psycopg
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from app.models.common import utcnow
from app.models.data_version import DataVersion

logger = logging.getLogger("stancemap")


_VERSION_QUERY = select(col(DataVersion.version)).where(col(DataVersion.id) == 1)


def current_version(session: Session) -> int:
    return session.execute(_VERSION_QUERY).scalar_one()


def read_version(engine: Engine) -> int:
    """The version on a connection of its own: for callers that hold no session."""
    with engine.connect() as connection:
        return connection.execute(_VERSION_QUERY).scalar_one()


class SqliteVersionProbe:
    """Reads the SQLite data version on a connection of its own, without the pool or a thread.

    Used from the event loop only (one thread), in autocommit: every read is a fresh WAL snapshot,
    and a WAL reader never waits for writers. It goes through SQLite alone: opening any of the
    database's files directly would drop the locks SQLite holds on them in this process
    (https://www.sqlite.org/howtocorrupt.html, section 2.2).
    """

    def __init__(self, database_path: str) -> None:
        self._path = database_path
        self._connection: sqlite3.Connection | None = None

    async def read_async(self) -> int:
        return self.read()

    def read(self) -> int:
        if self._connection is None:
            self._connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        row = self._connection.execute("SELECT version FROM data_version WHERE id = 1").fetchone()
        return int(row[0])

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class PostgresVersionProbe:
    """Reads the PostgreSQL data version for requests waiting in the event loop, one query per batch.

    A request's version must come from a query that started after the request arrived (then a
    write committed before it, by any process, is seen). One thread with its own autocommit
    connection runs queries back to back; each answers every request that arrived before it began.
    Under load, dozens of requests share one round trip, and none takes a pool connection or a
    worker thread.
    """

    # Beyond this, a request stops waiting and the application answers it the ordinary way.
    WAIT_S = 2.0

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._changed = threading.Condition()
        self._waiting: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[int | None]]] = []
        self._thread: threading.Thread | None = None
        self._closed = False

    async def read_async(self) -> int | None:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[int | None] = loop.create_future()
        with self._changed:
            if self._closed:
                return None
            self._waiting.append((loop, answer))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name="stancemap-version-probe", daemon=True)
                self._thread.start()
            self._changed.notify()
        try:
            return await asyncio.wait_for(answer, self.WAIT_S)
        except TimeoutError:
            with self._changed:  # the batch it waited in is stuck: nobody need answer it any more
                self._waiting = [(waiting_loop, other) for waiting_loop, other in self._waiting if other is not answer]
            return None

    def _serve(self) -> None:
        connection: psycopg.Connection[Any] | None = None
        while True:
            with self._changed:
                while not self._waiting and not self._closed:
                    self._changed.wait()
                if self._closed:
                    break
                batch, self._waiting = self._waiting, []
            version: int | None = None
            try:
                if connection is None or connection.closed:
                    # Bounded waits: a lock on the table or a stalled server must not stall every batch after it.
                    connection = psycopg.connect(
                        self._conninfo, autocommit=True, connect_timeout=2,
                        options="-c statement_timeout=1500 -c lock_timeout=1000",
                    )  # fmt: skip
                row = connection.execute("SELECT version FROM data_version WHERE id = 1").fetchone()
                version = int(row[0]) if row else None
            except Exception:
                # Unreachable, restarted or anything unforeseen: these requests go to the application
                # (which reports the problem); the next batch starts on a new connection.
                logger.warning("reading the data version failed", exc_info=True)
                if connection is not None:
                    connection.close()
                connection = None
            for loop, answer in batch:
                with suppress(RuntimeError):  # that request's event loop has closed meanwhile
                    loop.call_soon_threadsafe(_settle, answer, version)
        if connection is not None:
            connection.close()
        for loop, answer in self._waiting:
            with suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, answer, None)

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=self.WAIT_S + 5)


def _settle(answer: "asyncio.Future[int | None]", version: int | None) -> None:
    if not answer.done():
        answer.set_result(version)


VersionProbe = SqliteVersionProbe | PostgresVersionProbe


def version_probe(engine: Engine) -> VersionProbe | None:
    """A probe for file-backed SQLite or PostgreSQL; anything else is read through the pool instead."""
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database not in (None, "", ":memory:"):
        return SqliteVersionProbe(database)
    if engine.dialect.name == "postgresql":
        return PostgresVersionProbe(engine.url.set(drivername="postgresql").render_as_string(hide_password=False))
    return None


def bump(connection_or_session: Any) -> None:
    connection_or_session.execute(
        update(DataVersion).where(col(DataVersion.id) == 1).values(version=DataVersion.version + 1, changed_at=utcnow())
    )


def wait_for_other_writers(session: Session) -> None:
    """Locks the version row, which every write updates before it commits (app/services/unit_of_work.py),
    so concurrent writers on PostgreSQL queue from here: a check made after it (a duplicate looked
    for, say) still holds when the write commits. SQLite has one writer at a time anyway."""
    session.execute(_VERSION_QUERY.with_for_update())
