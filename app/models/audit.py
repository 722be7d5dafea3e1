import enum
from datetime import datetime
from typing import Any

from pydantic import RootModel
from sqlalchemy import JSON, Index, String
from sqlmodel import Field, SQLModel

from app.models import examples
from app.models.common import ModelConfig, UTCDateTime, utcnow


class AuditEntity(enum.StrEnum):
    """What kinds of thing an audit event can be about."""

    party = "party"
    issue = "issue"
    source = "source"
    statement = "statement"
    token = "token"
    webhook = "webhook"


class AuditAction(enum.StrEnum):
    """Every write the services record; an event with another action was not written by them."""

    create = "create"
    update = "update"
    delete = "delete"
    correct = "correct"
    retract = "retract"
    revoke = "revoke"
    confirm = "confirm"
    anchor = "anchor"


class AuditEvent(SQLModel, table=True):
    """One write: who (the token's name), what (entity, id, action, before and after), and when."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_entity", "entity", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor: str = Field(max_length=100)
    entity: str = Field(sa_type=String(16))
    entity_id: str = Field(max_length=64)
    action: str = Field(sa_type=String(16))
    before: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=JSON)


class AuditSnapshot(RootModel[dict[str, Any]]):
    """The entity's fields as the API showed them before or after the write (a token's without its secret)."""


class AuditEventPublic(SQLModel):
    model_config = ModelConfig(json_schema_extra=examples.shown(examples.AUDIT_EVENT))

    id: int
    at: datetime
    actor: str = Field(
        description="Name of the token that made the write (`seed` for the seed loader, `cli` for token commands)."
    )
    entity: str = Field(description="party, issue, source, statement, token or webhook.")
    entity_id: str = Field(
        description="Slug of a party or issue, id of a source, statement or webhook, name of a token."
    )
    action: str = Field(
        description="create, update, delete, correct, retract, revoke, or anchor (a new version of a source re-anchored the quotes of the one it supersedes)."
    )
    before: AuditSnapshot | None = Field(description="Null on create.")
    after: AuditSnapshot | None = Field(description="Null on delete.")
