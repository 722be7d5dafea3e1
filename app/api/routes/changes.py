"""The change feed: every change of a cell's position, as a JSON list, a live event stream, and
Atom feeds per party and per issue."""

import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from app.api import head
from app.api.deps import LISTED, MOVED, PagingDep, SessionDep, SlugPath, fields_in, problems
from app.api.negotiation import media_range_weights
from app.api.tabular import json_bytes
from app.config import Settings
from app.errors import InvalidField
from app.models.change_page import ChangeFeedPage
from app.services import change_atom, change_reading
from app.services.change_reading import ChangeFilter
from app.services.pagination import MAX_BIG_ID

router = APIRouter(tags=["changes"])
logger = logging.getLogger("stancemap")

EVENT_STREAM = "text/event-stream"
# How long a client waits before reconnecting after the stream ended or broke (`retry:`), in milliseconds.
RECONNECT_MS = 1000
MAX_EVENT_ID = MAX_BIG_ID
ATOM_LIMIT = 50

AfterQuery = Annotated[
    int,
    Query(
        ge=0,
        le=MAX_EVENT_ID,
        description="Only events with a larger id: the id of the last event seen. `Last-Event-ID` replaces it in a "
        "stream.",
    ),
]
LastEventId = Annotated[
    str | None,
    Header(
        alias="Last-Event-ID",
        max_length=16,
        description="With `Accept: text/event-stream`: the last event id received, which a browser's EventSource "
        "sends when it reconnects; the stream resumes after it (it wins over `after` and `cursor`).",
    ),
]


def _slugs_query(noun: str) -> Any:
    return Query(
        max_length=20_000,
        pattern=r"^[^\x00]*$",
        description=f"Comma-separated {noun} slugs, former ones included: only events of these. Default: all.",
    )


ChangeClassQuery = Annotated[
    str | None,
    Query(
        max_length=200,
        description="Comma-separated change classes: `new`, `shifted`, `reversed`, `withdrawn`, `restated`. Default: "
        "all.",
    ),
]
STREAM_EXAMPLE = (
    "retry: 1000\n\n"
    'id: 17\nevent: change\ndata: {"id":17,"party":"russia","issue":"cede-donbas","change":"shifted",…}\n\n'
    ": heartbeat\n\n"
)
CHANGES_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        **LISTED,
        "description": "A page of events as JSON; with `Accept: text/event-stream`, an endless stream of Server-Sent "
        "Events, each `id:` the event's id, `event: change`, `data:` the event as JSON on one line, with a "
        "`: heartbeat` comment when nothing happened for a while",
        "content": {EVENT_STREAM: {"schema": {"type": "string"}, "example": STREAM_EXAMPLE}},
    },
    **problems(400, 422),
}


def wants_event_stream(accept: str) -> bool:
    """Whether Accept weighs text/event-stream (named; a wildcard is not enough) at least as much
    as application/json: an EventSource sends `Accept: text/event-stream` alone."""
    weights = media_range_weights(accept)
    stream = weights.get(EVENT_STREAM, 0.0)
    return stream > 0 and stream >= weights.get("application/json", 0.0)


def _last_event_id(header: str) -> int:
    digits = header.strip()
    # isdigit() alone would take "²" (a header's bytes are read as Latin-1), which int() refuses.
    if not (digits.isascii() and digits.isdigit()) or int(digits) > MAX_EVENT_ID:
        raise InvalidField(
            "header.Last-Event-ID", "An event id is a whole number, as the stream's `id:` lines give it."
        )
    return int(digits)


def _read_after(engine: Engine, wanted: ChangeFilter, after: int, limit: int) -> list[dict[str, Any]]:
    # A session of its own per poll: no connection is held while the stream waits.
    with Session(engine) as session:
        return change_reading.read_after(session, wanted, after=after, limit=limit)


def _frame(event: dict[str, Any]) -> bytes:
    return b"id: %d\nevent: change\ndata: %s\n\n" % (event["id"], json_bytes(event))


async def _event_stream(engine: Engine, settings: Settings, wanted: ChangeFilter, after: int) -> AsyncIterator[bytes]:
    """Events after `after` as they are committed, by any server process: the database is polled.
    Ends after `settings.sse_max_s`, and the client reconnects with the last id it got (a stopping
    server waits for open responses, so none lasts long); Starlette ends it when the client
    disconnects. A database that cannot be read keeps the stream open, with heartbeats."""
    yield b"retry: %d\n\n" % RECONNECT_MS
    batch = settings.max_page_size
    next_poll = last_sent = time.monotonic()
    failing = False
    ends_at = next_poll + settings.sse_max_s
    while time.monotonic() < ends_at:
        now = time.monotonic()
        if now >= next_poll:
            try:
                events = await anyio.to_thread.run_sync(_read_after, engine, wanted, after, batch)
            except SQLAlchemyError as error:
                if not failing:  # once per outage, not once per poll
                    logger.warning("a change stream cannot read new events; it tries again: %s", error)
                failing, events = True, []
            else:
                failing = False
            if events:
                after = events[-1]["id"]
                last_sent = time.monotonic()
                yield b"".join(_frame(event) for event in events)
            # A full batch: more are waiting, read them at once.
            next_poll = time.monotonic() + (0 if len(events) == batch else settings.sse_poll_s)
        now = time.monotonic()
        if now - last_sent >= settings.sse_heartbeat_s:
            last_sent = now
            yield b": heartbeat\n\n"
        wake_at = min(next_poll, last_sent + settings.sse_heartbeat_s, ends_at)
        await anyio.sleep(max(0.0, wake_at - time.monotonic()))


