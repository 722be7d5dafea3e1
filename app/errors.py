"""Domain errors and their RFC 9457 application/problem+json rendering.

Services raise these; one set of handlers renders them, so every error body has the same shape:
type, title, status, detail, instance, plus members specific to the problem type.
"""

import logging
import re
import sqlite3
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from types import MappingProxyType
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger("stancemap")

PROBLEM_MEDIA_TYPE = "application/problem+json"

# SQLite's result codes for a lock not granted within the busy timeout: SQLITE_BUSY and
# SQLITE_LOCKED (extended codes keep these in their low byte).
_SQLITE_LOCK_CODES = frozenset({5, 6})
# PostgreSQL's SQLSTATEs for a wait given up or a transaction to retry: lock_not_available
# (lock_timeout), query_canceled (statement_timeout), serialization_failure, deadlock_detected.
_POSTGRES_LOCK_STATES = frozenset({"55P03", "57014", "40001", "40P01"})

# Problem types served at /problems/{name}: what happened and what the client can do about it.
PROBLEM_TYPES: dict[str, str] = {
    "not-found": "The addressed party, issue, source or statement does not exist.",
    "conflict": "The request conflicts with stored data: a duplicate slug, or a delete of something still referenced.",
    "validation-error": "One or more fields are invalid; `errors` lists each with its location.",
    "malformed-json": "The request body is not valid JSON; `line` and `column` say where it stops being JSON.",
    "unsupported-media-type": "The request body's Content-Type is not one this operation reads; `detail` names "
    "those it does, as does `Accept-Post` (`Accept-Patch` on a PATCH). A JSON body goes with `Content-Type: "
    "application/json` (curl: `--json '{...}'`, or `-H 'Content-Type: application/json'` with `-d`: `-d` alone "
    "sends a form). Nothing was changed.",
    "quote-not-found": "The quote does not occur in the source text; `closest_passage` shows the most similar passage.",
    "ambiguous-quote": "The quote occurs more than once in the source; pass `start` or `prefix` to choose one of `occurrences`.",
    "invalid-cursor": "The pagination cursor is not one this server issued; start again without it.",
    "already-retracted": "The statement was retracted; retracted statements can no longer be corrected or retracted.",
    "body-too-large": "The request body exceeds the server's limit (STANCEMAP_MAX_BODY_BYTES; for a bulk import, "
    "STANCEMAP_MAX_IMPORT_BYTES), whether its length was declared or it was sent in chunks. Nothing was changed.",
    "unauthorized": "The request needs `Authorization: Bearer <token>` with a valid, unrevoked token.",
    "forbidden": "The token is valid but its scope does not allow this request.",
    "fetch-refused": "The server will not fetch `url`: it resolves to a private, loopback, link-local or otherwise "
    "non-public address (`address_class` says which; a redirect leading there counts too), which the server fetches "
    "only when run with STANCEMAP_FETCH_ALLOW_PRIVATE=true, or it carries credentials. Nothing was stored; send the "
    "document's text in `text` instead.",
    "fetch-failed": "The page at `url` could not be fetched or yielded no text; `reason` says why: `dns`, "
    "`connection`, `timeout`, `http-status` (with `upstream_status`), `redirects`, `too-large`, `content-type` "
    "(only text/html and text/plain are read) or `no-text`. Nothing was stored; retry later, or send the text in `text`.",
    "http-error": "A generic HTTP error (unknown route, method not allowed, ...).",
    "busy": "The server could not get a database connection, or the database's write lock, in time: other requests "
    "held them. Nothing was changed; retry after the `Retry-After` seconds.",
    "outdated-server": "This server runs an older release than the database it serves (during an upgrade); "
    "nothing was changed. Retry after the `Retry-After` seconds: a server of the newer release can take the request.",
    "rebuilding": "The position history that matrices, diffs and timelines are read from is being rebuilt (after an "
    "upgrade or a restore). Retry after the `Retry-After` seconds.",
    "duplicate-statement": "A standing statement already records this: the same party, issue, source, quote span, "
    "stance and stated_on. `statement` is its id; correct it, or retract it first, instead of recording it twice.",
    "idempotency-key-reused": "The `Idempotency-Key` was used within the last 24 hours for a different request "
    "(method, path or body). Nothing was changed; send a new key with a new request.",
    "idempotency-key-in-use": "A request with this `Idempotency-Key` is still being answered; retry after the "
    "`Retry-After` seconds to get its answer. Nothing was changed by this one.",
    "import-refused": "A bulk import (POST /v1/imports) has lines that break the rules of the single writes; "
    "nothing was written. `errors` lists each problem with its `line` and `field` (at most 100: checking stops "
    "there), and `report` counts the lines per type: created (would be), already stored, refused.",
    "internal-error": "The server failed unexpectedly; the error has been logged.",
}


