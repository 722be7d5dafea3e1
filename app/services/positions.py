"""Positions as of a date: for each party × issue, its latest standing statement.

A statement stands on a date when it was stated on or before it and was not retracted by then.
Of several, the latest `stated_on` wins, and on the same day the later-recorded one (higher id).

A cell's evidence is the run of standing statements, in that order, that ends with the position
and shares its stance: `evidence_count` says how many, `evidence_since` when the first was stated.
A statement with the stance the position has reversed is not evidence for it.

A cell cites the version of a source that was published by the date: the newest revision of its
statement whose source was published on or before it (re-anchoring on a newer version of the
source is a revision). Corrections apply to every date: the stance, summary, speaker and date are
always the current revision's.

Cells are read from the position history (app/models/position_span.py): one query that finds, per
cell, the span holding the date, and returns its stance and the whole cell as stored JSON, which
the matrix and diffs embed as it is. Positions stated in one source (`?source=`) are few and are
built from the statements themselves, then serialised the same way.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from itertools import groupby
from typing import Any, NamedTuple

import orjson
from sqlalchemy import (
    BigInteger,
    Date,
    Integer,
    and_,
    bindparam,
    cast,
    or_,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased, outerjoin
from sqlmodel import Session, col

from app.models.anchoring import Anchoring, awaiting_review
from app.models.issue import Issue
from app.models.party import Party
from app.models.position_span import DAYS_PER_CELL, PositionCell, PositionSpan
from app.models.source import Source
from app.models.statement import Selector, Statement, StatementPublic, StatementRevision

CellKey = tuple[int, int]  # (party_id, issue_id)
# A matrix cell as plain data, its fields in the order app.models.matrix.Cell lists them.
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


def _citation_columns(quoting: type[Statement] | type[StatementRevision]) -> tuple[Any, ...]:
    """What a cell cites: the quote, where it stands, and its source (joined on `quoting.source_id`).
    A statement's revisions have them too, so a cell can cite an earlier one (see `citation_steps`)."""
    return (
        col(quoting.quote),
        col(quoting.quote_start),
        col(quoting.quote_end),
        col(quoting.quote_prefix),
        col(quoting.quote_suffix),
        col(Source.id).label("source_id"),
        col(Source.title),
        col(Source.published_at),
        col(Source.url),
    )


CITATION_COLUMNS = _citation_columns(Statement)
# What `filled_cell` reads: a statement's columns and its source's (joined on Statement.source_id).
CELL_COLUMNS = (
    col(Statement.id),
    col(Statement.stance),
    col(Statement.summary),
    col(Statement.stated_on),
    col(Statement.speaker),
    *CITATION_COLUMNS,
)

# The slugs a cell carries, as `party_slug` and `issue_slug` (joined on the statement's party and issue).
SLUG_COLUMNS: tuple[Any, ...] = (col(Party.slug).label("party_slug"), col(Issue.slug).label("issue_slug"))


class StoredCell(NamedTuple):
    """A filled cell: its stance, which diffs compare, and the whole cell as the API serves it."""

    stance: str
    json: bytes


def filled_cell(
    party_slug: str,
    issue_slug: str,
    statement: Any,
    citation: Any,
    *,
    evidence_count: int,
    evidence_since: date,
    flag: dict[str, Any] | None,
) -> CellData:
    """A cell with a position. `statement` has the CELL_COLUMNS, `citation` the CITATION_COLUMNS
    (often the same row)."""
    return {
        "party": party_slug,
        "issue": issue_slug,
        "stance": statement.stance,
        "summary": statement.summary,
        "stated_on": statement.stated_on,
        "statement": statement.id,
        "quote": citation.quote,
        "selector": {
            "start": citation.quote_start,
            "end": citation.quote_end,
            "prefix": citation.quote_prefix,
            "suffix": citation.quote_suffix,
        },
        "speaker": statement.speaker,
        "source": {
            "id": citation.source_id,
            "title": citation.title,
            "published_at": citation.published_at,
            "url": citation.url,
        },
        "evidence_count": evidence_count,
        "evidence_since": evidence_since,
        "flag": flag,
    }


