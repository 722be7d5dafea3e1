"""How positions changed between two moments, classified after PolitiFact's Flip-O-Meter."""

import re
from collections.abc import Callable
from datetime import date
from typing import Any

import orjson
from sqlmodel import Session

from app.errors import InvalidField
from app.models.common import ISO_DATE, MAX_DATE, MAX_ID, MIN_DATE, Stance
from app.models.matrix import ChangeClass, DiffEnd, Timeline, TimelineEntry
from app.services.change_classes import classify
from app.services.matrix import Grid
from app.services.positions import (
    Scope,
    cells_on_two_days,
    cited_as_of,
    standing_statements,
    with_citation,
)
from app.services.sources import resolve_source
from app.services.statements import to_public

_ASCII_ID = re.compile(r"[0-9]{1,10}")  # str.isdigit() would also accept "²" and "١"


# Every pair of stances (None: no position) and its class, looked up by the strings as stored (Stance
# is a StrEnum, so they equal its members): making a Stance of both sides of every cell of the grid
# cost more than the rest of the diff's loop.
_CHANGES: dict[tuple[str | None, str | None], ChangeClass] = {
    (before, after): classify(before, after) for before in (None, *Stance) for after in (None, *Stance)
}


def parse_moment(session: Session, raw: str, field: str) -> DiffEnd:
    """`2025-08-14`, or `source:<id>`: as of the (UTC) date of that source's publication, so every
    statement stated by then counts, whichever source it is in. Dates have the bounds of `as_of`."""
    if raw.startswith("source:"):
        number = raw.removeprefix("source:")
        if not _ASCII_ID.fullmatch(number):
            raise InvalidField(field, f"'{raw}' is not `source:<id>` with a numeric id.")
        if not 1 <= int(number) <= MAX_ID:
            raise InvalidField(field, f"'{raw}' names no source: source ids run from 1 to {MAX_ID}.")
        source = resolve_source(session, int(number), field)
        return DiffEnd(as_of=source.published_at.date(), source=source.id)
    try:
        # Only YYYY-MM-DD: fromisoformat alone would also read 20250814 and 2025-W33.
        day = date.fromisoformat(raw) if ISO_DATE.fullmatch(raw) else None
    except ValueError:
        day = None
    if day is None:
        raise InvalidField(field, f"'{raw}' is neither a date (YYYY-MM-DD) nor `source:<id>`.")
    if not MIN_DATE <= day <= MAX_DATE:
        raise InvalidField(field, f"'{raw}' is out of range: dates run from {MIN_DATE} to {MAX_DATE}.")
    return DiffEnd(as_of=day)


def diff(
    session: Session,
    grid: Grid,
    start: DiffEnd,
    end: DiffEnd,
    *,
    only_changed: bool = False,
    as_dicts: bool = False,
) -> dict[str, Any]:
    """The diff document, shaped like app.models.matrix.Diff, for orjson to serialise; the cells
    before and after are embedded as stored (orjson.Fragment), or with `as_dicts` read into dicts
    (for CSV)."""
    if start.as_of > end.as_of:
        raise InvalidField("from", f"`from` ({start.as_of}) is later than `to` ({end.as_of}).")
    party_ids, issue_ids = [party.id for party in grid.parties], [issue.id for issue in grid.issues]
    found = cells_on_two_days(session, party_ids, issue_ids, start.as_of, end.as_of)
    summary = dict.fromkeys((change.value for change in ChangeClass), 0)
    changes = []
    issue_keys = grid.issue_keys()
    cell: Callable[[bytes], Any] = orjson.loads if as_dicts else orjson.Fragment
    for party_id, party_slug in grid.party_keys():
        for issue_id, issue_slug in issue_keys:
            sides = found.get((party_id, issue_id))
            if sides is None:
                continue
            before, after = sides
            change = _CHANGES[(None if before is None else before.stance, None if after is None else after.stance)]
            summary[change] += 1
            if only_changed and change is ChangeClass.unchanged:
                continue
            changes.append(
                {
                    "party": party_slug,
                    "issue": issue_slug,
                    "change": change,
                    "before": None if before is None else cell(before.json),
                    "after": None if after is None else cell(after.json),
                }
            )
    return {"from": start.model_dump(), "to": end.model_dump(), "summary": summary, "changes": changes}


def timeline(session: Session, grid: Grid, as_of: date) -> Timeline:
    """Every standing statement of one party × issue cell, each classified against the one before,
    citing what the matrix as of `as_of` would cite for it."""
    party, issue = grid.parties[0], grid.issues[0]
    scope = Scope(as_of=as_of, party_ids=[party.id], issue_ids=[issue.id])
    rows = standing_statements(session, scope)
    citations = cited_as_of(session, scope)
    entries = []
    previous: Stance | None = None
    for row in rows.get((party.id, issue.id), []):
        stance = Stance(row.stance)
        public = to_public(row, party.slug, issue.slug)
        statement = with_citation(public, citations.get(public.id))
        entries.append(TimelineEntry(change=classify(previous, stance), statement=statement))
        previous = stance
    return Timeline(party=party.slug, issue=issue.slug, entries=entries)
