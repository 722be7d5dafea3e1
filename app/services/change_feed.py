"""The change feed: an event for every change of a cell's position, in commit order.

A cell's position is its latest one: what the matrix serves for a date after every statement (the
newest span of its position history). A write's commit (app/services/unit_of_work.py) reads the
positions of the cells it changes before and after rebuilding their history, and records an event
for each cell whose position took another stance or now rests on another statement (`restated`:
new evidence for the same stance). A write that changes no position (a rename, a correction of a
quote that keeps the stance, a backdated statement behind a newer one) records none.

Ids are allocated while the write holds the write lock (SQLite's, or on PostgreSQL the data version
row every writer locks first), so they increase in commit order: a reader who has seen id N never
sees an id below N committed later, and resumes after N without missing or repeating an event.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

import orjson
from sqlalchemy import BigInteger, bindparam, cast, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from app.models.audit import AuditEvent
from app.models.change_event import ChangeEvent, PositionChange
from app.models.common import utcnow
from app.models.issue import Issue
from app.models.matrix import ChangeClass
from app.models.party import Party
from app.models.position_span import DAYS_PER_CELL, PositionCell, PositionSpan, span_cell_and_day
from app.models.statement import Statement
from app.services.change_classes import classify
from app.services.positions import CellKey


class Position(NamedTuple):
    """A cell's latest position: the statement it rests on, its stance, the cell as served, and
    the day it holds from (the statement's day, or for no position the retraction's)."""

    statement_id: int | None
    stance: str | None
    cell: bytes | None
    holds_from: date


@dataclass(frozen=True)
class Cause:
    """The write that changes positions: its first audit event, the token's name, and when it
    commits."""

    audit_event: int | None
    actor: str | None
    at: datetime

    @classmethod
    def of(cls, event: AuditEvent | None) -> "Cause":
        # Read under the write lock, not the audit event's time (taken before the write waited for
        # it): times then follow the ids as far as the clock allows.
        now = utcnow()
        if event is None:
            return cls(audit_event=None, actor=None, at=now)
        return cls(audit_event=event.id, actor=event.actor, at=now)


class RecordedChange(NamedTuple):
    """An event just recorded, with what webhook filters look at."""

    id: int
    party_id: int
    issue_id: int
    change: str


# --- recording --------------------------------------------------------------------------------

_FIRST_KEY = cast(col(PositionCell.id), BigInteger) * DAYS_PER_CELL
_SPAN = aliased(PositionSpan)
_LATEST_KEY = (
    select(func.max(col(_SPAN.span_key)))
    .where(col(_SPAN.span_key).between(_FIRST_KEY, _FIRST_KEY + (DAYS_PER_CELL - 1)))
    .scalar_subquery()
)
_LATEST = (
    select(
        col(PositionCell.issue_id),
        col(PositionSpan.span_key),
        col(PositionSpan.statement_id),
        col(PositionSpan.stance),
        col(PositionSpan.cell),
        col(Statement.stated_on),
    )
    .select_from(PositionCell)
    .join(PositionSpan, col(PositionSpan.span_key) == _LATEST_KEY)
    .outerjoin(Statement, col(Statement.id) == col(PositionSpan.statement_id))
    .where(
        col(PositionCell.party_id) == bindparam("party_id"),
        col(PositionCell.issue_id).in_(bindparam("issue_ids", expanding=True)),
    )
)


def positions(connection: Connection, cells: Iterable[CellKey]) -> dict[CellKey, Position]:
    """The latest position of each cell that has a position history; a cell without is absent."""
    by_party: dict[int, list[int]] = defaultdict(list)
    for party_id, issue_id in cells:
        by_party[party_id].append(issue_id)
    found: dict[CellKey, Position] = {}
    for party_id, issue_ids in by_party.items():
        for row in connection.execute(_LATEST, {"party_id": party_id, "issue_ids": sorted(issue_ids)}):
            _, first_day = span_cell_and_day(row.span_key)
            holds_from = row.stated_on if row.statement_id is not None else first_day
            found[(party_id, row.issue_id)] = Position(row.statement_id, row.stance, row.cell, holds_from)
    return found


def change_between(before: Position | None, after: Position | None) -> PositionChange | None:
    """How a cell's position changed, or None when it did not (same stance, same statement)."""
    stance_before = None if before is None else before.stance
    stance_after = None if after is None else after.stance
    change = classify(stance_before, stance_after)  # type: ignore[arg-type]  # stances as stored equal Stance members
    if change is not ChangeClass.unchanged:
        return PositionChange(change.value)
    if stance_after is None:
        return None  # no position before nor after
    assert before is not None and after is not None  # both hold the same stance
    return PositionChange.restated if before.statement_id != after.statement_id else None


