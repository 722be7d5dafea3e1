"""How positions changed between two moments, classified after PolitiFact's Flip-O-Meter."""

from datetime import date

from sqlmodel import Session

from app.errors import InvalidField
from app.models.common import Stance
from app.models.matrix import Cell, Change, ChangeClass, Diff, DiffEnd, DiffSummary, Timeline, TimelineEntry
from app.services.matrix import Grid
from app.services.positions import Scope, positions, standing_statements
from app.services.sources import resolve_source
from app.services.statements import to_public

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
        if not number.isdigit() or not 1 <= int(number) <= 2_147_483_647:
            raise InvalidField(field, f"'{raw}' is not `source:<id>` with a numeric id.")
        source = resolve_source(session, int(number), field)
        return DiffEnd(as_of=source.published_at.date(), source=source.id)
    try:
        return DiffEnd(as_of=date.fromisoformat(raw))
    except ValueError:
        raise InvalidField(field, f"'{raw}' is neither a date (YYYY-MM-DD) nor `source:<id>`.") from None


def diff(session: Session, grid: Grid, start: DiffEnd, end: DiffEnd, *, only_changed: bool = False) -> Diff:
    if start.as_of > end.as_of:
        raise InvalidField("query.from", f"`from` ({start.as_of}) is later than `to` ({end.as_of}).")
    before = positions(session, grid.scope(start.as_of))
    after = positions(session, grid.scope(end.as_of))
    summary = DiffSummary()
    changes: list[Change] = []
    for party in grid.parties:
        for issue in grid.issues:
            key = (party.id, issue.id)
            old: Cell | None = before.get(key)
            new: Cell | None = after.get(key)
            if old is None and new is None:
                continue
            change = classify(old.stance if old else None, new.stance if new else None)
            setattr(summary, change.value, getattr(summary, change.value) + 1)
            if only_changed and change is ChangeClass.unchanged:
                continue
            changes.append(Change(party=party.slug, issue=issue.slug, change=change, before=old, after=new))
    return Diff(from_=start, to=end, summary=summary, changes=changes)


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
