"""ASGI middleware refusing request bodies over the configured size with 413, before they are parsed."""

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import PROBLEM_MEDIA_TYPE, BodyTooLarge, problem_type_uri


def _too_large(max_bytes: int) -> HTTPException:
    # An HTTPException passes through FastAPI's body parsing untouched (any other exception becomes
    # a 400 there) and is rendered as the same body-too-large problem as a declared length's.
    return HTTPException(413, detail=f"The request body exceeds the limit of {max_bytes} bytes.")


class BodySizeLimit:
    """`max_bytes` for every path but those in `path_limits`, which have limits of their own."""

    def __init__(self, app: ASGIApp, max_bytes: int, path_limits: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.path_limits = path_limits or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.path_limits.get(scope["path"], self.max_bytes)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await self._refuse(scope, send, max_bytes)
            return

        # Chunked bodies declare no length: count what arrives.
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise _too_large(max_bytes)
            return message

        await self.app(scope, counting_receive, send)

    async def _refuse(self, scope: Scope, send: Send, max_bytes: int) -> None:
        body = json.dumps(
            {
                "type": problem_type_uri(BodyTooLarge.type_name),
                "title": BodyTooLarge.title,
                "status": BodyTooLarge.status,
                "detail": _too_large(max_bytes).detail,
                "instance": scope.get("path", ""),
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
