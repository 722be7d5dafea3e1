"""Sending webhook deliveries: the outbox (app/services/webhook_outbox.py) read by a thread in every
server process.

A round claims due deliveries with a lease (a short write transaction whose conditional UPDATE only
one process can win), sends each outside any transaction, and records the outcome in another short
transaction that holds only while the lease is still the one this process took. So one process
sends a given delivery at a time, however many run; a process killed while sending leaves its lease
to expire, and another (or the same one restarted) sends the delivery again: at least once, and a
receiver drops duplicates by `Stancemap-Event-Id`.

A 2xx answer delivers. Anything else (another status, a redirect, which is not followed, no answer
in time, an address no longer allowed) is retried after a delay doubling from
STANCEMAP_WEBHOOK_RETRY_BASE_S up to an hour, with jitter, until STANCEMAP_WEBHOOK_RETRY_WINDOW_S
after the event; then the delivery is given up (failed). The webhook's other deliveries due before
that retry wait for it. A webhook with STANCEMAP_WEBHOOK_DISABLE_AFTER deliveries given up in a
row, none delivered between, is disabled.
"""

import dataclasses
import functools
import logging
import random
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy import Select, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import col

from app.config import Settings
from app.models.common import utcnow
from app.models.webhook import DeliveryStatus, Webhook, WebhookDelivery
from app.services import change_feed, webhook_signing
from app.services.positions import JSON_OPTIONS
from app.services.webhooks import ReceiverRefused, check_receiver

logger = logging.getLogger("stancemap")

# Deliveries claimed per round; the lease of those not reached in time is given back.
CLAIM_BATCH = 10
MAX_RETRY_DELAY_S = 3600.0
# A retry waits between 75% and 100% of its delay, so receivers that failed together are not retried together.
JITTER = 0.25
USER_AGENT = "Stancemap-Webhooks/0.1"
_ERROR_MAX_CHARS = 500
FAILURE_LOG_INTERVAL_S = 60.0


@dataclass(frozen=True)
class Claimed:
    """A delivery this process holds the lease of, with what sending it needs."""

    id: int
    webhook_id: int
    event_id: int
    attempts: int
    created_at: datetime
    lease_until: datetime
    url: str
    secret: str


@dataclass(frozen=True)
class Outcome:
    """How an attempt went: the receiver's status if it answered, and why it failed (None: delivered)."""

    status_code: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.error is None


def _due(now: datetime, limit: int) -> Select[Any]:
    return (
        select(col(WebhookDelivery.id))
        .join(Webhook, col(Webhook.id) == col(WebhookDelivery.webhook_id))
        .where(
            col(WebhookDelivery.status) == DeliveryStatus.pending.value,
            col(WebhookDelivery.next_attempt_at) <= now,
            or_(col(WebhookDelivery.lease_until).is_(None), col(WebhookDelivery.lease_until) < now),
            col(Webhook.enabled),
        )
        .order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.id))
        .limit(limit)
    )


def claim_due(read_engine: Engine, write_engine: Engine, *, now: datetime, lease_s: float) -> list[Claimed]:
    """Takes the lease of up to CLAIM_BATCH due deliveries of enabled webhooks; returns those won.

    An idle round only reads. On SQLite the claim goes through the write engine, queueing with the
    other writers of the process; on PostgreSQL candidates locked by another claim are skipped."""
    with read_engine.connect() as connection:
        if connection.execute(_due(now, 1)).first() is None:
            return []
    lease_until = now + timedelta(seconds=lease_s)
    with write_engine.begin() as connection:
        candidates = _due(now, CLAIM_BATCH)
        if connection.dialect.name == "postgresql":
            candidates = candidates.with_for_update(of=WebhookDelivery, skip_locked=True)
        won = [
            delivery_id
            for delivery_id in connection.execute(candidates).scalars()
            if _take_lease(connection, delivery_id, now=now, lease_until=lease_until)
        ]
        if not won:
            return []
        rows = connection.execute(
            select(
                col(WebhookDelivery.id),
                col(WebhookDelivery.webhook_id),
                col(WebhookDelivery.event_id),
                col(WebhookDelivery.attempts),
                col(WebhookDelivery.created_at),
                col(Webhook.url),
                col(Webhook.secret),
            )
            .join(Webhook, col(Webhook.id) == col(WebhookDelivery.webhook_id))
            .where(col(WebhookDelivery.id).in_(won))
            .order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.id))
        ).all()
    return [
        Claimed(
            id=row.id,
            webhook_id=row.webhook_id,
            event_id=row.event_id,
            attempts=row.attempts,
            created_at=row.created_at,
            lease_until=lease_until,
            url=row.url,
            secret=row.secret,
        )
        for row in rows
    ]