def problem_type_uri(name: str) -> str:
    return f"/problems/{name}"


class ProblemError(Exception):
    """Base of every error a service may raise; carries what the problem body needs."""

    status: int = 400
    type_name: str = "http-error"
    title: str = "Bad request"

    # Read-only where a class sets it: one mapping is shared by every instance.
    headers: Mapping[str, str] | None = None

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class NotFound(ProblemError):
    status = 404
    type_name = "not-found"
    title = "Not found"


class Conflict(ProblemError):
    status = 409
    type_name = "conflict"
    title = "Conflict"


class QuoteNotFound(ProblemError):
    status = 422
    type_name = "quote-not-found"
    title = "Quote not found in source"


class AmbiguousQuote(ProblemError):
    status = 422
    type_name = "ambiguous-quote"
    title = "Quote occurs more than once"


# Where a request carries a field, as FastAPI names it in validation errors.
REQUEST_LOCATIONS = frozenset({"body", "query", "path", "header"})


# One title per problem type (RFC 9457: it does not change from occurrence to occurrence).
VALIDATION_ERROR_TITLE = "Invalid request"


class InvalidField(ProblemError):
    """A field that passed schema validation but makes no sense against stored data. Services name
    the field (`party`); routes name where the request carried it (`located_in("body")`)."""

    status = 422
    type_name = "validation-error"
    title = VALIDATION_ERROR_TITLE

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail, errors=[{"loc": field.split("."), "field": field, "message": detail}])
        self.field = field

    def located_in(self, location: str) -> "InvalidField":
        """The same error with its field named as the request carries it (`body.party`)."""
        if self.field.split(".", 1)[0] in REQUEST_LOCATIONS:
            return self  # raised by the HTTP layer, which names the location itself
        return InvalidField(f"{location}.{self.field}", self.detail)


class Unauthorized(ProblemError):
    status = 401
    type_name = "unauthorized"
    title = "Authentication required"

    def __init__(self, detail: str, *, invalid_token: bool = False) -> None:
        super().__init__(detail)
        challenge = 'Bearer realm="stancemap"'
        self.headers = {"WWW-Authenticate": challenge + (', error="invalid_token"' if invalid_token else "")}


class Forbidden(ProblemError):
    status = 403
    type_name = "forbidden"
    title = "Insufficient scope"

    def __init__(self, detail: str, *, needed_scope: str) -> None:
        super().__init__(detail)
        self.headers = {
            "WWW-Authenticate": f'Bearer realm="stancemap", error="insufficient_scope", scope="{needed_scope}"'
        }


class BodyTooLarge(ProblemError):
    status = 413
    type_name = "body-too-large"
    title = "Request body too large"


class UnsupportedMediaType(ProblemError):
    """A body in a media type the route does not read; RFC 9110 asks a 415 to say which it does
    (`Accept-Post`, or `Accept-Patch` as RFC 5789 names it for PATCH)."""

    status = 415
    type_name = "unsupported-media-type"
    title = "Unsupported media type"

    def __init__(self, detail: str, *, method: str = "POST", accepted: Sequence[str] = ()) -> None:
        super().__init__(detail, **({"accepted": list(accepted)} if accepted else {}))
        if accepted:
            self.headers = {"Accept-Patch" if method == "PATCH" else "Accept-Post": ", ".join(accepted)}


