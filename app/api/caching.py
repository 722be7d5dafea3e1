"""Conditional GET for derived views (matrix, diffs, timelines).

A view's ETag is derived from the database's data version and the canonical request, so every
server process computes the same one. Rendered bodies are kept in a byte-bounded in-process
cache under that same key, with their gzip form made on first demand and kept beside them. A
request seen before is answered from that cache by `RepeatedViewsFromCache` after one read of
the data version (app.services.data_version), without routing or a database session.
"""

import gzip
import hashlib
import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from threading import BoundedSemaphore, Lock
from typing import Any

import anyio
from fastapi import Request, Response
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.negotiation import accepts_gzip
from app.models.common import utcnow
from app.services import position_history
from app.services.data_version import current_version, read_version

CACHE_CONTROL = "no-cache"  # clients may store, but must revalidate: any write can change any view
VARY = "Accept, Accept-Encoding"
VIEW_PATHS = "/v1/"  # where views are; other requests (probes, the viewer's files) go straight on
# Below this a body is sent as it is: compressing it would cost more than it saves.
GZIP_MIN_BYTES = 1024
# The strongest of zlib's fast levels (1-3): a first request for a view waits for its compression,
# and the lazy levels (4-9) take about twice as long for a sixth fewer bytes (bench/README.md).
GZIP_LEVEL = 3


RawHeaders = list[tuple[bytes, bytes]]


@dataclass
class Rendered:
    body: bytes
    media_type: str
    etag: str
    gzipped: bytes | None = field(default=None)
    # Response headers per (status, gzipped), built on first use: a repeated view is sent with
    # headers made once, not assembled anew for every request.
    _heads: dict[tuple[int, bool], RawHeaders] = field(default_factory=dict, repr=False)

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzipped or b"")

    @property
    def gzip_etag(self) -> str:
        return self.etag[:-1] + '-gzip"'

    def head(self, status: int, gzipped: bool) -> RawHeaders:
        """The response's headers (a fresh list: middleware may add to it); for 200 with `gzipped`,
        only once the gzip form exists."""
        found = self._heads.get((status, gzipped))
        if found is None:
            etag = self.gzip_etag if gzipped else self.etag
            found = [(b"etag", etag.encode()), (b"cache-control", CACHE_CONTROL.encode()), (b"vary", VARY.encode())]
            if status == 200:
                body = self.gzipped if gzipped else self.body
                assert body is not None, "the gzip form is made before its headers"
                # Views' media types name their charset where they need one (CSV's does).
                found += [(b"content-type", self.media_type.encode()), (b"content-length", str(len(body)).encode())]
                if gzipped:
                    found.append((b"content-encoding", b"gzip"))
            self._heads[(status, gzipped)] = found  # the same value whichever thread stores it
        return list(found)


def compress(body: bytes) -> bytes:
    # mtime 0: the same body always compresses to the same bytes, as a strong ETag requires.
    return gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)


class RenderedCache:
    """Least-recently-used cache of rendered views, bounded by the bytes it holds."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, Rendered] = OrderedDict()
        self._bytes = 0
        self._lock = Lock()

    def get(self, key: str) -> Rendered | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: str, value: Rendered) -> None:
        if value.size > self.max_bytes // 4:
            return  # one huge view must not flush everything else
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._bytes -= previous.size
            self._entries[key] = value
            self._bytes += value.size
            self._evict()

    @property
    def held_bytes(self) -> int:
        return self._bytes

    def gzip_of(self, key: str, rendered: Rendered) -> bytes:
        """The view's gzip form, made on first demand and kept with it; counted once in the cache's
        bytes, and only while `rendered` is the entry under `key`."""
        if rendered.gzipped is not None:
            return rendered.gzipped
        # Outside the lock: requests for other views must not wait for this one's compression.
        # Requests for this view that arrive meanwhile compress it too, to the same bytes.
        packed = compress(rendered.body)
        with self._lock:
            if rendered.gzipped is None:
                rendered.gzipped = packed
                if self._entries.get(key) is rendered:
                    self._bytes += len(packed)
                    self._evict()
            return rendered.gzipped

    def _evict(self) -> None:
        while self._bytes > self.max_bytes and self._entries:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted.size


def etag_matches(if_none_match: str | None, etags: tuple[str, ...]) -> bool:
    """RFC 9110 If-None-Match: a list of tags or `*`, compared weakly (W/ prefixes ignored)."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") in etags:
            return True
    return False