_NO_POSITION = {
    **dict.fromkeys(("stance", "summary", "stated_on", "statement", "quote", "selector", "speaker", "source")),
    "evidence_count": 0,
    "evidence_since": None,
    "flag": None,
}


def empty_cell(party_slug: str, issue_slug: str) -> CellData:
    """The cell of a party and an issue without a position: every field null, evidence 0."""
    return {"party": party_slug, "issue": issue_slug, **_NO_POSITION}


def cell_json(cell: CellData) -> bytes:
    return orjson.dumps(cell, option=JSON_OPTIONS)


def evidence_run(standing: Sequence[Any]) -> tuple[int, date]:
    """`evidence_count` and `evidence_since` of a position, from its standing statements ordered by
    (stated_on, id): the run of statements at the end sharing the newest one's stance."""
    stance = standing[-1].stance
    first = len(standing) - 1
    while first > 0 and standing[first - 1].stance == stance:
        first -= 1
    return len(standing) - first, standing[first].stated_on


# A statement's earlier revisions that cite another source than its current one: what else it
# has cited, with that source's publication time. Revised statements only: most never are.
EARLIER_CITATIONS = (
    select(
        col(StatementRevision.statement_id),
        col(StatementRevision.revision),
        *_citation_columns(StatementRevision),
    )
    .join(Statement, col(Statement.id) == col(StatementRevision.statement_id))
    .join(Source, col(Source.id) == col(StatementRevision.source_id))
    .where(col(Statement.revision) > 1, col(StatementRevision.source_id) != col(Statement.source_id))
)

CitationSteps = list[tuple[date, Any]]


def citation_steps(current: Any, revision: int, earlier: Sequence[Any]) -> CitationSteps:
    """What a statement cites from which day: (first day, citation) pairs in date order, the first
    also covering every day before it. `current` is the statement's row (revision `revision`),
    `earlier` its EARLIER_CITATIONS rows.

    As of a day, it cites its newest revision whose source was published by then; before any of
    its sources was published (a position reported after the fact), the newest revision on the
    first one published."""
    revisions = [(revision, current), *((row.revision, row) for row in earlier)]
    steps: CitationSteps = []
    for day in sorted({row.published_at.date() for _, row in revisions}):
        _, cited = max(
            (entry for entry in revisions if entry[1].published_at.date() <= day), key=lambda entry: entry[0]
        )
        if not steps or steps[-1][1] is not cited:
            steps.append((day, cited))
    return steps


def cited_on(steps: CitationSteps, day: date) -> Any:
    cited = steps[0][1]
    for first_day, citation in steps[1:]:
        if first_day > day:
            break
        cited = citation
    return cited


def earlier_citations(connection: Connection, condition: Any, params: dict[str, Any]) -> dict[int, list[Any]]:
    """EARLIER_CITATIONS rows of the statements meeting `condition`, by statement id."""
    found: dict[int, list[Any]] = {}
    for row in connection.execute(EARLIER_CITATIONS.where(condition), params):
        found.setdefault(row.statement_id, []).append(row)
    return found


def _key_of_span_on(day: str) -> Any:
    """The key of the cell's span holding :day (a date's ordinal), correlated to the cell: the
    greatest span key of the cell at or below that day's (see app/models/position_span.py)."""
    span = aliased(PositionSpan)
    first_key = cast(col(PositionCell.id), BigInteger) * DAYS_PER_CELL
    return (
        select(col(span.span_key))
        .where(col(span.span_key).between(first_key, first_key + bindparam(day, type_=BigInteger)))
        .order_by(col(span.span_key).desc())
        .limit(1)
        .scalar_subquery()
    )


