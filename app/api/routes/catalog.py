"""Routes for the slug-addressed catalogs (parties and issues): one factory, two routers."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response, status

from app.api.deps import (
    CREATED,
    LISTED,
    MOVED,
    ActorDep,
    PagingDep,
    SessionDep,
    SlugPath,
    fields_in,
    problems,
    sort_query,
)
from app.api.idempotency import IdempotentDep
from app.models.page import Page
from app.services.catalog import SlugCatalog


def catalog_router(
    catalog: SlugCatalog[Any],
    *,
    tag: str,
    create_model: type,
    update_model: type,
    public_model: type,
    page_model: type[Page[Any]],
) -> APIRouter:
    noun = catalog.noun
    plural = catalog.noun_plural
    a_noun = f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"
    router = APIRouter(prefix=f"/v1/{plural}", tags=[tag])
    sort_parameter = sort_query(catalog.sorting, default="the order of creation", descending_example="-updated_at")

    @router.get(
        "",
        name="list",
        response_model=page_model,
        responses={200: LISTED, **problems(400, 422)},
        summary=f"List {plural}",
        description=f"Every {noun}, in the order they were created or by `sort`, a page at a time: pass "
        "`next_cursor` as `cursor` (or follow the `Link` header) until it is null.",
        response_description=f"One page of {plural}",
    )
    def list_entries(
        session: SessionDep, paging: PagingDep, response: Response, sort: Annotated[str | None, sort_parameter] = None
    ) -> Any:
        with fields_in("query"):
            window = catalog.list(session, limit=paging.limit, cursor=paging.cursor, sort=sort)
        paging.link_next(response, window.next_cursor)
        return page_model(items=window.rows, next_cursor=window.next_cursor)

    @router.post(
        "",
        name="create",
        response_model=public_model,
        status_code=status.HTTP_201_CREATED,
        responses={201: CREATED, **problems(400, 401, 403, 409, 413, 422)},
        dependencies=[IdempotentDep],
        summary=f"Create {a_noun}",
        description=f"Needs a token with the write scope. Without a `slug`, one is made from the {noun}'s "
        f"{catalog.name_field}: readable ASCII (ä -> ae, ß -> ss, other accents dropped), with `-2`, `-3` when taken. "
        f"A slug that another {noun} has, or had before a rename, is refused with 409; the write is recorded in the "
        "audit trail under the token's name.",
        response_description=f"The created {noun}",
    )
    def create_entry(
        session: SessionDep,
        actor: ActorDep,
        body: Annotated[create_model, Body()],  # type: ignore[valid-type]  # a model class chosen per catalog at run time
        response: Response,
    ) -> Any:
        entry = catalog.create(session, body, actor=actor)
        response.headers["Location"] = f"/v1/{plural}/{entry.slug}"
        return entry

    @router.get(
        "/{slug}",
        name="get",
        response_model=public_model,
        responses={**MOVED, **problems(404, 422)},
        summary=f"Get {a_noun}",
        description=f"The {noun} with this slug; 404 when there is none, 308 to its current address when it is a "
        f"slug the {noun} had before it was renamed.",
        response_description=f"The {noun}",
    )
    def get_entry(session: SessionDep, slug: SlugPath) -> Any:
        return catalog.get(session, slug)

    @router.patch(
        "/{slug}",
        name="update",
        response_model=public_model,
        responses={**MOVED, **problems(400, 401, 403, 404, 409, 413, 422)},
        summary=f"Update {a_noun}",
        description="Changes the given fields; omitted fields keep their value. Needs the write scope. A new `slug` "
        f"keeps the old one answering: its address redirects (308) to the new one, and as a value (a filter, a "
        f"statement's `{noun}`) it still names this {noun}. It stays reserved for it: another {noun} taking it is "
        "409.",
        response_description=f"The {noun} as it is now",
    )
    def update_entry(
        session: SessionDep,
        actor: ActorDep,
        slug: SlugPath,
        body: Annotated[update_model, Body()],  # type: ignore[valid-type]  # a model class chosen per catalog at run time
    ) -> Any:
        return catalog.update(session, slug, body, actor=actor)

    @router.delete(
        "/{slug}",
        name="delete",
        status_code=status.HTTP_204_NO_CONTENT,
        responses={**MOVED, **problems(401, 403, 404, 409, 422)},
        summary=f"Delete {a_noun}",
        description=f"Refused with 409 while statements reference the {noun}. Needs the write scope.",
        response_description="Deleted; no body",
    )
    def delete_entry(session: SessionDep, actor: ActorDep, slug: SlugPath) -> Response:
        catalog.delete(session, slug, actor=actor)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router