class InvalidCursor(ProblemError):
    status = 400
    type_name = "invalid-cursor"
    title = "Invalid cursor"


class AlreadyRetracted(ProblemError):
    status = 409
    type_name = "already-retracted"
    title = "Statement already retracted"


class DuplicateStatement(ProblemError):
    status = 409
    type_name = "duplicate-statement"
    title = "Statement already recorded"


class IdempotencyKeyReused(ProblemError):
    status = 422
    type_name = "idempotency-key-reused"
    title = "Idempotency key used for another request"


class IdempotencyKeyInUse(ProblemError):
    status = 409
    type_name = "idempotency-key-in-use"
    title = "Idempotency key in use"
    headers = MappingProxyType({"Retry-After": "1"})


class OutdatedServer(ProblemError):
    status = 503
    type_name = "outdated-server"
    title = "Server outdated"
    headers = MappingProxyType({"Retry-After": "5"})


class Rebuilding(ProblemError):
    status = 503
    type_name = "rebuilding"
    title = "Position history being rebuilt"
    headers = MappingProxyType({"Retry-After": "5"})


class ImportRefused(ProblemError):
    status = 422
    type_name = "import-refused"
    title = "Import refused"


class FetchRefused(ProblemError):
    status = 422
    type_name = "fetch-refused"
    title = "URL not fetched"


class FetchFailed(ProblemError):
    """The upstream page failed us: the server acted as a gateway, so 502 Bad Gateway."""

    status = 502
    type_name = "fetch-failed"
    title = "Page could not be fetched"


class SlugRenamed(Exception):
    """A party or issue addressed by a slug it had before a rename: not an error, a new address.
    Rendered as 308 Permanent Redirect to the same request with the current slug."""

    def __init__(self, noun: str, old: str, new: str) -> None:
        super().__init__(f"The {noun} '{old}' is now '{new}'.")
        self.noun = noun
        self.old = old
        self.new = new


