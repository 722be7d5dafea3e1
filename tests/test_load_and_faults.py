"""Real `stancemap serve` processes under concurrent write load and under SIGKILL.

Each test starts the installed console script as a subprocess on a fresh database of its engine,
with a write token made by `stancemap token create`, and talks to it over TCP:

* 16 concurrent writers against two uvicorn workers: no 5xx ("database is locked" included), no
  acknowledged write lost, and after every write batch every worker serves the new data version
  (one ETag for /v1/matrix, whichever worker answers, different from the one before the batch).
* SIGKILL of the server in the middle of a bulk load: after a restart on the same database every
  acknowledged statement is there and intact, revisions and evidence tallies agree with the
  statements, and the SQLite file passes `PRAGMA integrity_check`.

Which worker answered a request is read from /proc (the process holding the server side of the
TCP connection), so the tests need Linux. STANCEMAP_LOAD_SECONDS sets how long the load runs
(default 60 s; 15 s under CI=true).
"""

import os
import random
import signal
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import ENGINES
from tests.servers import (
    SEED_SOURCE,
    STATED_ON,
    Server,
    create_token,
    fetch_all,
    list_statements,
    quote_spans,
    running_server,
    seconds_from_env,
    server_env,
    source_text,
    statement_request,
    writer_client,
)

pytestmark = pytest.mark.skipif(
    not Path("/proc/net/tcp").exists(), reason="needs Linux /proc to see which worker answered"
)


LOAD_SECONDS = seconds_from_env("STANCEMAP_LOAD_SECONDS", default=60, under_ci=15)
WRITERS = 16
WRITES_PER_WRITER_PER_BATCH = 4
KILL_WRITERS = 8
KILL_AFTER_SECONDS = 3.0
# Documented problem statuses of POST /v1/statements (app/api/routes/statements.py).
DOCUMENTED_WRITE_STATUSES = {400, 401, 403, 413, 422}
COMPARED_FIELDS = (
    "id",
    "party",
    "issue",
    "source",
    "stance",
    "summary",
    "quote",
    "selector",
    "speaker",
    "stated_on",
    "revision",
    "recorded_by",
    "retraction",
)


# --- API helpers --------------------------------------------------------------------------------


def assert_intact(statement: dict[str, Any], source: str) -> None:
    selector = statement["selector"]
    assert statement["source"] == SEED_SOURCE, statement
    assert statement["quote"] == source[selector["start"] : selector["end"]], statement


def assert_acknowledged_present(base: str, acknowledged: dict[int, tuple[dict, dict]], source: str) -> None:
    ids = sorted(acknowledged)
    responses = dict(zip(ids, fetch_all(base, [f"/v1/statements/{sid}" for sid in ids]), strict=True))
    missing = {sid: (r.status_code, r.text[:300]) for sid, r in responses.items() if r.status_code != 200}
    assert not missing, f"{len(missing)} acknowledged statements are not readable: {dict(list(missing.items())[:5])}"
    changed = []
    for statement_id, (sent, created) in acknowledged.items():
        stored = responses[statement_id].json()
        assert_intact(stored, source)
        if any(stored[name] != created[name] for name in COMPARED_FIELDS) or stored["quote"] != sent["quote"]:
            changed.append((statement_id, created, stored))
    assert not changed, f"{len(changed)} statements differ from what their POST returned, e.g. {changed[:2]}"


def assert_evidence_counts_match_statements(base: str) -> None:
    """Each matrix cell's evidence_count is the run of its standing statements listed by the API,
    in (stated_on, id) order, that ends with the newest one and shares its stance."""
    listed = sorted(list_statements(base, include_retracted="false"), key=lambda item: (item["stated_on"], item["id"]))
    by_cell: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for item in listed:
        by_cell.setdefault((item["party"], item["issue"]), []).append(item)
    expected = {}
    for key, items in by_cell.items():
        run = 1
        while run < len(items) and items[-run - 1]["stance"] == items[-1]["stance"]:
            run += 1
        expected[key] = run
    response = httpx.get(f"{base}/v1/matrix", timeout=60)
    assert response.status_code == 200, response.text
    today = date.fromisoformat(response.json()["as_of"])
    assert all(date.fromisoformat(day) <= today for day in STATED_ON)
    cells = {(cell["party"], cell["issue"]): cell["evidence_count"] for cell in response.json()["cells"]}
    assert set(expected) <= set(cells)
    wrong = {key: (count, expected.get(key, 0)) for key, count in cells.items() if count != expected.get(key, 0)}
    assert not wrong, f"matrix evidence_count vs the run of standing statements listed, per cell: {wrong}"


