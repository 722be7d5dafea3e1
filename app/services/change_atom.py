"""Atom feeds (RFC 4287) of one party's or one issue's changes of position, newest first, each
entry saying in words what changed, with the quotes before and after as stated.

XML 1.0 cannot carry most C0 control characters (all but tab, line feed and carriage return) nor
U+FFFE and U+FFFF, whether written raw or as character references, and a quote may contain them (its
source's text is kept as published). In the Atom text each of them is replaced by U+FFFD; the JSON
feed (GET /v1/changes) keeps every quote exact.
"""

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlmodel import Session, col

from app.models.issue import Issue
from app.models.party import Party
from app.services.change_reading import ChangeFilter, newest_changes
from app.services.issues import issues
from app.services.parties import parties
from app.services.positions import JSON_OPTIONS

ATOM_NAMESPACE = "http://www.w3.org/2005/Atom"
ATOM_MEDIA_TYPE = "application/atom+xml"
# The year in every id's tag URI (RFC 4151): when the feeds began, so ids never change.
TAG_YEAR = 2026
_NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

ET.register_namespace("", ATOM_NAMESPACE)


def xml_text(text: str) -> str:
    """`text` as XML 1.0 can carry it: characters it cannot are replaced by U+FFFD."""
    return _NOT_IN_XML.sub("\ufffd", text)


@dataclass(frozen=True)
class FeedAddress:
    """Where the feed is served: its own URL, the API's base URL (no trailing slash), and the
    host name its tag URIs are minted under."""

    self_url: str
    base_url: str
    authority: str

    def tag(self, specific: str) -> str:
        return f"tag:{self.authority},{TAG_YEAR}:stancemap/{specific}"


def _stance(cell: dict[str, Any] | None) -> str:
    return cell["stance"] if cell is not None and cell["stance"] is not None else "no position"


def headline(event: dict[str, Any], party_name: str, issue_title: str) -> str:
    """What changed, in one line: `Russia shifted on Ceasefire: from support to lean_support`."""
    before, after = _stance(event["before"]), _stance(event["after"])
    change = event["change"]
    if change == "new":
        return f"{party_name} took a position on {issue_title}: {after}"
    if change == "withdrawn":
        return f"{party_name} no longer holds a position on {issue_title} (it was {before})"
    if change == "restated":
        return f"{party_name} restated its position on {issue_title}: {after}, on a newer statement"
    return f"{party_name} {change} on {issue_title}: from {before} to {after}"


def _position(label: str, cell: dict[str, Any] | None) -> str:
    if cell is None or cell["stance"] is None:
        return f"{label}: no position."
    speaker = f", said by {cell['speaker']}" if cell["speaker"] else ""
    source = cell["source"]
    where = f"“{source['title']}”" + (f" ({source['url']})" if source["url"] else "")
    return (
        f"{label}: {cell['stance']}, stated on {cell['stated_on']} (statement {cell['statement']}){speaker}, in {where}:\n"
        f"“{cell['quote']}”"
    )


def description(event: dict[str, Any], party_name: str, issue_title: str) -> str:
    """The headline, the positions before and after with their quotes verbatim, and the write."""
    cause = event["caused_by"]
    by = f" by {cause['actor']}" if cause["actor"] else ""
    return "\n\n".join(
        [
            f"{headline(event, party_name, issue_title)}.",
            _position("Before", event["before"]),
            _position("After", event["after"]),
            f"The new position holds from {event['stated_on']}; recorded{by} at {cause['at']}.",
        ]
    )


def _timeline_url(address: FeedAddress, event: dict[str, Any]) -> str:
    return f"{address.base_url}/v1/parties/{event['party']}/issues/{event['issue']}/timeline"


def _element(parent: ET.Element, name: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM_NAMESPACE}}}{name}", attributes)
    if text is not None:
        element.text = xml_text(text)
    return element


def render_feed(
    *,
    address: FeedAddress,
    feed_id: str,
    title: str,
    alternate_url: str,
    updated_when_empty: datetime,
    events: list[dict[str, Any]],
    party_names: dict[str, str],
    issue_titles: dict[str, str],
) -> bytes:
    """The Atom document of `events` (newest first, as JSON documents), UTF-8."""
    feed = ET.Element(f"{{{ATOM_NAMESPACE}}}feed")
    _element(feed, "id", feed_id)
    _element(feed, "title", title)
    updated = events[0]["caused_by"]["at"] if events else updated_when_empty.isoformat().replace("+00:00", "Z")
    _element(feed, "updated", updated)
    _element(feed, "link", rel="self", type=ATOM_MEDIA_TYPE, href=address.self_url)
    _element(feed, "link", rel="alternate", type="application/json", href=alternate_url)
    author = _element(feed, "author")
    _element(author, "name", "Stancemap")
    _element(feed, "generator", "Stancemap")
    for event in events:
        party_name = party_names.get(event["party"], event["party"])
        issue_title = issue_titles.get(event["issue"], event["issue"])
        entry = _element(feed, "entry")
        _element(entry, "id", address.tag(f"change/{event['id']}"))
        _element(entry, "title", headline(event, party_name, issue_title))
        _element(entry, "updated", event["caused_by"]["at"])
        # No `type`: feed readers take an untyped alternate link as the entry's own (the timeline is JSON).
        _element(entry, "link", rel="alternate", href=_timeline_url(address, event))
        _element(entry, "category", term=event["change"])
        _element(entry, "content", description(event, party_name, issue_title), type="text")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def _newest(session: Session, wanted: ChangeFilter, limit: int) -> list[dict[str, Any]]:
    """The newest events as plain JSON values (cells as dicts, times as `…Z` strings), newest first."""
    documents: list[dict[str, Any]] = orjson.loads(
        orjson.dumps(newest_changes(session, wanted, limit=limit), option=JSON_OPTIONS)
    )
    return documents


def _names(session: Session, events: list[dict[str, Any]]) -> tuple[dict[str, str], dict[str, str]]:
    """Display names of the parties and titles of the issues the events name, by current slug."""
    party_slugs = {event["party"] for event in events}
    issue_slugs = {event["issue"] for event in events}
    party_names = dict(
        session.execute(select(col(Party.slug), col(Party.name)).where(col(Party.slug).in_(party_slugs))).all()
    )
    issue_titles = dict(
        session.execute(select(col(Issue.slug), col(Issue.title)).where(col(Issue.slug).in_(issue_slugs))).all()
    )
    return party_names, issue_titles


def feed_of(session: Session, about: str, slug: str, address: FeedAddress, *, limit: int) -> bytes:
    """The feed of one party's changes (`about`: `party`) or of the changes on one issue (`issue`);
    SlugRenamed for a former slug, NotFound for an unknown one."""
    if about == "party":
        party = parties.get(session, slug)
        entry: Any = party
        wanted = ChangeFilter(party_ids=[party.id or 0])
        title = f"Stancemap: changes of {party.name}'s positions"
    else:
        issue = issues.get(session, slug)
        entry = issue
        wanted = ChangeFilter(issue_ids=[issue.id or 0])
        title = f"Stancemap: changes of position on {issue.title}"
    events = _newest(session, wanted, limit)
    party_names, issue_titles = _names(session, events)
    return render_feed(
        address=address,
        feed_id=address.tag(f"{about}/{entry.id}/changes"),
        title=title,
        alternate_url=f"{address.base_url}/v1/changes?{about}={entry.slug}",
        updated_when_empty=entry.updated_at,
        events=events,
        party_names=party_names,
        issue_titles=issue_titles,
    )
