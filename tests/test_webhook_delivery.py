"""Webhook deliveries: every event reaches each receiver that wants it, signed, retried until it
is answered with a 2xx, given up after the retry window, and a webhook failing for good is
disabled. Leases keep two senders off one delivery; a server killed while sending leaves the
delivery to be sent again (at least once, under the same event id)."""

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select
from sqlmodel import col

from app.config import Settings
from app.db import make_engine
from app.models.common import utcnow
from app.models.webhook import DeliveryStatus, WebhookDelivery
from app.services import change_feed, webhook_delivery, webhook_signing
from app.services.positions import JSON_OPTIONS
from tests.conftest import ENGINES
from tests.helpers import create_issue, create_party, create_source, every_item
from tests.servers import create_token, quote_spans, running_server, server_env, source_text, statement_request

README = Path(__file__).resolve().parent.parent / "README.md"
TEXT = " ".join(f"Sentence {n} was said." for n in range(40))
STANCES = ["support", "oppose", "neutral", "lean_support"]


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event_id(self) -> int:
        return int(self.headers["stancemap-event-id"])


class Receiver:
    """A webhook receiver on 127.0.0.1: records every request and answers with the statuses
    queued in `answers` (then 200); while `hold` is clear, requests wait before being answered."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: list[int] = []
        self.hold = threading.Event()
        self.hold.set()
        self.arrived = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver._lock:
                    receiver.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                    status = receiver.answers.pop(0) if receiver.answers else 200
                receiver.arrived.set()
                receiver.hold.wait(30)
                self.send_response(status)
                if status in (301, 302, 307, 308):
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/stancemap"

    def event_ids(self) -> list[int]:
        with self._lock:
            return [request.event_id for request in self.received]

    def close(self) -> None:
        self.hold.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def settings(request: pytest.FixtureRequest, database_url: str) -> Settings:
    # The receiver listens on loopback; short polls and retries keep the tests fast.
    values = {
        "fetch_allow_private": True,
        "webhook_poll_s": 0.05,
        "webhook_retry_base_s": 0.05,
        "webhook_timeout_s": 2,
        "webhook_lease_s": 5,
        **getattr(request, "param", {}),  # a test's own, by indirect parametrization
    }
    return Settings(database_url=database_url, **values)


def wait_for(condition: Callable[[], Any], *, timeout: float = 15, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
def grid(client) -> dict[str, Any]:
    create_party(client, "northland")
    create_party(client, "southland")
    create_issue(client, "cede-north")
    return {"source": create_source(client, text=TEXT)["id"]}


def state(client, source: int, n: int, stance: str, *, party: str = "northland") -> dict[str, Any]:
    body = {
        "party": party,
        "issue": "cede-north",
        "source": source,
        "quote": f"Sentence {n} was said.",
        "stance": stance,
        "stated_on": f"2025-08-{n + 1:02d}",
    }
    response = client.post("/v1/statements", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def create_webhook(client, url: str, **filters: Any) -> dict[str, Any]:
    response = client.post("/v1/webhooks", json={"url": url, **filters})
    assert response.status_code == 201, response.text
    return response.json()


def stored_events(engine) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return change_feed.read_events(connection, limit=10_000)


def deliveries(client, webhook: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.get(f"/v1/webhooks/{webhook['id']}/deliveries", params={"limit": 200})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def readme_verifier() -> Callable[..., bool]:
    """The signature check README.md gives receivers, run as written."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Webhooks") :]
    code = section[section.index("```python\n") + len("```python\n") :]
    namespace: dict[str, Any] = {}
    exec(code[: code.index("```")], namespace)
    return namespace["verify_stancemap_signature"]


