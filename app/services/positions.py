"""Positions as of a date: for each party × issue, its latest standing statement.

A statement stands on a date when it was stated on or before it and was not retracted by then.
Of several, the latest `stated_on` wins, and on the same day the later-recorded one (higher id).

Cells are read from the position history (app/models/position_span.py): one query that finds, per
cell, the span holding the date and returns the cell as stored JSON, so a matrix costs one B-tree
descent per cell and no serialisation. Positions stated in one source (`?source=`) are few and
are computed from the statements themselves, rendered the same way.
"""

from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Date,
    Integer,
    and_,
    bindparam,
    cast,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.orm import aliased
from sqlmodel import Session

from app.models.anchoring import Anchoring, awaiting_review
from app.models.common import Stance
from app.models.issue import Issue
from app.models.party import Party
from app.models.position_span import DAYS_PER_CELL, PositionCell, PositionSpan
from app.models.source import Source
from app.models.statement import Statement

CellKey = tuple[int, int]  # (party_id, issue_id)
# A matrix cell as plain data, shaped exactly like app.models.matrix.Cell.
CellData = dict[str, Any]
# Timestamps end in Z, like every other response.
JSON_OPTIONS = orjson.OPT_UTC_Z


@dataclass(frozen=True)
class Scope:
    """Which statements count: up to `as_of`, on these parties and issues, optionally from one source."""

    as_of: date
    party_ids: list[int]
    issue_ids: list[int]
    source_id: int | None = None

    def params(self) -> dict[str, Any]:
        params = {"as_of": self.as_of, "party_ids": self.party_ids, "issue_ids": self.issue_ids}
        if self.source_id is not None:
            params["source_id"] = self.source_id
        return params


def standing(statement: Any, *, from_source: bool) -> Any:
    """Stated on or before :as_of, not retracted by then, on :party_ids × :issue_ids [from :source_id]."""
    as_of = bindparam("as_of", type_=Date)
    conditions = [
        statement.party_id.in_(bindparam("party_ids", expanding=True)),
        statement.issue_id.in_(bindparam("issue_ids", expanding=True)),
        statement.stated_on <= as_of,
        or_(statement.retracted_on.is_(None), statement.retracted_on > as_of),
    ]
    if from_source:
        conditions.append(statement.source_id == bindparam("source_id", type_=Integer))
    return and_(*conditions)


# What `render_cell` reads: a statement's columns and its source's (joined on Statement.source_id).
CELL_COLUMNS = (
    Statement.id,
    Statement.stance,
    Statement.summary,
    Statement.stated_on,
    Statement.quote,
    Statement.quote_start,
    Statement.quote_end,
    Statement.quote_prefix,
    Statement.quote_suffix,
    Statement.speaker,
    Source.id.label("source_id"),
    Source.title,
    Source.published_at,
    Source.url,
)
_STANCE_PREFIX = b'{"stance":"'
# The bytes of a stored cell that name its stance: the first six bytes of a `Stance` value and the
# quotation mark closing it tell the six apart, so a diff classifies thousands of cells by a slice,
# without parsing them.
STANCE_KEY = slice(len(_STANCE_PREFIX), len(_STANCE_PREFIX) + 6)
STANCE_BY_KEY = {(stance.value.encode() + b'"')[:6]: stance for stance in Stance}


def render_cell(row: Any, *, evidence_count: int, evidence_since: date, flag: dict[str, Any] | None) -> bytes:
    """A filled cell as stored and served, without its `party` and `issue` (see `cell_pieces`).
    `row` has the CELL_COLUMNS.
    The stance comes first: `STANCE_KEY` reads it back without parsing the rest."""
    cell = {
        "stance": row.stance,
        "summary": row.summary,
        "stated_on": row.stated_on,
        "statement": row.id,
        "quote": row.quote,
        "selector": {"start": row.quote_start, "end": row.quote_end, "prefix": row.quote_prefix, "suffix": row.quote_suffix},
        "speaker": row.speaker,
        "source": {"id": row.source_id, "title": row.title, "published_at": row.published_at, "url": row.url},
        "evidence_count": evidence_count,
        "evidence_since": evidence_since,
        "flag": flag,
    }
    return orjson.dumps(cell, option=JSON_OPTIONS)