@dataclass
class WriteLog:
    """What the writers saw; appended to from many threads (list.append is atomic)."""

    acknowledged: list[tuple[dict, dict]] = field(default_factory=list)
    refused: list[tuple[int, str, dict]] = field(default_factory=list)
    transport_errors: list[tuple[str, dict]] = field(default_factory=list)

    def post(self, client: httpx.Client, body: dict[str, Any]) -> bool:
        """POST one statement; False when the server could not be reached or dropped the request."""
        try:
            response = client.post("/v1/statements", json=body)
        except httpx.TransportError as error:
            self.transport_errors.append((f"{type(error).__name__}: {error}", body))
            return False
        if response.status_code == 201:
            self.acknowledged.append((body, response.json()))
        else:
            self.refused.append((response.status_code, response.text[:2000], body))
        return True

    def by_id(self) -> dict[int, tuple[dict, dict]]:
        found = {created["id"]: (sent, created) for sent, created in self.acknowledged}
        assert len(found) == len(self.acknowledged), "the same id was acknowledged twice"
        return found


def assert_no_failed_writes(log: WriteLog, server: Server) -> None:
    server_errors = [entry for entry in log.refused if entry[0] >= 500]
    assert not server_errors, (
        f"{len(server_errors)} writes got 5xx, e.g. {server_errors[:3]}\nserver log:\n{server.log_tail()}"
    )
    undocumented = [entry for entry in log.refused if entry[0] not in DOCUMENTED_WRITE_STATUSES]
    assert not undocumented, f"undocumented statuses: {undocumented[:3]}"
    assert not log.refused, f"{len(log.refused)} valid writes were refused, e.g. {log.refused[:3]}"


# --- 1. concurrent writers on two workers -------------------------------------------------------


def matrix_etags(server: Server, minimum: int = 6, maximum: int = 200) -> list[tuple[int | None, int, str | None]]:
    """GET /v1/matrix on fresh connections until both workers have answered (and at least
    `minimum` requests were made): (serving pid, status, ETag) per request."""
    answers: list[tuple[int | None, int, str | None]] = []
    for _ in range(maximum):
        with httpx.Client(timeout=60) as client:
            response = client.get(f"{server.base}/v1/matrix")
            client_port = response.extensions["network_stream"].get_extra_info("client_addr")[1]
            pid = server.serving_pid(client_port)
        answers.append((pid, response.status_code, response.headers.get("etag")))
        if len(answers) >= minimum and len({answer[0] for answer in answers if answer[0] is not None}) >= 2:
            break
    return answers


