from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlmodel import Session

from app.api.caching import conditional_view
from app.api.deps import (
    NOT_MODIFIED,
    VIEW_HEADERS,
    EntityId,
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
    diff_csv,
    json_bytes,
    wants_csv,
)
from app.models.common import utcnow
from app.models.matrix import Diff, DiffEnd
from app.services import diffs as service
from app.services.matrix import parse_slug_list, resolve_grid
from app.services.sources import get_source

router = APIRouter(tags=["diffs"])

OnlyQuery = Annotated[str | None, Query(pattern="^changed$", description="`changed` drops unchanged positions.")]
MOMENT_PATTERN = r"^(?:[0-9]{4}-[0-9]{2}-[0-9]{2}|source:[0-9]{1,10})$"

DIFF_RESPONSES = {
    200: {
        "content": CSV_CONTENT,
        "headers": VIEW_HEADERS,
        "description": "One change per party × issue where either side has a position, as JSON or CSV",
    },
    **NOT_MODIFIED,
}


def _diff_response(
    request: Request,
    session: Session,
    start: DiffEnd,
    end: DiffEnd,
    parties: str | None,
    issues: str | None,
    only: str | None,
    csv: bool,
) -> Response:
    with fields_in("query"):
        party_slugs = parse_slug_list(parties, "parties")
        issue_slugs = parse_slug_list(issues, "issues")

    def render(build: Session) -> tuple[bytes, str]:
        with fields_in("query"):
            grid = resolve_grid(build, party_slugs, issue_slugs)
            diff = service.diff(build, grid, start, end, only_changed=only == "changed", as_dicts=csv)
        if csv:
            return diff_csv(diff), CSV_MEDIA_TYPE
        return json_bytes(diff), "application/json"

    view_key = f"diff|{start.model_dump_json()}|{end.model_dump_json()}|{party_slugs}|{issue_slugs}|{only}|{csv}"
    return conditional_view(request, session, view_key, render)


@router.get(
    "/v1/diff",
    name="get",
    response_model=Diff,
    responses={**DIFF_RESPONSES, **problems(422, 503)},
    summary="How positions changed between two moments",
)
def get_diff(
    request: Request,
    session: SessionDep,
    from_: Annotated[
        str, Query(alias="from", pattern=MOMENT_PATTERN, description="A date (YYYY-MM-DD) or `source:<id>`.")
    ],
    to: Annotated[
        str | None, Query(pattern=MOMENT_PATTERN, description="A date or `source:<id>`; default today.")
    ] = None,
    parties: SlugListQuery = None,
    issues: SlugListQuery = None,
    only: OnlyQuery = None,
    format: FormatQuery = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """For every party × issue with a position on either side, its change: `new`, `withdrawn`,
    `unchanged`, `shifted` (moved without crossing sides, or to/from neutral or unclear) or
    `reversed` (crossed between the support and oppose sides). `source:<id>` means as of that
    source's publication date, that source included."""
    with fields_in("query"):
        start = service.parse_moment(session, from_, "from")
        end = service.parse_moment(session, to, "to") if to is not None else DiffEnd(as_of=utcnow().date())
    return _diff_response(request, session, start, end, parties, issues, only, wants_csv(request, format))


@router.get(
    "/v1/sources/{source_id}/diff",
    name="since-source",
    response_model=Diff,
    responses={**DIFF_RESPONSES, **problems(404, 422, 503)},
    summary="How positions changed since a source",
)
def diff_since_source(
    request: Request,
    session: SessionDep,
    source_id: EntityId,
    parties: SlugListQuery = None,
    issues: SlugListQuery = None,
    only: OnlyQuery = None,
    format: FormatQuery = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """The positions established up to the source's publication versus today's."""
    source = get_source(session, source_id)
    today = utcnow().date()
    start = DiffEnd(as_of=source.published_at.date(), source=source.id)
    end = DiffEnd(as_of=max(today, start.as_of))
    return _diff_response(request, session, start, end, parties, issues, only, wants_csv(request, format))