def _take_lease(connection: Connection, delivery_id: int, *, now: datetime, lease_until: datetime) -> bool:
    """The claim itself: of processes racing for the same delivery, one updates the row."""
    taken = connection.execute(
        update(WebhookDelivery)
        .where(
            col(WebhookDelivery.id) == delivery_id,
            col(WebhookDelivery.status) == DeliveryStatus.pending.value,
            or_(col(WebhookDelivery.lease_until).is_(None), col(WebhookDelivery.lease_until) < now),
        )
        .values(lease_until=lease_until)
    )
    return taken.rowcount == 1


def release(write_engine: Engine, deliveries: Sequence[Claimed], *, due_at: datetime | None = None) -> None:
    """Gives back leases unused (shutdown, no time left in them, or a receiver that just failed):
    the deliveries are due again at once, or at `due_at`; no attempt is counted."""
    if not deliveries:
        return
    values: dict[str, Any] = {"lease_until": None} | ({} if due_at is None else {"next_attempt_at": due_at})
    with write_engine.begin() as connection:
        for delivery in deliveries:
            connection.execute(_held(delivery).values(**values))


def _held(delivery: Claimed) -> Any:
    """An UPDATE of the delivery that changes nothing once the lease is no longer the one taken."""
    return update(WebhookDelivery).where(
        col(WebhookDelivery.id) == delivery.id, col(WebhookDelivery.lease_until) == delivery.lease_until
    )


def as_it_is_now(read_engine: Engine, delivery: Claimed) -> Claimed | None:
    """The claimed delivery with its webhook's URL and secret as they are now; None when since the
    claim the webhook was deleted or disabled, or the lease was lost. A round's claim can be
    seconds old when a delivery's turn comes: a change an admin made meanwhile holds at once."""
    with read_engine.connect() as connection:
        row = connection.execute(
            select(col(Webhook.url), col(Webhook.secret))
            .join(WebhookDelivery, col(WebhookDelivery.webhook_id) == col(Webhook.id))
            .where(
                col(WebhookDelivery.id) == delivery.id,
                col(WebhookDelivery.lease_until) == delivery.lease_until,
                col(Webhook.enabled),
            )
        ).first()
    return None if row is None else dataclasses.replace(delivery, url=row.url, secret=row.secret)


def event_body(read_engine: Engine, event_id: int) -> bytes | None:
    """The event document, byte for byte as GET /v1/changes serves it; None if there is no such event."""
    with read_engine.connect() as connection:
        events = change_feed.read_events(connection, after=event_id - 1, limit=1)
    if not events or events[0]["id"] != event_id:
        return None
    return orjson.dumps(events[0], option=JSON_OPTIONS)


