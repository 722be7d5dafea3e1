"""Keeping the position history (app/models/position_span.py) in step with what it is derived from.

A write that changes a statement, a source, or an anchoring flag names what it changed when it
commits (app/services/unit_of_work.py), and the spans of those cells are rebuilt from scratch in
the same transaction: readers never see a statement without its spans, and a failed write leaves
both as they were. Rebuilding a whole cell instead of patching spans keeps one way of computing
them; a cell holds tens of statements in practice, a few hundred at most at benchmark scale.

Concurrent writers cannot interleave their rebuilds: every writing transaction bumps the data
version before it rebuilds (app/services/unit_of_work.py), which on PostgreSQL locks that one row
until it commits; SQLite has one writer at a time anyway.
So a rebuild, which runs at commit, reads every write committed before it, and no two rebuild the
same cell at once.

The rows also hold the cells as served (the stance, and the whole cell as JSON with its party's
and issue's slugs), so renaming a party or an issue rebuilds its cells (app/services/catalog.py),
and a change to what a cell contains is a change of FORMAT: `ensure_current` then rebuilds every
span (after migrations, at start-up), as does a backup import, which loads no spans. A server of
an older release refuses to write once a newer one has rebuilt them, and /readyz reports spans of
an older format. A migration that changes statements, sources or anchoring rows, or parties' or
issues' slugs, with SQL must set the stored format to 0, so the spans are rebuilt after it.
"""

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import groupby
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    BigInteger,
    Integer,
    and_,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.orm import Mapped
from sqlmodel import col

from app.errors import OutdatedServer, Rebuilding
from app.models.anchoring import Anchoring
from app.models.issue import Issue
from app.models.party import Party
from app.models.position_span import (
    PositionCell,
    PositionSpan,
    Projection,
    cell_key_range,
    span_cell_and_day,
    span_key,
)
from app.models.source import Source
from app.models.statement import Statement, StatementRevision
from app.services import projections
from app.services.data_version import bump
from app.services.positions import (
    CELL_COLUMNS,
    PENDING_FLAGS,
    SLUG_COLUMNS,
    CellKey,
    CitationSteps,
    cell_json,
    citation_steps,
    cited_on,
    earlier_citations,
    evidence_run,
    filled_cell,
    flags_by_statement,
)

# Bump when the stored cell JSON, or the way spans are cut or keyed, changes: every span is then
# rebuilt. 2: spans keyed by cell number and day (migration 0010). 3: evidence is the run of the
# position's stance; cells cite the source version published by their day. 4: the stance in a
# column of its own, the rest of the cell as JSON. 5: the whole cell as served, its party's and
# issue's slugs included (migration 0012).
FORMAT = 5
PROJECTION = PositionSpan.__tablename__
_INSERT_BATCH = 2000
_ID_CHUNK = 5000
logger = logging.getLogger("stancemap")


@dataclass(frozen=True)
class Changes:
    """What a write changed that cells are built from: statements (their cells), sources (the
    cells quoting them, now or in earlier revisions) and cells named outright (one a statement
    left)."""

    statements: set[int] = field(default_factory=set)
    sources: set[int] = field(default_factory=set)
    cells: set[CellKey] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.cells or self.statements or self.sources)


# --- rebuilding -----------------------------------------------------------------------------

_OF_PARTY = col(Statement.party_id) == bindparam("party_id", type_=Integer)
_OF_ISSUES = col(Statement.issue_id).in_(bindparam("issue_ids", expanding=True))

_STATEMENTS = (
    select(
        col(Statement.party_id),
        col(Statement.issue_id),
        col(Statement.retracted_on),
        col(Statement.revision),
        *SLUG_COLUMNS,
        *CELL_COLUMNS,
    )
    .join(Source, col(Source.id) == col(Statement.source_id))
    .join(Party, col(Party.id) == col(Statement.party_id))
    .join(Issue, col(Issue.id) == col(Statement.issue_id))
    .where(_OF_PARTY)
    .order_by(col(Statement.issue_id), col(Statement.stated_on), col(Statement.id))
)
_STATEMENTS_OF_ISSUES = _STATEMENTS.where(_OF_ISSUES)