RequestKey = tuple[str, bytes, str, date]


@dataclass(frozen=True)
class ViewRequest:
    """What a view's answer depends on in a request, read from its raw headers in one pass."""

    # Path, raw query, Accept, and today's date (the default `as_of`): identifies a view request
    # before any parsing.
    key: RequestKey
    accept_encoding: str
    if_none_match: str

    @classmethod
    def of(cls, scope: Scope) -> "ViewRequest":
        accepts: list[str] = []
        encodings: list[str] = []
        tags: list[str] = []
        for name, value in scope["headers"]:
            if name == b"accept":
                accepts.append(value.decode("latin-1"))
            elif name == b"accept-encoding":
                encodings.append(value.decode("latin-1"))
            elif name == b"if-none-match":
                tags.append(value.decode("latin-1"))
        # Field lines of a list-valued header combine into one list (RFC 9110 5.3).
        key = (scope["path"], scope["query_string"], ", ".join(accepts), utcnow().date())
        return cls(key, ", ".join(encodings), ", ".join(tags))


Answer = tuple[int, RawHeaders, bytes]


class ViewRenderer:
    """Serves derived views with strong ETags, from cache when possible, and bounds how many are
    built at once: building is CPU-bound, so more at a time only adds memory and queueing."""

    def __init__(self, max_cache_bytes: int, max_concurrent_builds: int) -> None:
        self.cache = RenderedCache(max_cache_bytes)
        self.builds = BoundedSemaphore(max_concurrent_builds)
        # Raw request -> cache key of the view it was last answered with, for `RepeatedViewsFromCache`.
        self._served: OrderedDict[RequestKey, str] = OrderedDict()
        self._served_limit = 4096
        self._served_lock = Lock()

    def respond(
        self, request: Request, session: Session, view_key: str, render: Callable[[Session], tuple[bytes, str]]
    ) -> Response:
        # Taken now, with the day the route has just defaulted `as_of` to: a build that runs past
        # midnight must not file yesterday's view under today's date.
        view_request = ViewRequest.of(request.scope)
        cache_key = f"{current_version(session)}|{view_key}"
        rendered = self.cache.get(cache_key)
        if rendered is None:
            # No connection is held while waiting for a build slot; the build reads afresh, so at
            # worst a body newer than its version is cached under a key no later request asks for.
            session.rollback()
            # Rendering also validates the request: an invalid one raises its problem here, before
            # any precondition is looked at (RFC 9110: If-None-Match applies only to a 2xx answer).
            with self.builds:
                rendered = self.cache.get(cache_key)  # another request may have built it meanwhile
                if rendered is None:
                    # On the engine kept for builds (app.db.make_view_engine), whose connections'
                    # caches hold what the previous builds read.
                    with Session(request.app.state.view_engine) as build_session:
                        position_history.require_current(build_session.connection())
                        body, media_type = render(build_session)
                    etag = '"' + hashlib.sha256(cache_key.encode()).hexdigest()[:32] + '"'
                    rendered = Rendered(body, media_type, etag)
                    self.cache.put(cache_key, rendered)
        with self._served_lock:
            self._served[view_request.key] = cache_key
            if len(self._served) > self._served_limit:
                self._served.popitem(last=False)
        if self.needs_compressing(view_request, rendered):
            self.cache.gzip_of(cache_key, rendered)  # in the worker thread the route runs in
        status, headers, body = self.answer(view_request, rendered)
        # The same headers the cache answers with: Starlette's own (made by the constructor) are replaced.
        response = Response(body, status_code=status)
        response.raw_headers = headers
        return response

    def last_served(self, key: RequestKey) -> str | None:
        """The cache key of the view a request like this one was last answered with, if any."""
        return self._served.get(key)

    @staticmethod
    def needs_compressing(request: ViewRequest, rendered: Rendered) -> bool:
        """Whether answering `request` needs the gzip form of `rendered` that is not made yet."""
        return rendered.gzipped is None and _sends_gzip(request, rendered) and not _holds(request, rendered)

    @staticmethod
    def answer(request: ViewRequest, rendered: Rendered) -> Answer:
        """Status, headers and body for `rendered`: 304 when the client holds it, gzip when accepted
        (its gzip form must be made by then: `needs_compressing`)."""
        gzipped = _sends_gzip(request, rendered)
        if _holds(request, rendered):
            return 304, rendered.head(304, gzipped), b""
        body = rendered.gzipped if gzipped else rendered.body
        assert body is not None, "the gzip form is made before the answer"
        return 200, rendered.head(200, gzipped), body


