"""Writes and the database's write lock, on a real server over TCP.

Writers queue for the lock from their first read (SQLite: BEGIN IMMEDIATE; PostgreSQL: the data
version row every write updates, locked when a write transaction begins), so two corrections of
one statement sent at once both land, one after the other. A write whose wait for the lock runs
out (SQLite's busy timeout, PostgreSQL's `lock_timeout`, here set through the database URL) is a
503 `busy` problem with Retry-After, writes nothing, and leaves the connection usable.
"""

import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import ENGINES
from tests.helpers import assert_problem
from tests.servers import (
    create_token,
    quote_spans,
    running_server,
    server_env,
    source_text,
    statement_request,
    writer_client,
)

LOCK_WAIT_MS = 200


def _with_lock_timeout(database_url: str, engine: str) -> tuple[str, dict[str, str]]:
    """The database URL and extra environment that make the server give up a lock wait after LOCK_WAIT_MS."""
    if engine == "sqlite":
        return database_url, {"STANCEMAP_SQLITE_BUSY_TIMEOUT_MS": str(LOCK_WAIT_MS)}
    url = make_url(database_url).update_query_dict({"options": f"-c lock_timeout={LOCK_WAIT_MS}"})
    return url.render_as_string(hide_password=False), {}


@contextmanager
def write_lock_held(database_url: str) -> Iterator[None]:
    """Holds what every write needs, from a connection outside the server, until the block ends."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        connection = sqlite3.connect(url.database, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            yield
            connection.execute("ROLLBACK")
        finally:
            connection.close()
        return
    conninfo = url.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as connection:
        connection.execute("SELECT version FROM data_version WHERE id = 1 FOR UPDATE")
        yield
        connection.rollback()


def wait_for_lock_waiters(database_url: str, count: int) -> None:
    """Until `count` server connections wait for a lock (PostgreSQL shows them; for SQLite, whose
    waiters sleep in its busy handler unseen, a moment)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        time.sleep(1)
        return
    conninfo = url.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        for _ in range(200):
            waiting = connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()
            if waiting is not None and waiting[0] >= count:
                return
            time.sleep(0.05)
    pytest.fail(f"{count} requests should be waiting for the lock")


def _client_port(response: httpx.Response) -> int:
    return response.extensions["network_stream"].get_extra_info("client_addr")[1]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_write_that_cannot_get_the_lock_in_time_is_503_busy_and_the_connection_stays_usable(
    engine, make_database, tmp_path: Path
):
    database_url = make_database(engine)
    server_url, extra_env = _with_lock_timeout(database_url, engine)
    env = {**server_env(server_url), **extra_env}
    token = create_token(env, tmp_path, name="editor", scope="write")
    with running_server(env, tmp_path, "serve", workers=1) as server:
        source = source_text(server.base)
        body = statement_request(random.Random(0), source, quote_spans(source), "busy")
        with httpx.Client(base_url=server.base, timeout=30, headers={"Authorization": f"Bearer {token}"}) as client:
            before = client.get("/v1/statements", params={"include_retracted": "true", "limit": 200}).json()["items"]
            etag_before = client.get("/v1/matrix").headers["etag"]

            with write_lock_held(database_url):
                refused = client.post("/v1/statements", json=body)
                problem = assert_problem(refused, 503, "busy")
                assert refused.headers["retry-after"] == "1"
                assert "retry" in problem["detail"]
                # Reads go on meanwhile: the lock held is a write lock.
                assert client.get("/v1/matrix").headers["etag"] == etag_before

            after = client.get("/v1/statements", params={"include_retracted": "true", "limit": 200}).json()["items"]
            assert after == before
            assert client.get("/v1/matrix").headers["etag"] == etag_before

            accepted = client.post("/v1/statements", json=body)
            assert accepted.status_code == 201, accepted.text
            assert _client_port(accepted) == _client_port(refused), "the server closed the connection after the 503"
        log = server.log()
        assert "Traceback" not in log and "Exception in ASGI application" not in log, server.log_tail()


@pytest.mark.parametrize("engine", ENGINES)
def test_two_corrections_of_one_statement_sent_at_once_both_land(engine, make_database, tmp_path: Path):
    database_url = make_database(engine)
    env = server_env(database_url)
    token = create_token(env, tmp_path, name="editor", scope="write")
    with running_server(env, tmp_path, "serve", workers=1) as server:
        source = source_text(server.base)
        with writer_client(server.base, token) as client:
            created = client.post(
                "/v1/statements", json=statement_request(random.Random(1), source, quote_spans(source), "race")
            )
        assert created.status_code == 201, created.text
        path = f"/v1/statements/{created.json()['id']}"
        answers: dict[str, httpx.Response] = {}

        def correct(summary: str) -> None:
            with writer_client(server.base, token) as client:
                answers[summary] = client.patch(path, json={"summary": summary})

        threads = [threading.Thread(target=correct, args=(summary,)) for summary in ("first", "second")]
        # Both wait for a write that holds the lock, so they run into each other as soon as it ends.
        with write_lock_held(database_url):
            for thread in threads:
                thread.start()
            wait_for_lock_waiters(database_url, 2)
        for thread in threads:
            thread.join(timeout=60)

        assert {summary: answer.status_code for summary, answer in answers.items()} == {"first": 200, "second": 200}, {
            summary: answer.text for summary, answer in answers.items()
        }
        revisions = {answer.json()["revision"]: summary for summary, answer in answers.items()}
        assert set(revisions) == {2, 3}
        history = httpx.get(f"{server.base}{path}/history", timeout=30).json()["revisions"]
        assert [(revision["revision"], revision["summary"]) for revision in history[1:]] == sorted(revisions.items())
        assert httpx.get(f"{server.base}{path}", timeout=30).json()["summary"] == revisions[3]
        assert "Traceback" not in server.log(), server.log_tail()
