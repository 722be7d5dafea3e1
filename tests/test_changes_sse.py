"""GET /v1/changes as Server-Sent Events, against real `stancemap serve` processes: events written by
another process arrive, a reconnection resumes after `Last-Event-ID`, heartbeats keep an idle stream
talking, streams end on time so a stopping server waits little, and ids go on across a restart without a repeat."""

import json
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import create_engine

from app.api.routes.changes import _event_stream
from app.config import Settings
from app.services.change_reading import ChangeFilter
from tests.conftest import ENGINES
from tests.servers import Server, create_token, list_all, running_server, server_env, source_text

STREAM = {"Accept": "text/event-stream"}
FAST = {"STANCEMAP_SSE_HEARTBEAT_S": "0.3", "STANCEMAP_SSE_POLL_S": "0.1"}
STREAM_MAX_S = 3
WAIT_S = 10


@dataclass
class Message:
    """One dispatched SSE message: its fields, and the comment lines before it."""

    fields: dict[str, str] = field(default_factory=dict)
    comments: list[str] = field(default_factory=list)


class EventStream:
    """Reads an open text/event-stream response line by line into messages."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.iter_lines()
        self.comments: list[str] = []

    def next_message(self) -> Message:
        """The next block up to a blank line: a message's fields, or comments alone."""
        message = Message()
        for line in self.lines:
            if line == "":
                if message.fields or message.comments:
                    return message
                continue
            if line.startswith(":"):
                message.comments.append(line[1:].strip())
                self.comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            message.fields[name] = value.removeprefix(" ")
        raise AssertionError("the stream ended")

    def changes(self, count: int) -> list[dict[str, Any]]:
        """The next `count` change events, as their JSON documents; each `id:` is the document's id."""
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + WAIT_S
        while len(found) < count:
            assert time.monotonic() < deadline, f"only {len(found)} of {count} events arrived"
            message = self.next_message()
            if message.fields.get("event") == "change":
                document = json.loads(message.fields["data"])
                assert message.fields["id"] == str(document["id"])
                found.append(document)
        return found


@contextmanager
def open_stream(client: httpx.Client, **params: Any) -> Iterator[EventStream]:
    headers = {**STREAM, **params.pop("headers", {})}
    with client.stream("GET", "/v1/changes", params=params, headers=headers) as response:
        assert response.status_code == 200, response.read()
        yield EventStream(response)


@dataclass
class Site:
    server: Server
    token: str
    quotes: list[str]

    def write(self, n: int, stance: str) -> dict[str, Any]:
        """A statement of Russia on a seed issue, one issue per `n`: one new position each time."""
        body = {
            "party": "russia",
            "issue": f"feed-{n}",
            "source": 1,
            "quote": self.quotes[n],
            "stance": stance,
            "stated_on": "2025-08-18",
        }
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.server.base, headers=headers, timeout=30) as client:
            issue = {"slug": f"feed-{n}", "title": f"Feed {n}", "proposition": f"Proposition {n}"}
            assert client.post("/v1/issues", json=issue).status_code == 201
            response = client.post("/v1/statements", json=body)
            assert response.status_code == 201, response.text
            return response.json()


def unique_quotes(text: str) -> list[str]:
    """Lines of the seed article that occur once in it, so a statement needs no offset."""
    lines = [line.strip() for line in text.splitlines() if len(line.strip()) > 20]
    return [line for line in lines if text.count(line) == 1]


@pytest.fixture(scope="module", params=ENGINES)
def site(request, make_database, tmp_path_factory) -> Iterator[Site]:
    env = {**server_env(make_database(request.param)), **FAST}
    workdir = tmp_path_factory.mktemp("sse")
    token = create_token(env, workdir, name="editor", scope="write")
    with running_server(env, workdir, "sse", workers=1) as server:
        yield Site(server, token, unique_quotes(source_text(server.base)))


def test_a_stream_sends_retry_heartbeats_and_each_new_event_once(site):
    with httpx.Client(base_url=site.server.base, timeout=WAIT_S) as client:
        start = client.get("/v1/changes", params={"limit": 1}).json()["last_id"]
        with open_stream(client, after=start) as stream:
            headers = stream.response.headers
            assert headers["content-type"].startswith("text/event-stream")
            assert headers["cache-control"] == "no-cache" and headers["x-accel-buffering"] == "no"
            assert stream.next_message().fields == {"retry": "1000"}
            written = [site.write(1, "support"), site.write(2, "oppose")]
            events = stream.changes(2)
            assert [event["after"]["statement"] for event in events] == [statement["id"] for statement in written]
            assert all(event["id"] > start and event["change"] == "new" for event in events)
            # Streamed events are the list's, as JSON values.
            listed = client.get("/v1/changes", params={"after": start}).json()["items"]
            assert listed == events
            # Idle: heartbeats, and no event sent twice.
            heard = 0
            deadline = time.monotonic() + 3
            while heard < 2:
                assert time.monotonic() < deadline, "no heartbeat"
                message = stream.next_message()
                assert message.fields == {}, message
                heard += message.comments.count("heartbeat")


