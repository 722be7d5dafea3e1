"""Conditional GET for derived views (matrix, diffs, timelines).

A view's ETag is derived from the database's data version and the canonical request, so every
server process computes the same one; bodies are kept in a small in-process cache under that
same key, so a repeated request with no write in between costs one tiny query.
"""

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from threading import Lock

from fastapi import Request, Response
from sqlmodel import Session

from app.services.data_version import current_version

CACHE_CONTROL = "no-cache"  # clients may store, but must revalidate: any write can change any view


class RenderedCache:
    """Least-recently-used cache of rendered bodies."""

    def __init__(self, max_entries: int = 256) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[bytes, str]] = OrderedDict()
        self._lock = Lock()

    def get(self, key: str) -> tuple[bytes, str] | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: str, value: tuple[bytes, str]) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 If-None-Match: a list of tags or `*`, compared weakly (W/ prefixes ignored)."""
    if not if_none_match:
        return False
    wanted = etag.removeprefix("W/")
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == wanted:
            return True
    return False


def conditional_view(
    request: Request, session: Session, view_key: str, render: Callable[[], tuple[bytes, str]]
) -> Response:
    """Serve a view with a strong ETag: 304 when the client has it, from cache when we have it."""
    version = current_version(session)
    cache_key = f"{version}|{view_key}"
    etag = '"' + hashlib.sha256(cache_key.encode()).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL, "Vary": "Accept"}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    cache: RenderedCache = request.app.state.rendered_cache
    rendered = cache.get(cache_key)
    if rendered is None:
        rendered = render()
        cache.put(cache_key, rendered)
    body, media_type = rendered
    return Response(body, media_type=media_type, headers=headers)
