"""What webhooks cost: (a) the time a write takes with 0, 1 and 10 matching webhooks (each write
queues a delivery per webhook in its own transaction), and (b) how many events per second one
delivery thread sends to a receiver on the same machine.

Builds the schema and loads the seed data into the empty database it is given:

    python bench/webhooks.py --database-url sqlite:////tmp/bench-webhooks.db
    psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE stancemap_bench_webhooks'
    python bench/webhooks.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/stancemap_bench_webhooks

(a) Every round sets how many webhooks are enabled, then times `--writes` POST /v1/statements and as
many retractions of them (each a change of the cell's position, so an event) through the
application in-process (TestClient, the same middleware and commit), going over 0, 1 and 10 and
back in alternating order; medians over the rounds of each round's p50.
(b) With the delivery thread off, `--events` statements are written, each queuing one delivery;
then one DeliveryWorker (as each server process runs) sends them to a receiver in another process
that answers 204, and the time from its start until the last is recorded is measured.
"""

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlmodel import Session, col

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.config import Settings
from app.db import dispose_engines, make_engine
from app.main import create_app
from app.models.token import TokenScope
from app.models.webhook import DeliveryStatus, Webhook, WebhookCreate, WebhookDelivery
from app.services import schema
from app.services.tokens import create_token
from app.services.webhook_delivery import DeliveryWorker
from app.services.webhooks import create_webhook
from seeds.loader import load_seeds
from tests.servers import ISSUES, PARTIES, quote_spans

WEBHOOK_COUNTS = (0, 1, 10)
STANCES = ["support", "oppose", "neutral", "lean_support", "lean_oppose"]


class _Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


def _receive(port: int) -> None:
    ThreadingHTTPServer(("127.0.0.1", port), _Receiver).serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--writes", type=int, default=40, help="statements (and retractions) per round and count")
    parser.add_argument("--events", type=int, default=1000, help="deliveries queued for the throughput run")
    parser.add_argument("--port", type=int, default=8099, help="the receiver's port on 127.0.0.1")
    args = parser.parse_args()

    schema.upgrade(args.database_url)
    settings = Settings(database_url=args.database_url, webhook_delivery=False, fetch_allow_private=True)
    app = create_app(settings)
    receiver = multiprocessing.get_context("spawn").Process(target=_receive, args=(args.port,), daemon=True)
    receiver.start()
    try:
        with Session(app.state.write_engine) as session:
            load_seeds(session)
            token = create_token(session, name="bench-webhooks", scope=TokenScope.admin)
            url = f"http://127.0.0.1:{args.port}/hook"
            for _ in range(max(WEBHOOK_COUNTS)):
                create_webhook(session, WebhookCreate(url=url), actor="bench", allow_private=True)
        with TestClient(app) as client:
            client.headers["Authorization"] = f"Bearer {token}"
            print(f"database: {app.state.engine.dialect.name}; load average: {_load()}")
            _write_cost(app, client, rounds=args.rounds, writes=args.writes)
            _throughput(app, client, settings, events=args.events)
            print(f"load average: {_load()}")
    finally:
        receiver.kill()
        dispose_engines(app.state)


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _enable(app: Any, count: int) -> None:
    with app.state.write_engine.begin() as connection:
        ids = list(connection.execute(select(col(Webhook.id)).order_by(col(Webhook.id))).scalars())
        connection.execute(update(Webhook).values(enabled=col(Webhook.id).in_(ids[:count])))


def _statement(source: str, spans: list[tuple[int, int]], n: int) -> dict[str, Any]:
    start, end = spans[n % len(spans)]
    return {
        "party": PARTIES[n % len(PARTIES)],
        "issue": ISSUES[(n // len(PARTIES)) % len(ISSUES)],
        "source": 1,
        "quote": source[start:end],
        "start": start,
        "stance": STANCES[n % len(STANCES)],
        # After every seed statement: each write changes its cell's latest position.
        "stated_on": "2026-01-01",
    }


def _timed_post(client: TestClient, path: str, body: dict[str, Any]) -> tuple[float, Any]:
    """Milliseconds the write took, and its answer's body."""
    started = time.perf_counter()
    response = client.post(path, json=body)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code in (200, 201), response.text
    return elapsed, response.json()


def _write_cost(app: Any, client: TestClient, *, rounds: int, writes: int) -> None:
    source = client.get("/v1/sources/1/text").text
    spans = quote_spans(source)
    results: dict[int, dict[str, list[float]]] = {count: {"create": [], "retract": []} for count in WEBHOOK_COUNTS}
    n = 0
    for round_index in range(rounds):
        order = WEBHOOK_COUNTS if round_index % 2 == 0 else tuple(reversed(WEBHOOK_COUNTS))
        for count in order:
            _enable(app, count)
            created, retracted = [], []
            for _ in range(writes):
                took, statement = _timed_post(client, "/v1/statements", _statement(source, spans, n))
                created.append(took)
                n += 1
                retract = {"reason": "bench", "retracted_on": "2026-01-02"}
                took, _ = _timed_post(client, f"/v1/statements/{statement['id']}/retract", retract)
                retracted.append(took)
            results[count]["create"].append(statistics.median(created))
            results[count]["retract"].append(statistics.median(retracted))
    with app.state.engine.connect() as connection:
        queued = connection.execute(select(func.count()).select_from(WebhookDelivery)).scalar_one()
    print(f"\n(a) {writes} statements and {writes} retractions per round and webhook count, {rounds} rounds")
    print(f"deliveries queued: {queued}")
    print("| matching webhooks | POST /v1/statements p50 ms | retract p50 ms | per round (create) |")
    print("|---:|---:|---:|---|")
    for count in WEBHOOK_COUNTS:
        create, retract = results[count]["create"], results[count]["retract"]
        rounds_text = " ".join(f"{value:.1f}" for value in create)
        print(f"| {count} | {statistics.median(create):.1f} | {statistics.median(retract):.1f} | {rounds_text} |")
    _clear_deliveries(app)


def _clear_deliveries(app: Any) -> None:
    with app.state.write_engine.begin() as connection:
        connection.execute(WebhookDelivery.__table__.delete())  # type: ignore[attr-defined]  # a table model has one


def _throughput(app: Any, client: TestClient, settings: Settings, *, events: int) -> None:
    _enable(app, 1)
    source = client.get("/v1/sources/1/text").text
    spans = quote_spans(source)
    for n in range(events):
        response = client.post("/v1/statements", json=_statement(source, spans, 100_000 + n))
        assert response.status_code == 201, response.text
    with app.state.engine.connect() as connection:
        queued = connection.execute(select(func.count()).select_from(WebhookDelivery)).scalar_one()
    worker_settings = settings.model_copy(update={"webhook_poll_s": 0.01})
    started = time.perf_counter()
    poll_engine = make_engine(worker_settings.model_copy(update={"pool_size": 1}))
    worker = DeliveryWorker(app.state.write_engine, poll_engine, worker_settings).start()
    try:
        while _pending(app) > 0:
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
    finally:
        worker.stop()
    with app.state.engine.connect() as connection:
        delivered = connection.execute(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(col(WebhookDelivery.status) == DeliveryStatus.delivered.value)
        ).scalar_one()
    print(
        f"\n(b) {queued} deliveries queued, {delivered} delivered by one thread in {elapsed:.2f} s: "
        f"{delivered / elapsed:.0f} events/s"
    )


def _pending(app: Any) -> int:
    with app.state.engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count())
                .select_from(WebhookDelivery)
                .where(col(WebhookDelivery.status) == DeliveryStatus.pending.value)
            ).scalar_one()
        )


if __name__ == "__main__":
    main()
