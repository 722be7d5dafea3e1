"""Webhooks and their deliveries: the outbox of change events to send (app/services/webhooks.py)."""

import enum
from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import Field as PydanticField
from pydantic import StrictBool
from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models import examples
from app.models.change_event import PositionChange
from app.models.common import ModelConfig, Omittable, PatchModel, ShortText, Slug, UTCDateTime, utcnow
from app.models.source import Url

# More would be a filter better left out (null: every one).
MAX_FILTER_SLUGS = 500


class DeliveryStatus(enum.StrEnum):
    pending = "pending"
    delivered = "delivered"
    failed = "failed"


class Webhook(SQLModel, table=True):
    __tablename__ = "webhook"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=2048)
    # Filters as ids (a renamed party or issue stays followed) and change classes; null: every one.
    parties: list[int] | None = Field(default=None, sa_type=JSON)
    issues: list[int] | None = Field(default=None, sa_type=JSON)
    changes: list[str] | None = Field(default=None, sa_type=JSON)
    # Kept as given: deliveries are signed with it. Shown once, when the webhook is created.
    secret: str = Field(max_length=128)
    description: str | None = Field(default=None, max_length=500)
    enabled: bool = True
    disabled_reason: str | None = Field(default=None, max_length=500)
    disabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    consecutive_failures: int = 0
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class WebhookDelivery(SQLModel, table=True):
    """One event to send to one webhook; written in the transaction that wrote the event."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id", name="uq_webhook_delivery_event"),
        Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
        Index("ix_webhook_delivery_webhook", "webhook_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    )
    webhook_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("webhook.id", name="fk_webhook_delivery_webhook", ondelete="CASCADE"), nullable=False
        )
    )
    event_id: int = Field(
        sa_column=Column(
            BigInteger().with_variant(Integer, "sqlite"),
            ForeignKey("change_event.id", name="fk_webhook_delivery_event"),
            nullable=False,
        )
    )
    status: str = Field(default=DeliveryStatus.pending.value, sa_column=Column(String(16), nullable=False))
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # While set and in the future, one process is delivering it; a process that dies leaves it to expire.
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# --- the API's view of webhooks (app/api/routes/webhooks.py) ------------------------------------

WebhookUrl = Annotated[Url, Field(max_length=2048)]
# Given as slugs; a former slug names the party or issue it names now.
SlugFilter = Annotated[list[Slug], PydanticField(min_length=1, max_length=MAX_FILTER_SLUGS)]
ChangeFilter = Annotated[list[PositionChange], PydanticField(min_length=1, max_length=len(PositionChange))]

_EXAMPLE_URL = "https://newsroom.example.org/hooks/stancemap"
_EXAMPLE_FILTERS: dict[str, Any] = {
    "parties": ["russia", "ukraine"],
    "issues": ["security-guarantees"],
    "changes": ["shifted", "reversed"],
}
_EXAMPLE_DESCRIPTION = "Newsroom alerts: shifts and reversals of Russia and Ukraine on security guarantees"
WEBHOOK_CREATE: dict[str, Any] = {"url": _EXAMPLE_URL, **_EXAMPLE_FILTERS, "description": _EXAMPLE_DESCRIPTION}
WEBHOOK_UPDATE: dict[str, Any] = {"issues": None, "enabled": True}
WEBHOOK_PUBLIC: dict[str, Any] = {
    "id": 1,
    "url": _EXAMPLE_URL,
    **_EXAMPLE_FILTERS,
    "description": _EXAMPLE_DESCRIPTION,
    "enabled": True,
    "disabled_reason": None,
    "disabled_at": None,
    "consecutive_failures": 0,
    "created_by": "editor",
    "created_at": "2025-08-18T09:30:00Z",
    "updated_at": "2025-08-18T09:30:00Z",
}
_EXAMPLE_SECRET = "whsec_Jq3uV0m1c8XkQpZr7bT2nL5sW9yE4aHdG6fK0oIjRxM"
WEBHOOK_WITH_SECRET: dict[str, Any] = {**WEBHOOK_PUBLIC, "secret": _EXAMPLE_SECRET}
WEBHOOK_UPDATED: dict[str, Any] = {**WEBHOOK_PUBLIC, "secret": None}
DELIVERY_PUBLIC: dict[str, Any] = {
    "id": 7,
    "event": 17,
    "status": "pending",
    "attempts": 2,
    "next_attempt_at": "2025-08-18T09:31:10Z",
    "last_attempt_at": "2025-08-18T09:30:50Z",
    "last_status_code": 503,
    "last_error": "The receiver answered 503 Service Unavailable.",
    "delivered_at": None,
    "created_at": "2025-08-18T09:30:00Z",
}


class WebhookCreate(SQLModel):
    model_config = ModelConfig(extra="forbid", json_schema_extra=examples.shown(WEBHOOK_CREATE))

    url: WebhookUrl = Field(
        description="Where events are POSTed: http or https, no user name or password, at a public address "
        "(others only on a server run with STANCEMAP_FETCH_ALLOW_PRIVATE=true)."
    )
    parties: SlugFilter | None = Field(default=None, description="Only events of these parties (slugs); null: all.")
    issues: SlugFilter | None = Field(default=None, description="Only events on these issues (slugs); null: all.")
    changes: ChangeFilter | None = Field(default=None, description="Only these classes of change; null: all.")
    description: ShortText | None = Field(default=None, description="What receives the events, for admins.")


class WebhookUpdate(PatchModel):
    """Fields to change; omitted fields keep their value. A filter set to null takes every event."""

    model_config = ModelConfig(json_schema_extra=examples.shown(WEBHOOK_UPDATE))
    nullable_fields: ClassVar[frozenset[str]] = frozenset({"parties", "issues", "change_classes", "description"})

    url: Omittable[WebhookUrl] = None
    parties: SlugFilter | None = None
    issues: SlugFilter | None = None
    # Named `changes` in the API; PatchModel has a method of that name.
    change_classes: ChangeFilter | None = Field(default=None, alias="changes")
    description: ShortText | None = None
    enabled: Omittable[StrictBool] = Field(
        default=None,
        description="true re-enables a disabled webhook and resets its failure count; false stops its deliveries.",
    )
    rotate_secret: Omittable[StrictBool] = Field(
        default=None, description="true replaces the secret; the answer shows the new one, this once."
    )


class WebhookPublic(SQLModel):
    model_config = ModelConfig(json_schema_extra=examples.shown(WEBHOOK_PUBLIC))

    id: int
    url: str
    parties: list[str] | None = Field(description="Current slugs of the parties followed; null: all.")
    issues: list[str] | None = Field(description="Current slugs of the issues followed; null: all.")
    changes: list[PositionChange] | None = Field(description="Classes of change sent; null: all.")
    description: str | None
    enabled: bool = Field(description="False: no deliveries are sent, and no new ones are queued.")
    disabled_reason: str | None = Field(description="Why it was disabled: by whom, or after which failures.")
    disabled_at: datetime | None
    consecutive_failures: int = Field(
        description="Deliveries given up in a row (each retried for STANCEMAP_WEBHOOK_RETRY_WINDOW_S), none "
        "delivered since; at STANCEMAP_WEBHOOK_DISABLE_AFTER the webhook is disabled."
    )
    created_by: str = Field(description="Name of the token that created it.")
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(WebhookPublic):
    """A webhook just created, with the secret its deliveries are signed with: shown this once."""

    model_config = ModelConfig(json_schema_extra=examples.shown(WEBHOOK_WITH_SECRET))

    secret: str = Field(description="Signs every delivery (`Stancemap-Signature`); keep it, it is not shown again.")


class WebhookUpdated(WebhookPublic):
    model_config = ModelConfig(json_schema_extra=examples.shown(WEBHOOK_UPDATED))

    secret: str | None = Field(
        description="The new secret when the request rotated it (`rotate_secret: true`), shown this once; else null."
    )


class DeliveryPublic(SQLModel):
    """One event sent, or to send, to one webhook."""

    model_config = ModelConfig(json_schema_extra=examples.shown(DELIVERY_PUBLIC))

    id: int = Field(description="Sent as `Stancemap-Delivery`.")
    event: int = Field(description="The change event's id, sent as `Stancemap-Event-Id`; GET /v1/changes has it.")
    status: DeliveryStatus = Field(description="pending (to send, or to retry), delivered, or failed (given up).")
    attempts: int
    next_attempt_at: datetime = Field(description="When a pending delivery is sent next.")
    last_attempt_at: datetime | None
    last_status_code: int | None = Field(description="The receiver's HTTP status at the last attempt, if it answered.")
    last_error: str | None = Field(description="Why the last attempt failed; null after a success.")
    delivered_at: datetime | None
    created_at: datetime
