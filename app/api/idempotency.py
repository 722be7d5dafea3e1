"""`Idempotency-Key` on POSTs that write: a retry gets the first answer, never a second write.

The dependency claims the key in the write's own session (app/services/idempotency.py); the
middleware stores the answer to a claimed key before sending it."""

import hashlib
import logging
from typing import Annotated, Any

import anyio
from fastapi import Depends, Header, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.auth import ActorDep
from app.db import SessionDep
from app.models.idempotency import IDEMPOTENCY_KEY_PATTERN
from app.services import idempotency
from app.services.idempotency import Claim, StoredAnswer

logger = logging.getLogger("stancemap")

_CLAIM = "idempotency_claim"
REPLAYED_HEADER = "Idempotent-Replayed"


class AnsweredBefore(Exception):
    """A retry of a request already answered: the stored answer is sent (see `replay`)."""

    def __init__(self, answer: StoredAnswer) -> None:
        super().__init__("answered before")
        self.answer = answer


async def _request_sha256(request: Request) -> str:
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.url.path.encode(), request.url.query.encode(), await request.body()):
        digest.update(
            len(part).to_bytes(8, "big") + part
        )  # length-prefixed: no two requests hash alike by shifting bytes
    return digest.hexdigest()


def honour_idempotency_key(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    request_sha256: Annotated[str, Depends(_request_sha256)],
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            pattern=IDEMPOTENCY_KEY_PATTERN,
            description="A unique value (a UUID, say) that makes the request safe to retry: for 24 hours the same key "
            "with the same request gets the first answer again (with `Idempotent-Replayed: true`) and writes nothing; "
            "the same key with another request is 422.",
        ),
    ] = None,
) -> None:
    if idempotency_key is None:
        return
    request.state.idempotency_request = (actor, idempotency_key, request_sha256)
    claim_key(request, session)


def claim_key(request: Request, session: SessionDep) -> None:
    """Claims the request's idempotency key, if it sent one, in the session's transaction; a route
    that ends the transaction before writing (to fetch a page, say) claims it again after."""
    sent: tuple[str, str, str] | None = getattr(request.state, "idempotency_request", None)
    if sent is None:
        return
    actor, key, request_sha256 = sent
    outcome = idempotency.claim(session, actor=actor, key=key, request_sha256=request_sha256)
    if isinstance(outcome, StoredAnswer):
        raise AnsweredBefore(outcome)
    setattr(request.state, _CLAIM, outcome)


def replay(answer: StoredAnswer) -> Response:
    headers = {REPLAYED_HEADER: "true"}
    if answer.location is not None:
        headers["Location"] = answer.location
    return Response(answer.body, status_code=answer.status, media_type=answer.media_type, headers=headers)


class StoreIdempotentAnswers:
    """Holds back the answer to a request that claimed an idempotency key until it is stored."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def hold(message: Message) -> None:
            claim: Claim | None = (scope.get("state") or {}).get(_CLAIM)
            if claim is None:
                await send(message)
                return
            held.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                await _store(scope, claim, held)
                for message_held in held:
                    await send(message_held)

        await self.app(scope, receive, hold)


async def _store(scope: Scope, claim: Claim, messages: list[Message]) -> None:
    start = messages[0]
    headers: dict[str, str] = {
        name.decode("latin-1").lower(): value.decode("latin-1") for name, value in start["headers"]
    }
    answer = StoredAnswer(
        status=start["status"],
        media_type=headers.get("content-type", "application/json"),
        location=headers.get("location"),
        body=b"".join(message.get("body", b"") for message in messages[1:]),
    )
    engine: Any = scope["app"].state.write_engine
    try:
        await anyio.to_thread.run_sync(idempotency.store_answer, engine, claim, answer)
    except Exception:
        # The write has committed: its answer still goes out. A retry is then told the key is in use.
        logger.exception("could not store the answer to Idempotency-Key %r", claim.key)


IdempotentDep = Depends(honour_idempotency_key)
