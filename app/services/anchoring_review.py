"""Flags left by re-anchoring, and how editors settle them.

A drifted or orphaned outcome is a flag on its statement until an editor acts: correcting the
statement's quote settles it as `corrected`, retracting the statement as `retracted`, and an
explicit confirmation (the statement stands as it is, on the older version it still quotes) as
`confirmed`. The matrix shows a cell's flag while it is unsettled (app/services/positions.py).
"""

import enum
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from app.errors import Conflict, NotFound
from app.models.anchoring import (
    Anchoring,
    AnchoringOutcome,
    AnchoringPublic,
    AnchoringResolution,
    AnchoringReview,
    awaiting_review,
)
from app.models.audit import AuditAction, AuditEntity
from app.models.common import utcnow
from app.models.source import Source
from app.models.statement import Statement
from app.services import unit_of_work
from app.services.audit import AuditEntry
from app.services.pagination import Sorting, SortKey, Window, paginate


def outcome_public(row: Anchoring, new_text: str) -> AnchoringPublic:
    """One outcome as the API shows it; `new_text` is the text of the newer version (`row.source_id`)."""
    has_span = row.new_start is not None and row.new_end is not None
    return _public(row, new_text[row.new_start : row.new_end] if has_span else None)


def _public(row: Anchoring, passage: str | None) -> AnchoringPublic:
    return AnchoringPublic(
        source=row.source_id,
        statement=row.statement_id,
        outcome=AnchoringOutcome(row.outcome),
        old_start=row.old_start,
        old_end=row.old_end,
        new_start=row.new_start,
        new_end=row.new_end,
        new_text=passage,
        similarity=row.similarity,
        created_at=row.created_at,
        resolution=AnchoringResolution(row.resolution) if row.resolution else None,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
    )


def is_pending(row: Anchoring) -> bool:
    return row.outcome != AnchoringOutcome.anchored and row.resolution is None


def _pending(session: Session, statement_id: int) -> list[Anchoring]:
    rows = session.execute(
        select(Anchoring)
        .where(col(Anchoring.statement_id) == statement_id, awaiting_review())
        .order_by(col(Anchoring.id))
    ).scalars()
    return list(rows)


def _settle(session: Session, rows: Iterable[Anchoring], resolution: AnchoringResolution, actor: str) -> None:
    now = utcnow()
    for row in rows:
        row.resolution, row.resolved_at, row.resolved_by = resolution.value, now, actor
        session.add(row)


def settle_pending(session: Session, statement_id: int, resolution: AnchoringResolution, *, actor: str) -> None:
    """Settles the statement's open flags as part of the caller's write (a correction or a retraction);
    the caller commits."""
    _settle(session, _pending(session, statement_id), resolution, actor)


def confirm(session: Session, statement_id: int, *, actor: str) -> AnchoringReview:
    """The editor's word that the statement stands as recorded, although a newer version of its
    source no longer carries the quote verbatim."""
    statement = session.get(Statement, statement_id)
    if statement is None:
        raise NotFound(f"No statement has the id {statement_id}.")
    rows = _pending(session, statement_id)
    if not rows:
        raise Conflict(
            f"Statement {statement_id} has no drifted or orphaned quote awaiting review; "
            "the anchoring worklist lists those that have, and how earlier ones were resolved."
        )
    _settle(session, rows, AnchoringResolution.confirmed, actor)
    settled = {"anchoring": [row.id for row in rows], "resolution": AnchoringResolution.confirmed.value}
    unit_of_work.commit(
        session,
        audit=AuditEntry(actor, AuditEntity.statement, statement_id, AuditAction.confirm, after=settled),
        statements=[statement_id],  # its cell loses the flag
    )
    resolved = session.exec(
        _with_passages().where(col(Anchoring.id).in_(settled["anchoring"])).order_by(col(Anchoring.id))
    ).all()
    return AnchoringReview(statement=statement_id, resolved=[_public(row, passage) for row, passage in resolved])


def _with_passages() -> Any:
    """Outcomes with their passage of the newer source, cut in SQL (both engines count characters),
    so no source text is loaded."""
    start, end = col(Anchoring.new_start), col(Anchoring.new_end)
    passage = func.substr(col(Source.text), start + 1, end - start)
    return select(Anchoring, passage).join(Source, col(Source.id) == col(Anchoring.source_id))


class ReviewState(enum.StrEnum):
    pending = "pending"
    resolved = "resolved"
    all = "all"


# Outcomes show no id of their own: their default order, the order they were recorded, is not a key.
SORTING = Sorting(
    with_id=False,
    created_at=SortKey(col(Anchoring.created_at), datetime),
    source=SortKey(col(Anchoring.source_id), int),
    statement=SortKey(col(Anchoring.statement_id), int),
)


def list_outcomes(
    session: Session, *, state: ReviewState, limit: int, cursor: str | None, sort: str | None = None
) -> Window[AnchoringPublic]:
    """Re-anchoring outcomes across every source, oldest first: by default the editors' worklist
    of drifted and orphaned quotes nobody has resolved, including statements no cell shows any more."""
    order = SORTING.order(sort)
    query = _with_passages()
    if state is ReviewState.pending:
        query = query.where(awaiting_review())
    elif state is ReviewState.resolved:
        query = query.where(col(Anchoring.resolution).is_not(None))
    window = paginate(
        session, query, col(Anchoring.id), limit=limit, cursor=cursor, id_of=lambda row: row[0].id, order=order
    )
    return Window([_public(row, passage) for row, passage in window.rows], window.next_cursor)
