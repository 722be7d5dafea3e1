"""The party-by-issue matrix: every cell of the grid, filled or not, as of a date."""

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from app.errors import InvalidField
from app.models.issue import Issue
from app.models.party import Party
from app.services.positions import (
    CellData,
    Scope,
    empty_cell,
    positions,
    standing_statements,
)
from app.services.statements import to_public

MAX_SLUGS = 500


@dataclass(frozen=True)
class Grid:
    """The rows and columns asked for, in the order asked for."""

    parties: list[Party]
    issues: list[Issue]

    def party_refs(self) -> list[dict[str, str]]:
        return [{"slug": party.slug, "name": party.name, "kind": party.kind} for party in self.parties]

    def issue_refs(self) -> list[dict[str, str]]:
        return [
            {"slug": issue.slug, "title": issue.title, "proposition": issue.proposition} for issue in self.issues
        ]

    def scope(self, as_of: date, source_id: int | None = None) -> Scope:
        return Scope(
            as_of=as_of,
            party_ids=[party.id for party in self.parties],
            issue_ids=[issue.id for issue in self.issues],
            source_id=source_id,
        )


def parse_slug_list(raw: str | None, field: str) -> list[str] | None:
    """`a,b,c` -> ["a", "b", "c"], first occurrence kept, blanks ignored."""
    if raw is None:
        return None
    slugs = list(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    if not slugs:
        raise InvalidField(field, "Give at least one slug, separated by commas, or leave the parameter out.")
    if len(slugs) > MAX_SLUGS:
        raise InvalidField(field, f"At most {MAX_SLUGS} slugs can be given.")
    return slugs


def _select_ordered(session: Session, model: Any, slugs: list[str] | None, field: str, noun: str) -> list[Any]:
    if slugs is None:
        return list(session.exec(select(model).order_by(model.id)).scalars())
    found = {row.slug: row for row in session.exec(select(model).where(model.slug.in_(slugs))).scalars()}
    unknown = [slug for slug in slugs if slug not in found]
    if unknown:
        raise InvalidField(field, f"Unknown {noun} slug(s): {', '.join(unknown)}.")
    return [found[slug] for slug in slugs]


def resolve_grid(session: Session, party_slugs: list[str] | None, issue_slugs: list[str] | None) -> Grid:
    return Grid(
        parties=_select_ordered(session, Party, party_slugs, "query.parties", "party"),
        issues=_select_ordered(session, Issue, issue_slugs, "query.issues", "issue"),
    )


def build_matrix(
    session: Session, grid: Grid, *, as_of: date, source_id: int | None = None, with_evidence: bool = False
) -> dict[str, Any]:
    """The matrix document, shaped like app.models.matrix.Matrix."""
    scope = grid.scope(as_of, source_id)
    filled = positions(session, scope)
    evidence = standing_statements(session, scope) if with_evidence else {}
    cells: list[CellData] = []
    for party in grid.parties:
        for issue in grid.issues:
            key = (party.id, issue.id)
            cell = filled.get(key) or empty_cell(party.slug, issue.slug)
            if with_evidence:
                cell["evidence"] = [
                    to_public(row, party.slug, issue.slug).model_dump() for row in evidence.get(key, [])
                ]
            cells.append(cell)
    return {
        "as_of": as_of,
        "source": source_id,
        "parties": grid.party_refs(),
        "issues": grid.issue_refs(),
        "cells": cells,
    }
