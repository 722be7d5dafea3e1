"""The audit trail: every write is recorded in the transaction that makes it."""

from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlmodel import Session

from app.models.audit import AuditEvent
from app.services.pagination import Window, paginate


def snapshot(model: BaseModel | None, *, exclude: set[str] | None = None) -> dict[str, Any] | None:
    return None if model is None else model.model_dump(mode="json", exclude=exclude)


def record(
    session: Session,
    *,
    actor: str,
    entity: str,
    entity_id: str | int,
    action: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Adds the event to the session; it commits, or rolls back, with the write it describes."""
    session.add(
        AuditEvent(actor=actor, entity=entity, entity_id=str(entity_id), action=action, before=before, after=after)
    )


def list_events(
    session: Session, *, entity: str | None, entity_id: str | None, actor: str | None, limit: int, cursor: str | None
) -> Window[AuditEvent]:
    query = select(AuditEvent)
    if entity is not None:
        query = query.where(AuditEvent.entity == entity)
    if entity_id is not None:
        query = query.where(AuditEvent.entity_id == entity_id)
    if actor is not None:
        query = query.where(AuditEvent.actor == actor)
    return paginate(session, query, AuditEvent.id, limit=limit, cursor=cursor)  # type: ignore[arg-type]
