"""SQLite writers of one process take the write lock in the order they asked for it, and a
writer that gives up or fails never keeps the others waiting."""

import sqlite3
import threading
import time

import pytest
from sqlalchemy import text

from app.config import Settings
from app.db import WriterQueue, make_engine, writer_queue


def _queued(queue: WriterQueue, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(queue._waiting) < count:  # how many wait in line: the only way to know a thread has joined it
        assert time.monotonic() < deadline, "the writers never joined the line"
        time.sleep(0.001)


def test_writers_get_their_turn_in_the_order_they_asked():
    queue = WriterQueue()
    holder = object()
    assert queue.wait_turn(holder, time.monotonic() + 1)
    writers = [object() for _ in range(6)]
    served: list[object] = []
    threads = []
    for position, writer in enumerate(writers, start=1):

        def write(writer: object = writer) -> None:
            assert queue.wait_turn(writer, time.monotonic() + 30)
            served.append(writer)
            queue.done(writer)

        threads.append(threading.Thread(target=write))
        threads[-1].start()
        _queued(queue, position)
    queue.done(holder)
    for thread in threads:
        thread.join(timeout=30)
    assert served == writers


def test_a_writer_that_gives_up_leaves_the_line_to_the_next():
    queue = WriterQueue()
    holder, impatient, patient = object(), object(), object()
    assert queue.wait_turn(holder, time.monotonic() + 1)
    results: dict[str, bool] = {}
    waiter = threading.Thread(target=lambda: results.update(patient=queue.wait_turn(patient, time.monotonic() + 30)))
    assert not queue.wait_turn(impatient, time.monotonic() + 0.05)
    waiter.start()
    _queued(queue, 1)
    queue.done(impatient)  # never held the turn: changes nothing
    queue.done(holder)
    waiter.join(timeout=30)
    assert results == {"patient": True}


@pytest.fixture
def sqlite_path(tmp_path):
    path = tmp_path / "writers.db"
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE note (id INTEGER PRIMARY KEY, writer TEXT)")
    connection.close()
    return path


def test_a_write_that_cannot_begin_does_not_hold_up_the_next(sqlite_path):
    engine = make_engine(Settings(database_url=f"sqlite:///{sqlite_path}", sqlite_busy_timeout_ms=300), for_writes=True)
    other_process = sqlite3.connect(sqlite_path, isolation_level=None)
    try:
        queue = writer_queue(engine)
        assert queue is not None
        other_process.execute("BEGIN IMMEDIATE")
        with pytest.raises(Exception, match="database is locked"), engine.begin() as connection:
            connection.execute(text("INSERT INTO note (writer) VALUES ('refused')"))
        assert not queue.held
        other_process.execute("COMMIT")
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO note (writer) VALUES ('next')"))
            assert queue.held
        assert not queue.held
        with engine.connect() as connection:
            assert connection.execute(text("SELECT writer FROM note")).scalars().all() == ["next"]
    finally:
        other_process.close()
        engine.dispose()


def test_many_writers_of_one_process_all_write(sqlite_path):
    engine = make_engine(
        Settings(database_url=f"sqlite:///{sqlite_path}", pool_size=8, sqlite_busy_timeout_ms=30_000), for_writes=True
    )
    failures: list[BaseException] = []

    def write(number: int) -> None:
        try:
            for round_number in range(20):
                with engine.begin() as connection:
                    connection.execute(text("INSERT INTO note (writer) VALUES (:w)"), {"w": f"{number}-{round_number}"})
        except BaseException as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=write, args=(number,)) for number in range(16)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not failures, failures[:3]
        assert not writer_queue(engine).held  # type: ignore[union-attr]
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM note")).scalar_one() == 16 * 20
    finally:
        engine.dispose()
