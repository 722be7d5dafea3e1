"""Dependencies shared by the routes: database session, acting editor, paging."""

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import Depends, Header, Path, Query, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from app.api.auth import ActorDep, AdminDep
from app.config import Settings
from app.db import SessionDep
from app.errors import InvalidField, UnsupportedMediaType
from app.models.common import MAX_ID, SLUG_PATTERN, BoundedDate, Slug, Speaker, Stance
from app.models.problem import Moved, Problem
from app.services.pagination import Sorting
from app.services.statements import StatementFilter

__all__ = [
    "CREATED",
    "LISTED",
    "MOVED",
    "NOT_MODIFIED",
    "READ_PROBLEMS",
    "VIEW_HEADERS",
    "ActorDep",
    "AdminDep",
    "EntityId",
    "IfNoneMatch",
    "Paging",
    "PagingDep",
    "SessionDep",
    "StatementFilterDep",
    "fields_in",
    "problems",
]

EntityId = Annotated[int, Path(ge=1, le=MAX_ID, description="Numeric id.")]
SlugPath = Annotated[str, Path(min_length=1, max_length=64, pattern=SLUG_PATTERN, description="URL-safe identifier.")]
# Comma-separated slugs, as `parties` and `issues` take them.
SlugListQuery = Annotated[
    str | None,
    Query(
        max_length=20_000,
        pattern=r"^[^\x00]*$",
        description="Comma-separated slugs; the order given is the order returned. Default: all.",
    ),
]


def statement_filter(
    party: Annotated[Slug | None, Query(description="Only this party's statements (slug).")] = None,
    issue: Annotated[Slug | None, Query(description="Only statements on this issue (slug).")] = None,
    source: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only statements quoting this source.")] = None,
    stance: Annotated[Stance | None, Query(description="Only statements with this stance.")] = None,
    speaker: Annotated[
        Speaker | None, Query(description="Only statements by this speaker, written exactly as recorded.")
    ] = None,
    stated_from: Annotated[
        BoundedDate | None, Query(description="Only statements with `stated_on` on or after this date.")
    ] = None,
    stated_to: Annotated[
        BoundedDate | None, Query(description="Only statements with `stated_on` on or before this date.")
    ] = None,
    include_retracted: Annotated[bool, Query(description="Also include retracted statements.")] = False,
) -> StatementFilter:
    """The statement filters, as the statement list and search take them."""
    return StatementFilter(
        party=party,
        issue=issue,
        source=source,
        stance=stance,
        speaker=speaker,
        stated_from=stated_from,
        stated_to=stated_to,
        include_retracted=include_retracted,
    )


StatementFilterDep = Annotated[StatementFilter, Depends(statement_filter)]


@contextmanager
def fields_in(location: Literal["body", "query"]) -> Iterator[None]:
    """Names the fields of the invalid-field errors raised inside it as the request carries them:
    a service's `party` is the route's `body.party` or `query.party`."""
    try:
        yield
    except InvalidField as error:
        raise error.located_in(location) from None


