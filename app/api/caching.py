"""Conditional GET for derived views (matrix, diffs, timelines).

A view's ETag is derived from the database's data version and the canonical request, so every
server process computes the same one. Rendered bodies are kept in a byte-bounded in-process
cache under that same key, so a repeated request with no write in between costs one read of the
data version (app.services.data_version); a gzip form is made on first demand and kept beside it.
"""

import gzip
import hashlib
import sqlite3
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from threading import BoundedSemaphore, Lock
from typing import Any

import anyio
from fastapi import Request, Response
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session
from starlette.types import Scope, Send

from app.api.negotiation import accepts_gzip
from app.models.common import utcnow
from app.services import position_history
from app.services.data_version import current_version, read_version

CACHE_CONTROL = "no-cache"  # clients may store, but must revalidate: any write can change any view
VARY = "Accept, Accept-Encoding"
VIEW_PATHS = "/v1/"  # where views are; other requests (probes, the viewer's files) go straight on
# Below this a body is sent as it is: compressing it would cost more than it saves.
GZIP_MIN_BYTES = 1024
# zlib's levels 1-3 use its fast string matcher, 4-9 the lazy one. Level 3, the strongest fast
# one, takes half to 60% of level 5's time for 16% more bytes: on the benchmark's full matrix
# (1.1 MB), 6.2 ms and 135 KB against 12.1 ms and 117 KB; on a 2.4 MB diff, 16.6 ms against
# 29.4 ms (bench/gzip_levels.py). A first request for a view waits for its compression.
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
    origin: bool

    @classmethod
    def of(cls, scope: Scope) -> "ViewRequest":
        accepts: list[str] = []
        encodings: list[str] = []
        tags: list[str] = []
        origin = False
        for name, value in scope["headers"]:
            if name == b"accept":
                accepts.append(value.decode("latin-1"))
            elif name == b"accept-encoding":
                encodings.append(value.decode("latin-1"))
            elif name == b"if-none-match":
                tags.append(value.decode("latin-1"))
            elif name == b"origin":
                origin = True
        # Field lines of a list-valued header combine into one list (RFC 9110 5.3).
        key = (scope["path"], scope["query_string"], ", ".join(accepts), utcnow().date())
        return cls(key, ", ".join(encodings), ", ".join(tags), origin)


Answer = tuple[int, RawHeaders, bytes]


class ViewRenderer:
    """Serves derived views with strong ETags, from cache when possible, and bounds how many are
    built at once: building is CPU-bound, so more at a time only adds memory and queueing."""

    def __init__(self, max_cache_bytes: int, max_concurrent_builds: int) -> None:
        self.cache = RenderedCache(max_cache_bytes)
        self.builds = BoundedSemaphore(max_concurrent_builds)
        # Raw request -> cache key of the view it was last answered with, for `answer_again`.
        self._answered: OrderedDict[RequestKey, str] = OrderedDict()
        self._answered_limit = 4096
        self._answered_lock = Lock()

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
        with self._answered_lock:
            self._answered[view_request.key] = cache_key
            if len(self._answered) > self._answered_limit:
                self._answered.popitem(last=False)
        status, headers, body = self.answer(view_request, cache_key, rendered)
        # The same headers `answer_again` sends: Starlette's own (made by the constructor) are replaced.
        response = Response(body, status_code=status)
        response.raw_headers = headers
        return response

    def answered_with(self, key: RequestKey) -> str | None:
        """The cache key of the view a request like this one was last answered with, if any."""
        return self._answered.get(key)

    def answer(self, request: ViewRequest, cache_key: str, rendered: Rendered) -> Answer:
        """Status, headers and body for `rendered`: 304 when the client holds it, gzip when accepted."""
        gzipped = len(rendered.body) >= GZIP_MIN_BYTES and accepts_gzip(request.accept_encoding)
        if etag_matches(request.if_none_match, (rendered.etag, rendered.gzip_etag)):
            return 304, rendered.head(304, gzipped), b""
        body = self.cache.gzip_of(cache_key, rendered) if gzipped else rendered.body
        return 200, rendered.head(200, gzipped), body


def conditional_view(
    request: Request, session: Session, view_key: str, render: Callable[[Session], tuple[bytes, str]]
) -> Response:
    """The view under `view_key`, from cache or built by `render` with the session it is given."""
    renderer: ViewRenderer = request.app.state.view_renderer
    return renderer.respond(request, session, view_key, render)


async def _current_version(state: Any) -> int | None:
    """The data version, or None when it cannot be read quickly (the application then answers)."""
    probe = state.version_probe
    try:
        if probe is not None:
            return await probe.read_async()
        return await anyio.to_thread.run_sync(read_version, state.engine)
    except (PoolTimeout, DBAPIError, sqlite3.Error):
        return None


async def answer_again(state: Any, scope: Scope, send: Send) -> bool:
    """Answers a view request seen before straight from the cache, after one read of the data
    version confirms that no write happened since; returns whether it did.

    It runs ahead of the application and its middleware (app.main.StancemapAPI): no routing,
    parameter parsing or session, and headers made once per view. So it leaves to the application
    every request that needs more: anything but GET, reads that need a token (the routes check
    it), requests with an Origin header when CORS is on (the middleware adds its headers), and any
    request whose view it does not hold for the current version."""
    if scope["method"] != "GET" or not scope["path"].startswith(VIEW_PATHS) or state.settings.read_requires_token:
        return False
    request = ViewRequest.of(scope)
    if request.origin and state.settings.cors_origin_list:
        return False
    renderer: ViewRenderer = state.view_renderer
    cache_key = renderer.answered_with(request.key)
    if cache_key is None:
        return False
    version = await _current_version(state)
    if version is None or not cache_key.startswith(f"{version}|"):
        return False
    rendered = renderer.cache.get(cache_key)
    if rendered is None:
        return False
    status, headers, body = renderer.answer(request, cache_key, rendered)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    return True
