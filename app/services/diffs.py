"""How positions changed between two moments, classified after PolitiFact's Flip-O-Meter."""

import re
from datetime import date
from typing import Any

from sqlmodel import Session

from app.errors import InvalidField
from app.models.common import Stance
from app.models.matrix import ChangeClass, DiffEnd, Timeline, TimelineEntry
from app.services.matrix import Grid
from app.services.positions import CellData, Scope, positions, standing_statements
from app.services.sources import resolve_source
from app.services.statements import to_public

_ASCII_ID = re.compile(r"[0-9]{1,10}")  # str.isdigit() would also accept "²" and "١"
_SUPPORT_SIDE = {Stance.support, Stance.lean_support}
_OPPOSE_SIDE = {Stance.oppose, Stance.lean_oppose}


def classify(before: Stance | None, after: Stance | None) -> ChangeClass:
    if before is None:
        return ChangeClass.new
    if after is None:
        return ChangeClass.withdrawn
    if before == after:
        return ChangeClass.unchanged
    crossed = (before in _SUPPORT_SIDE and after in _OPPOSE_SIDE) or (before in _OPPOSE_SIDE and after in _SUPPORT_SIDE)
    return ChangeClass.reversed if crossed else ChangeClass.shifted


def parse_moment(session: Session, raw: str, field: str) -> DiffEnd:
    """`2025-08-14`, or `source:<id>`: as of that source's publication date, that source included."""
    if raw.startswith("source:"):
        number = raw.removeprefix("source:")
        if not _ASCII_ID.fullmatch(number) or not 1 <= int(number) <= 2_147_483_647:
            raise InvalidField(field, f"'{raw}' is not `source:<id>` with a numeric id.")
        source = resolve_source(session, int(number), field)
        return DiffEnd(as_of=source.published_at.date(), source=source.id)
    try:
        return DiffEnd(as_of=date.fromisoformat(raw))
    except ValueError:
        raise InvalidField(field, f"'{raw}' is neither a date (YYYY-MM-DD) nor `source:<id>`.") from None


def diff(
    session: Session, grid: Grid, start: DiffEnd, end: DiffEnd, *, only_changed: bool = False
) -> dict[str, Any]:
    """The diff document, shaped like app.models.matrix.Diff."""
    if start.as_of > end.as_of:
        raise InvalidField("query.from", f"`from` ({start.as_of}) is later than `to` ({end.as_of}).")
    before = positions(session, grid.scope(start.as_of))
    after = positions(session, grid.scope(end.as_of))
    summary = dict.fromkeys((change.value for change in ChangeClass), 0)
    changes: list[dict[str, Any]] = []
    for party in grid.parties:
        for issue in grid.issues:
            key = (party.id, issue.id)
            old, new = before.get(key), after.get(key)
            if old is None and new is None:
                continue
            change = classify(_stance(old), _stance(new))
            summary[change.value] += 1
            if only_changed and change is ChangeClass.unchanged:
                continue
            changes.append({"party": party.slug, "issue": issue.slug, "change": change.value, "before": old, "after": new})
    return {"from": start.model_dump(), "to": end.model_dump(), "summary": summary, "changes": changes}


def _stance(cell: CellData | None) -> Stance | None:
    return Stance(cell["stance"]) if cell is not None else None


def timeline(session: Session, grid: Grid, as_of: date) -> Timeline:
    """Every standing statement of one party × issue cell, each classified against the one before."""
    party, issue = grid.parties[0], grid.issues[0]
    rows = standing_statements(session, Scope(as_of=as_of, party_ids=[party.id], issue_ids=[issue.id]))
    entries = []
    previous: Stance | None = None
    for row in rows.get((party.id, issue.id), []):
        stance = Stance(row.stance)
        entries.append(TimelineEntry(change=classify(previous, stance), statement=to_public(row, party.slug, issue.slug)))
        previous = stance
    return Timeline(party=party.slug, issue=issue.slug, entries=entries)