def _sends_gzip(request: ViewRequest, rendered: Rendered) -> bool:
    return len(rendered.body) >= GZIP_MIN_BYTES and accepts_gzip(request.accept_encoding)


def _holds(request: ViewRequest, rendered: Rendered) -> bool:
    """Whether the client already holds the view, in either encoding."""
    return etag_matches(request.if_none_match, (rendered.etag, rendered.gzip_etag))


def conditional_view(
    request: Request, session: Session, view_key: str, render: Callable[[Session], tuple[bytes, str]]
) -> Response:
    """The view under `view_key`, from cache or built by `render` with the session it is given."""
    renderer: ViewRenderer = request.app.state.view_renderer
    return renderer.respond(request, session, view_key, render)


@contextmanager
def build_session(request: Request) -> Iterator[Session]:
    """A build slot and a session on the engine kept for builds, as a view gets, for a document
    built anew on every request and never cached (a ranking against a reader's answers)."""
    renderer: ViewRenderer = request.app.state.view_renderer
    with renderer.builds, Session(request.app.state.view_engine) as session:
        position_history.require_current(session.connection())
        yield session


async def _current_version(state: Any) -> int | None:
    """The data version, or None when it cannot be read quickly (the application then answers)."""
    probe = state.version_probe
    try:
        if probe is not None:
            return await probe.read_async()
        return await anyio.to_thread.run_sync(read_version, state.engine)
    except (PoolTimeout, DBAPIError, sqlite3.Error):
        return None


class RepeatedViewsFromCache:
    """ASGI middleware answering a view request seen before from the view cache, once a read of
    the data version shows that no write happened since; any other request goes on to the routes.

    It sits inside the error handling and the CORS middleware, like the routes. It leaves to them
    every request that needs more than the cache: anything but GET, reads that need a token (the
    routes check it), and a request whose view is not held for the current version."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not await self._answered_from_cache(scope, send):
            await self.app(scope, receive, send)

    async def _answered_from_cache(self, scope: Scope, send: Send) -> bool:
        if scope["type"] != "http" or scope["method"] != "GET" or not scope["path"].startswith(VIEW_PATHS):
            return False
        state = scope["app"].state
        if state.settings.read_requires_token:
            return False
        request = ViewRequest.of(scope)
        renderer: ViewRenderer = state.view_renderer
        cache_key = renderer.last_served(request.key)
        if cache_key is None:
            return False
        version = await _current_version(state)
        if version is None or not cache_key.startswith(f"{version}|"):
            return False
        rendered = renderer.cache.get(cache_key)
        if rendered is None:
            return False
        if renderer.needs_compressing(request, rendered):
            # Compressing a megabyte takes milliseconds: not on the event loop, which every request shares.
            await anyio.to_thread.run_sync(renderer.cache.gzip_of, cache_key, rendered)
        status, headers, body = renderer.answer(request, rendered)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return True
