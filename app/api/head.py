"""HEAD on any GET resource: the same status and header fields as GET, and no content.

RFC 9110 (section 9.3.2) asks every general-purpose server to support HEAD, and clients use it to
check a view's ETag or size without fetching a megabyte of matrix. FastAPI registers routes for
the methods they declare only, so without this every HEAD would get 405. Routing the request as a
GET keeps one code path (and one cache entry) per resource: the headers cannot drift from GET's.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    """ASGI middleware answering HEAD as the GET of the same resource, without its content."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "HEAD":
            scope, send = as_get_without_content(scope, send)
        await self.app(scope, receive, send)


# Marks the GET scope of a HEAD request: an endless response (a change stream) ends at once there.
ASKED_AS_HEAD = "stancemap.asked_as_head"


def asked_as_head(scope: Scope) -> bool:
    return bool(scope.get(ASKED_AS_HEAD))


def as_get_without_content(scope: Scope, send: Send) -> tuple[Scope, Send]:
    """The scope of a HEAD request turned into a GET, and a send that passes the response's status
    and header fields unchanged (Content-Length included: it is GET's) but drops its content.

    The server keeps its own scope, still marked HEAD, so uvicorn too knows to send no content."""
    get_scope = {**scope, "method": "GET", ASKED_AS_HEAD: True}

    async def send_without_content(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {"type": "http.response.body", "body": b"", "more_body": message.get("more_body", False)}
        await send(message)

    return get_scope, send_without_content
