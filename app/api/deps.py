"""Dependencies shared by the routes: database session, acting editor, paging."""

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import Depends, Header, Path, Query, Request, Response

from app.api.auth import ActorDep, AdminDep
from app.config import Settings
from app.db import SessionDep
from app.errors import InvalidField
from app.models.common import MAX_ID, SLUG_PATTERN
from app.models.problem import Problem

__all__ = [
    "CREATED",
    "LISTED",
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


@contextmanager
def fields_in(location: Literal["body", "query"]) -> Iterator[None]:
    """Names the fields of the invalid-field errors raised inside it as the request carries them:
    a service's `party` is the route's `body.party` or `query.party`."""
    try:
        yield
    except InvalidField as error:
        raise error.located_in(location) from None


def single_valued_query(request: Request) -> None:
    """Refuses a query parameter given more than once. Lists are comma-separated (`parties=a,b`);
    FastAPI would keep the last of repeated values without a word, and the client would get less
    than it asked for (`parties=russia&parties=ukraine`: Ukraine only)."""
    # Counted in one pass: a query string can hold tens of thousands of names.
    counts = Counter(name for name, _ in request.query_params.multi_items())
    for name, count in counts.items():
        if count > 1:
            raise InvalidField(
                f"query.{name}",
                f"`{name}` is given {count} times; give it once (lists are comma-separated: `{name}=a,b`).",
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
            Query(max_length=200, pattern=r"^[A-Za-z0-9_-]+$", description="`next_cursor` of the previous page."),
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