async def strict_request(request: Request) -> None:
    """What FastAPI lets pass without a word, refused on every route of the API (those in the
    OpenAPI document; the viewer's page keeps its own query string), routes added later included:

    - a query parameter the route does not take: a misspelt filter (`/v1/statements?partie=russia`)
      would otherwise be ignored, and the answer silently hold every party's statements;
    - a query parameter given more than once: lists are comma-separated (`parties=a,b`), and FastAPI
      would keep the last of repeated values (`parties=russia&parties=ukraine`: Ukraine only);
    - a body that is not sent as JSON (curl's `-d` sends a form), where the route reads a JSON body.

    Async: it reads nothing but the request, so it needs no worker thread (/healthz answers even
    when every one is busy)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not route.include_in_schema:
        return
    errors = _query_errors(request, _query_parameters(route.dependant))
    if errors:
        raise RequestValidationError(errors)
    if route.body_field is not None and await request.body():
        _require_json(request)


def _query_parameters(dependant: Dependant) -> set[str]:
    """The query parameters a route declares, in its own signature and its dependencies'."""
    names = {field.alias for field in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= _query_parameters(dependency)
    return names


def _query_errors(request: Request, declared: set[str]) -> list[dict[str, Any]]:
    # Counted in one pass: a query string can hold tens of thousands of names.
    counts = Counter(name for name, _ in request.query_params.multi_items())
    taken = ", ".join(f"`{name}`" for name in sorted(declared))
    errors = []
    for name, count in counts.items():
        if name not in declared:
            message = f"`{name}` is not a query parameter of this route; " + (
                f"it takes {taken}" if declared else "it takes none"
            )
            errors.append({"type": "extra_forbidden", "loc": ("query", name), "msg": message, "input": name})
        elif count > 1:
            message = f"`{name}` is given {count} times; give it once (lists are comma-separated: `{name}=a,b`)"
            errors.append({"type": "repeated", "loc": ("query", name), "msg": message, "input": name})
    return errors


JSON_MEDIA_TYPE = "application/json"


def _require_json(request: Request) -> None:
    content_type = request.headers.get("content-type", "")
    media_type = content_type.partition(";")[0].strip().lower()
    # What FastAPI parses as JSON: application/json and the structured +json types.
    if media_type == JSON_MEDIA_TYPE or (media_type.startswith("application/") and media_type.endswith("+json")):
        return
    sent = f"was sent as `{content_type}`" if content_type else "came without a Content-Type"
    raise UnsupportedMediaType(
        f"The body {sent}; send it as JSON with `Content-Type: {JSON_MEDIA_TYPE}` (curl: `--json '{{...}}'`, "
        f"or `-H 'Content-Type: {JSON_MEDIA_TYPE}'` with `-d`, which alone sends a form).",
        method=request.method,
        accepted=[JSON_MEDIA_TYPE],
    )


def sort_query(sorting: Sorting, *, default: str, descending_example: str) -> Any:
    """The `sort` query parameter of a list (`sort: Annotated[str | None, sort_query(...)]`): its keys
    documented, and matched by a pattern in the schema; the service refuses another key naming the
    valid ones, which says more than a pattern's message would."""
    keys = ", ".join(f"`{name}`" for name in sorting.names)
    return Query(
        max_length=64,
        description=f"Sort key: {keys}; `-` before it sorts descending (`{descending_example}`). Default: "
        f"{default}. Ties are broken by id, in the same direction; text is compared by Unicode code point "
        "(capitals before lower case). A cursor continues the sort it was issued for.",
        json_schema_extra={"pattern": sorting.pattern},
    )


class Paging:
    def __init__(
        self,
        request: Request,
        limit: Annotated[
            int | None, Query(ge=1, description="Items per page (default 50); larger values are capped at 200.")
        ] = None,
        cursor: Annotated[
            str | None,
            # Long enough for the longest sort key value a cursor carries (a 500-character title).
            Query(max_length=4096, pattern=r"^[A-Za-z0-9_-]+$", description="`next_cursor` of the previous page."),
        ] = None,
    ) -> None:
        settings: Settings = request.app.state.settings
        self.request = request
        self.limit = min(limit or settings.default_page_size, settings.max_page_size)
        self.cursor = cursor

    def link_next(self, response: Response, next_cursor: str | None) -> None:
        """RFC 8288 Link header to the next page, as Datasette and GitHub do."""
        if next_cursor is not None:
            url = self.request.url.include_query_params(cursor=next_cursor, limit=self.limit)
            response.headers["Link"] = f'<{url}>; rel="next"'


PagingDep = Annotated[Paging, Depends()]


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the problem statuses a route can return."""
    descriptions = {
        400: "Malformed JSON or an invalid cursor",
        401: "No token, or an unknown or revoked one",
        403: "The token's scope does not allow this",
        404: "Not found",
        409: "Conflict with stored data",
        413: "Request body too large",
        415: "The body's Content-Type is not one this operation reads",
        422: "Invalid fields",
        502: "An upstream server failed: the page to fetch could not be read",
        503: "The position history is being rebuilt (after an upgrade or an import), or this server is of an older "
        "release than the database; retry after `Retry-After` seconds",
    }
    # Documented as application/json here; create_app() moves them to application/problem+json.
    return {status: {"model": Problem, "description": descriptions.get(status, "Error")} for status in statuses}


# What every read may also answer when the server runs with STANCEMAP_READ_REQUIRES_TOKEN=true.
READ_PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "Reads need a token on this server, and none or an invalid one was sent"},
    403: {"model": Problem, "description": "The token's scope does not allow this"},
}

# Response headers, documented so generated clients and fuzzers know them.
_ETAG = {
    "description": "Strong validator of this view; send it back as `If-None-Match` to get 304 while nothing changed.",
    "required": True,
    "schema": {"type": "string"},
}
VIEW_HEADERS: dict[str, Any] = {"ETag": _ETAG}
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the `If-None-Match` ETag is still current; no body", "headers": VIEW_HEADERS}
}
# A party or issue addressed by a former slug (app.errors.SlugRenamed).
MOVED: dict[int | str, dict[str, Any]] = {
    308: {
        "model": Moved,
        "description": "Renamed: the slug in the path is a former one. The same request with the current slug is at "
        "`Location`; following it repeats the method and the body.",
        "headers": {
            "Location": {
                "description": "The request's path with the current slug, and its query.",
                "required": True,
                "schema": {"type": "string"},
            }
        },
    }
}
CREATED: dict[str, Any] = {
    "headers": {
        "Location": {"description": "Path of the created resource.", "required": True, "schema": {"type": "string"}}
    }
}
LISTED: dict[str, Any] = {
    "headers": {
        "Link": {
            "description": 'RFC 8288 link to the next page (`rel="next"`); absent on the last page.',
            "required": False,
            "schema": {"type": "string"},
        }
    }
}

# The header a derived view (matrix, diffs, timeline) honours for conditional requests. The view
# renderer reads it from the request itself; declaring it gives generated clients the argument.
IfNoneMatch = Annotated[
    str | None,
    Header(
        alias="If-None-Match",
        description="ETags of views held by the client (or `*`); a current one gets 304 without a body.",
    ),
]
