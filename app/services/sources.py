"""Sources: stored documents whose text never changes once stored."""

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import defer
from sqlmodel import Session, col

from app.errors import Conflict, InvalidField, NotFound
from app.models.anchoring import Anchoring
from app.models.audit import AuditAction, AuditEntity
from app.models.common import utcnow
from app.models.source import (
    Source,
    SourceCreate,
    SourcePublic,
    SourceSummary,
    SourceUpdate,
)
from app.models.statement import Statement, StatementRevision
from app.services import unit_of_work
from app.services.audit import AuditEntry, record
from app.services.pagination import Sorting, SortKey, Window, paginate


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def get_source(session: Session, source_id: int) -> Source:
    source = session.get(Source, source_id)
    if source is None:
        raise NotFound(f"No source has the id {source_id}; the list of sources shows those that exist.")
    return source


def resolve_source(session: Session, source_id: int, field: str) -> Source:
    source = session.get(Source, source_id)
    if source is None:
        raise InvalidField(field, f"No source has the id {source_id}; create it first or fix the id.")
    return source


SORTING = Sorting(
    published_at=SortKey(col(Source.published_at), datetime),
    title=SortKey.text(col(Source.title)),
    created_at=SortKey(col(Source.created_at), datetime),
    updated_at=SortKey(col(Source.updated_at), datetime),
)


def list_sources(session: Session, *, limit: int, cursor: str | None, sort: str | None = None) -> Window[SourceSummary]:
    """One page of sources as listed: the database measures each text, and no text is read."""
    order = SORTING.order(sort)
    # raiseload: code that touched a listed source's text would fail here, not quietly load every text.
    query = select(Source, func.length(col(Source.text))).options(defer(Source.text, raiseload=True))  # type: ignore[arg-type]  # SQLModel types the mapped attribute defer() wants as str
    window = paginate(
        session, query, col(Source.id), limit=limit, cursor=cursor, id_of=lambda row: row[0].id, order=order
    )
    summaries = [source_summary(source, text_length=text_length) for source, text_length in window.rows]
    return Window(summaries, window.next_cursor)


def _audit_view(source: Source | None) -> dict[str, Any] | None:
    """A source as the audit trail records it: its metadata and digest, not its (large, immutable) text."""
    return None if source is None else source_summary(source).model_dump(mode="json")


def create_source(session: Session, data: SourceCreate, *, actor: str) -> Source:
    source = add_source(session, data, actor=actor)
    unit_of_work.commit(session, refresh=[source])  # no statement quotes it yet: no cell changes
    return source


def refuse_a_second_successor(session: Session, source_id: int) -> None:
    """Versions form a chain: re-anchoring follows quotes from each version to the next, so a second
    successor of the same version would re-anchor nothing and leave flags pointing at a branch."""
    successor = session.execute(
        select(col(Source.id)).where(col(Source.supersedes_id) == source_id).order_by(col(Source.id)).limit(1)
    ).scalar_one_or_none()
    if successor is None:
        return
    latest = successor
    while (
        newer := session.execute(select(col(Source.id)).where(col(Source.supersedes_id) == latest)).scalar_one_or_none()
    ) is not None:
        latest = newer
    raise Conflict(
        f"Source {source_id} is already superseded by source {successor}; a new version supersedes the latest "
        f"one, source {latest}.",
        superseded_by=successor,
        latest_version=latest,
    )


def add_source(session: Session, data: SourceCreate, *, actor: str) -> Source:
    """Stores the source and audits it without committing, so more can join its transaction."""
    if data.supersedes is not None:
        resolve_source(session, data.supersedes, "supersedes")
        refuse_a_second_successor(session, data.supersedes)
    values = data.model_dump(exclude={"supersedes", "url"})
    assert data.text is not None  # a source given by its url alone has its text fetched before it is stored
    source = Source(
        **values,
        url=str(data.url) if data.url is not None else None,
        sha256=text_sha256(data.text),
        supersedes_id=data.supersedes,
    )
    session.add(source)
    session.flush()  # assigns the id the audit event names
    assert source.id is not None
    record(session, AuditEntry(actor, AuditEntity.source, source.id, AuditAction.create, after=_audit_view(source)))
    return source


def update_source(session: Session, source_id: int, changes: SourceUpdate, *, actor: str) -> Source:
    source = get_source(session, source_id)
    before = _audit_view(source)
    values = changes.changes()
    if "url" in values and values["url"] is not None:
        values["url"] = str(values["url"])
    for name, value in values.items():
        setattr(source, name, value)
    if values:
        source.updated_at = utcnow()
        session.add(source)
        unit_of_work.commit(
            session,
            audit=AuditEntry(actor, AuditEntity.source, source_id, AuditAction.update, before, _audit_view(source)),
            sources=[source_id],  # cells citing it show its title and date
            refresh=[source],
        )
    return source


def delete_source(session: Session, source_id: int, *, actor: str) -> None:
    source = get_source(session, source_id)
    quoted = exists().where(col(Statement.source_id) == source_id)
    quoted_before = exists().where(col(StatementRevision.source_id) == source_id)
    superseded = exists().where(col(Source.supersedes_id) == source_id)
    if session.execute(select(quoted | quoted_before)).scalar():
        raise Conflict(
            f"Source {source_id} is quoted by statements (or by earlier revisions of them) and cannot be deleted."
        )
    if session.execute(select(superseded)).scalar():
        raise Conflict(f"Source {source_id} has later versions that supersede it and cannot be deleted.")
    audit = AuditEntry(actor, AuditEntity.source, source_id, AuditAction.delete, before=_audit_view(source))
    # Where quotes of the superseded source landed in this one says nothing once it is gone; the
    # flags among those outcomes leave the matrix with them.
    flagged = list(
        session.execute(select(col(Anchoring.statement_id)).where(col(Anchoring.source_id) == source_id)).scalars()
    )
    session.execute(delete(Anchoring).where(col(Anchoring.source_id) == source_id))
    session.delete(source)
    unit_of_work.commit(session, audit=audit, statements=flagged)


def source_summary(source: Source, *, text_length: int | None = None) -> SourceSummary:
    """`text_length` when the database measured it, for a source listed without its text."""
    return SourceSummary.model_validate(source, from_attributes=True, update=_renamed_and_derived(source, text_length))


def source_public(source: Source) -> SourcePublic:
    return SourcePublic.model_validate(source, from_attributes=True, update=_renamed_and_derived(source))


def _renamed_and_derived(source: Source, text_length: int | None = None) -> dict[str, Any]:
    # Every other public field has the table's name and is read from the source by model_validate.
    return {"supersedes": source.supersedes_id, "text_length": len(source.text) if text_length is None else text_length}
