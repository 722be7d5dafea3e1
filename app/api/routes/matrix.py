from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlmodel import Session

from app.api.caching import conditional_view
from app.api.deps import (
    MAX_ID,
    NOT_MODIFIED,
    VIEW_HEADERS,
    IfNoneMatch,
    SessionDep,
    SlugListQuery,
    fields_in,
    problems,
)
from app.api.tabular import (
    CSV_CONTENT,
    CSV_MEDIA_TYPE,
    FormatQuery,
    Layout,
    json_bytes,
    matrix_csv,
    wants_csv,
)
from app.models.common import BoundedDate, utcnow
from app.models.matrix import Matrix
from app.services import matrix as service
from app.services.positions import cells
from app.services.sources import resolve_source

router = APIRouter(prefix="/v1/matrix", tags=["matrix"])


class Evidence(StrEnum):
    latest = "latest"
    all = "all"


@router.get(
    "",
    name="get",
    response_model=Matrix,
    responses={
        200: {"content": CSV_CONTENT, "headers": VIEW_HEADERS, "description": "The matrix, as JSON or CSV"},
        **NOT_MODIFIED,
        **problems(422, 503),
    },
    summary="Party-by-issue matrix as of a date",
)
def get_matrix(
    request: Request,
    session: SessionDep,
    as_of: Annotated[BoundedDate | None, Query(description="Positions as of this date (default: today, UTC).")] = None,
    parties: SlugListQuery = None,
    issues: SlugListQuery = None,
    source: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only positions stated in this source.")] = None,
    evidence: Annotated[Evidence, Query(description="`all` adds every statement behind each cell.")] = Evidence.latest,
    format: FormatQuery = None,
    layout: Annotated[
        Layout, Query(description="CSV layout: `wide` (party rows, issue columns) or `long` (a row per cell).")
    ] = Layout.wide,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """One cell per party × issue: the party's latest statement stated on or before `as_of` and not
    retracted by then (same day: the later-recorded one), or `stance: null`. Rows and columns are
    listed once in `parties` and `issues`; cells refer to them by slug."""
    day = as_of or utcnow().date()
    with fields_in("query"):
        party_slugs = service.parse_slug_list(parties, "parties")
        issue_slugs = service.parse_slug_list(issues, "issues")
    csv = wants_csv(request, format)
    view_key = f"matrix|{day}|{party_slugs}|{issue_slugs}|{source}|{evidence}|{csv}|{layout if csv else ''}"

    def render(build: Session) -> tuple[bytes, str]:
        with fields_in("query"):
            if source is not None:
                resolve_source(build, source, "source")
            grid = service.resolve_grid(build, party_slugs, issue_slugs)
        if csv:
            # The evidence behind each cell has no CSV columns: the filled cells are all it needs.
            return matrix_csv(grid, cells(build, grid.scope(day, source)), layout), CSV_MEDIA_TYPE
        with_evidence = evidence is Evidence.all
        matrix = service.build_matrix(build, grid, as_of=day, source_id=source, with_evidence=with_evidence)
        return json_bytes(matrix), "application/json"

    return conditional_view(request, session, view_key, render)
