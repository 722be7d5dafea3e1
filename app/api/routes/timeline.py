from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlmodel import Session

from app.api.caching import conditional_view
from app.api.deps import (
    MOVED,
    NOT_MODIFIED,
    VIEW_HEADERS,
    IfNoneMatch,
    SessionDep,
    SlugPath,
    problems,
)
from app.models.common import BoundedDate, utcnow
from app.models.matrix import Timeline
from app.services.diffs import timeline
from app.services.issues import issues
from app.services.matrix import resolve_grid
from app.services.parties import parties

router = APIRouter(tags=["timeline"])


@router.get(
    "/v1/parties/{party}/issues/{issue}/timeline",
    name="get",
    response_model=Timeline,
    responses={200: {"headers": VIEW_HEADERS}, **NOT_MODIFIED, **MOVED, **problems(404, 422, 503)},
    summary="Every statement of a party on an issue, with how each changed the position",
)
def get_timeline(
    request: Request,
    session: SessionDep,
    party: SlugPath,
    issue: SlugPath,
    as_of: Annotated[
        BoundedDate | None, Query(description="Only statements standing on this date (default today).")
    ] = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """Standing statements in date order; the first is `new`, each later one is classified against
    the one before it (`unchanged`, `shifted`, `reversed`)."""
    day = as_of or utcnow().date()
    parties.get(session, party), issues.get(session, issue)  # 404 for an unknown slug

    def render(build: Session) -> tuple[bytes, str]:
        # Read on the build's own session: the request's objects are expired before a build.
        grid = resolve_grid(build, [party], [issue])
        return timeline(build, grid, day).model_dump_json().encode(), "application/json"

    return conditional_view(request, session, f"timeline|{party}|{issue}|{day}", render)
