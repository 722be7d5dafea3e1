import threading
import time
import weakref
from collections import deque
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import event, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session, col, create_engine

from app.config import Settings
from app.models.data_version import DataVersion

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_VERSION_ROW_LOCK = select(col(DataVersion.id)).where(col(DataVersion.id) == 1).with_for_update()


def make_engine(settings: Settings, *, for_writes: bool = False) -> Engine:
    """An engine for the configured database.

    On SQLite, an engine `for_writes` opens every transaction with BEGIN IMMEDIATE: it takes the
    write lock up front (waiting up to the busy timeout) instead of failing with "database is
    locked" when a read transaction later tries to write after another writer committed.
    """
    return _engine(settings, settings.pool_size, settings.pool_size, settings.sqlite_cache_mb, for_writes=for_writes)


def make_view_engine(settings: Settings, read_engine: Engine) -> Engine:
    """The engine matrices, diffs and timelines are built on. On SQLite, a pool of its own, one
    connection per concurrent build, each with the larger view page cache: memory stays bounded
    by the build limit, not by the number of connections. Elsewhere, the read engine."""
    if not settings.database_url.startswith("sqlite"):
        return read_engine
    builds = settings.max_concurrent_builds
    return _engine(settings, builds, 0, settings.sqlite_view_cache_mb, for_writes=False)


def dispose_engines(state: Any) -> None:
    """Closes the connections of every engine an application holds (`app.state`)."""
    for engine in {id(e): e for e in (state.engine, state.write_engine, state.view_engine)}.values():
        engine.dispose()


def _engine(settings: Settings, pool_size: int, max_overflow: int, cache_mb: int, *, for_writes: bool) -> Engine:
    url = settings.database_url
    pool = {
        "pool_size": pool_size,
        "max_overflow": max_overflow,
        "pool_timeout": settings.pool_timeout_s,
        # Most recently used first: under light load requests keep reusing the same few
        # connections, whose page caches (SQLite) and plans stay warm.
        "pool_use_lifo": True,
    }
    if url.startswith("sqlite"):
        # check_same_thread off: FastAPI runs sync endpoints in a thread pool.
        engine = create_engine(url, echo=settings.log_sql, connect_args={"check_same_thread": False}, **pool)
        _configure_sqlite(engine, settings, cache_mb, begin="BEGIN IMMEDIATE" if for_writes else "BEGIN")
        return engine
    # No pre-ping: it would cost a round trip per request; stale connections are recycled instead.
    return create_engine(url, echo=settings.log_sql, pool_recycle=1800, **pool)


_WRITER_QUEUES: "weakref.WeakKeyDictionary[Engine, WriterQueue]" = weakref.WeakKeyDictionary()
# How long one attempt at SQLite's write lock waits inside SQLite before the writer queue tries again.
_SQLITE_WRITE_ATTEMPT_MS = 100


def _configure_sqlite(engine: Engine, settings: Settings, cache_mb: int, *, begin: str) -> None:
    writes = begin == "BEGIN IMMEDIATE"
    busy_timeout_ms = int(settings.sqlite_busy_timeout_ms)
    if writes:
        busy_timeout_ms = min(busy_timeout_ms, _SQLITE_WRITE_ATTEMPT_MS)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own implicit transactions are turned off; "begin" below opens them.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL lets readers proceed while one writer commits; foreign keys are off by default in SQLite.
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute(f"PRAGMA cache_size=-{int(cache_mb) * 1024}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    if not writes:

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Connection) -> None:
            connection.exec_driver_sql(begin)

        return
    queue = _WRITER_QUEUES[engine] = WriterQueue()
    timeout_s = settings.sqlite_busy_timeout_ms / 1000

    @event.listens_for(engine, "begin")
    def _on_begin_write(connection: Connection) -> None:
        holder = connection.connection.dbapi_connection
        deadline = time.monotonic() + timeout_s
        my_turn = queue.wait_turn(holder, deadline)
        try:
            while True:
                try:
                    connection.exec_driver_sql(begin)
                    return
                except OperationalError:
                    # Locked by a writer of another process: try again until the deadline.
                    if not my_turn or time.monotonic() >= deadline:
                        raise
        except BaseException:
            queue.done(holder)
            raise

    # The turn ends with the transaction; checkin and invalidation are the backstop for a
    # connection whose transaction ended without either (the queue must never stay held).
    for name in ("commit", "rollback"):
        event.listen(engine, name, lambda connection: queue.done(connection.connection.dbapi_connection))
    for name in ("checkin", "invalidate"):
        event.listen(engine.pool, name, lambda dbapi_connection, *_: queue.done(dbapi_connection))


def writer_queue(engine: Engine) -> "WriterQueue | None":
    """The queue of an SQLite engine made `for_writes`; None for any other engine."""
    return _WRITER_QUEUES.get(engine)


class WriterQueue:
    """Gives this process's writers their turn at SQLite's write lock in the order they asked.

    Left to SQLite, waiting writers retry after sleeps that grow to 100 ms: a writer that has
    waited long retries least often, and under sustained load some wait out the busy timeout while
    later ones pass. Here the writers of a process queue in arrival order and only the first of them
    asks SQLite for the lock; it competes only with the first writer of each other process."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._waiting: deque[object] = deque()
        self._holder: object | None = None

    def wait_turn(self, writer: object, deadline: float) -> bool:
        """Waits until `writer` is first in line and nobody holds the turn; False at the deadline."""
        with self._changed:
            self._waiting.append(writer)
            granted = self._changed.wait_for(
                lambda: self._holder is None and self._waiting[0] is writer,
                timeout=max(0.0, deadline - time.monotonic()),
            )
            self._waiting.remove(writer)
            if granted:
                self._holder = writer
            else:
                self._changed.notify_all()  # the writer behind this one may now be first
            return granted

    @property
    def held(self) -> bool:
        return self._holder is not None

    def done(self, writer: object) -> None:
        with self._changed:
            if self._holder is writer:
                self._holder = None
                self._changed.notify_all()


class WriteSession(Session):
    """The session of a request that writes. On PostgreSQL each transaction it begins first locks
    the data version row, which every write updates before it commits: writers queue from their
    first read, as BEGIN IMMEDIATE makes them on SQLite (make_engine). Otherwise, under READ
    COMMITTED, a write reads a row, waits for that lock while another writer changes the row and
    commits, then writes on what it read: a correction racing the re-anchoring of its statement
    stored the same revision number again (a 500 on the unique key)."""


@event.listens_for(WriteSession, "after_begin")
def _queue_behind_writers(_session: Session, transaction: SessionTransaction, connection: Connection) -> None:
    if connection.dialect.name == "postgresql" and not transaction.nested:
        connection.execute(_VERSION_ROW_LOCK)


def get_session(request: Request) -> Iterator[Session]:
    state = request.app.state
    if request.method in READ_METHODS:
        with Session(state.engine) as session:
            yield session
    else:
        with WriteSession(state.write_engine) as session:
            yield session


def get_read_session(request: Request) -> Iterator[Session]:
    """The read engine whatever the method, for a POST that computes without writing: on SQLite it
    must not open a write transaction (BEGIN IMMEDIATE) and hold the write lock."""
    with Session(request.app.state.engine) as session:
        yield session


# Closed when the endpoint returns, before the response is sent: a write session on SQLite holds
# the write lock until it closes, and nothing after the endpoint may need it.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