@pytest.mark.parametrize("engine", ENGINES)
def test_concurrent_writers_on_two_workers_lose_nothing_and_agree_on_the_data_version(engine, make_database, tmp_path):
    env = server_env(make_database(engine))
    token = create_token(env, tmp_path, name="loadtest", scope="write")
    with running_server(env, tmp_path, "serve", workers=2) as server:
        source = source_text(server.base)
        spans = quote_spans(source)
        seeds = list_statements(server.base, include_retracted="true")
        assert seeds, "serve loads the seed statements into an empty database"

        first = matrix_etags(server)
        worker_pids = {pid for pid, _, _ in first}
        assert None not in worker_pids and server.process.pid not in worker_pids and len(worker_pids) == 2, first
        assert {status for _, status, _ in first} == {200} and len({etag for _, _, etag in first}) == 1, first
        etag_before = first[0][2]

        log = WriteLog()
        clients = [writer_client(server.base, token) for _ in range(WRITERS)]
        rngs = [random.Random(f"{engine}-{index}") for index in range(WRITERS)]
        etag_problems: list[str] = []
        batches = 0
        writing_seconds = 0.0
        etag_requests = 0

        def write_batch(index: int, batch: int) -> None:
            for number in range(WRITES_PER_WRITER_PER_BATCH):
                body = statement_request(rngs[index], source, spans, f"w{index}-b{batch}-{number}")
                log.post(clients[index], body)

        started = time.monotonic()
        try:
            while time.monotonic() - started < LOAD_SECONDS:
                batch_started = time.monotonic()
                threads = [threading.Thread(target=write_batch, args=(index, batches)) for index in range(WRITERS)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                writing_seconds += time.monotonic() - batch_started
                batches += 1

                answers = matrix_etags(server)
                etag_requests += len(answers)
                pids = {pid for pid, _, _ in answers}
                etags = {etag for _, _, etag in answers}
                if {status for _, status, _ in answers} != {200} or len(etags) != 1 or etag_before in etags:
                    etag_problems.append(f"batch {batches}: ETag before {etag_before}, after: {answers}")
                if pids != worker_pids:
                    etag_problems.append(f"batch {batches}: not both workers {worker_pids} answered: {answers}")
                etag_before = answers[-1][2]
        finally:
            for client in clients:
                client.close()
        elapsed = time.monotonic() - started

        acknowledged = log.by_id()
        rate = len(acknowledged) / writing_seconds if writing_seconds else 0.0
        print(
            f"\n[{engine}] 2 workers, {WRITERS} writers, {batches} batches in {elapsed:.1f} s: "
            f"{len(acknowledged)} statements acknowledged, {rate:.1f} statements/s while writing "
            f"({len(acknowledged) / elapsed:.1f}/s including the ETag checks); "
            f"{len(log.refused)} refused, {len(log.transport_errors)} transport errors; "
            f"{etag_requests} matrix GETs on fresh connections to check the ETags"
        )

        assert_no_failed_writes(log, server)
        assert not log.transport_errors, f"{log.transport_errors[:3]}\nserver log:\n{server.log_tail()}"
        assert "database is locked" not in server.log()
        assert not etag_problems, "\n".join(etag_problems[:5])
        assert batches >= 1 and acknowledged

        assert_acknowledged_present(server.base, acknowledged, source)
        after = list_statements(server.base, include_retracted="true")
        assert len(after) == len(seeds) + len(acknowledged)
        assert {item["id"] for item in after} == {item["id"] for item in seeds} | set(acknowledged)
        assert_evidence_counts_match_statements(server.base)
        assert "Traceback" not in server.log(), server.log_tail()


# --- 2. SIGKILL in the middle of a bulk load ----------------------------------------------------


def revision_one_rows(database_url: str) -> tuple[Counter, int]:
    """Revision-1 rows per statement id, and how many revision rows there are in all."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT statement_id, count(*) FROM statement_revision WHERE revision = 1 GROUP BY statement_id")
            ).all()
            ones = Counter(dict(rows))
            total = connection.execute(text("SELECT count(*) FROM statement_revision")).scalar_one()
            return ones, total
    finally:
        engine.dispose()


@pytest.mark.parametrize("engine", ENGINES)
def test_sigkill_during_a_bulk_load_loses_no_acknowledged_statement(engine, make_database, tmp_path):
    database_url = make_database(engine)
    env = server_env(database_url)
    token = create_token(env, tmp_path, name="loadtest", scope="write")
    log = WriteLog()
    stop = threading.Event()

    with running_server(env, tmp_path, "before-kill", workers=1) as server:
        source = source_text(server.base)
        spans = quote_spans(source)
        seeds = list_statements(server.base, include_retracted="true")
        assert seeds

        # With one worker uvicorn serves from the process started: that is the one to kill.
        with httpx.Client(timeout=30) as probe:
            response = probe.get(f"{server.base}/healthz")
            client_port = response.extensions["network_stream"].get_extra_info("client_addr")[1]
            assert server.serving_pid(client_port) == server.process.pid
        assert b"serve" in Path(f"/proc/{server.process.pid}/cmdline").read_bytes().split(b"\0")

        def writer(index: int) -> None:
            rng = random.Random(f"kill-{engine}-{index}")
            with writer_client(server.base, token) as client:
                number = 0
                while not stop.is_set():
                    if not log.post(client, statement_request(rng, source, spans, f"k{index}-{number}")):
                        return
                    number += 1

        threads = [threading.Thread(target=writer, args=(index,)) for index in range(KILL_WRITERS)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(KILL_AFTER_SECONDS)
            acknowledged_before_kill = len(log.acknowledged)
            os.kill(server.process.pid, signal.SIGKILL)
            assert server.process.wait(timeout=20) == -signal.SIGKILL
            time.sleep(0.5)  # the writers see the dead server
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in threads)

    acknowledged = log.by_id()
    print(
        f"\n[{engine}] SIGKILL after {KILL_AFTER_SECONDS:.0f} s: {len(acknowledged)} statements acknowledged "
        f"({acknowledged_before_kill} before the kill signal), {len(log.transport_errors)} writes cut off"
    )
    assert acknowledged_before_kill > 0, "the load never got going"
    assert_no_failed_writes(log, server)
    assert "database is locked" not in server.log()
    assert log.transport_errors, "the writers should have seen the server die"
    pending_at_kill = len(log.transport_errors)
    assert pending_at_kill <= KILL_WRITERS  # each writer stops at its first failure

    with running_server(env, tmp_path, "after-kill", workers=1) as restarted:
        assert httpx.get(f"{restarted.base}/readyz", timeout=10).status_code == 200
        assert source_text(restarted.base) == source
        assert_acknowledged_present(restarted.base, acknowledged, source)

        statements = list_statements(restarted.base, include_retracted="true")
        ids = {item["id"] for item in statements}
        seed_ids = {item["id"] for item in seeds}
        assert seed_ids | set(acknowledged) <= ids
        # A write cut off by the kill may or may not have committed; nothing else may appear.
        unacknowledged = ids - seed_ids - set(acknowledged)
        assert len(unacknowledged) <= pending_at_kill, unacknowledged
        for item in statements:
            assert_intact(item, source)
            assert item["revision"] == 1, item
        assert_evidence_counts_match_statements(restarted.base)
        assert "Traceback" not in restarted.log(), restarted.log_tail()

    ones, total_revisions = revision_one_rows(database_url)
    assert set(ones) == ids, set(ones) ^ ids
    assert set(ones.values()) == {1}, {sid: n for sid, n in ones.items() if n != 1}
    assert total_revisions == len(ids)
    if engine == "sqlite":
        path = make_url(database_url).database
        connection = sqlite3.connect(path)
        try:
            assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        finally:
            connection.close()
