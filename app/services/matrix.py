"""The party-by-issue matrix: every cell of the grid, filled or not, as of a date."""

from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
from sqlalchemy import select
from sqlmodel import Session, SQLModel, col

from app.errors import InvalidField
from app.models.issue import Issue
from app.models.party import Party
from app.services.positions import (
    Scope,
    cells,
    cited_as_of,
    empty_cell,
    standing_statements,
    with_citation,
)
from app.services.slugs import former_owners
from app.services.statements import to_public

MAX_SLUGS = 500


@dataclass(frozen=True)
class Grid:
    """The rows and columns asked for, in the order asked for."""

    parties: list[Any]  # rows of _PARTY_COLUMNS
    issues: list[Any]  # rows of _ISSUE_COLUMNS

    # (id, slug) pairs as plain tuples: the loops over every cell of a grid read them, and reading
    # a result row's attributes costs as much as building the cell.
    def party_keys(self) -> list[tuple[int, str]]:
        return [(party.id, party.slug) for party in self.parties]

    def issue_keys(self) -> list[tuple[int, str]]:
        return [(issue.id, issue.slug) for issue in self.issues]

    def party_refs(self) -> list[dict[str, str]]:
        return [{"slug": party.slug, "name": party.name, "kind": party.kind} for party in self.parties]

    def issue_refs(self) -> list[dict[str, str]]:
        return [{"slug": issue.slug, "title": issue.title, "proposition": issue.proposition} for issue in self.issues]

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


# Rows, not ORM objects: a grid is read on every matrix and diff, and needs only these columns.
_PARTY_COLUMNS = (col(Party.id), col(Party.slug), col(Party.name), col(Party.kind))
_ISSUE_COLUMNS = (col(Issue.id), col(Issue.slug), col(Issue.title), col(Issue.proposition))


def _select_ordered(
    session: Session, model: type[SQLModel], columns: tuple[Any, ...], slugs: list[str] | None, field: str, noun: str
) -> list[Any]:
    id_column, slug_column = columns[0], columns[1]
    if slugs is None:
        return list(session.execute(select(*columns).order_by(id_column)).all())
    found = {row.slug: row for row in session.execute(select(*columns).where(slug_column.in_(slugs))).all()}
    unknown = [slug for slug in slugs if slug not in found]
    if unknown:
        # A former slug still names its party or issue, shown under its current slug.
        owners = former_owners(session, model, unknown)
        renamed = {row.id: row for row in session.execute(select(*columns).where(id_column.in_(owners.values())))}
        found |= {slug: renamed[owner] for slug, owner in owners.items()}
        if unknown := [slug for slug in unknown if slug not in found]:
            raise InvalidField(field, f"Unknown {noun} slug(s): {', '.join(unknown)}.")
    # A party named twice (by its slug and a former one) is listed once.
    return list({row.id: row for row in (found[slug] for slug in slugs)}.values())


def resolve_grid(session: Session, party_slugs: list[str] | None, issue_slugs: list[str] | None) -> Grid:
    return Grid(
        parties=_select_ordered(session, Party, _PARTY_COLUMNS, party_slugs, "parties", "party"),
        issues=_select_ordered(session, Issue, _ISSUE_COLUMNS, issue_slugs, "issues", "issue"),
    )


def build_matrix(
    session: Session,
    grid: Grid,
    *,
    as_of: date,
    source_id: int | None = None,
    with_evidence: bool = False,
) -> dict[str, Any]:
    """The matrix document, shaped like app.models.matrix.Matrix, for orjson to serialise. Filled
    cells are embedded as stored (orjson.Fragment); with `with_evidence` every cell is a dict."""
    scope = grid.scope(as_of, source_id)
    filled = cells(session, scope)
    evidence = standing_statements(session, scope) if with_evidence else {}
    citations = cited_as_of(session, scope) if with_evidence else {}
    document_cells: list[Any] = []
    issue_keys = grid.issue_keys()
    for party_id, party_slug in grid.party_keys():
        for issue_id, issue_slug in issue_keys:
            stored = filled.get((party_id, issue_id))
            if not with_evidence:
                document_cells.append(empty_cell(party_slug, issue_slug) if stored is None else orjson.Fragment(stored))
                continue
            document_cell = empty_cell(party_slug, issue_slug) if stored is None else orjson.loads(stored)
            statements = (to_public(row, party_slug, issue_slug) for row in evidence.get((party_id, issue_id), []))
            document_cell["evidence"] = [
                with_citation(statement, citations.get(statement.id)).model_dump() for statement in statements
            ]
            document_cells.append(document_cell)
    return {
        "as_of": as_of,
        "source": source_id,
        "parties": grid.party_refs(),
        "issues": grid.issue_refs(),
        "cells": document_cells,
    }