def test_a_reconnection_resumes_after_last_event_id_and_it_wins_over_after(site):
    first, second, third = (site.write(n, "neutral") for n in (3, 4, 5))
    with httpx.Client(base_url=site.server.base, timeout=WAIT_S) as client:
        listed = client.get("/v1/changes", params={"party": "russia", "limit": 200}).json()["items"]
        by_statement = {event["after"]["statement"]: event["id"] for event in listed}
        resume_from = by_statement[first["id"]]
        with open_stream(client, after=0, headers={"Last-Event-ID": str(resume_from)}) as stream:
            events = stream.changes(2)
            assert [event["after"]["statement"] for event in events] == [second["id"], third["id"]]
        # `after` starts a stream too, filtered like the list.
        with open_stream(client, after=resume_from, issue="feed-5") as stream:
            assert [event["after"]["statement"] for event in stream.changes(1)] == [third["id"]]


def test_ids_continue_across_a_restart_and_a_stop_waits_only_for_a_streams_end(make_database, tmp_path: Path):
    """Two servers on one SQLite file: a stream on one sees what the other writes; a server stopped
    with a stream open exits once the stream has run its course (STANCEMAP_SSE_MAX_S); after a
    restart the ids go on with nothing listed twice."""
    env = {**server_env(make_database("sqlite")), **FAST}
    token = create_token(env, tmp_path, name="editor", scope="write")
    with running_server(env, tmp_path, "writer", workers=1) as writer:
        quotes = unique_quotes(source_text(writer.base))
        writing = Site(writer, token, quotes)
        with (
            running_server({**env, "STANCEMAP_SSE_MAX_S": str(STREAM_MAX_S)}, tmp_path, "reader", workers=1) as reader,
            httpx.Client(base_url=reader.base, timeout=WAIT_S) as client,
        ):
            start = client.get("/v1/changes", params={"limit": 1}).json()["last_id"]
            opened = time.monotonic()
            with open_stream(client, after=start) as stream:
                statement = writing.write(1, "support")
                assert stream.changes(1)[0]["after"]["statement"] == statement["id"]
                reader.process.send_signal(signal.SIGTERM)
                with pytest.raises(AssertionError, match="the stream ended"):
                    while True:
                        assert "event" not in stream.next_message().fields
            reader.process.wait(timeout=WAIT_S)
            assert time.monotonic() - opened < STREAM_MAX_S + 4, reader.log_tail()
        before = list_all(writer.base, "/v1/changes")
    with running_server(env, tmp_path, "restarted", workers=1) as restarted:
        writing = Site(restarted, token, quotes)
        statement = writing.write(2, "oppose")
        last_seen = before[-1]["id"]
        after_restart = list_all(restarted.base, "/v1/changes", after=str(last_seen))
        assert [event["after"]["statement"] for event in after_restart] == [statement["id"]]
        everything = list_all(restarted.base, "/v1/changes")
    assert everything == before + after_restart


def test_a_stream_outlives_an_unreadable_database_and_ends_on_time(tmp_path: Path):
    """No server: the stream itself, on a database file that cannot be opened."""
    engine = create_engine(f"sqlite:///{tmp_path / 'missing' / 'stancemap.db'}")
    settings = Settings(database_url=str(engine.url), sse_heartbeat_s=0.05, sse_poll_s=0.01, sse_max_s=0.5)

    async def read() -> list[bytes]:
        with anyio.fail_after(WAIT_S):
            return [chunk async for chunk in _event_stream(engine, settings, ChangeFilter(), 0)]

    try:
        started = time.monotonic()
        chunks = anyio.run(read)
        assert time.monotonic() - started >= settings.sse_max_s
    finally:
        engine.dispose()
    assert chunks[0] == b"retry: 1000\n\n"
    assert len(chunks) >= 3 and set(chunks[1:]) == {b": heartbeat\n\n"}


def test_a_stream_ends_when_its_client_disconnects(app):
    """At the ASGI level, as uvicorn calls the application: the response finishes soon after the
    client's disconnect is received, instead of polling for nobody."""
    sent: list[dict[str, Any]] = []
    requested = False
    disconnected_at = 0.0

    async def receive() -> dict[str, Any]:
        nonlocal requested, disconnected_at
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await anyio.sleep(0.3)
        disconnected_at = time.monotonic()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/v1/changes",
        "raw_path": b"/v1/changes",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"stancemap.test"), (b"accept", b"text/event-stream")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }

    async def call() -> None:
        with anyio.fail_after(WAIT_S):
            await app(scope, receive, send)

    anyio.run(call)
    assert time.monotonic() - disconnected_at < 2
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    assert sent[1]["body"] == b"retry: 1000\n\n"
