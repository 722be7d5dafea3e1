"""The data version as repeated view requests read it (app.api.caching.RepeatedViewsFromCache): from a probe of its own (SQLite: a
direct connection; PostgreSQL: one thread batching the requests that wait), never stale with
respect to a write committed before the read began, and never hanging when the database is away."""

import asyncio
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from app.services.data_version import (
    PostgresVersionProbe,
    SqliteVersionProbe,
    bump,
    read_version,
)


def _bump_elsewhere(database_url: str) -> int:
    """A write committed by another process's engine; returns the version it produced."""
    other = create_engine(database_url)
    try:
        with other.begin() as connection:
            bump(connection)
        return read_version(other)
    finally:
        other.dispose()


def test_the_probe_sees_every_write_committed_before_it_reads(app, settings):
    probe = app.state.version_probe
    assert probe is not None
    first = asyncio.run(probe.read_async())
    assert first == read_version(app.state.engine)
    for _ in range(3):
        committed = _bump_elsewhere(settings.database_url)
        # A new event loop each time, as a test client or a restarted server would have.
        assert asyncio.run(probe.read_async()) == committed


def test_concurrent_readers_each_see_the_writes_committed_before_they_asked(app, settings):
    probe = app.state.version_probe

    async def rounds() -> list[tuple[int, list[int | None]]]:
        seen = []
        for _ in range(10):
            committed = await asyncio.to_thread(_bump_elsewhere, settings.database_url)
            answers = await asyncio.gather(*(probe.read_async() for _ in range(25)))
            seen.append((committed, answers))
        return seen

    for committed, answers in asyncio.run(rounds()):
        assert answers == [committed] * 25


def test_an_unreachable_postgresql_gives_no_version_instead_of_hanging():
    probe = PostgresVersionProbe("postgresql://postgres@127.0.0.1:1/nowhere")
    try:
        started = time.monotonic()
        assert asyncio.run(probe.read_async()) is None
        assert time.monotonic() - started < PostgresVersionProbe.WAIT_S / 2, "answered by the failure, not a timeout"
    finally:
        probe.close()


def test_the_probe_recovers_from_an_unforeseen_failure(app, settings, monkeypatch):
    probe = app.state.version_probe
    if not isinstance(probe, PostgresVersionProbe):
        pytest.skip("the SQLite probe has no thread to lose")
    from app.services import data_version

    real_connect = data_version.psycopg.connect
    failures = iter([ValueError("unforeseen")])

    def connect(*args, **kwargs):
        for failure in failures:
            raise failure
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(data_version.psycopg, "connect", connect)
    assert asyncio.run(probe.read_async()) is None
    assert asyncio.run(probe.read_async()) == read_version(app.state.engine)


def _versioned_database(path: Path, journal_mode: str) -> sqlite3.Connection:
    """A database holding only a data version (1), and a connection to it that writers can use."""
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute(f"PRAGMA journal_mode={journal_mode}")
    writer.execute("CREATE TABLE data_version (id INTEGER PRIMARY KEY, version INTEGER NOT NULL)")
    writer.execute("INSERT INTO data_version VALUES (1, 1)")
    return writer


def test_the_sqlite_probe_reads_every_commit_with_or_without_a_wal(tmp_path):
    for journal_mode in ("WAL", "DELETE"):
        path = tmp_path / f"{journal_mode}.db"
        writer = _versioned_database(path, journal_mode)
        probe = SqliteVersionProbe(str(path))
        try:
            assert [probe.read(), probe.read()] == [1, 1]
            writer.execute("UPDATE data_version SET version = 2")
            assert probe.read() == 2
        finally:
            probe.close()
            writer.close()


_SECOND_PROCESS_WRITES = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=0)
try:
    connection.execute("BEGIN IMMEDIATE")
    connection.execute("UPDATE data_version SET version = 99")
    connection.execute("COMMIT")
    print("wrote")
except sqlite3.OperationalError as error:
    print(error)
"""


def test_reading_the_version_keeps_the_write_lock_this_process_holds(tmp_path):
    """POSIX locks belong to the process: a probe that opened and closed one of the database's
    files itself would drop the write lock held by another connection of this process, and a
    second process could then write under it (https://www.sqlite.org/howtocorrupt.html, 2.2)."""
    path = tmp_path / "locked.db"
    _versioned_database(path, "WAL").close()
    holder = sqlite3.connect(path, isolation_level=None)
    probe = SqliteVersionProbe(str(path))
    try:
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("UPDATE data_version SET version = 2")
        for _ in range(3):
            assert probe.read() == 1  # the uncommitted write is not seen
        other = subprocess.run(
            [sys.executable, "-c", _SECOND_PROCESS_WRITES, str(path)], capture_output=True, text=True, timeout=60
        )
        assert other.stdout.strip() == "database is locked", other.stdout + other.stderr
        holder.execute("COMMIT")
        assert probe.read() == 2
    finally:
        probe.close()
        holder.close()
    check = sqlite3.connect(path)
    try:
        assert check.execute("SELECT version FROM data_version").fetchall() == [(2,)]
        assert check.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        check.close()


def test_the_sqlite_probe_never_reads_a_version_older_than_one_committed_before_it(tmp_path):
    path = tmp_path / "busy.db"
    _versioned_database(path, "WAL").close()
    committed = 1  # the newest version whose commit has returned
    done = threading.Event()

    def write() -> None:
        nonlocal committed
        writer = sqlite3.connect(path, isolation_level=None)
        try:
            for version in range(2, 402):
                writer.execute("UPDATE data_version SET version = ?", (version,))
                committed = version
        finally:
            writer.close()
            done.set()

    probe = SqliteVersionProbe(str(path))
    writer = threading.Thread(target=write)
    try:
        writer.start()
        reads, previous = 0, 1
        while not done.is_set():
            before = committed
            version = probe.read()
            reads += 1
            assert version >= before, f"read {version} after the commit of {before} had returned"
            assert version >= previous, f"read {version} after {previous}"
            previous = version
        writer.join()
        assert probe.read() == 401 and reads > 0
    finally:
        probe.close()