def record_changes(
    connection: Connection,
    before: dict[CellKey, Position],
    after: dict[CellKey, Position],
    cells: Iterable[CellKey],
    cause: Cause,
) -> list[RecordedChange]:
    """Inserts an event for each of `cells` whose position changed between `before` and `after`,
    in (party, issue) order; returns them."""
    rows: list[dict[str, Any]] = []
    for key in sorted(cells):
        then, now = before.get(key), after.get(key)
        change = change_between(then, now)
        if change is None:
            continue
        # A cell left without any statement has no history at all: its position ends with the write.
        holds_from = now.holds_from if now is not None else cause.at.date()
        rows.append(
            {
                "party_id": key[0],
                "issue_id": key[1],
                "change": change.value,
                "before": None if then is None else then.cell,
                "after": None if now is None else now.cell,
                "stated_on": holds_from,
                "audit_event_id": cause.audit_event,
                "actor": cause.actor,
                "at": cause.at,
            }
        )
    if not rows:
        return []
    inserted = insert(ChangeEvent).returning(col(ChangeEvent.id), sort_by_parameter_order=True)
    ids = [int(event_id) for event_id in connection.execute(inserted, rows).scalars() if event_id is not None]
    return [
        RecordedChange(event_id, row["party_id"], row["issue_id"], row["change"])
        for event_id, row in zip(ids, rows, strict=True)
    ]


# --- reading ----------------------------------------------------------------------------------

_EVENTS: Any = (
    select(
        col(ChangeEvent.id),
        col(ChangeEvent.change),
        col(ChangeEvent.before),
        col(ChangeEvent.after),
        col(ChangeEvent.stated_on),
        col(ChangeEvent.audit_event_id),
        col(ChangeEvent.actor),
        col(ChangeEvent.at),
        col(Party.slug).label("party_slug"),
        col(Issue.slug).label("issue_slug"),
    )
    .outerjoin(Party, col(Party.id) == col(ChangeEvent.party_id))
    .outerjoin(Issue, col(Issue.id) == col(ChangeEvent.issue_id))
    .order_by(col(ChangeEvent.id))
)


def read_events(
    connection: Connection | Session,
    *,
    after: int = 0,
    party_ids: Sequence[int] | None = None,
    issue_ids: Sequence[int] | None = None,
    changes: Sequence[str] | None = None,
    limit: int,
    newest_first: bool = False,
) -> list[dict[str, Any]]:
    """Events with an id above `after`, oldest first (or the newest of them first), at most
    `limit`, as the API serves them (app.models.change_event.ChangeEventPublic; the cells
    embedded as stored, for orjson)."""
    query = _EVENTS.where(col(ChangeEvent.id) > after)
    if newest_first:
        query = query.order_by(None).order_by(col(ChangeEvent.id).desc())
    if party_ids is not None:
        query = query.where(col(ChangeEvent.party_id).in_(party_ids))
    if issue_ids is not None:
        query = query.where(col(ChangeEvent.issue_id).in_(issue_ids))
    if changes is not None:
        query = query.where(col(ChangeEvent.change).in_(changes))
    return [_document(row) for row in connection.execute(query.limit(limit))]


def latest_event_id(connection: Connection | Session) -> int:
    """The id of the newest event; 0 when there is none."""
    return connection.execute(select(func.max(col(ChangeEvent.id)))).scalar() or 0


def _slug(current: str | None, cell: bytes | None, field: str) -> str:
    # A party or issue deleted since keeps the slug its cell was served under.
    if current is not None:
        return current
    assert cell is not None  # an event always has a cell on one side
    return str(orjson.loads(cell)[field])


def _document(row: Any) -> dict[str, Any]:
    cell = row.before if row.before is not None else row.after
    return {
        "id": row.id,
        "party": _slug(row.party_slug, cell, "party"),
        "issue": _slug(row.issue_slug, cell, "issue"),
        "change": row.change,
        "before": None if row.before is None else orjson.Fragment(row.before),
        "after": None if row.after is None else orjson.Fragment(row.after),
        "stated_on": row.stated_on,
        "caused_by": {"audit_event": row.audit_event_id, "actor": row.actor, "at": row.at},
    }