def send(delivery: Claimed, body: bytes, *, settings: Settings) -> Outcome:
    """POSTs the signed body to the webhook's URL, connecting to an address checked just now (the
    check of the URL when it was given is not enough: DNS answers change). Within
    STANCEMAP_WEBHOOK_TIMEOUT_S, resolving included; redirects are not followed."""
    timeout_s = settings.webhook_timeout_s
    deadline = time.monotonic() + timeout_s
    try:
        receiver = check_receiver(delivery.url, allow_private=settings.fetch_allow_private, timeout_s=timeout_s)
    except ReceiverRefused as refused:
        return Outcome(None, str(refused))
    timestamp = int(time.time())
    url = receiver.url
    host = url.raw_host.decode("ascii")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Host": url.netloc.decode("ascii"),
        "Stancemap-Event-Id": str(delivery.event_id),
        "Stancemap-Delivery": str(delivery.id),
        "Stancemap-Timestamp": str(timestamp),
        "Stancemap-Signature": webhook_signing.signature(delivery.secret, timestamp, body),
    }
    client = httpx.Client(
        verify=_tls_context(),
        follow_redirects=False,
        trust_env=False,  # a proxy from the environment would connect to an address never checked
        limits=httpx.Limits(max_keepalive_connections=0),  # each connection to the address just checked
    )
    # Per-read timeouts restart with every byte: at the deadline the watchdog closes the client under the send.
    watchdog = threading.Timer(max(deadline - time.monotonic(), 0.0), client.close)
    watchdog.daemon = True
    watchdog.start()
    last_error: Exception | None = None
    try:
        with client:
            for address in receiver.addresses:
                request = client.build_request(
                    "POST",
                    url.copy_with(host=str(address)),
                    headers=headers,
                    content=body,
                    # TLS names the host and verifies its certificate, though the connection is to the address.
                    extensions={"sni_hostname": host},
                    timeout=max(deadline - time.monotonic(), 0.001),
                )
                try:
                    response = client.send(request, stream=True)
                except httpx.ConnectError as error:  # the host's next address, as browsers do
                    last_error = error
                    continue
                response.close()  # the status is the answer; the body is not read
                return _answered(response)
    except httpx.HTTPError as error:
        if time.monotonic() >= deadline or isinstance(error, httpx.TimeoutException):
            return Outcome(None, f"{url} did not answer within {timeout_s:g} seconds.")
        reason = str(error).rstrip(".") or type(error).__name__  # httpx's messages may end with a full stop
        return Outcome(None, _clipped(f"Sending to {url} failed: {reason}."))
    finally:
        watchdog.cancel()
    return Outcome(None, _clipped(f"No connection to {url.host} could be made: {last_error}."))


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One per process: building it (loading the CA certificates) costs more than a local delivery."""
    return httpx.create_ssl_context()


def _answered(response: httpx.Response) -> Outcome:
    status = response.status_code
    if 200 <= status < 300:
        return Outcome(status, None)
    answer = f"The receiver answered {status} {response.reason_phrase}".rstrip()
    if 300 <= status < 400:
        return Outcome(status, _clipped(f"{answer}; redirects are not followed: give the webhook its final URL."))
    return Outcome(status, f"{answer}.")


def _clipped(error: str) -> str:
    return error if len(error) <= _ERROR_MAX_CHARS else error[: _ERROR_MAX_CHARS - 1] + "…"


def retry_delay(attempts: int, base_s: float, rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait after the `attempts`-th failed attempt: base, doubling, at most an hour, with jitter."""
    return min(base_s * 2 ** min(attempts - 1, 30), MAX_RETRY_DELAY_S) * (1 - JITTER * rng())


@dataclass(frozen=True)
class Recorded:
    """A delivery's state after an attempt: its status, and when a pending one is tried again."""

    status: DeliveryStatus
    next_attempt_at: datetime | None = None


def record(
    write_engine: Engine, delivery: Claimed, outcome: Outcome, *, settings: Settings, now: datetime
) -> Recorded | None:
    """Records an attempt; returns the delivery's state, or None when its lease was lost meanwhile
    (it expired and another process took it, or the webhook was deleted): nothing is written.

    After a failure to be retried, the webhook's other deliveries due before that retry wait for it
    too: a receiver that is down costs one attempt (perhaps a whole timeout) per retry, not one per
    event queued for it, and the deliveries of other webhooks are not held up behind them."""
    attempts = delivery.attempts + 1
    values: dict[str, Any] = {
        "attempts": attempts,
        "last_attempt_at": now,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
        "lease_until": None,
    }
    give_up_at = delivery.created_at + timedelta(seconds=settings.webhook_retry_window_s)
    if outcome.delivered:
        status = DeliveryStatus.delivered
        values["delivered_at"] = now
    elif now >= give_up_at:
        status = DeliveryStatus.failed
    else:
        status = DeliveryStatus.pending
        delay = timedelta(seconds=retry_delay(attempts, settings.webhook_retry_base_s))
        values["next_attempt_at"] = min(now + delay, give_up_at)  # the last try falls at the end of the window
    with write_engine.begin() as connection:
        # The webhook's row before its deliveries', in the order its deletion locks them (the
        # cascade comes second): the other order deadlocks with a DELETE of the webhook on PostgreSQL.
        webhook_row = select(col(Webhook.id)).where(col(Webhook.id) == delivery.webhook_id).with_for_update()
        if connection.execute(webhook_row).first() is None:
            return None
        if connection.execute(_held(delivery).values(status=status.value, **values)).rowcount != 1:
            return None
        webhook = update(Webhook).where(col(Webhook.id) == delivery.webhook_id)
        if status is DeliveryStatus.delivered:
            connection.execute(webhook.where(col(Webhook.consecutive_failures) != 0).values(consecutive_failures=0))
        elif status is DeliveryStatus.failed:
            connection.execute(webhook.values(consecutive_failures=col(Webhook.consecutive_failures) + 1))
            _disable_if_failing(connection, delivery.webhook_id, settings=settings, now=now)
        else:
            _postpone_others(connection, delivery.webhook_id, until=values["next_attempt_at"], now=now)
    return Recorded(status, values.get("next_attempt_at"))