def test_every_event_reaches_the_receiver_once_signed_and_as_the_feed_serves_it(client, engine, grid, receiver):
    webhook = create_webhook(client, receiver.url)
    other = create_webhook(client, receiver.url.replace("/hooks/", "/other/"), parties=["southland"])
    first = state(client, grid["source"], 1, "support")
    state(client, grid["source"], 2, "oppose")
    state(client, grid["source"], 3, "oppose")  # the same stance on new evidence: restated
    retracted = client.post(
        f"/v1/statements/{first['id']}/retract", json={"reason": "Misattributed", "retracted_on": "2025-08-20"}
    )
    assert retracted.status_code == 200
    state(client, grid["source"], 4, "neutral", party="southland")

    events = stored_events(engine)
    assert len(events) >= 4
    wait_for(lambda: len(receiver.received) >= len(events) + 1, what="every delivery")
    time.sleep(0.3)  # several polls: nothing more arrives

    by_path: dict[str, list[Received]] = {}
    for request in receiver.received:
        by_path.setdefault(request.headers["stancemap-delivery"], []).append(request)
    assert all(len(requests) == 1 for requests in by_path.values()), "a delivery was sent twice"
    mine = [request for request in receiver.received if request.event_id in {event["id"] for event in events}]
    feed = {event["id"]: orjson.dumps(event, option=JSON_OPTIONS) for event in events}
    southland = [event["id"] for event in events if event["party"] == "southland"]
    assert sorted(request.event_id for request in mine) == sorted([*feed, *southland])

    verify = readme_verifier()
    served = client.get("/v1/changes", params={"limit": 200})
    assert served.status_code == 200, served.text
    for request in mine:
        assert request.body in served.content  # the feed's item, byte for byte, within its page
        secret, wrong = (other, webhook) if request.path.startswith("/other/") else (webhook, other)
        assert request.body == feed[request.event_id]  # byte for byte the feed's document
        assert request.headers["content-type"] == "application/json"
        timestamp, signature = request.headers["stancemap-timestamp"], request.headers["stancemap-signature"]
        assert abs(int(timestamp) - time.time()) < 60
        assert webhook_signing.verify(secret["secret"], timestamp, request.body, signature)
        assert verify(secret["secret"], httpx.Headers(request.headers), request.body)
        assert not verify(wrong["secret"], httpx.Headers(request.headers), request.body)

    listed = deliveries(client, webhook)
    assert sorted(item["event"] for item in listed) == sorted(feed)
    for item in listed:
        assert (item["status"], item["attempts"], item["last_status_code"], item["last_error"]) == (
            "delivered", 1, 200, None
        )  # fmt: skip
        assert item["delivered_at"] is not None
    assert [item["event"] for item in deliveries(client, other)] == southland


def test_a_failed_attempt_is_retried_with_the_same_event_and_delivery_ids(client, grid, receiver):
    receiver.answers = [500, 503]
    webhook = create_webhook(client, receiver.url)
    state(client, grid["source"], 1, "support")

    wait_for(lambda: len(receiver.received) >= 3, what="two retries")
    first, second, third = receiver.received[:3]
    for header in ("stancemap-event-id", "stancemap-delivery"):
        assert first.headers[header] == second.headers[header] == third.headers[header]
    assert first.body == second.body == third.body
    (delivery,) = wait_for(
        lambda: [item for item in deliveries(client, webhook) if item["status"] == "delivered"], what="delivered"
    )
    assert (delivery["attempts"], delivery["last_status_code"], delivery["last_error"]) == (3, 200, None)
    assert client.get(f"/v1/webhooks/{webhook['id']}").json()["consecutive_failures"] == 0


def test_redirects_are_not_followed(client, grid, receiver):
    receiver.answers = [302]
    webhook = create_webhook(client, receiver.url)
    state(client, grid["source"], 1, "support")

    (delivery,) = wait_for(lambda: [item for item in deliveries(client, webhook) if item["attempts"]], what="attempt")
    assert delivery["last_status_code"] == 302 and "redirects are not followed" in delivery["last_error"]
    wait_for(lambda: [item for item in deliveries(client, webhook) if item["status"] == "delivered"], what="retry")
    assert [request.headers["host"] for request in receiver.received] == [receiver.url.split("/")[2]] * 2


def test_a_webhook_whose_deliveries_keep_failing_is_disabled(app, client, grid, receiver):
    app.state.settings.webhook_retry_window_s = 0  # every failure gives its delivery up
    app.state.settings.webhook_disable_after = 2
    receiver.answers = [500] * 10
    webhook = create_webhook(client, receiver.url)
    path = f"/v1/webhooks/{webhook['id']}"
    state(client, grid["source"], 1, "support")
    wait_for(lambda: client.get(path).json()["consecutive_failures"] == 1, what="a delivery given up")
    assert client.get(path).json()["enabled"] is True
    state(client, grid["source"], 2, "oppose")

    disabled = wait_for(lambda: (body := client.get(path).json())["enabled"] is False and body, what="disabled")
    assert disabled["consecutive_failures"] == 2 and disabled["disabled_at"] is not None
    assert "2 deliveries in a row failed" in disabled["disabled_reason"]
    assert [(item["status"], item["attempts"], item["last_status_code"]) for item in deliveries(client, webhook)] == [
        ("failed", 1, 500)
    ] * 2

    state(client, grid["source"], 3, "neutral")  # no delivery is queued for a disabled webhook
    time.sleep(0.3)
    assert len(receiver.received) == 2 and len(deliveries(client, webhook)) == 2

    enabled = client.patch(path, json={"enabled": True}).json()
    assert enabled["enabled"] is True and enabled["consecutive_failures"] == 0 and enabled["disabled_reason"] is None


