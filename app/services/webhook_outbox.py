"""The webhook outbox: the deliveries a write owes, written in that write's transaction, so an
event is never committed without them (and never delivered without being committed). The
delivery worker (app/services/webhook_delivery.py) sends them."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlmodel import col

from app.models.common import utcnow
from app.models.webhook import DeliveryStatus, Webhook, WebhookDelivery
from app.services.change_feed import RecordedChange

_ENABLED = select(col(Webhook.id), col(Webhook.parties), col(Webhook.issues), col(Webhook.changes)).where(
    col(Webhook.enabled)
)


def wants(webhook: Any, event: RecordedChange) -> bool:
    """Whether a webhook's filters (null: every party, issue or change class) take the event."""
    return (
        (webhook.parties is None or event.party_id in webhook.parties)
        and (webhook.issues is None or event.issue_id in webhook.issues)
        and (webhook.changes is None or event.change in webhook.changes)
    )


def enqueue(connection: Connection, events: Sequence[RecordedChange]) -> int:
    """Adds a pending delivery per enabled webhook wanting each event; returns how many."""
    if not events:
        return 0
    webhooks = connection.execute(_ENABLED).all()
    now = utcnow()
    rows = [
        {
            "webhook_id": webhook.id,
            "event_id": event.id,
            "status": DeliveryStatus.pending.value,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for event in events
        for webhook in webhooks
        if wants(webhook, event)
    ]
    if rows:
        connection.execute(insert(WebhookDelivery), rows)
    return len(rows)
