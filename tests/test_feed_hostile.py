"""The change feed against hostile clients and failing writes: odd parameters and headers are 4xx
problems, a write that fails leaves neither an event nor a delivery, an event is never seen before
its write commits, and a reader following `after` under concurrent writers never skips an id."""

import re
import threading
from typing import Any

import anyio
import httpx
import pytest
from pydantic import HttpUrl
from sqlalchemy import func, insert, select

from app.models.change_event import ChangeEvent
from app.models.common import utcnow
from app.models.webhook import WebhookDelivery
from app.services import search_index
from tests import test_change_feed
from tests.helpers import assert_problem
from tests.test_change_feed import state

grid = test_change_feed.grid  # two parties, two issues and a source

STREAM = {"Accept": "text/event-stream"}


def feed(client, **params: Any) -> dict[str, Any]:
    response = client.get("/v1/changes", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def counts(engine) -> tuple[int, int]:
    with engine.connect() as connection:
        events = connection.execute(select(func.count()).select_from(ChangeEvent)).scalar_one()
        deliveries = connection.execute(select(func.count()).select_from(WebhookDelivery)).scalar_one()
    return events, deliveries


# --- what a client can send -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"after": "1e3"},
        {"after": "٣"},
        {"after": str(2**63)},
        {"after": "1", "cursor": "!!"},
        {"cursor": "eyJhZnRlciI6LTF9"},  # {"after":-1}
        {"party": "northland,\x00"},
        {"change": "new,\x00"},
        {"party": "northland", "issue": "cede-north", "change": "NEW"},
        {"limit": "0"},
    ],
)
def test_odd_query_values_are_4xx_problems(client, grid, params):
    response = client.get("/v1/changes", params=params)
    assert 400 <= response.status_code < 500 and response.headers["content-type"] == "application/problem+json"


def test_repeated_parameters_are_refused_not_half_read(client, grid):
    response = client.get("/v1/changes?party=northland&party=southland")
    assert assert_problem(response, 422)["errors"][0]["field"] == "query.party"


@pytest.mark.parametrize("accept", ["text/event-stream;q=0", "text/event-stream;q=abc", "text/event-stream;q=nan"])
def test_an_event_stream_weighed_zero_or_unreadably_is_not_served(client, grid, accept):
    response = client.get("/v1/changes", headers={"Accept": accept})
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"


def stream_request(app, headers: dict[str, bytes], *, method: str = "GET", within_s: float = 10) -> httpx.Response:
    """One request to /v1/changes asking for a stream, with raw header bytes (the test client
    re-encodes them as UTF-8), answered in full within `within_s` seconds or TimeoutError."""

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://stancemap.test") as http:
            with anyio.fail_after(within_s):
                stream = {"Accept": b"text/event-stream", **headers}
                return await http.request(method, "/v1/changes", headers=stream)

    return anyio.run(get)


def test_head_of_the_event_stream_ends_after_the_header_fields(app, client):
    answered = stream_request(app, {}, method="HEAD", within_s=2)
    assert answered.status_code == 200 and answered.content == b""
    assert answered.headers["content-type"].startswith("text/event-stream")


@pytest.mark.parametrize("last_event_id", [b"-1", b"1.5", b" ", b"0x10", b"12345678901234567"])
def test_a_malformed_last_event_id_is_a_422(app, client, last_event_id):
    problem = assert_problem(stream_request(app, {"Last-Event-ID": last_event_id}), 422, "validation-error")
    assert problem["errors"][0]["field"] == "header.Last-Event-ID"


@pytest.mark.parametrize("last_event_id", [b"\xb2", b"1\xb3"])
def test_a_last_event_id_of_superscript_digits_is_a_422(app, client, last_event_id):
    problem = assert_problem(stream_request(app, {"Last-Event-ID": last_event_id}), 422, "validation-error")
    assert problem["errors"][0]["field"] == "header.Last-Event-ID"


def add_events(engine, first_id: int, count: int) -> None:
    now = utcnow()
    rows = [
        {"id": first_id + n, "party_id": 1, "issue_id": 1, "change": "new", "after": b'{"party":"p","issue":"i"}'}
        | {"stated_on": now.date(), "at": now}
        for n in range(count)
    ]
    with engine.begin() as connection:
        connection.execute(insert(ChangeEvent), rows)


