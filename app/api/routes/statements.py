from typing import Annotated

from fastapi import APIRouter, Response, status

from app.api.deps import (
    CREATED,
    LISTED,
    ActorDep,
    EntityId,
    PagingDep,
    SessionDep,
    StatementFilterDep,
    fields_in,
    problems,
    sort_query,
)
from app.api.idempotency import IdempotentDep
from app.models.anchoring import AnchoringReview
from app.models.page import Page
from app.models.statement import (
    StatementCreate,
    StatementHistory,
    StatementPublic,
    StatementRetract,
    StatementUpdate,
)
from app.services import anchoring_review
from app.services import statements as service

router = APIRouter(prefix="/v1/statements", tags=["statements"])


class StatementPage(Page[StatementPublic]):
    pass


sort_parameter = sort_query(
    service.SORTING, default="`id`, the order they were recorded", descending_example="-stated_on"
)


@router.get(
    "",
    name="list",
    response_model=StatementPage,
    responses={200: LISTED, **problems(400, 422)},
    summary="List statements",
    response_description="One page of statements",
)
def list_statements(
    session: SessionDep,
    paging: PagingDep,
    response: Response,
    filters: StatementFilterDep,
    sort: Annotated[str | None, sort_parameter] = None,
) -> StatementPage:
    """Statements in the order they were recorded (or by `sort`), filtered, a page at a time;
    retracted ones only with `include_retracted`. Each carries its quote and the quote's exact
    place in the source."""
    with fields_in("query"):
        items, next_cursor = service.list_statements(
            session, filters, limit=paging.limit, cursor=paging.cursor, sort=sort
        )
    paging.link_next(response, next_cursor)
    return StatementPage(items=items, next_cursor=next_cursor)


@router.post(
    "",
    name="create",
    response_model=StatementPublic,
    status_code=status.HTTP_201_CREATED,
    responses={201: CREATED, **problems(400, 401, 403, 409, 413, 422)},
    dependencies=[IdempotentDep],
    summary="Record a stance statement",
    response_description="The recorded statement, with the quote as the source has it",
)
def create_statement(
    session: SessionDep, actor: ActorDep, body: StatementCreate, response: Response
) -> StatementPublic:
    """The quote is looked up in the source text and its exact span stored. A quote that is not in
    the source is refused with the closest passage; one that occurs several times needs `start` or
    `prefix`. Needs the write scope."""
    with fields_in("body"):
        statement = service.create_statement(session, body, actor=actor)
    response.headers["Location"] = f"/v1/statements/{statement.id}"
    return statement


@router.get(
    "/{statement_id}",
    name="get",
    response_model=StatementPublic,
    responses=problems(404, 422),
    summary="Get a statement",
    response_description="The statement's current revision",
)
def get_statement(session: SessionDep, statement_id: EntityId) -> StatementPublic:
    """The current revision of a statement, retracted or not (see `retraction`)."""
    return service.get_statement(session, statement_id)


@router.patch(
    "/{statement_id}",
    name="update",
    response_model=StatementPublic,
    responses=problems(400, 401, 403, 404, 409, 413, 422),
    summary="Correct a statement",
)
def correct_statement(
    session: SessionDep, actor: ActorDep, statement_id: EntityId, body: StatementUpdate
) -> StatementPublic:
    """Creates a new revision; the previous one stays in the history. A change of quote or source
    re-anchors the quote. Retracted statements cannot be corrected (409). Needs the write scope."""
    with fields_in("body"):
        return service.correct_statement(session, statement_id, body, actor=actor)


@router.post(
    "/{statement_id}/retract",
    name="retract",
    response_model=StatementPublic,
    responses=problems(400, 401, 403, 404, 409, 413, 422),
    dependencies=[IdempotentDep],
    summary="Retract a statement",
)
def retract_statement(
    session: SessionDep, actor: ActorDep, statement_id: EntityId, body: StatementRetract
) -> StatementPublic:
    """Marks the statement as no longer standing, with a reason; it stays readable with its history.
    Needs the write scope."""
    with fields_in("body"):
        return service.retract_statement(session, statement_id, body, actor=actor)


@router.post(
    "/{statement_id}/confirm",
    name="confirm",
    response_model=AnchoringReview,
    responses=problems(401, 403, 404, 409, 422),
    dependencies=[IdempotentDep],
    summary="Confirm a statement whose quote drifted or was orphaned",
    response_description="The re-anchoring flags this confirmation settled",
)
def confirm_statement(session: SessionDep, actor: ActorDep, statement_id: EntityId) -> AnchoringReview:
    """When a newer version of a statement's source no longer carries its quote verbatim, the matrix
    flags the cell (`flag`). Confirming says the statement stands as recorded, on the version it
    quotes, and removes the flag; correcting the quote (PATCH) or retracting the statement removes it
    too. 409 when the statement has no open flag. Needs the write scope."""
    return anchoring_review.confirm(session, statement_id, actor=actor)


@router.get(
    "/{statement_id}/history",
    name="history",
    response_model=StatementHistory,
    responses=problems(404, 422),
    summary="Every revision of a statement",
)
def statement_history(session: SessionDep, statement_id: EntityId) -> StatementHistory:
    """Every revision of the statement, oldest first (the last one is current), each with the note
    that explains the correction, and the retraction if there is one."""
    return service.statement_history(session, statement_id)