_EMPTY_CELL = orjson.dumps(
    {
        **dict.fromkeys(("stance", "summary", "stated_on", "statement", "quote", "selector", "speaker", "source")),
        "evidence_count": 0,
        "evidence_since": None,
        "flag": None,
    }
)


def party_opening(slug: str) -> bytes:
    """`{"party":"<slug>",`: how a cell, or a change, of that party's row starts."""
    return b'{"party":' + orjson.dumps(slug) + b","


def issue_member(slug: str) -> bytes:
    """`"issue":"<slug>",`: what follows the party in a cell, or a change, of that issue's column."""
    return b'"issue":' + orjson.dumps(slug) + b","


def cell_pieces(party: bytes, issue: bytes, cell: bytes | None) -> tuple[bytes, bytes, bytes]:
    """The whole cell as JSON, in pieces to be joined: the stored cell (or an empty one) after its
    party and issue (from `party_opening` and `issue_member`), as app.models.matrix.Cell lists them."""
    return party, issue, (cell or _EMPTY_CELL)[1:]


def json_array(pieces: list[bytes]) -> orjson.Fragment:
    """JSON values given as pieces, separated by b"," pieces, as one array embedded verbatim when
    the document is serialised."""
    return orjson.Fragment(b"".join([b"[", *pieces, b"]"]))


def cell_data(party_slug: str, issue_slug: str, cell: bytes | None) -> CellData:
    """The whole cell as plain data (for CSV and `?evidence=all`); dates stay ISO strings."""
    return {"party": party_slug, "issue": issue_slug, **orjson.loads(cell or _EMPTY_CELL)}


def _span_cell(day: str) -> Any:
    """The stored cell of the cell's span holding :day (a date's ordinal), correlated to the cell:
    the greatest span key of the cell at or below that day's (see app/models/position_span.py)."""
    span = aliased(PositionSpan)
    first_key = cast(PositionCell.id, BigInteger) * DAYS_PER_CELL
    return (
        select(span.cell)
        .where(span.span_key.between(first_key, first_key + bindparam(day, type_=BigInteger)))
        .order_by(span.span_key.desc())
        .limit(1)
        .scalar_subquery()
    )


@cache
def _spans_query(days: tuple[str, ...]) -> Any:
    """Per cell of :party_ids × :issue_ids with statements, its stored cell as of each of `days`
    (null where it has no position). Built once, with bound parameters, so SQLAlchemy compiles it
    a single time."""
    return select(PositionCell.party_id, PositionCell.issue_id, *(_span_cell(day) for day in days)).where(
        PositionCell.party_id.in_(bindparam("party_ids", expanding=True)),  # type: ignore[attr-defined]
        PositionCell.issue_id.in_(bindparam("issue_ids", expanding=True)),  # type: ignore[attr-defined]
    )


def _stored_cells(session: Session, party_ids: list[int], issue_ids: list[int], days: dict[str, date]) -> list[Any]:
    """Rows of (party_id, issue_id, stored cell on each of `days`), for the grid's cells with statements."""
    # Days are bound as ordinals (see `_span_cell`), under names of their own.
    params = {"party_ids": party_ids, "issue_ids": issue_ids, **{name: day.toordinal() for name, day in days.items()}}
    # Core execution on the session's connection: no ORM row handling for thousands of cells.
    return session.connection().execute(_spans_query(tuple(days)), params).all()


def cells(session: Session, scope: Scope) -> dict[CellKey, bytes]:
    """Each filled cell of the grid as of `scope.as_of`, as stored JSON; cells without a position are absent."""
    if not scope.party_ids or not scope.issue_ids:
        return {}
    if scope.source_id is not None:
        return _cells_from_source(session, scope)
    rows = _stored_cells(session, scope.party_ids, scope.issue_ids, {"day": scope.as_of})
    return {(row[0], row[1]): row[2] for row in rows if row[2] is not None}


def cells_on_two_days(
    session: Session, party_ids: list[int], issue_ids: list[int], before: date, after: date
) -> dict[CellKey, tuple[bytes | None, bytes | None]]:
    """Each cell with a position on either day: its stored cell on both (None where it has none)."""
    if not party_ids or not issue_ids:
        return {}
    rows = _stored_cells(session, party_ids, issue_ids, {"day_before": before, "day_after": after})
    return {(party, issue): (then, now) for party, issue, then, now in rows if then is not None or now is not None}