def problem_response(
    request: Request,
    *,
    status: int,
    type_name: str,
    title: str,
    detail: str,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": problem_type_uri(type_name),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for error in exc.errors():
        loc = list(error.get("loc", ()))
        errors.append(
            {
                "loc": loc,
                "field": _field_name(loc),
                "message": error.get("msg", "invalid"),
                "type": error.get("type", "value_error"),
            }
        )
    return errors


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _domain_error(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(
            request,
            status=exc.status,
            type_name=exc.type_name,
            title=exc.title,
            detail=exc.detail,
            headers=exc.headers,
            **exc.extensions,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc)
        if any(error["type"] == "json_invalid" for error in errors):
            return _malformed_json(request, exc, errors)
        # The detail alone should tell a curl user what to fix; `errors` has the same per field.
        fields = "; ".join(f"{error['field']}: {error['message']}" for error in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        return problem_response(
            request,
            status=422,
            type_name="validation-error",
            title=VALIDATION_ERROR_TITLE,
            detail=f"{len(errors)} invalid field(s): {fields}{more}",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        # Statuses that have a problem type of their own take its title: the same whoever raised it.
        typed = _TYPED_HTTP_STATUSES.get(exc.status_code)
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request)
        return problem_response(
            request,
            status=exc.status_code,
            type_name=typed.type_name if typed else "http-error",
            title=typed.title if typed else _reason(exc.status_code),
            detail=detail,
            headers=headers or None,
        )

    @app.exception_handler(SlugRenamed)
    async def _renamed(request: Request, exc: SlugRenamed) -> JSONResponse:
        location = _renamed_location(request, exc)
        if location is None:  # a former slug where no path segment names one: nothing to redirect to
            return problem_response(
                request, status=404, type_name=NotFound.type_name, title=NotFound.title, detail=str(exc)
            )
        # 308, not 301: a client that follows it repeats the method and the body (a PATCH stays a PATCH).
        return JSONResponse(
            {"detail": f"{exc} Use its current address.", "location": location},
            status_code=308,
            headers={"Location": location},
        )

    @app.exception_handler(PoolTimeout)
    async def _busy(request: Request, exc: PoolTimeout) -> JSONResponse:
        logger.warning("no database connection free for %s %s", request.method, request.url.path)
        return _busy_response(request, "Every database connection stayed busy; retry shortly.")

    # Handled here, not by the catch-all below: Starlette re-raises what reaches that one, and the
    # server then closes the client's connection.
    @app.exception_handler(DBAPIError)
    async def _database_error(request: Request, exc: DBAPIError) -> JSONResponse:
        if not lock_wait_expired(exc.orig):
            return _internal_error(request)
        logger.warning("database lock not granted in time for %s %s: %s", request.method, request.url.path, exc.orig)
        return _busy_response(request, "Other writes held the database longer than this one could wait; retry shortly.")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return _internal_error(request)


_TYPED_HTTP_STATUSES: dict[int, type[ProblemError]] = {404: NotFound, 413: BodyTooLarge}


def _malformed_json(request: Request, exc: RequestValidationError, errors: list[dict[str, Any]]) -> JSONResponse:
    """400 saying where the body stops being JSON: line and column (1-based, as editors count them)
    of the character offset FastAPI reports (`loc`: body, offset) in the document it tried."""
    raw = exc.errors()[0]
    offset = raw["loc"][-1] if isinstance(raw["loc"][-1], int) else 0
    reason = (raw.get("ctx") or {}).get("error", "not JSON")
    document = exc.body if isinstance(exc.body, str) else ""
    line = document.count("\n", 0, offset) + 1
    column = offset - (document.rfind("\n", 0, offset) + 1) + 1
    message = f"{reason} at line {line}, column {column}"
    return problem_response(
        request,
        status=400,
        type_name="malformed-json",
        title="Malformed JSON",
        detail=f"The request body is not valid JSON: {message}.",
        line=line,
        column=column,
        errors=[{**errors[0], "message": message}],
    )


def _renamed_location(request: Request, exc: SlugRenamed) -> str | None:
    """The request's path and query with the former slug replaced by the current one, in the path
    segment that names the entry (`{slug}`, or `{party}`/`{issue}`) and holds the former slug."""
    template = str(getattr(request.scope.get("route"), "path_format", ""))
    names = template.split("/")
    # Counted from the end: the path may carry a prefix the template does not (a root path).
    segments = request.url.path.split("/")
    for offset, name in enumerate(reversed(names), start=1):
        if name in ("{slug}", "{" + exc.noun + "}") and len(segments) >= offset and segments[-offset] == exc.old:
            segments[-offset] = exc.new
            query = request.url.query
            return "/".join(segments) + (f"?{query}" if query else "")
    return None


def lock_wait_expired(error: BaseException | None) -> bool:
    """Whether a database error means a lock wait ran out (or a transaction lost to a concurrent
    one), which retrying later resolves, rather than a fault."""
    if isinstance(error, sqlite3.Error):
        return getattr(error, "sqlite_errorcode", 0) & 0xFF in _SQLITE_LOCK_CODES
    return getattr(error, "sqlstate", None) in _POSTGRES_LOCK_STATES


def _busy_response(request: Request, detail: str) -> JSONResponse:
    # Contention is the server's condition, not the client's fault: say so, and when to retry.
    return problem_response(
        request, status=503, type_name="busy", title="Server busy", detail=detail, headers={"Retry-After": "1"}
    )


def _internal_error(request: Request) -> JSONResponse:
    # The trace goes to the log (this runs within the `except` that caught it), never to the client.
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(
        request,
        status=500,
        type_name="internal-error",
        title="Internal server error",
        detail="The server failed to handle this request; the error has been logged.",
    )


def _allowed_methods(request: Request) -> str:
    """Every method some operation serves at this path (the router names only the first route's),
    read from the OpenAPI document so nested routers are covered too; HEAD wherever GET is
    (app.api.head answers it)."""
    methods: set[str] = set()
    for template, path_item in request.app.openapi().get("paths", {}).items():
        if re.fullmatch(re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)), request.url.path):
            methods |= {method.upper() for method in path_item}
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