@cache
def _spans_query(days: tuple[str, ...]) -> Any:
    """Per cell of :party_ids × :issue_ids with statements, the stance and stored cell of its span
    holding each of `days` (nulls where it has no position then). Built once, with bound
    parameters, so SQLAlchemy compiles it a single time."""
    joined: Any = PositionCell
    columns: list[Any] = []
    for day in days:
        span = aliased(PositionSpan)
        joined = outerjoin(joined, span, col(span.span_key) == _key_of_span_on(day))
        columns += [col(span.stance), col(span.cell)]
    return (
        select(col(PositionCell.party_id), col(PositionCell.issue_id), *columns)
        .select_from(joined)
        .where(
            col(PositionCell.party_id).in_(bindparam("party_ids", expanding=True)),
            col(PositionCell.issue_id).in_(bindparam("issue_ids", expanding=True)),
        )
    )


def _span_rows(session: Session, party_ids: list[int], issue_ids: list[int], days: dict[str, date]) -> Sequence[Any]:
    """Rows of (party_id, issue_id, then stance and stored cell on each of `days`), for the grid's
    cells with statements."""
    # Days are bound as ordinals (see `_key_of_span_on`), under names of their own.
    params = {"party_ids": party_ids, "issue_ids": issue_ids, **{name: day.toordinal() for name, day in days.items()}}
    # Core execution on the session's connection: no ORM row handling for thousands of cells.
    return session.connection().execute(_spans_query(tuple(days)), params).all()


def cells(session: Session, scope: Scope) -> dict[CellKey, bytes]:
    """Each filled cell of the grid as of `scope.as_of`, as the JSON the API serves; cells without
    a position are absent."""
    if not scope.party_ids or not scope.issue_ids:
        return {}
    if scope.source_id is not None:
        return _cells_from_source(session, scope)
    rows = _span_rows(session, scope.party_ids, scope.issue_ids, {"day": scope.as_of})
    return {(party, issue): stored for party, issue, _, stored in rows if stored is not None}


def stored_cells(
    session: Session, party_ids: list[int], issue_ids: list[int], as_of: date
) -> dict[CellKey, StoredCell]:
    """Each filled cell of the grid as of `as_of` with its stance, read from the span's own column:
    for what compares stances (a reader's answers, say) beside the cells it serves."""
    if not party_ids or not issue_ids:
        return {}
    rows = _span_rows(session, party_ids, issue_ids, {"day": as_of})
    return {(party, issue): StoredCell(stance, stored) for party, issue, stance, stored in rows if stored is not None}


def _stored(stance: str | None, stored: bytes | None) -> StoredCell | None:
    return None if stance is None or stored is None else StoredCell(stance, stored)


def cells_on_two_days(
    session: Session, party_ids: list[int], issue_ids: list[int], before: date, after: date
) -> dict[CellKey, tuple[StoredCell | None, StoredCell | None]]:
    """Each cell with a position on either day: its stored cell on both (None where it has none)."""
    if not party_ids or not issue_ids:
        return {}
    rows = _span_rows(session, party_ids, issue_ids, {"day_before": before, "day_after": after})
    return {
        (party, issue): (_stored(stance_then, then), _stored(stance_now, now))
        for party, issue, stance_then, then, stance_now, now in rows
        if stance_then is not None or stance_now is not None
    }


# --- positions stated in one source ---------------------------------------------------------


@cache
def _source_statements_query() -> Any:
    """The standing statements from :source_id on :party_ids × :issue_ids, by cell, oldest first."""
    return (
        select(col(Statement.party_id), col(Statement.issue_id), *SLUG_COLUMNS, *CELL_COLUMNS)
        .join(Source, col(Source.id) == col(Statement.source_id))
        .join(Party, col(Party.id) == col(Statement.party_id))
        .join(Issue, col(Issue.id) == col(Statement.issue_id))
        .where(standing(Statement, from_source=True))
        .order_by(col(Statement.party_id), col(Statement.issue_id), col(Statement.stated_on), col(Statement.id))
    )


def flag_data(outcome: str, source_id: int, similarity: float | None, flagged_at: Any) -> dict[str, Any]:
    """A cell's `flag`: the pending re-anchoring outcome of its statement."""
    return {"outcome": outcome, "source": source_id, "similarity": similarity, "flagged_at": flagged_at}


