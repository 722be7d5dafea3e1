"""Positions as of a date: for each party × issue, its latest standing statement.

A statement stands on a date when it was stated on or before it and was not retracted by then.
Of several, the latest `stated_on` wins, and on the same day the later-recorded one (higher id).
A fixed number of queries whatever the size of the grid: the evidence counts (app/services/evidence.py),
then one query that picks each cell's newest and oldest standing statement through the
(party_id, issue_id, stated_on) index and joins the newest one's source.
"""

from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import Date, Integer, and_, bindparam, or_, select, true
from sqlalchemy.orm import aliased
from sqlmodel import Session

from app.models.anchoring import Anchoring, awaiting_review
from app.models.issue import Issue
from app.models.party import Party
from app.models.source import Source
from app.models.statement import Statement
from app.services.evidence import evidence_counts

CellKey = tuple[int, int]  # (party_id, issue_id)
# A matrix cell as plain data, shaped exactly like app.models.matrix.Cell. Thousands of them make
# one matrix: building dicts and serialising them in one go costs a fraction of model objects.
CellData = dict[str, Any]


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


def _ordered_standing(newest_first: bool, from_source: bool) -> Any:
    """The id or date of a cell's newest (or oldest) standing statement, correlated to party × issue."""
    candidate = aliased(Statement)
    order = (candidate.stated_on.desc(), candidate.id.desc()) if newest_first else (candidate.stated_on, candidate.id)
    column = candidate.id if newest_first else candidate.stated_on
    return (
        select(column)
        .where(standing(candidate, from_source=from_source), candidate.party_id == Party.id, candidate.issue_id == Issue.id)
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
def _cells_query(from_source: bool) -> Any:
    """Built once: per cell of :cell_party_ids × :cell_issue_ids, the newest standing statement with
    its source, and the date of the oldest. Bound parameters keep SQLAlchemy's compiled form cached."""
    grid = (
        select(
            Party.id.label("party_id"),
            Issue.id.label("issue_id"),
            _ordered_standing(newest_first=True, from_source=from_source).label("statement_id"),
            _ordered_standing(newest_first=False, from_source=from_source).label("evidence_since"),
        )
        .select_from(Party)
        .join(Issue, true())
        .where(
            Party.id.in_(bindparam("cell_party_ids", expanding=True)),
            Issue.id.in_(bindparam("cell_issue_ids", expanding=True)),
        )
        .subquery()
    )
    return (
        select(
            grid.c.party_id,
            grid.c.issue_id,
            Party.slug,
            Issue.slug,
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
            Source.id,
            Source.title,
            Source.published_at,
            Source.url,
            grid.c.evidence_since,
            _pending_flag().label("flag_id"),
        )
        .join(Statement, Statement.id == grid.c.statement_id)
        .join(Source, Source.id == Statement.source_id)
        .join(Party, Party.id == grid.c.party_id)
        .join(Issue, Issue.id == grid.c.issue_id)
    )


_FLAGS_QUERY = select(Anchoring.id, Anchoring.outcome, Anchoring.source_id, Anchoring.similarity, Anchoring.created_at).where(
    Anchoring.id.in_(bindparam("flag_ids", expanding=True))  # type: ignore[union-attr]
)


def _flags(session: Session, flag_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The flags by id: rare, so read apart (a join would have PostgreSQL scan every outcome ever recorded)."""
    if not flag_ids:
        return {}
    rows = session.connection().execute(_FLAGS_QUERY, {"flag_ids": flag_ids}).all()
    return {
        row[0]: {"outcome": row[1], "source": row[2], "similarity": row[3], "flagged_at": row[4]} for row in rows
    }


def positions(session: Session, scope: Scope) -> dict[CellKey, CellData]:
    """The filled cells of the grid (cells without a standing statement are absent)."""
    if not scope.party_ids or not scope.issue_ids:
        return {}
    counts = evidence_counts(session, scope)
    if not counts:
        return {}
    params = {
        **scope.params(),
        "cell_party_ids": sorted({key[0] for key in counts}),
        "cell_issue_ids": sorted({key[1] for key in counts}),
    }
    # Core execution on the session's connection: no ORM row handling for thousands of cells.
    rows = session.connection().execute(_cells_query(scope.source_id is not None), params).all()
    flags = _flags(session, [row[19] for row in rows if row[19] is not None])
    cells: dict[CellKey, CellData] = {}
    for row in rows:
        key = (row[0], row[1])
        cells[key] = {
            "party": row[2],
            "issue": row[3],
            "stance": row[5],
            "summary": row[6],
            "stated_on": row[7],
            "statement": row[4],
            "quote": row[8],
            "selector": {"start": row[9], "end": row[10], "prefix": row[11], "suffix": row[12]},
            "speaker": row[13],
            "source": {"id": row[14], "title": row[15], "published_at": row[16], "url": row[17]},
            "evidence_count": counts.get(key, 0),
            "evidence_since": row[18],
            "flag": flags.get(row[19]) if row[19] is not None else None,
        }
    return cells


def empty_cell(party_slug: str, issue_slug: str) -> CellData:
    return {
        "party": party_slug,
        "issue": issue_slug,
        **dict.fromkeys(("stance", "summary", "stated_on", "statement", "quote", "selector", "speaker", "source")),
        "evidence_count": 0,
        "evidence_since": None,
        "flag": None,
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