# Flags awaiting review are few: read them apart rather than joining every statement to them.
_FLAGS = PENDING_FLAGS.join(Statement, col(Statement.id) == col(Anchoring.statement_id)).where(_OF_PARTY)
_FLAGS_OF_ISSUES = _FLAGS.where(_OF_ISSUES)


def cell_spans(
    cell_id: int,
    party_slug: str,
    issue_slug: str,
    statements: Sequence[Row[Any]],
    flags: dict[int, dict[str, Any]],
    citations: dict[int, CitationSteps],
) -> list[dict[str, Any]]:
    """The spans of one party's cell on one issue from all its statements, ordered by
    (stated_on, id), with the citation steps of those that cited other sources before (see
    positions.citation_steps).

    Walks the days on which something happens (a statement stated, a retraction taking effect, a
    newer version of a cited source published). A statement stated is the newest standing one:
    it extends the evidence run when it shares the stance, and starts a new one otherwise. A
    retraction can end the run or join it to an older one, so the run is then counted again from
    the standing statements. A span starts on each day the cell changes.
    """
    retractions = sorted(
        (row.retracted_on, index) for index, row in enumerate(statements) if row.retracted_on is not None
    )
    citation_days = {day for steps in citations.values() for day, _ in steps[1:]}
    days = sorted({row.stated_on for row in statements} | {day for day, _ in retractions} | citation_days)
    standing = [False] * len(statements)
    stated = retracted = 0
    newest: int | None = None  # index of the newest standing statement
    evidence_count, evidence_since = 0, date.min
    previous: tuple[Any, ...] | None = None
    spans: list[dict[str, Any]] = []
    for day in days:
        while stated < len(statements) and statements[stated].stated_on <= day:
            row = statements[stated]
            # A retraction dated on or before its statement's day leaves it never standing.
            if row.retracted_on is None or row.retracted_on > day:
                standing[stated] = True
                if newest is not None and statements[newest].stance == row.stance:
                    evidence_count += 1
                else:
                    evidence_count, evidence_since = 1, row.stated_on
                newest = stated
            stated += 1
        recount = False
        while retracted < len(retractions) and retractions[retracted][0] <= day:
            index = retractions[retracted][1]
            recount = recount or standing[index]
            standing[index] = False
            retracted += 1
        if recount:
            indexes = [index for index in range(stated) if standing[index]]
            newest = indexes[-1] if indexes else None
            if indexes:
                evidence_count, evidence_since = evidence_run([statements[index] for index in indexes])
        if newest is None:
            state: tuple[Any, ...] | None = None
        else:
            row = statements[newest]
            citation = cited_on(citations[row.id], day) if row.id in citations else row
            state = (newest, evidence_count, evidence_since, citation)
        if state == previous:
            continue
        previous = state
        key = span_key(cell_id, day)
        if state is None:
            spans.append({"span_key": key, "statement_id": None, "stance": None, "cell": None})
            continue
        assert newest is not None  # a state is kept only while a statement stands
        row = statements[newest]
        cell = filled_cell(
            party_slug,
            issue_slug,
            row,
            citation,
            evidence_count=evidence_count,
            evidence_since=evidence_since,
            flag=flags.get(row.id),
        )
        spans.append({"span_key": key, "statement_id": row.id, "stance": row.stance, "cell": cell_json(cell)})
    return spans


# (issue id, cell number) rows. A stored cell's id, its primary key, is never null: typed as such.
_PARTY_CELLS = select(col(PositionCell.issue_id), cast(Mapped[int], col(PositionCell.id))).where(
    col(PositionCell.party_id) == bindparam("party_id", type_=Integer)
)
_PARTY_CELLS_OF_ISSUES = _PARTY_CELLS.where(col(PositionCell.issue_id).in_(bindparam("issue_ids", expanding=True)))
_DELETE_CELL_SPANS = delete(PositionSpan).where(
    col(PositionSpan.span_key).between(bindparam("first", type_=BigInteger), bindparam("last", type_=BigInteger))
)


