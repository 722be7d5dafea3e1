"""Reading the change feed for clients: filters given as slugs and class names, pages continued by a
cursor or an event id, and the newest events of one party or issue for its Atom feed.

The events themselves are read and shaped by app.services.change_feed; this module turns what a
request names into what those helpers take.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from app.errors import InvalidField
from app.models.change_event import PositionChange
from app.models.issue import Issue
from app.models.party import Party
from app.services import change_feed
from app.services.matrix import parse_slug_list
from app.services.pagination import MAX_BIG_ID, decode_cursor, encode_cursor
from app.services.slugs import former_owners

CHANGE_CLASSES = [change.value for change in PositionChange]


@dataclass(frozen=True)
class ChangeFilter:
    """Which events a reader follows; None: all."""

    party_ids: list[int] | None = None
    issue_ids: list[int] | None = None
    changes: list[str] | None = None


@dataclass(frozen=True)
class ChangePage:
    """Events after a position, the cursor continuing after the last of them (None when they were
    all there was), and the newest event id in the whole feed when the page was read."""

    events: list[dict[str, Any]]
    next_cursor: str | None
    last_id: int


def _ids_of(session: Session, model: type[Party] | type[Issue], slugs: list[str], field: str, noun: str) -> list[int]:
    """The ids `slugs` name, former slugs included; an unknown slug is an invalid `field`."""
    query = select(col(model.slug), col(model.id)).where(col(model.slug).in_(slugs))
    found: dict[str, int] = {slug: entry_id for slug, entry_id in session.execute(query).all()}
    unknown = [slug for slug in slugs if slug not in found]
    if unknown:
        found |= former_owners(session, model, unknown)
        if still_unknown := [slug for slug in unknown if slug not in found]:
            raise InvalidField(field, f"Unknown {noun} slug(s): {', '.join(still_unknown)}.")
    return list(dict.fromkeys(found[slug] for slug in slugs))


def change_filter(session: Session, *, party: str | None, issue: str | None, change: str | None) -> ChangeFilter:
    """The filter named by comma-separated party slugs, issue slugs and change classes."""
    party_slugs = parse_slug_list(party, "party")
    issue_slugs = parse_slug_list(issue, "issue")
    changes = None
    if change is not None:
        changes = list(dict.fromkeys(part.strip() for part in change.split(",") if part.strip()))
        unknown = [name for name in changes if name not in CHANGE_CLASSES]
        if not changes or unknown:
            named = f"Unknown change class(es): {', '.join(unknown)}. " if unknown else ""
            raise InvalidField("change", f"{named}Give one or more of {', '.join(CHANGE_CLASSES)}, comma-separated.")
    return ChangeFilter(
        party_ids=_ids_of(session, Party, party_slugs, "party", "party") if party_slugs else None,
        issue_ids=_ids_of(session, Issue, issue_slugs, "issue", "issue") if issue_slugs else None,
        changes=changes,
    )


def start_after(after: int, cursor: str | None) -> int:
    """Where a page starts: after the cursor's event when one is given (it continues a page that
    itself began after `after`), else after `after`."""
    return decode_cursor(cursor, max_id=MAX_BIG_ID).after if cursor is not None else after


def read_after(session: Session, wanted: ChangeFilter, *, after: int, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` events after `after` matching `wanted`, oldest first, shaped as documents."""
    return change_feed.read_events(
        session,
        after=after,
        party_ids=wanted.party_ids,
        issue_ids=wanted.issue_ids,
        changes=wanted.changes,
        limit=limit,
    )


def list_changes(session: Session, wanted: ChangeFilter, *, after: int, limit: int) -> ChangePage:
    """One page of the feed: events after `after`, oldest first; one more is read to tell whether
    the page is the last. The newest id is read after the page, so it is never below the page's."""
    events = read_after(session, wanted, after=after, limit=limit + 1)
    more = len(events) > limit
    events = events[:limit]
    next_cursor = encode_cursor(events[-1]["id"]) if more else None
    return ChangePage(events, next_cursor, change_feed.latest_event_id(session))


def newest_changes(session: Session, wanted: ChangeFilter, *, limit: int) -> list[dict[str, Any]]:
    """The `limit` newest events matching `wanted`, newest first."""
    return change_feed.read_events(
        session,
        party_ids=wanted.party_ids,
        issue_ids=wanted.issue_ids,
        changes=wanted.changes,
        limit=limit,
        newest_first=True,
    )
