from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.api.deps import LISTED, AdminDep, PagingDep, SessionDep, fields_in, problems, sort_query
from app.models.audit import AuditEventPublic
from app.models.common import bounded
from app.models.page import Page
from app.services import audit as service

router = APIRouter(prefix="/v1/audit", tags=["audit"])


class AuditPage(Page[AuditEventPublic]):
    pass


sort_parameter = sort_query(service.SORTING, default="`id`, the order of the writes", descending_example="-at")


@router.get(
    "",
    name="list",
    response_model=AuditPage,
    responses={200: LISTED, **problems(400, 401, 403, 422)},
    summary="The audit trail of every write (admin scope)",
)
def list_audit_events(
    session: SessionDep,
    paging: PagingDep,
    response: Response,
    _admin: AdminDep,
    entity: Annotated[str | None, Query(pattern="^(party|issue|source|statement|token|webhook)$")] = None,
    entity_id: Annotated[bounded(64, min_length=1) | None, Query()] = None,  # type: ignore[valid-type]  # bounded() builds the type at run time
    actor: Annotated[bounded(100, min_length=1) | None, Query()] = None,  # type: ignore[valid-type]  # bounded() builds the type at run time
    sort: Annotated[str | None, sort_parameter] = None,
) -> AuditPage:
    """Oldest first (or by `sort`): who (the token's name), what (entity, id, action, before and
    after) and when."""
    with fields_in("query"):
        window = service.list_events(
            session,
            entity=entity,
            entity_id=entity_id,
            actor=actor,
            limit=paging.limit,
            cursor=paging.cursor,
            sort=sort,
        )
    paging.link_next(response, window.next_cursor)
    return AuditPage(
        items=[AuditEventPublic.model_validate(event, from_attributes=True) for event in window.rows],
        next_cursor=window.next_cursor,
    )