def _postpone_others(connection: Connection, webhook_id: int, *, until: datetime, now: datetime) -> None:
    """The webhook's pending deliveries due before `until` and leased by no one are due at `until`."""
    connection.execute(
        update(WebhookDelivery)
        .where(
            col(WebhookDelivery.webhook_id) == webhook_id,
            col(WebhookDelivery.status) == DeliveryStatus.pending.value,
            col(WebhookDelivery.next_attempt_at) < until,
            or_(col(WebhookDelivery.lease_until).is_(None), col(WebhookDelivery.lease_until) < now),
        )
        .values(next_attempt_at=until)
    )


def _disable_if_failing(connection: Connection, webhook_id: int, *, settings: Settings, now: datetime) -> None:
    limit = settings.webhook_disable_after
    reason = (
        f"Disabled after {limit} deliveries in a row failed for {settings.webhook_retry_window_s / 3600:g} hours "
        "each; fix the receiver, then PATCH `enabled: true`."
    )
    connection.execute(
        update(Webhook)
        .where(col(Webhook.id) == webhook_id, col(Webhook.enabled), col(Webhook.consecutive_failures) >= limit)
        .values(enabled=False, disabled_reason=reason, disabled_at=now)
    )


class DeliveryWorker:
    """The thread of a server process that sends due deliveries, a round at a time; idle, it polls
    every STANCEMAP_WEBHOOK_POLL_S. Claims and outcomes are writes, through the application's write
    engine; polls and events are read through `read_engine`, one of its own (the requests' pool
    stays theirs), which it disposes when it stops."""

    def __init__(self, write_engine: Engine, read_engine: Engine, settings: Settings) -> None:
        self.settings = settings
        self.write_engine = write_engine
        self.read_engine = read_engine
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stancemap-webhook-delivery", daemon=True)

    def start(self) -> "DeliveryWorker":
        self._thread.start()
        return self

    def stop(self) -> None:
        """Lets the delivery being sent finish (within the timeout), gives back the other leases, stops."""
        self._stopping.set()
        self._thread.join(timeout=self.settings.webhook_timeout_s + self.settings.sqlite_busy_timeout_ms / 1000 + 5)
        self.read_engine.dispose()

    def _run(self) -> None:
        logged_at = -FAILURE_LOG_INTERVAL_S
        while not self._stopping.is_set():
            try:
                busy = self.run_round()
            except Exception:  # a database that is away, or a schema being migrated: the next round tries again
                busy = False
                # Once a minute at most: a database away for an hour must not fill the log with traces.
                if time.monotonic() - logged_at >= FAILURE_LOG_INTERVAL_S:
                    logged_at = time.monotonic()
                    logger.exception("webhook delivery round failed (logged once a minute while it fails)")
            else:
                logged_at = -FAILURE_LOG_INTERVAL_S
            if not busy:
                self._stopping.wait(self.settings.webhook_poll_s)

    def run_round(self) -> bool:
        """Claims due deliveries and sends them one after the other; False when none was due. The
        claimed deliveries of a webhook whose attempt just failed wait for its retry, unsent."""
        claimed = claim_due(self.read_engine, self.write_engine, now=utcnow(), lease_s=self.settings.webhook_lease_s)
        retry_at: dict[int, datetime] = {}
        for index, delivery in enumerate(claimed):
            # A send must end within the lease, or another process could take the delivery meanwhile.
            out_of_time = utcnow() + timedelta(seconds=self.settings.webhook_timeout_s) >= delivery.lease_until
            if self._stopping.is_set() or out_of_time:
                release(self.write_engine, claimed[index:])
                break
            if delivery.webhook_id in retry_at:
                release(self.write_engine, [delivery], due_at=retry_at[delivery.webhook_id])
                continue
            recorded = self.deliver(delivery)
            if recorded is not None and recorded.next_attempt_at is not None:
                retry_at[delivery.webhook_id] = recorded.next_attempt_at
        return bool(claimed)

    def deliver(self, claimed: Claimed) -> Recorded | None:
        """Sends the delivery to its webhook as it is now and records the outcome; None when it was
        not sent (the webhook deleted or disabled since the claim: a disabled one's waits, pending)."""
        delivery = as_it_is_now(self.read_engine, claimed)
        if delivery is None:
            release(self.write_engine, [claimed])
            return None
        body = event_body(self.read_engine, delivery.event_id)
        if body is None:  # the outbox row is written with its event: not expected to happen
            outcome = Outcome(None, f"The change event {delivery.event_id} does not exist.")
        else:
            outcome = send(delivery, body, settings=self.settings)
        recorded = record(self.write_engine, delivery, outcome, settings=self.settings, now=utcnow())
        if recorded is None:
            logger.warning("webhook delivery %s: lease lost before its outcome was recorded", delivery.id)
        return recorded