def test_a_cursor_past_two_to_the_31_continues_the_feed(client, engine):
    add_events(engine, 2**31 + 1, 3)
    first = feed(client, limit=1)
    assert [item["id"] for item in first["items"]] == [2**31 + 1]
    second = client.get("/v1/changes", params={"limit": 1, "cursor": first["next_cursor"]})
    assert second.status_code == 200, second.text
    assert [item["id"] for item in second.json()["items"]] == [2**31 + 2]


# --- writes that fail, and writes not yet committed ----------------------------------------------


def test_a_refused_or_failed_write_leaves_no_event_and_no_delivery(app, client, engine, grid, monkeypatch):
    app.state.settings.webhook_delivery = False
    app.state.settings.fetch_allow_private = True
    assert client.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"}).status_code == 201
    state(client, grid["source"], 1, "support", "2025-08-01")
    before = counts(engine)
    assert before == (1, 1)

    body = {"party": "northland", "issue": "cede-north", "source": grid["source"], "stance": "oppose"}
    assert_problem(client.post("/v1/statements", json={**body, "quote": "Never said at all."}), 422)
    assert_problem(client.post("/v1/statements", json={**body, "quote": "Sentence 2 was said.", "party": "x"}), 422)

    def fails(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("the search index failed after the events were recorded")

    monkeypatch.setattr(search_index, "update_documents", fails)
    failed = client.post("/v1/statements", json={**body, "quote": "Sentence 2 was said.", "stated_on": "2025-08-02"})
    assert failed.status_code == 500
    monkeypatch.undo()

    assert counts(engine) == before
    assert [item["change"] for item in feed(client)["items"]] == ["new"]
    state(client, grid["source"], 3, "oppose", "2025-08-03")  # the next write's event follows
    assert [item["change"] for item in feed(client)["items"]] == ["new", "reversed"]


def test_an_event_is_not_seen_before_its_write_commits(client, engine, grid, monkeypatch):
    in_transaction, release = threading.Event(), threading.Event()
    update_documents = search_index.update_documents

    def held(*args: Any, **kwargs: Any) -> None:
        in_transaction.set()  # the event row is inserted; the commit waits
        release.wait(10)
        update_documents(*args, **kwargs)

    monkeypatch.setattr(search_index, "update_documents", held)
    writer = threading.Thread(target=state, args=(client, grid["source"], 1, "support", "2025-08-01"))
    writer.start()
    try:
        assert in_transaction.wait(10)
        assert feed(client) == {"items": [], "next_cursor": None, "last_id": 0}
    finally:
        release.set()
        writer.join(10)
    assert [item["change"] for item in feed(client)["items"]] == ["new"]


def test_a_reader_following_after_never_skips_an_id_under_concurrent_writers(client, grid):
    done = threading.Event()
    seen: list[int] = []
    errors: list[BaseException] = []

    def write(party: str, offset: int) -> None:
        try:
            for n in range(8):
                stance = "support" if n % 2 else "oppose"  # each write reverses its cell: one event each
                state(client, grid["source"], offset + n, stance, f"2025-08-{n + 1:02d}", party=party)
        except BaseException as error:  # reported by the test's thread
            errors.append(error)

    def read() -> None:
        while True:
            finished = done.is_set()  # read once more after the writers are done
            batch = feed(client, after=seen[-1] if seen else 0, limit=200)["items"]
            seen.extend(item["id"] for item in batch)
            if finished:
                return

    writers = [
        threading.Thread(target=write, args=(party, offset)) for party, offset in (("northland", 0), ("southland", 10))
    ]
    reader = threading.Thread(target=read)
    reader.start()
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
    done.set()
    reader.join(60)
    assert errors == []
    everything = [item["id"] for item in feed(client, limit=200)["items"]]
    assert len(everything) == 16 and everything == sorted(set(everything))
    assert seen == everything  # in commit order: no id appeared below one already read


def test_an_atom_entry_keeps_its_id_whatever_host_the_reader_asked(app, client, grid):
    state(client, grid["source"], 1, "support", "2025-08-01")
    app.state.settings = app.state.settings.model_copy(update={"public_url": HttpUrl("https://stancemap.example.org/")})
    path = "/v1/parties/northland/changes.atom"
    feeds = [client.get(path, headers={"Host": host}).text for host in ("api.example.org", "127.0.0.1:8000")]
    ids = [re.findall(r"<id>([^<]*)</id>", feed) for feed in feeds]
    assert len(ids[0]) == 2 and ids[0] == ids[1]
    assert ids[0][0].startswith("tag:stancemap.example.org,")
    assert 'href="https://stancemap.example.org/v1/parties/northland/changes.atom"' in feeds[1]
