from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.api.deps import CREATED, LISTED, AdminDep, EntityId, PagingDep, SessionDep, fields_in, problems, sort_query
from app.models.page import Page
from app.models.webhook import (
    DeliveryPublic,
    DeliveryStatus,
    WebhookCreate,
    WebhookPublic,
    WebhookUpdate,
    WebhookUpdated,
    WebhookWithSecret,
)
from app.services import webhooks as service

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

URL_REFUSED = {
    **problems(422)[422],
    "description": "Invalid fields: unknown slugs or change classes, or a `url` that will not be sent to (not "
    "http(s), with credentials, unresolvable, or at a non-public address)",
}


class WebhookPage(Page[WebhookPublic]):
    pass


class DeliveryPage(Page[DeliveryPublic]):
    pass


sort_parameter = sort_query(service.SORTING, default="`id`, the order of creation", descending_example="-id")


@router.post(
    "",
    name="create",
    response_model=WebhookWithSecret,
    status_code=status.HTTP_201_CREATED,
    responses={201: CREATED, **problems(400, 401, 403, 413), 422: URL_REFUSED},
    summary="Create a webhook (admin scope)",
    response_description="The webhook, with the secret its deliveries are signed with: shown this once",
)
def create_webhook(
    request: Request, session: SessionDep, admin: AdminDep, body: WebhookCreate, response: Response
) -> WebhookWithSecret:
    """From now on, every change event its filters take (null: all) is POSTed to `url`, signed
    with `secret` (README.md, "Webhooks", shows how to check it). `parties` and `issues` are slugs
    (former ones too); the webhook keeps following a party or issue that is renamed. `url` must be
    http or https without credentials, and its host must resolve to public addresses only (a
    server run with STANCEMAP_FETCH_ALLOW_PRIVATE=true allows others); it is checked again before
    every delivery. The write is recorded in the audit trail (without the secret)."""
    # Reading the token opened a transaction (on SQLite, holding the write lock): none is held
    # while the URL's host is resolved.
    session.rollback()
    with fields_in("body"):
        webhook, secret = service.create_webhook(
            session, body, actor=admin.name, allow_private=request.app.state.settings.fetch_allow_private
        )
    response.headers["Location"] = f"/v1/webhooks/{webhook.id}"
    return WebhookWithSecret(**webhook.model_dump(), secret=secret)


@router.get(
    "",
    name="list",
    response_model=WebhookPage,
    responses={200: LISTED, **problems(400, 401, 403, 422)},
    summary="List webhooks (admin scope)",
    response_description="One page of webhooks",
)
def list_webhooks(
    session: SessionDep,
    paging: PagingDep,
    response: Response,
    _admin: AdminDep,
    sort: Annotated[str | None, sort_parameter] = None,
) -> WebhookPage:
    """Every webhook, enabled or not, without its secret."""
    with fields_in("query"):
        window = service.list_webhooks(session, limit=paging.limit, cursor=paging.cursor, sort=sort)
    paging.link_next(response, window.next_cursor)
    return WebhookPage(items=service.public_views(session, window.rows), next_cursor=window.next_cursor)


@router.get(
    "/{webhook_id}",
    name="get",
    response_model=WebhookPublic,
    responses=problems(401, 403, 404, 422),
    summary="Get a webhook (admin scope)",
    response_description="The webhook, without its secret",
)
def get_webhook(session: SessionDep, _admin: AdminDep, webhook_id: EntityId) -> WebhookPublic:
    """The webhook; `enabled`, `disabled_reason` and `consecutive_failures` tell how its deliveries go."""
    return service.public_view(session, service.get_webhook(session, webhook_id))


@router.patch(
    "/{webhook_id}",
    name="update",
    response_model=WebhookUpdated,
    responses={**problems(400, 401, 403, 404, 413), 422: URL_REFUSED},
    summary="Update a webhook (admin scope)",
    response_description="The webhook as it is now; `secret` is the new one if it was rotated",
)
def update_webhook(
    request: Request, session: SessionDep, admin: AdminDep, webhook_id: EntityId, body: WebhookUpdate
) -> WebhookUpdated:
    """Changes the given fields; omitted fields keep their value, and a filter set to null takes
    every event. `enabled: true` re-enables a disabled webhook and resets its failure count
    (deliveries left pending are sent again); `enabled: false` stops its deliveries.
    `rotate_secret: true` replaces the secret at once: the answer shows the new one, this once, and
    every delivery from now on is signed with it. Recorded in the audit trail (without the secret)."""
    session.rollback()  # as on create: no transaction is held while a new URL's host is resolved
    with fields_in("body"):
        webhook, secret = service.update_webhook(
            session, webhook_id, body, actor=admin.name, allow_private=request.app.state.settings.fetch_allow_private
        )
    return WebhookUpdated(**webhook.model_dump(), secret=secret)


@router.delete(
    "/{webhook_id}",
    name="delete",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404, 422),
    summary="Delete a webhook (admin scope)",
    response_description="Deleted; no body",
)
def delete_webhook(session: SessionDep, admin: AdminDep, webhook_id: EntityId) -> Response:
    """Deletes the webhook with all its deliveries: those still pending are never sent (one being
    sent at this moment may still arrive). Recorded in the audit trail."""
    service.delete_webhook(session, webhook_id, actor=admin.name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{webhook_id}/deliveries",
    name="deliveries",
    response_model=DeliveryPage,
    responses={200: LISTED, **problems(400, 401, 403, 404, 422)},
    summary="List a webhook's deliveries (admin scope)",
    response_description="One page of deliveries",
)
def list_deliveries(
    session: SessionDep,
    paging: PagingDep,
    response: Response,
    _admin: AdminDep,
    webhook_id: EntityId,
    delivery_status: Annotated[
        DeliveryStatus | None,
        Query(alias="status", description="Only deliveries in this state: pending, delivered or failed."),
    ] = None,
    sort: Annotated[str | None, sort_parameter] = None,
) -> DeliveryPage:
    """One delivery per event sent, or to send, to the webhook, oldest first (`sort=-id`: newest
    first): attempts, the next one's time, the receiver's last status and error."""
    with fields_in("query"):
        window = service.list_deliveries(
            session, webhook_id, status=delivery_status, limit=paging.limit, cursor=paging.cursor, sort=sort
        )
    paging.link_next(response, window.next_cursor)
    return DeliveryPage(items=window.rows, next_cursor=window.next_cursor)
