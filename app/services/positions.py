"""Positions as of a date: for each party × issue, its latest standing statement.

A statement stands on a date when it was stated on or before it and was not retracted by then.
Of several, the latest `stated_on` wins, and on the same day the later-recorded one (higher id).
Two queries whatever the size of the grid: one aggregates evidence per cell, one picks each
cell's latest statement through the (party_id, issue_id, stated_on) index.
"""

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, func, or_, select, true
from sqlalchemy.orm import aliased
from sqlmodel import Session

from app.models.common import Stance
from app.models.issue import Issue
from app.models.matrix import Cell, SourceRef
from app.models.party import Party
from app.models.source import Source
from app.models.statement import Selector, Statement

CellKey = tuple[int, int]  # (party_id, issue_id)


@dataclass(frozen=True)
class Scope:
    """Which statements count: up to `as_of`, on these parties and issues, optionally from one source."""

    as_of: date
    party_ids: list[int]
    issue_ids: list[int]
    source_id: int | None = None

    def standing(self, statement: Any) -> Any:
        conditions = [
            statement.party_id.in_(self.party_ids),
            statement.issue_id.in_(self.issue_ids),
            statement.stated_on <= self.as_of,
            or_(statement.retracted_on.is_(None), statement.retracted_on > self.as_of),
        ]
        if self.source_id is not None:
            conditions.append(statement.source_id == self.source_id)
        return and_(*conditions)


def positions(session: Session, scope: Scope) -> dict[CellKey, Cell]:
    """The filled cells of the grid (cells without a standing statement are absent)."""
    if not scope.party_ids or not scope.issue_ids:
        return {}
    evidence = session.exec(
        select(
            Statement.party_id,
            Statement.issue_id,
            func.count().label("evidence_count"),
            func.min(Statement.stated_on).label("evidence_since"),
        )
        .where(scope.standing(Statement))
        .group_by(Statement.party_id, Statement.issue_id)
    ).all()
    if not evidence:
        return {}

    candidate = aliased(Statement)
    latest_id = (
        select(candidate.id)
        .where(
            scope.standing(candidate),
            candidate.party_id == Party.id,
            candidate.issue_id == Issue.id,
        )
        .order_by(candidate.stated_on.desc(), candidate.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    grid = (
        select(Party.id.label("party_id"), Issue.id.label("issue_id"), latest_id.label("statement_id"))
        .select_from(Party)
        .join(Issue, true())
        .where(Party.id.in_({row.party_id for row in evidence}), Issue.id.in_({row.issue_id for row in evidence}))
        .subquery()
    )
    rows = session.exec(
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
        )
        .join(Statement, Statement.id == grid.c.statement_id)
        .join(Source, Source.id == Statement.source_id)
        .join(Party, Party.id == grid.c.party_id)
        .join(Issue, Issue.id == grid.c.issue_id)
    ).all()
    counts = {(row.party_id, row.issue_id): (row.evidence_count, row.evidence_since) for row in evidence}
    cells: dict[CellKey, Cell] = {}
    for row in rows:
        key = (row[0], row[1])
        evidence_count, evidence_since = counts[key]
        cells[key] = Cell.model_construct(
            party=row[2],
            issue=row[3],
            statement=row[4],
            stance=Stance(row[5]),
            summary=row[6],
            stated_on=row[7],
            quote=row[8],
            selector=Selector.model_construct(start=row[9], end=row[10], prefix=row[11], suffix=row[12]),
            speaker=row[13],
            source=SourceRef.model_construct(id=row[14], title=row[15], published_at=row[16], url=row[17]),
            evidence_count=evidence_count,
            evidence_since=evidence_since,
            evidence=None,
        )
    return cells


def empty_cell(party_slug: str, issue_slug: str) -> Cell:
    return Cell.model_construct(
        party=party_slug,
        issue=issue_slug,
        stance=None,
        summary=None,
        stated_on=None,
        statement=None,
        quote=None,
        selector=None,
        speaker=None,
        source=None,
        evidence_count=0,
        evidence_since=None,
        evidence=None,
    )


def standing_statements(session: Session, scope: Scope) -> dict[CellKey, list[Statement]]:
    """Every standing statement per cell, oldest first (for `?evidence=all` and timelines)."""
    found: dict[CellKey, list[Statement]] = {}
    query = select(Statement).where(scope.standing(Statement)).order_by(Statement.stated_on, Statement.id)
    for statement in session.exec(query).scalars():
        found.setdefault((statement.party_id, statement.issue_id), []).append(statement)
    return found