# --- positions stated in one source ---------------------------------------------------------


def _ordered_standing(newest_first: bool) -> Any:
    """The id or date of a cell's newest (or oldest) standing statement from :source_id, correlated to party × issue."""
    candidate = aliased(Statement)
    order = (candidate.stated_on.desc(), candidate.id.desc()) if newest_first else (candidate.stated_on, candidate.id)
    column = candidate.id if newest_first else candidate.stated_on
    return (
        select(column)
        .where(standing(candidate, from_source=True), candidate.party_id == Party.id, candidate.issue_id == Issue.id)
        .order_by(*order)
        .limit(1)
        .scalar_subquery()
    )


def _pending_flag() -> Any:
    """The newest unresolved drifted or orphaned re-anchoring of the cell's statement, if any."""
    flag = aliased(Anchoring)
    return (
        select(flag.id)
        .where(flag.statement_id == Statement.id, awaiting_review(flag))
        .order_by(flag.id.desc())
        .limit(1)
        .correlate(Statement)
        .scalar_subquery()
    )


@cache
def _source_cells_query() -> Any:
    """Per cell of :party_ids × :issue_ids, the newest standing statement from :source_id with
    its source, the date of the oldest, its evidence count and its pending flag."""
    grid = (
        select(
            Party.id.label("party_id"),
            Issue.id.label("issue_id"),
            _ordered_standing(newest_first=True).label("statement_id"),
            _ordered_standing(newest_first=False).label("evidence_since"),
        )
        .select_from(Party)
        .join(Issue, true())
        .where(Party.id.in_(bindparam("party_ids", expanding=True)), Issue.id.in_(bindparam("issue_ids", expanding=True)))
        .subquery()
    )
    counted = aliased(Statement)
    evidence_count = (
        select(func.count())
        .where(standing(counted, from_source=True), counted.party_id == grid.c.party_id, counted.issue_id == grid.c.issue_id)
        .scalar_subquery()
    )
    return (
        select(
            grid.c.party_id,
            grid.c.issue_id,
            *CELL_COLUMNS,
            grid.c.evidence_since,
            evidence_count.label("evidence_count"),
            _pending_flag().label("flag_id"),
        )
        .join(Statement, Statement.id == grid.c.statement_id)
        .join(Source, Source.id == Statement.source_id)
    )


def flag_data(outcome: str, source_id: int, similarity: float | None, flagged_at: Any) -> dict[str, Any]:
    """A cell's `flag`: the pending re-anchoring outcome of its statement."""
    return {"outcome": outcome, "source": source_id, "similarity": similarity, "flagged_at": flagged_at}


_FLAGS_QUERY = select(Anchoring.id, Anchoring.outcome, Anchoring.source_id, Anchoring.similarity, Anchoring.created_at).where(
    Anchoring.id.in_(bindparam("flag_ids", expanding=True))  # type: ignore[union-attr]
)


def _cells_from_source(session: Session, scope: Scope) -> dict[CellKey, bytes]:
    connection = session.connection()
    rows = connection.execute(_source_cells_query(), scope.params()).all()
    flag_ids = [row.flag_id for row in rows if row.flag_id is not None]
    flags = {
        flag[0]: flag_data(*flag[1:])
        for flag in (connection.execute(_FLAGS_QUERY, {"flag_ids": flag_ids}).all() if flag_ids else [])
    }
    return {
        (row.party_id, row.issue_id): render_cell(
            row, evidence_count=row.evidence_count, evidence_since=row.evidence_since, flag=flags.get(row.flag_id)
        )
        for row in rows
    }

def standing_statements(session: Session, scope: Scope) -> dict[CellKey, list[Statement]]:
    """Every standing statement per cell, oldest first (for `?evidence=all` and timelines)."""
    found: dict[CellKey, list[Statement]] = {}
    query = (
        select(Statement)
        .where(standing(Statement, from_source=scope.source_id is not None))
        .order_by(Statement.stated_on, Statement.id)
    )
    for statement in session.exec(query, params=scope.params()).scalars():
        found.setdefault((statement.party_id, statement.issue_id), []).append(statement)
    return found
