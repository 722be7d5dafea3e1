"""The audit trail: every write is recorded in the transaction that makes it."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlmodel import Session, col

from app.models.audit import AuditAction, AuditEntity, AuditEvent
from app.services.pagination import Sorting, SortKey, Window, paginate

Snapshot = BaseModel | dict[str, Any] | None


@dataclass(frozen=True)
class AuditEntry:
    """One write as the audit trail records it: `before` and `after` as the API shows the entity
    (public models are dumped as JSON when recorded), None where there is no such side."""

    actor: str
    entity: AuditEntity
    entity_id: str | int
    action: AuditAction
    before: Snapshot = None
    after: Snapshot = None


def _as_json(snapshot: Snapshot) -> dict[str, Any] | None:
    return snapshot.model_dump(mode="json") if isinstance(snapshot, BaseModel) else snapshot


_FIRST_OF_WRITE = "first_audit_event"


def record(session: Session, entry: AuditEntry) -> None:
    """Adds the event to the session; it commits, or rolls back, with the write it describes. The
    write's first event is kept on the session: the change feed names it as the cause."""
    event = AuditEvent(
        actor=entry.actor,
        entity=str(entry.entity),
        entity_id=str(entry.entity_id),
        action=str(entry.action),
        before=_as_json(entry.before),
        after=_as_json(entry.after),
    )
    session.add(event)
    session.info.setdefault(_FIRST_OF_WRITE, event)


def first_of_write(session: Session) -> AuditEvent | None:
    """The first event the session's current write recorded, None if it recorded none."""
    event: AuditEvent | None = session.info.get(_FIRST_OF_WRITE)
    # One recorded by a write that was rolled back has left the session with it.
    return event if event is not None and event in session else None


def forget_write(session: Session) -> None:
    session.info.pop(_FIRST_OF_WRITE, None)


SORTING = Sorting(
    at=SortKey(col(AuditEvent.at), datetime),
    actor=SortKey.text(col(AuditEvent.actor)),
    entity=SortKey.text(col(AuditEvent.entity)),
)


def list_events(
    session: Session,
    *,
    entity: str | None,
    entity_id: str | None,
    actor: str | None,
    limit: int,
    cursor: str | None,
    sort: str | None = None,
) -> Window[AuditEvent]:
    order = SORTING.order(sort)
    query = select(AuditEvent)
    if entity is not None:
        query = query.where(col(AuditEvent.entity) == entity)
    if entity_id is not None:
        query = query.where(col(AuditEvent.entity_id) == entity_id)
    if actor is not None:
        query = query.where(col(AuditEvent.actor) == actor)
    return paginate(session, query, col(AuditEvent.id), limit=limit, cursor=cursor, order=order)
