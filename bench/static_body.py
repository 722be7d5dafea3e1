"""A bare ASGI app that answers every request with one file's bytes as JSON.

bench/load.py serves the cached matrix's own bytes with it, on uvicorn as `stancemap serve` runs
it, to show what sending a body of that size costs with no application at all: the ceiling for a
repeated matrix on this machine.

    STATIC_BODY_FILE=/tmp/matrix.json uvicorn bench.static_body:app --port 8090
"""

import os
from pathlib import Path

from starlette.types import Receive, Scope, Send

BODY = Path(os.environ["STATIC_BODY_FILE"]).read_bytes()
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return  # lifespan and websockets: nothing to do
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
