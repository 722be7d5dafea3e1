"""Conditional GET for derived views (matrix, diffs, timelines).

A view's ETag is derived from the database's data version and the canonical request, so every
server process computes the same one. Rendered bodies are kept in a byte-bounded in-process
cache under that same key, so a repeated request with no write in between costs one tiny query;
a gzip form is made on first demand and kept beside it.
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
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from app.models.common import utcnow
from app.services import position_history
from app.services.data_version import current_version, read_version

CACHE_CONTROL = "no-cache"  # clients may store, but must revalidate: any write can change any view
# Below this a body is sent as it is: compressing it would cost more than it saves.
GZIP_MIN_BYTES = 1024
# zlib's levels 1-3 use its fast string matcher, 4-9 the lazy one. Level 3, the strongest fast
# one, takes half to 60% of level 5's time for 16% more bytes: on the benchmark's full matrix
# (1.1 MB), 6.2 ms and 135 KB against 12.1 ms and 117 KB; on a 2.4 MB diff, 16.6 ms against
# 29.4 ms (bench/gzip_levels.py). A first request for a view waits for its compression.
GZIP_LEVEL = 3


@dataclass
class Rendered:
    body: bytes
    media_type: str
    etag: str
    gzipped: bytes | None = field(default=None)

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzipped or b"")

    @property
    def gzip_etag(self) -> str:
        return self.etag[:-1] + '-gzip"'


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


def accepts_gzip(accept_encoding: str) -> bool:
    """RFC 9110 Accept-Encoding: gzip (or x-gzip) with a non-zero weight, or `*` with one when gzip
    is not named. `gzip;q=0` refuses it. A refusal of `identity` is not honoured: a client that
    refuses both still gets the body as it is, which RFC 9110 allows."""
    named = wildcard = None
    for item in accept_encoding.lower().split(","):
        coding, _, parameters = item.partition(";")
        coding = coding.strip()
        if coding not in ("gzip", "x-gzip", "*"):
            continue
        weight = 1.0
        for parameter in parameters.split(";"):
            name, _, value = parameter.partition("=")
            if name.strip() == "q":
                try:
                    weight = float(value.strip())
                except ValueError:
                    weight = 0.0  # a weight that cannot be read accepts nothing
        if coding == "*":
            wildcard = weight > 0
        else:
            named = bool(named) or weight > 0
    return named if named is not None else bool(wildcard)


def _request_key(scope: Scope) -> tuple[str, bytes, str, date]:
    """What identifies a view request before any parsing: path, raw query, Accept, and today's
    date (the default `as_of`)."""
    return (scope["path"], scope["query_string"], Headers(scope=scope).get("accept", ""), utcnow().date())


class ViewRenderer:
    """Serves derived views with strong ETags, from cache when possible, and bounds how many are
    built at once: building is CPU-bound, so more at a time only adds memory and queueing."""

    def __init__(self, max_cache_bytes: int, max_concurrent_builds: int) -> None:
        self.cache = RenderedCache(max_cache_bytes)
        self.builds = BoundedSemaphore(max_concurrent_builds)
        # Raw request -> cache key of the view it was last answered with, for the shortcut below.
        self._answered: OrderedDict[tuple[str, bytes, str, date], str] = OrderedDict()
        self._answered_limit = 4096
        self._answered_lock = Lock()

    def respond(
        self, request: Request, session: Session, view_key: str, render: Callable[[Session], tuple[bytes, str]]
    ) -> Response:
        # Taken now, with the day the route has just defaulted `as_of` to: a build that runs past
        # midnight must not file yesterday's view under today's date.
        request_key = _request_key(request.scope)
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
            self._answered[request_key] = cache_key
            if len(self._answered) > self._answered_limit:
                self._answered.popitem(last=False)
        return self._answer(request.headers, cache_key, rendered)

    def answered_with(self, scope: Scope) -> str | None:
        """The cache key of the view a request like this one was last answered with, if any."""
        return self._answered.get(_request_key(scope))

    def shortcut(self, scope: Scope, cache_key: str, version: int) -> Response | None:
        """The cached answer under `cache_key` (from `answered_with`), if no write happened since; else None."""
        if not cache_key.startswith(f"{version}|"):
            return None
        rendered = self.cache.get(cache_key)
        if rendered is None:
            return None
        return self._answer(Headers(scope=scope), cache_key, rendered)

    def _answer(self, headers: Headers, cache_key: str, rendered: Rendered) -> Response:
        # Every Accept-Encoding field line counts (RFC 9110 5.3: they combine as one list).
        gzipped = len(rendered.body) >= GZIP_MIN_BYTES and accepts_gzip(", ".join(headers.getlist("accept-encoding")))
        etag = rendered.gzip_etag if gzipped else rendered.etag
        if etag_matches(headers.get("if-none-match"), (rendered.etag, rendered.gzip_etag)):
            return Response(status_code=304, headers=self._headers(etag))
        if not gzipped:
            return Response(rendered.body, media_type=rendered.media_type, headers=self._headers(etag))
        headers_out = {**self._headers(etag), "Content-Encoding": "gzip"}
        return Response(self.cache.gzip_of(cache_key, rendered), media_type=rendered.media_type, headers=headers_out)

    @staticmethod
    def _headers(etag: str) -> dict[str, str]:
        return {"ETag": etag, "Cache-Control": CACHE_CONTROL, "Vary": "Accept, Accept-Encoding"}


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


class CachedViewShortcut:
    """ASGI middleware answering a view request seen before straight from the cache, without
    routing, parameter parsing or a session, after one query confirms no write happened since.
    Anything it cannot answer goes on to the application unchanged, as does every request when
    reads need a token."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope["app"].state if scope["type"] == "http" else None
        # Only where reads are public: a token is checked by the routes' dependencies, which this skips.
        if state is not None and scope["method"] == "GET" and not state.settings.read_requires_token:
            renderer: ViewRenderer = state.view_renderer
            cache_key = renderer.answered_with(scope)
            if cache_key is not None:
                version = await _current_version(state)
                response = renderer.shortcut(scope, cache_key, version) if version is not None else None
                if response is not None:
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)