# Rows for `flags_by_statement`; callers narrow them to the statements they show.
PENDING_FLAGS = select(
    col(Anchoring.statement_id),
    col(Anchoring.id),
    col(Anchoring.outcome),
    col(Anchoring.source_id),
    col(Anchoring.similarity),
    col(Anchoring.created_at),
).where(awaiting_review())


def flags_by_statement(rows: Iterable[Any]) -> dict[int, dict[str, Any]]:
    """The `flag` of each statement from its PENDING_FLAGS rows: the newest one."""
    newest: dict[int, Any] = {}
    for row in rows:
        if row.statement_id not in newest or row.id > newest[row.statement_id].id:
            newest[row.statement_id] = row
    return {
        statement_id: flag_data(row.outcome, row.source_id, row.similarity, row.created_at)
        for statement_id, row in newest.items()
    }


def _cells_from_source(session: Session, scope: Scope) -> dict[CellKey, bytes]:
    connection = session.connection()
    rows = connection.execute(_source_statements_query(), scope.params()).all()
    by_cell = {key: list(statements) for key, statements in groupby(rows, key=lambda row: (row.party_id, row.issue_id))}
    newest_ids = [statements[-1].id for statements in by_cell.values()]
    flags = (
        flags_by_statement(connection.execute(PENDING_FLAGS.where(col(Anchoring.statement_id).in_(newest_ids))))
        if newest_ids
        else {}
    )
    found = {}
    for key, statements in by_cell.items():
        newest = statements[-1]
        evidence_count, evidence_since = evidence_run(statements)
        # The source asked for is the one cited, whenever it was published.
        cell = filled_cell(
            newest.party_slug,
            newest.issue_slug,
            newest,
            newest,
            evidence_count=evidence_count,
            evidence_since=evidence_since,
            flag=flags.get(newest.id),
        )
        found[key] = cell_json(cell)
    return found


def standing_statements(session: Session, scope: Scope) -> dict[CellKey, list[Statement]]:
    """Every standing statement per cell, oldest first (for `?evidence=all` and timelines)."""
    found: dict[CellKey, list[Statement]] = {}
    query = (
        select(Statement)
        .where(standing(Statement, from_source=scope.source_id is not None))
        .order_by(col(Statement.stated_on), col(Statement.id))
    )
    for statement in session.execute(query, params=scope.params()).scalars():
        found.setdefault((statement.party_id, statement.issue_id), []).append(statement)
    return found


def cited_as_of(session: Session, scope: Scope) -> dict[int, Any]:
    """For the statements `standing_statements` lists that cite an earlier revision as of
    `scope.as_of` (see `citation_steps`), that citation, by statement id. Within one source
    (`scope.source_id`), statements cite that source."""
    if scope.source_id is not None or not scope.party_ids or not scope.issue_ids:
        return {}
    connection = session.connection()
    earlier = earlier_citations(connection, standing(Statement, from_source=False), scope.params())
    if not earlier:
        return {}
    revised = (
        select(col(Statement.id), col(Statement.revision), *CITATION_COLUMNS)
        .join(Source, col(Source.id) == col(Statement.source_id))
        .where(standing(Statement, from_source=False), col(Statement.revision) > 1)
    )
    found = {}
    for row in connection.execute(revised, scope.params()):
        if row.id in earlier:
            cited = cited_on(citation_steps(row, row.revision, earlier[row.id]), scope.as_of)
            if cited is not row:
                found[row.id] = cited
    return found


def with_citation(statement: StatementPublic, citation: Any | None) -> StatementPublic:
    """The statement as listed beside a cell: citing what the cell cites (see `cited_as_of`)."""
    if citation is None:
        return statement
    selector = Selector(
        start=citation.quote_start, end=citation.quote_end, prefix=citation.quote_prefix, suffix=citation.quote_suffix
    )
    return statement.model_copy(update={"source": citation.source_id, "quote": citation.quote, "selector": selector})
