"""Webhooks against hostile input and hostile receivers: refused requests change nothing, a claimed
delivery follows the webhook as it is when it is sent (deleted, disabled, moved, re-keyed), and a
receiver that hangs, dribbles, floods or hangs up costs one timeout at most."""

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert

from app.config import Settings
from app.models.change_event import ChangeEvent
from app.models.common import utcnow
from app.models.webhook import WebhookDelivery
from app.services import position_history, webhook_delivery, webhook_signing, webhooks
from tests import test_webhook_delivery
from tests.helpers import assert_problem
from tests.test_webhook_delivery import create_webhook, deliveries, state

# The delivery tests' fixtures: a receiver on loopback, fast settings, parties and a source.
receiver = test_webhook_delivery.receiver
settings = test_webhook_delivery.settings
grid = test_webhook_delivery.grid

Behaviour = Callable[[socket.socket], None]


def public_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, str]) -> None:
    """Names resolve to the given addresses; an address to itself."""

    def getaddrinfo(host: bytes | str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        name = host.decode() if isinstance(host, bytes) else host
        address = answers.get(name, name)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(webhooks, "getaddrinfo", getaddrinfo)


# --- refused requests -------------------------------------------------------------------------


def test_a_refused_update_changes_nothing(client, monkeypatch):
    public_dns(monkeypatch, {"hooks.example.org": "93.184.216.34"})
    webhook = create_webhook(client, "https://hooks.example.org/a")
    path = f"/v1/webhooks/{webhook['id']}"
    refused = {"url": "https://hooks.example.org/b", "parties": ["atlantis"], "rotate_secret": True, "enabled": False}
    assert_problem(client.patch(path, json=refused), 422)
    assert_problem(client.patch(path, json={"url": "https://hooks.example.org/b", "enabled": "no"}), 422)
    assert client.get(path).json() == {name: value for name, value in webhook.items() if name != "secret"}
    audited = client.get("/v1/audit", params={"entity": "webhook"}).json()["items"]
    assert [event["action"] for event in audited] == ["create"]


@pytest.mark.parametrize("url", ["https://hooks.example.org:0/", "http://hooks.example.org:0/hook"])
def test_a_url_on_port_zero_is_refused(client, monkeypatch, url):
    public_dns(monkeypatch, {"hooks.example.org": "93.184.216.34"})
    problem = assert_problem(client.post("/v1/webhooks", json={"url": url}), 422, "validation-error")
    assert problem["errors"][0]["field"] == "body.url" and "port" in problem["detail"]
    assert client.get("/v1/webhooks").json()["items"] == []


def test_deleting_twice_is_a_404_and_leaves_one_audit_event(client, monkeypatch):
    public_dns(monkeypatch, {"hooks.example.org": "93.184.216.34"})
    webhook = create_webhook(client, "https://hooks.example.org/a")
    path = f"/v1/webhooks/{webhook['id']}"
    assert client.delete(path).status_code == 204
    assert_problem(client.delete(path), 404, "not-found")
    assert_problem(client.patch(path, json={"enabled": True}), 404, "not-found")
    assert_problem(client.get(f"{path}/deliveries"), 404, "not-found")
    audited = client.get("/v1/audit", params={"entity": "webhook"}).json()["items"]
    assert [event["action"] for event in audited] == ["create", "delete"]


# --- a delivery claimed, then its webhook changed ----------------------------------------------


def claim_one(app, engine) -> webhook_delivery.Claimed:
    (claimed,) = webhook_delivery.claim_due(engine, app.state.write_engine, now=utcnow(), lease_s=30)
    return claimed


def worker_of(app, engine) -> webhook_delivery.DeliveryWorker:
    return webhook_delivery.DeliveryWorker(app.state.write_engine, engine, app.state.settings)


@pytest.mark.parametrize("settings", [{"webhook_delivery": False}], indirect=True)  # claimed by hand here
def test_a_delivery_claimed_before_its_webhook_is_deleted_is_not_sent(app, client, engine, grid, receiver):
    webhook = create_webhook(client, receiver.url)
    state(client, grid["source"], 1, "support")
    claimed = claim_one(app, engine)  # claimed in a batch, not yet being sent
    assert client.delete(f"/v1/webhooks/{webhook['id']}").status_code == 204

    worker_of(app, engine).deliver(claimed)
    assert receiver.received == []


@pytest.mark.parametrize("settings", [{"webhook_delivery": False}], indirect=True)
def test_a_delivery_claimed_before_its_webhook_is_disabled_waits_for_it_to_be_enabled(
    app, client, engine, grid, receiver
):
    webhook = create_webhook(client, receiver.url)
    path = f"/v1/webhooks/{webhook['id']}"
    state(client, grid["source"], 1, "support")
    claimed = claim_one(app, engine)
    assert client.patch(path, json={"enabled": False}).status_code == 200

    worker = worker_of(app, engine)
    worker.deliver(claimed)
    assert receiver.received == []
    (waiting,) = deliveries(client, webhook)
    assert (waiting["status"], waiting["attempts"]) == ("pending", 0)  # no attempt is counted against it

    assert client.patch(path, json={"enabled": True}).status_code == 200
    assert worker.run_round()
    assert len(receiver.received) == 1 and deliveries(client, webhook)[0]["status"] == "delivered"


@pytest.mark.parametrize("settings", [{"webhook_delivery": False}], indirect=True)
def test_a_delivery_claimed_before_a_rotation_and_a_new_url_uses_the_new_ones(app, client, engine, grid, receiver):
    webhook = create_webhook(client, receiver.url)
    state(client, grid["source"], 1, "support")
    claimed = claim_one(app, engine)
    moved = receiver.url.replace("/hooks/", "/moved/")
    changed = client.patch(f"/v1/webhooks/{webhook['id']}", json={"url": moved, "rotate_secret": True}).json()

    worker_of(app, engine).deliver(claimed)
    (request,) = receiver.received
    assert request.path == "/moved/stancemap"
    signed = (request.headers["stancemap-timestamp"], request.body, request.headers["stancemap-signature"])
    assert webhook_signing.verify(changed["secret"], *signed)
    assert not webhook_signing.verify(webhook["secret"], *signed)


@pytest.mark.parametrize("settings", [{"webhook_delivery": False, "webhook_retry_base_s": 0}], indirect=True)
def test_a_retry_after_a_rotation_is_signed_with_the_new_secret(app, client, engine, grid, receiver):
    receiver.answers = [503]
    webhook = create_webhook(client, receiver.url)
    state(client, grid["source"], 1, "support")
    worker = worker_of(app, engine)
    assert worker.run_round() and len(receiver.received) == 1
    rotated = client.patch(f"/v1/webhooks/{webhook['id']}", json={"rotate_secret": True}).json()

    deadline = time.monotonic() + 5
    while len(receiver.received) < 2 and time.monotonic() < deadline:
        worker.run_round()
    first, retry = receiver.received
    assert first.headers["stancemap-delivery"] == retry.headers["stancemap-delivery"] and first.body == retry.body
    for request, secret in ((first, webhook["secret"]), (retry, rotated["secret"])):
        signed = (request.headers["stancemap-timestamp"], request.body, request.headers["stancemap-signature"])
        assert webhook_signing.verify(secret, *signed)


# --- hostile receivers --------------------------------------------------------------------------


class RawReceiver:
    """A TCP server on 127.0.0.1 that reads a request's first bytes and then behaves as told; counts
    the bytes it managed to send."""

    def __init__(self, behaviour: Callable[["RawReceiver", socket.socket], None]) -> None:
        self.sent = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self._behaviour = behaviour
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with connection, suppress(OSError):
            connection.recv(65536)
            self._behaviour(self, connection)

    def send(self, connection: socket.socket, data: bytes) -> None:
        connection.sendall(data)
        self.sent += len(data)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/hook"


@pytest.fixture
def raw_receiver(request: pytest.FixtureRequest) -> Iterator[RawReceiver]:
    server = RawReceiver(request.param)
    yield server
    server.listener.close()


def hangs(_server: RawReceiver, _connection: socket.socket) -> None:
    time.sleep(10)


def dribbles(server: RawReceiver, connection: socket.socket) -> None:
    # Each byte well within a read timeout: only a deadline for the whole exchange ends it.
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 200:
        server.send(connection, bytes([byte]))
        time.sleep(0.1)


def answers_late(server: RawReceiver, connection: socket.socket) -> None:
    time.sleep(1.5)
    server.send(connection, b"HTTP/1.1 204 No Content\r\n\r\n")


def floods_the_body(server: RawReceiver, connection: socket.socket) -> None:
    server.send(connection, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"
    for _ in range(16 * 1024):  # a gigabyte, were it read
        server.send(connection, chunk)


def floods_the_headers(server: RawReceiver, connection: socket.socket) -> None:
    server.send(connection, b"HTTP/1.1 200 OK\r\n")
    for _ in range(100_000):
        server.send(connection, b"X-Filler: " + b"a" * 1000 + b"\r\n")


def hangs_up(_server: RawReceiver, connection: socket.socket) -> None:
    connection.shutdown(socket.SHUT_RDWR)


def send_to(url: str, **values: Any) -> tuple[webhook_delivery.Outcome, float]:
    """An attempt at one delivery to `url` (no database involved), and how long it took."""
    values = {"fetch_allow_private": True, "webhook_timeout_s": 1, **values}
    now = utcnow()
    claimed = webhook_delivery.Claimed(1, 1, 7, 0, now, now + timedelta(seconds=60), url, "whsec_test")
    started = time.monotonic()
    outcome = webhook_delivery.send(claimed, b'{"id":7}', settings=Settings(database_url="sqlite://", **values))
    return outcome, time.monotonic() - started


@pytest.mark.parametrize("raw_receiver", [hangs, dribbles, answers_late], indirect=True)
def test_a_receiver_that_does_not_answer_in_time_fails_at_the_timeout(raw_receiver):
    outcome, took = send_to(raw_receiver.url)
    assert not outcome.delivered and outcome.status_code is None
    assert outcome.error == f"{raw_receiver.url} did not answer within 1 seconds."
    assert 0.9 <= took < 1.5


@pytest.mark.parametrize("raw_receiver", [floods_the_body], indirect=True)
def test_a_receivers_body_is_not_read(raw_receiver):
    outcome, took = send_to(raw_receiver.url)
    assert outcome == webhook_delivery.Outcome(200, None)
    assert took < 0.5 and raw_receiver.sent < 64 * 1024 * 1024


@pytest.mark.parametrize("raw_receiver", [floods_the_headers, hangs_up], indirect=True)
def test_a_receiver_that_breaks_the_protocol_fails_with_a_sentence(raw_receiver):
    outcome, took = send_to(raw_receiver.url)
    assert not outcome.delivered and outcome.status_code is None and took < 1
    assert outcome.error is not None and outcome.error.startswith(f"Sending to {raw_receiver.url} failed: ")
    assert outcome.error.endswith(".") and not outcome.error.endswith("..")


def test_a_name_that_resolves_to_a_private_address_at_delivery_is_not_connected_to(monkeypatch):
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    # Public when the webhook was made; now (DNS rebinding) loopback, where something listens.
    public_dns(monkeypatch, {"hooks.example.org": "127.0.0.1"})
    with listener:
        outcome, _ = send_to(f"http://hooks.example.org:{port}/hook", fetch_allow_private=False)
        with pytest.raises(TimeoutError):
            listener.accept()
    assert outcome.status_code is None
    assert outcome.error is not None and "resolves to 127.0.0.1, a loopback address" in outcome.error


@pytest.mark.parametrize("unchanged", [{"rotate_secret": False}, {"enabled": True}, {"parties": None}, {}])
def test_an_update_that_changes_nothing_writes_nothing(client, monkeypatch, unchanged):
    public_dns(monkeypatch, {"hooks.example.org": "93.184.216.34"})
    webhook = create_webhook(client, "https://hooks.example.org/a")
    path = f"/v1/webhooks/{webhook['id']}"
    answered = client.patch(path, json=unchanged)
    assert answered.status_code == 200
    assert answered.json() == {**webhook, "secret": None}
    assert client.get(path).json()["updated_at"] == webhook["updated_at"]
    audited = client.get("/v1/audit", params={"entity": "webhook"}).json()["items"]
    assert [event["action"] for event in audited] == ["create"]


@pytest.mark.parametrize("settings", [{"webhook_delivery": False}], indirect=True)
def test_a_webhook_deleted_while_its_delivery_is_being_sent_stays_deleted(app, client, engine, grid, receiver):
    webhook = create_webhook(client, receiver.url)
    state(client, grid["source"], 1, "support")
    claimed = claim_one(app, engine)
    receiver.hold.clear()  # the receiver has the request and has not answered yet
    outcome: list[webhook_delivery.Recorded | None] = []
    sender = threading.Thread(target=lambda: outcome.append(worker_of(app, engine).deliver(claimed)))
    sender.start()
    try:
        assert receiver.arrived.wait(5)
        assert client.delete(f"/v1/webhooks/{webhook['id']}").status_code == 204
    finally:
        receiver.hold.set()
        sender.join(5)
    assert outcome == [None]  # its outcome is not recorded: there is nothing left to record it on
    assert_problem(client.get(f"/v1/webhooks/{webhook['id']}/deliveries"), 404)
    assert client.get("/v1/webhooks").json()["items"] == []


@pytest.mark.parametrize("settings", [{"webhook_delivery": False}], indirect=True)
def test_deleting_a_webhook_while_a_write_queues_its_delivery_fails_neither(
    app, client, engine, grid, receiver, monkeypatch
):
    webhook = create_webhook(client, receiver.url)
    in_write, go_on = threading.Event(), threading.Event()
    rebuild_cells = position_history.rebuild_cells

    def paused(*args: Any, **kwargs: Any) -> None:
        in_write.set()  # the write holds the data version lock; its delivery is queued after this
        go_on.wait(10)
        rebuild_cells(*args, **kwargs)

    monkeypatch.setattr(position_history, "rebuild_cells", paused)
    answers: dict[str, int] = {}
    body = {"party": "northland", "issue": "cede-north", "source": grid["source"], "stance": "support"}
    write = threading.Thread(
        target=lambda: answers.update(
            write=client.post("/v1/statements", json={**body, "quote": "Sentence 1 was said."}).status_code
        )
    )
    delete = threading.Thread(
        target=lambda: answers.update(delete=client.delete(f"/v1/webhooks/{webhook['id']}").status_code)
    )
    write.start()
    try:
        assert in_write.wait(10)
        delete.start()
        time.sleep(0.3)  # the delete reaches its wait for the write
    finally:
        go_on.set()
        write.join(15)
        delete.join(15)
    assert answers == {"write": 201, "delete": 204}
    assert client.get("/v1/webhooks").json()["items"] == []


@pytest.mark.parametrize(
    "settings", [{"webhook_delivery": False, "webhook_retry_window_s": 0}], indirect=True
)  # every failure gives its delivery up
def test_deleting_a_webhook_while_a_failure_is_recorded_fails_neither(app, client, engine, grid, receiver):
    receiver.answers = [500]
    webhook = create_webhook(client, receiver.url)
    state(client, grid["source"], 1, "support")
    claimed = claim_one(app, engine)
    deleted: list[int] = []
    deleting = threading.Thread(
        target=lambda: deleted.append(client.delete(f"/v1/webhooks/{webhook['id']}").status_code)
    )

    def delete_meanwhile(_connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # Between the two updates of a failure's record: the delivery's row, then its webhook's count.
        if statement.startswith("UPDATE webhook SET consecutive_failures") and not deleting.is_alive():
            deleting.start()
            time.sleep(0.3)  # the delete is under way, waiting for what the record holds

    write_engine = app.state.write_engine
    event.listen(write_engine, "before_cursor_execute", delete_meanwhile)
    try:
        worker_of(app, engine).deliver(claimed)
    finally:
        event.remove(write_engine, "before_cursor_execute", delete_meanwhile)
        deleting.join(15)
    assert len(receiver.received) == 1 and deleted == [204]
    assert client.get("/v1/webhooks").json()["items"] == []


def test_a_host_whose_lookup_hangs_holds_up_no_other(monkeypatch):
    answered = threading.Event()

    def getaddrinfo(host: bytes | str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        if host == b"slow.example.org":
            answered.wait(10)  # a name server that does not answer
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]

    monkeypatch.setattr(webhooks, "getaddrinfo", getaddrinfo)
    try:
        for _ in range(3):
            with pytest.raises(webhooks.ReceiverRefused, match=r"was not resolved within 0\.1 seconds"):
                webhooks.check_receiver("https://slow.example.org/", allow_private=False, timeout_s=0.1)
        receiver = webhooks.check_receiver("https://hooks.example.org/", allow_private=False, timeout_s=1)
        assert [str(address) for address in receiver.addresses] == ["93.184.216.34"]
    finally:
        answered.set()


def test_a_deliveries_cursor_past_two_to_the_31_continues_the_list(client, engine, monkeypatch):
    public_dns(monkeypatch, {"hooks.example.org": "93.184.216.34"})
    webhook = create_webhook(client, "https://hooks.example.org/a")
    now = utcnow()
    with engine.begin() as connection:
        for n in (1, 2):
            event = insert(ChangeEvent).values(
                party_id=1, issue_id=1, change="new", after=b"{}", stated_on=now.date(), at=now
            )
            event_id = connection.execute(event).inserted_primary_key[0]
            connection.execute(
                insert(WebhookDelivery).values(
                    id=2**31 + n, webhook_id=webhook["id"], event_id=event_id, status="pending"
                )
            )
    path = f"/v1/webhooks/{webhook['id']}/deliveries"
    first = client.get(path, params={"limit": 1}).json()
    second = client.get(path, params={"limit": 1, "cursor": first["next_cursor"]})
    assert second.status_code == 200, second.text
    assert [item["id"] for item in second.json()["items"]] == [2**31 + 2]