@router.get(
    "/v1/changes",
    name="list",
    response_model=ChangeFeedPage,
    responses=CHANGES_RESPONSES,
    summary="Changes of position, oldest first, or live as Server-Sent Events",
)
def list_changes(
    request: Request,
    session: SessionDep,
    paging: PagingDep,
    after: AfterQuery = 0,
    party: Annotated[str | None, _slugs_query("party")] = None,
    issue: Annotated[str | None, _slugs_query("issue")] = None,
    change: ChangeClassQuery = None,
    last_event_id: LastEventId = None,
) -> Response:
    """One event per change of a cell's position (party × issue), in the order the writes were
    committed: `new`, `shifted`, `reversed`, `withdrawn`, and `restated` (the same stance on a newer
    statement). `before` and `after` are the cell as the matrix served it then and serves it since.
    Follow `next_cursor`, or pass the last event's id as `after`; `last_id` is the newest id when the
    page was read. `party` and `issue` take slugs, former ones included.

    With `Accept: text/event-stream` the answer is a stream of the events after `after` (or
    `Last-Event-ID`, or the cursor's), sent as they are committed; `limit` takes no part in it."""
    with fields_in("query"):
        wanted = change_reading.change_filter(session, party=party, issue=issue, change=change)
        start = change_reading.start_after(after, paging.cursor)
    state = request.app.state
    if wants_event_stream(", ".join(request.headers.getlist("accept"))):
        if "limit" in request.query_params:
            raise InvalidField(
                "query.limit", "A stream has no pages: leave `limit` out with `Accept: text/event-stream`."
            )
        if last_event_id is not None:
            start = _last_event_id(last_event_id)
        # No buffering by proxies (nginx honours X-Accel-Buffering), no caching of an endless answer.
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        if head.asked_as_head(request.scope):
            return StreamingResponse(iter(()), media_type=EVENT_STREAM, headers=headers)  # its header fields only
        stream = _event_stream(state.engine, state.settings, wanted, start)
        return StreamingResponse(stream, media_type=EVENT_STREAM, headers=headers)
    page = change_reading.list_changes(session, wanted, after=start, limit=paging.limit)
    document = {"items": page.events, "next_cursor": page.next_cursor, "last_id": page.last_id}
    answer = Response(json_bytes(document), media_type="application/json")
    paging.link_next(answer, page.next_cursor)
    return answer


ATOM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "An Atom feed (RFC 4287), newest entry first",
        "content": {change_atom.ATOM_MEDIA_TYPE: {"schema": {"type": "string"}}},
    },
    **MOVED,
    **problems(404, 422),
}
AtomLimitQuery = Annotated[
    int | None, Query(ge=1, description=f"Entries in the feed (default {ATOM_LIMIT}); larger values are capped at 200.")
]


def _address(request: Request) -> change_atom.FeedAddress:
    public = request.app.state.settings.public_url
    if public is None:
        return change_atom.FeedAddress(
            self_url=str(request.url),
            base_url=str(request.base_url).rstrip("/"),
            authority=request.url.hostname or "localhost",
        )
    base = str(public).rstrip("/")
    query = f"?{request.url.query}" if request.url.query else ""
    return change_atom.FeedAddress(
        self_url=f"{base}{request.url.path}{query}", base_url=base, authority=public.host or "localhost"
    )


def _atom_limit(request: Request, limit: int | None) -> int:
    return min(limit or ATOM_LIMIT, request.app.state.settings.max_page_size)


@router.get(
    "/v1/parties/{slug}/changes.atom",
    name="party-atom",
    response_class=Response,
    responses=ATOM_RESPONSES,
    summary="A party's changes of position as an Atom feed",
)
def party_changes_atom(request: Request, session: SessionDep, slug: SlugPath, limit: AtomLimitQuery = None) -> Response:
    """The party's latest changes of position, newest first: each entry says what changed in words,
    quotes the statements before and after verbatim, and links to the cell's timeline."""
    body = change_atom.feed_of(session, "party", slug, _address(request), limit=_atom_limit(request, limit))
    return Response(body, media_type=change_atom.ATOM_MEDIA_TYPE)


@router.get(
    "/v1/issues/{slug}/changes.atom",
    name="issue-atom",
    response_class=Response,
    responses=ATOM_RESPONSES,
    summary="Changes of position on an issue as an Atom feed",
)
def issue_changes_atom(request: Request, session: SessionDep, slug: SlugPath, limit: AtomLimitQuery = None) -> Response:
    """Every party's latest changes of position on the issue, newest first, as for a party's feed."""
    body = change_atom.feed_of(session, "issue", slug, _address(request), limit=_atom_limit(request, limit))
    return Response(body, media_type=change_atom.ATOM_MEDIA_TYPE)