def test_a_private_address_is_refused_at_delivery_when_it_is_no_longer_allowed(app, client, grid, receiver):
    webhook = create_webhook(client, receiver.url)
    app.state.settings.fetch_allow_private = False  # the worker checks the address again before sending
    state(client, grid["source"], 1, "support")

    (delivery,) = wait_for(lambda: [item for item in deliveries(client, webhook) if item["attempts"]], what="attempt")
    assert delivery["status"] == "pending" and delivery["last_status_code"] is None
    assert "is a loopback address" in delivery["last_error"]
    assert "STANCEMAP_FETCH_ALLOW_PRIVATE=true" in delivery["last_error"]
    assert receiver.received == []


@pytest.mark.parametrize("settings", [{"webhook_delivery": False}], indirect=True)  # claimed by hand here
def test_one_sender_holds_a_delivery_until_its_lease_expires(app, client, engine, grid, receiver):
    create_webhook(client, receiver.url)
    state(client, grid["source"], 1, "support")
    write_engine, settings = app.state.write_engine, app.state.settings
    now = utcnow()

    def claim(at):  # type: ignore[no-untyped-def]
        return webhook_delivery.claim_due(engine, write_engine, now=at, lease_s=5)

    results: list[list[webhook_delivery.Claimed]] = []
    racers = [threading.Thread(target=lambda: results.append(claim(now))) for _ in range(4)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    assert sorted(len(result) for result in results) == [0, 0, 0, 1]
    (held,) = [result[0] for result in results if result]
    assert claim(now + timedelta(seconds=4.9)) == []
    (taken_over,) = claim(now + timedelta(seconds=5.1))  # the holder died: its lease expired

    late = webhook_delivery.Outcome(200, None)
    assert webhook_delivery.record(write_engine, held, late, settings=settings, now=utcnow()) is None
    with engine.connect() as connection:
        row = connection.execute(select(WebhookDelivery).where(col(WebhookDelivery.id) == held.id)).one()
    assert (row.status, row.attempts, row.lease_until) == ("pending", 0, taken_over.lease_until)
    recorded = webhook_delivery.record(write_engine, taken_over, late, settings=settings, now=utcnow())
    assert recorded == webhook_delivery.Recorded(DeliveryStatus.delivered)


@pytest.mark.parametrize("settings", [{"webhook_delivery": False, "webhook_retry_base_s": 1}], indirect=True)
def test_after_a_failure_the_webhooks_other_deliveries_wait_for_its_retry(app, client, engine, grid, receiver):
    receiver.answers = [503]
    down, up = create_webhook(client, receiver.url), create_webhook(client, receiver.url.replace("/hooks/", "/up/"))
    for n in range(3):
        state(client, grid["source"], n, STANCES[n])
    worker = webhook_delivery.DeliveryWorker(app.state.write_engine, engine, app.state.settings)

    assert worker.run_round()  # one round: the first delivery to `down` fails, then those to `up` are sent
    assert [request.path.split("/")[1] for request in receiver.received] == ["hooks", "up", "up", "up"]
    waiting = deliveries(client, down)
    assert [(item["status"], item["attempts"]) for item in waiting] == [("pending", 1), ("pending", 0), ("pending", 0)]
    assert len({item["next_attempt_at"] for item in waiting}) == 1  # all at the failed one's retry
    assert [item["status"] for item in deliveries(client, up)] == ["delivered"] * 3
    assert not worker.run_round()  # nothing is due before it

    wait_for(lambda: worker.run_round() and len(receiver.received) == 7, what="the retry", timeout=5)
    assert [item["status"] for item in deliveries(client, down)] == ["delivered"] * 3
    assert [item["attempts"] for item in deliveries(client, down)] == [2, 1, 1]


def test_retry_delays_double_from_the_base_up_to_an_hour_with_jitter():
    assert webhook_delivery.retry_delay(1, 10, rng=lambda: 0.0) == 10
    assert webhook_delivery.retry_delay(4, 10, rng=lambda: 0.0) == 80
    assert webhook_delivery.retry_delay(4, 10, rng=lambda: 1.0) == 60
    assert webhook_delivery.retry_delay(30, 10, rng=lambda: 0.0) == 3600
    assert webhook_delivery.retry_delay(5000, 10, rng=lambda: 0.0) == 3600


def test_signatures_fail_for_another_secret_body_or_a_stale_timestamp():
    secret, body, now = "whsec_test", b'{"id":1}', 1_765_000_000
    header = webhook_signing.signature(secret, now, body)
    assert header.startswith("v1=") and len(header) == 3 + 64
    verify = readme_verifier()
    headers = httpx.Headers({"Stancemap-Timestamp": str(now), "Stancemap-Signature": header})
    for check in (
        lambda s, t, b, h, **kw: webhook_signing.verify(s, t, b, h, **kw),
        lambda s, t, b, h, **kw: verify(
            s, httpx.Headers({"Stancemap-Timestamp": t, "Stancemap-Signature": h}), b, **kw
        ),
    ):
        assert check(secret, str(now), body, header, now=now + 299)
        assert not check("whsec_other", str(now), body, header, now=now)
        assert not check(secret, str(now), b'{"id":2}', header, now=now)
        assert not check(secret, str(now + 1), body, header, now=now)  # the timestamp is signed too
        assert not check(secret, str(now), body, header, now=now + 301)  # stale: a replay
        assert not check(secret, str(now), body, header, now=now - 301)
        assert not check(secret, "soon", body, header, now=now)
        assert not check(secret, str(now), body, "v1=" + "0" * 64, now=now)
    assert webhook_signing.verify(secret, str(now), body, f"v2=abc, {header}", now=now)
    assert verify(secret, headers, body, now=now)


@pytest.mark.parametrize("engine_name", ENGINES)
def test_a_delivery_cut_off_by_sigkill_is_sent_again_after_the_restart(engine_name, make_database, tmp_path, receiver):
    database_url = make_database(engine_name)
    env = server_env(database_url)
    env |= {
        "STANCEMAP_FETCH_ALLOW_PRIVATE": "true",
        "STANCEMAP_WEBHOOK_POLL_S": "0.1",
        "STANCEMAP_WEBHOOK_RETRY_BASE_S": "0.2",
        "STANCEMAP_WEBHOOK_TIMEOUT_S": "2",
        "STANCEMAP_WEBHOOK_LEASE_S": "3",
    }
    token = create_token(env, tmp_path, name="admin", scope="admin")
    headers = {"Authorization": f"Bearer {token}"}
    receiver.hold.clear()  # requests wait for an answer: the server dies while sending
    with running_server(env, tmp_path, "before-kill", workers=2) as server:
        with httpx.Client(base_url=server.base, headers=headers, timeout=60) as api:
            created = api.post("/v1/webhooks", json={"url": receiver.url})
            assert created.status_code == 201, created.text
            webhook = created.json()
            source = source_text(server.base)
            spans, rng = quote_spans(source), random.Random(engine_name)
            for n in range(6):
                # Stated after every seed statement: each write changes its cell's latest position.
                body = {**statement_request(rng, source, spans, f"kill {n}"), "stated_on": f"2026-01-{n + 1:02d}"}
                assert api.post("/v1/statements", json=body).status_code == 201
        assert receiver.arrived.wait(20), server.log_tail()
        server.kill()
    receiver.hold.set()
    held = receiver.received[0]

    path = f"/v1/webhooks/{webhook['id']}/deliveries"
    with (
        running_server(env, tmp_path, "after-kill", workers=1) as restarted,
        httpx.Client(base_url=restarted.base, headers=headers, timeout=60) as api,
    ):
        listed = wait_for(
            lambda: (items := every_item(api, path)) and all(item["status"] == "delivered" for item in items) and items,
            timeout=30,
            what="every delivery delivered",
        )
    expected = {item["event"] for item in listed}
    assert len(expected) >= 6
    assert set(receiver.event_ids()) == expected  # every event at least once, and no other
    assert receiver.event_ids().count(held.event_id) >= 2  # the one cut off was sent again
    by_delivery: dict[str, set[tuple[str, bytes]]] = {}
    for request in receiver.received:
        by_delivery.setdefault(request.headers["stancemap-delivery"], set()).add(
            (request.headers["stancemap-event-id"], request.body)
        )
    assert all(len(sent) == 1 for sent in by_delivery.values())  # a duplicate carries the same event id and body
    assert {item["id"] for item in listed} == {int(delivery) for delivery in by_delivery}


def test_a_failing_round_is_logged_once_a_minute_not_at_every_poll(tmp_path, caplog):
    settings = Settings(database_url=f"sqlite:///{tmp_path}/not-migrated.db", webhook_poll_s=0.01)
    write_engine, read_engine = make_engine(settings, for_writes=True), make_engine(settings)
    worker = webhook_delivery.DeliveryWorker(write_engine, read_engine, settings)
    with caplog.at_level(logging.ERROR, logger="stancemap"):
        worker.start()
        time.sleep(0.3)  # some thirty rounds, each failing: there is no webhook_delivery table
        worker.stop()
    write_engine.dispose()
    failures = [record for record in caplog.records if "webhook delivery round failed" in record.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info is not None
