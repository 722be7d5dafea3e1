"""Conditional GET for derived views (matrix, diffs, timelines).

A view's ETag is derived from the database's data version and the canonical request, so every
server process computes the same one. Rendered bodies are kept in a byte-bounded in-process
cache under that same key, so a repeated request with no write in between costs one tiny query;
a gzip form is made on first demand and kept beside it.
"""

import gzip
import hashlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from threading import BoundedSemaphore, Lock

from fastapi import Request, Response
from sqlmodel import Session

from app.services.data_version import current_version

CACHE_CONTROL = "no-cache"  # clients may store, but must revalidate: any write can change any view
# Below this a body is sent as it is: compressing it would cost more than it saves.
GZIP_MIN_BYTES = 1024


@dataclass
class Rendered:
    body: bytes
    media_type: str
    gzipped: bytes | None = field(default=None)

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzipped or b"")

    def gzip_body(self) -> bytes:
        if self.gzipped is None:
            # mtime 0: the same body always compresses to the same bytes, as a strong ETag requires.
            self.gzipped = gzip.compress(self.body, compresslevel=5, mtime=0)
        return self.gzipped


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
            while self._bytes > self.max_bytes and self._entries:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.size

    def resize(self, key: str, grown_by: int) -> None:
        with self._lock:
            if key in self._entries:
                self._bytes += grown_by


def etag_matches(if_none_match: str | None, etags: tuple[str, ...]) -> bool:
    """RFC 9110 If-None-Match: a list of tags or `*`, compared weakly (W/ prefixes ignored)."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") in etags:
            return True
    return False


def accepts_gzip(request: Request) -> bool:
    return "gzip" in request.headers.get("accept-encoding", "").lower()


class ViewRenderer:
    """Serves derived views with strong ETags, from cache when possible, and bounds how many are
    built at once: building is CPU-bound, so more at a time only adds memory and queueing."""

    def __init__(self, max_cache_bytes: int, max_concurrent_builds: int) -> None:
        self.cache = RenderedCache(max_cache_bytes)
        self.builds = BoundedSemaphore(max_concurrent_builds)

    def respond(
        self, request: Request, session: Session, view_key: str, render: Callable[[], tuple[bytes, str]]
    ) -> Response:
        version = current_version(session)
        cache_key = f"{version}|{view_key}"
        identity_etag = '"' + hashlib.sha256(cache_key.encode()).hexdigest()[:32] + '"'
        gzip_etag = identity_etag[:-1] + '-gzip"'
        rendered = self.cache.get(cache_key)
        if rendered is None:
            # Rendering also validates the request: an invalid one raises its problem here, before
            # any precondition is looked at (RFC 9110: If-None-Match applies only to a 2xx answer).
            with self.builds:
                rendered = self.cache.get(cache_key)  # another request may have built it meanwhile
                if rendered is None:
                    body, media_type = render()
                    rendered = Rendered(body, media_type)
                    self.cache.put(cache_key, rendered)
        compress = accepts_gzip(request) and len(rendered.body) >= GZIP_MIN_BYTES
        etag = gzip_etag if compress else identity_etag
        if etag_matches(request.headers.get("if-none-match"), (identity_etag, gzip_etag)):
            return Response(status_code=304, headers=self._headers(etag))
        if not compress:
            return Response(rendered.body, media_type=rendered.media_type, headers=self._headers(etag))
        fresh = rendered.gzipped is None
        body = rendered.gzip_body()
        if fresh:
            self.cache.resize(cache_key, len(body))
        headers = {**self._headers(etag), "Content-Encoding": "gzip"}
        return Response(body, media_type=rendered.media_type, headers=headers)

    @staticmethod
    def _headers(etag: str) -> dict[str, str]:
        return {"ETag": etag, "Cache-Control": CACHE_CONTROL, "Vary": "Accept, Accept-Encoding"}


def conditional_view(
    request: Request, session: Session, view_key: str, render: Callable[[], tuple[bytes, str]]
) -> Response:
    renderer: ViewRenderer = request.app.state.view_renderer
    return renderer.respond(request, session, view_key, render)