def _number_cells(connection: Connection, party_id: int, params: dict[str, Any], stated: set[int]) -> dict[int, int]:
    """The party's cells being rebuilt, issue id to cell number: cells without statements are
    dropped with their spans, and cells that gained their first statement are numbered."""
    cells: dict[int, int] = dict(
        connection.execute(_PARTY_CELLS if "issue_ids" not in params else _PARTY_CELLS_OF_ISSUES, params).all()
    )
    if cells:
        connection.execute(
            _DELETE_CELL_SPANS,
            [dict(zip(("first", "last"), cell_key_range(cell), strict=True)) for cell in cells.values()],
        )
    emptied = [cells.pop(issue_id) for issue_id in sorted(cells.keys() - stated)]
    if emptied:
        connection.execute(delete(PositionCell).where(col(PositionCell.id).in_(emptied)))
    new = sorted(stated - cells.keys())
    if new:
        connection.execute(insert(PositionCell), [{"party_id": party_id, "issue_id": issue_id} for issue_id in new])
        cells.update(connection.execute(_PARTY_CELLS_OF_ISSUES, {"party_id": party_id, "issue_ids": new}).all())
    return cells


def _rebuild_party(connection: Connection, party_id: int, issue_ids: set[int] | None) -> int:
    """Replaces the spans of a party's cells (all of them when `issue_ids` is None); returns how many were written."""
    params: dict[str, Any] = {"party_id": party_id}
    if issue_ids is not None:
        params["issue_ids"] = sorted(issue_ids)
    flags = flags_by_statement(connection.execute(_FLAGS if issue_ids is None else _FLAGS_OF_ISSUES, params))
    earlier = earlier_citations(connection, _OF_PARTY if issue_ids is None else and_(_OF_PARTY, _OF_ISSUES), params)
    rows = connection.execute(_STATEMENTS if issue_ids is None else _STATEMENTS_OF_ISSUES, params).all()
    cells = _number_cells(connection, party_id, params, {row.issue_id for row in rows})
    spans: list[dict[str, Any]] = []
    written = 0
    for issue_id, grouped in groupby(rows, key=lambda row: row.issue_id):
        statements = list(grouped)
        citations = {
            row.id: citation_steps(row, row.revision, earlier[row.id]) for row in statements if row.id in earlier
        }
        first = statements[0]
        spans.extend(cell_spans(cells[issue_id], first.party_slug, first.issue_slug, statements, flags, citations))
        if len(spans) >= _INSERT_BATCH:
            connection.execute(insert(PositionSpan), spans)
            written, spans = written + len(spans), []
    if spans:
        connection.execute(insert(PositionSpan), spans)
    return written + len(spans)


def rebuild_cells(connection: Connection, cells: Iterable[CellKey]) -> None:
    by_party: dict[int, set[int]] = defaultdict(set)
    for party_id, issue_id in cells:
        by_party[party_id].add(issue_id)
    for party_id in sorted(by_party):
        _rebuild_party(connection, party_id, by_party[party_id])


def rebuild_all(connection: Connection) -> int:
    """Every span from scratch, a party at a time (bounded memory); returns how many were written."""
    connection.execute(delete(PositionSpan))
    connection.execute(delete(PositionCell))
    party_ids = (
        connection.execute(select(col(Statement.party_id)).distinct().order_by(col(Statement.party_id))).scalars().all()
    )
    return sum(_rebuild_party(connection, party_id, None) for party_id in party_ids)


class ReadableSpan(NamedTuple):
    """A span named by its party, issue and first day rather than by its key."""

    party_id: int
    issue_id: int
    first_day: date
    statement_id: int | None
    stance: str | None
    cell: bytes | None


