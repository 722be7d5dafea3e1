import tempfile
from functools import partial
from typing import IO, Annotated

import anyio
from fastapi import APIRouter, HTTPException, Query, Request
from starlette.requests import ClientDisconnect

from app.api.deps import ActorDep, SessionDep, problems
from app.errors import InvalidField, UnsupportedMediaType
from app.models import examples
from app.models.imports import ImportKind, ImportReport
from app.services import imports as service

router = APIRouter(prefix="/v1/imports", tags=["imports"])

JSON_LINES_TYPES = ("application/x-ndjson", "application/jsonl")
CSV_TYPE = "text/csv"
# Written to the spool file in pieces of about this size, off the event loop.
_SPOOL_CHUNK_BYTES = 1024 * 1024

_FILE = {"type": "string", "format": "binary"}
_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            # A file's bytes, streamed as sent: generated clients take it as a file, not a string.
            "application/x-ndjson": {"schema": _FILE, "example": examples.IMPORT_LINES},
            CSV_TYPE: {"schema": _FILE, "example": examples.IMPORT_CSV},
        },
    }
}


@router.post(
    "",
    name="create",
    response_model=ImportReport,
    responses=problems(401, 403, 413, 415, 422),
    openapi_extra=_BODY,
    summary="Import parties, issues, sources and statements in bulk",
    response_description="What was created and what was already stored, per type",
)
async def create_import(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    dry_run: Annotated[bool, Query(description="Check every line and report, writing nothing.")] = False,
    kind: Annotated[
        ImportKind | None, Query(alias="type", description="With a CSV body, and only then: what its rows are.")
    ] = None,
) -> ImportReport:
    """JSON Lines (`application/x-ndjson`): one object per line, `{"type": "party" | "issue" | "source" |
    "statement", ...}` with the fields of the single create bodies. A source line may carry a `ref`, a
    key of the client's choosing; a statement names its source by `source` (id) or `source_ref` (a ref
    given on an earlier line or in an earlier import), its party and issue by slug. Lines are read in
    order: what a line names comes before it, or is stored already. Or one CSV file (`text/csv`) of one
    type, given as `?type=`, with a header row of field names (README: "Bulk import").

    All or nothing: every line is held to the rules of the single writes (quotes anchored in their
    source's text; an ambiguous one chosen by `start` or `prefix`). Any refused line and nothing is
    written: 422 `import-refused` lists each problem with its line and field (checking stops at 100).
    Running the same file again writes nothing: parties and issues are matched by slug, sources by
    `ref` (without one: by text and title), statements by party, issue, source, quote span, stance and
    stated_on. While an import writes, other writes wait. Needs the write scope."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type in JSON_LINES_TYPES:
        if kind is not None:
            raise InvalidField("query.type", "JSON Lines name each line's type; `type` is for a CSV body.")
    elif media_type == CSV_TYPE:
        if kind is None:
            raise InvalidField(
                "query.type", f"A CSV body holds lines of one type: give it as ?type= ({', '.join(ImportKind)})."
            )
    else:
        raise UnsupportedMediaType(
            f"Send JSON Lines as {JSON_LINES_TYPES[0]}, or one CSV file as {CSV_TYPE} with ?type=; "
            f"this request's Content-Type is {media_type or 'missing'}.",
            accepted=[*JSON_LINES_TYPES, CSV_TYPE],
        )
    # Checking the token began a transaction (on SQLite, holding the write lock): end it while the
    # body arrives, which may take long; the import begins its own.
    await anyio.to_thread.run_sync(session.rollback)
    with tempfile.TemporaryFile() as spool:
        await _spool(request, spool)
        spool.seek(0)
        lines = service.json_lines(spool) if kind is None else service.csv_rows(spool, kind)
        run = partial(service.run_import, session, [(None, lines)], actor=actor, dry_run=dry_run)
        return await anyio.to_thread.run_sync(run)


async def _spool(request: Request, spool: IO[bytes]) -> None:
    """The body, as it arrives, to a temporary file: memory holds a piece of it at a time."""
    piece = bytearray()
    try:
        async for chunk in request.stream():
            piece += chunk
            if len(piece) >= _SPOOL_CHUNK_BYTES:
                await anyio.to_thread.run_sync(spool.write, bytes(piece))
                piece.clear()
    except ClientDisconnect:
        # The client went away mid-upload: nothing to import, and no server error to log.
        raise HTTPException(400, "The request body ended before it was complete; nothing was imported.") from None
    await anyio.to_thread.run_sync(spool.write, bytes(piece))
