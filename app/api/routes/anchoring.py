from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.api.deps import LISTED, PagingDep, SessionDep, fields_in, problems, sort_query
from app.models.anchoring import AnchoringPublic
from app.models.page import Page
from app.services import anchoring_review as service
from app.services.anchoring_review import ReviewState

router = APIRouter(prefix="/v1/anchoring", tags=["anchoring"])


class AnchoringPage(Page[AnchoringPublic]):
    pass


sort_parameter = sort_query(service.SORTING, default="the order they were recorded", descending_example="-created_at")


@router.get(
    "",
    name="list",
    response_model=AnchoringPage,
    responses={200: LISTED, **problems(400, 422)},
    summary="Re-anchoring outcomes across sources: the review worklist",
    response_description="One page of outcomes, oldest first",
)
def list_anchoring(
    session: SessionDep,
    paging: PagingDep,
    response: Response,
    state: Annotated[
        ReviewState,
        Query(
            description="`pending` (default): drifted or orphaned quotes no editor has resolved; `resolved`: "
            "corrected, retracted or confirmed ones; `all`: every outcome, `anchored` included."
        ),
    ] = ReviewState.pending,
    sort: Annotated[str | None, sort_parameter] = None,
) -> AnchoringPage:
    """Every quote that a newer version of its source no longer carries verbatim stays here until an
    editor corrects the statement (PATCH), retracts it, or confirms it
    (POST /v1/statements/{id}/confirm) — also when a later statement has replaced it in the matrix,
    where its flag no longer shows."""
    with fields_in("query"):
        window = service.list_outcomes(session, state=state, limit=paging.limit, cursor=paging.cursor, sort=sort)
    paging.link_next(response, window.next_cursor)
    return AnchoringPage(items=window.rows, next_cursor=window.next_cursor)