def readable_spans(connection: Connection) -> list[ReadableSpan]:
    """Every span, in (party_id, issue_id, first day) order: how two databases' position histories
    compare, whatever numbers their cells were given."""
    cells = {row.id: (row.party_id, row.issue_id) for row in connection.execute(select(PositionCell.__table__))}  # type: ignore[attr-defined]  # SQLAlchemy sets __table__ on table models; SQLModel does not declare it
    spans = []
    stored = select(
        col(PositionSpan.span_key), col(PositionSpan.statement_id), col(PositionSpan.stance), col(PositionSpan.cell)
    )
    for key, statement_id, stance, cell in connection.execute(stored):
        cell_id, day = span_cell_and_day(key)
        spans.append(ReadableSpan(*cells[cell_id], day, statement_id, stance, cell))
    return sorted(spans, key=lambda span: span[:3])


def cells_changed(connection: Connection, changes: Changes) -> set[CellKey]:
    cells = set(changes.cells)
    cell = select(col(Statement.party_id), col(Statement.issue_id)).distinct()
    # A source is cited by its statements and, as of earlier days, by those re-anchored away from it.
    cited_before = cell.join(StatementRevision, col(StatementRevision.statement_id) == col(Statement.id))
    queries = (
        (cell, col(Statement.id), sorted(changes.statements)),
        (cell, col(Statement.source_id), sorted(changes.sources)),
        (cited_before, col(StatementRevision.source_id), sorted(changes.sources)),
    )
    # In chunks: a source can be quoted by more statements than a query may have parameters.
    for query, column, ids in queries:
        for start in range(0, len(ids), _ID_CHUNK):
            rows = connection.execute(query.where(column.in_(ids[start : start + _ID_CHUNK])))
            cells.update((party_id, issue_id) for party_id, issue_id in rows)
    return cells


def stored_format(connection: Connection) -> int | None:
    return projections.stored_format(connection, PROJECTION)


def is_current(engine: Engine) -> bool:
    with engine.connect() as connection:
        return stored_format(connection) == FORMAT


def require_current(connection: Connection) -> None:
    """Views are read from the spans only when they are in this code's format: not while they are
    missing or being rebuilt (after a migration or an import), nor once a newer release has
    rebuilt them in its own format."""
    stored = stored_format(connection)
    if stored == FORMAT:
        return
    _refuse_a_newer_format(stored, "reads", "")
    raise Rebuilding(f"The position history is being rebuilt in format {FORMAT}; retry in a few seconds.")


def ensure_current(engine: Engine) -> bool:
    """Rebuilds every span if they were built by another format (or never); True if it did.

    Safe to run from several processes at once: the check is repeated under a lock (SQLite's write
    lock; the projection row's lock on PostgreSQL), so one of them rebuilds and the others find it done.
    """
    if is_current(engine):
        return False
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql(
                "UPDATE projection SET format = format WHERE name = 'position_span'"
            )  # takes the write lock
        else:
            connection.execute(
                select(col(Projection.format)).where(col(Projection.name) == PROJECTION).with_for_update()
            )
        if stored_format(connection) == FORMAT:
            return False
        # First, so writers wait behind the rebuild (every write bumps the version first; see above).
        bump(connection)
        written = rebuild_all(connection)
        connection.execute(update(Projection).where(col(Projection.name) == PROJECTION).values(format=FORMAT))
    logger.info("rebuilt the position history (format %s): %s spans", FORMAT, written)
    return True


# --- rebuilding what a write changed -----------------------------------------------------------


def cells_to_rebuild(connection: Connection, changes: Changes) -> set[CellKey]:
    """The cells a write changed, which it rebuilds in its transaction before it commits."""
    _refuse_a_newer_format(stored_format(connection), "writes", " nothing was changed.")
    return cells_changed(connection, changes)


def _refuse_a_newer_format(stored: int | None, action: str, outcome: str) -> None:
    """A process of an older release, still running beside a newer one that rebuilt every span in
    its own format, must neither write cells in the old one nor read the new ones: it answers 503
    until it is replaced."""
    if stored is not None and stored > FORMAT:
        raise OutdatedServer(
            f"This server {action} position history format {FORMAT}, and the database holds format {stored};"
            f"{outcome} Retry: a server of the newer release can answer."
        )
