"""The data version as the cached-view shortcut reads it: from a probe of its own (SQLite: a
direct connection; PostgreSQL: one thread batching the requests that wait), never stale with
respect to a write committed before the read began, and never hanging when the database is away."""

import asyncio
import time

import pytest
from sqlalchemy import create_engine

from app.services.data_version import PostgresVersionProbe, bump, read_version


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
