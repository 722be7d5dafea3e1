import base64
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse

from app.api.deps import (
    CREATED,
    LISTED,
    MAX_ID,
    ActorDep,
    EntityId,
    PagingDep,
    SessionDep,
    fields_in,
    problems,
    sort_query,
)
from app.api.idempotency import IdempotentDep, claim_key
from app.models.anchoring import AnchoringReport, TextDiff
from app.models.page import Page
from app.models.source import (
    SourceCreate,
    SourceCreated,
    SourcePublic,
    SourceSummary,
    SourceUpdate,
)
from app.services import fetching, source_revisions
from app.services import sources as service

router = APIRouter(prefix="/v1/sources", tags=["sources"])


class SourcePage(Page[SourceSummary]):
    pass


sort_parameter = sort_query(
    service.SORTING, default="`id`, the order they were stored", descending_example="-published_at"
)


@router.get(
    "",
    name="list",
    response_model=SourcePage,
    responses={200: LISTED, **problems(400, 422)},
    summary="List sources",
    response_description="One page of sources",
)
def list_sources(
    session: SessionDep, paging: PagingDep, response: Response, sort: Annotated[str | None, sort_parameter] = None
) -> SourcePage:
    """Sources without their text (see `text_length`); GET one source for its text."""
    with fields_in("query"):
        window = service.list_sources(session, limit=paging.limit, cursor=paging.cursor, sort=sort)
    paging.link_next(response, window.next_cursor)
    return SourcePage(items=window.rows, next_cursor=window.next_cursor)


@router.post(
    "",
    name="create",
    response_model=SourceCreated,
    status_code=status.HTTP_201_CREATED,
    responses={
        201: CREATED,
        **problems(400, 401, 403, 409, 413, 422, 502),
        422: {**problems(422)[422], "description": "Invalid fields, or a `url` the server will not fetch"},
    },
    dependencies=[IdempotentDep],
    summary="Store a source document, given or fetched from its URL",
    response_description="The stored source, with its id, sha256, text length and, for a new version, the re-anchoring",
)
def create_source(
    request: Request, session: SessionDep, actor: ActorDep, body: SourceCreate, response: Response
) -> SourceCreated:
    """Stores the text exactly as given; it never changes afterwards. An edited version of the same
    document is a new source with `supersedes` set to the earlier one: every standing statement
    quoting the earlier one is then re-anchored on it, in the same transaction. A quote found
    verbatim moves to the new source (a new revision of the statement); a quote found only
    approximately is `drifted`, one not found is `orphaned`: both stay on the old source, flagged
    in the matrix until an editor corrects the statement, retracts it or confirms it
    (POST /v1/statements/{id}/confirm). `anchoring` reports each outcome. A version has one
    successor: superseding a source that already has one is 409, naming the latest version.
    Needs the write scope.

    Without `text`, the server fetches `url` and stores the article's main text as extracted from
    the page (or a text/plain page as served), with `retrieved_at` and, where the request leaves
    them out, the title, publisher, publication time and language the page states. Refused with
    422 `fetch-refused` when the URL resolves to a non-public address (also after a redirect) or
    carries credentials; 502 `fetch-failed` when the page cannot be fetched or yields no text
    (`reason`: `dns`, `connection`, `timeout`, `http-status`, `redirects`, `too-large`,
    `content-type`, `no-text`). Nothing is stored then."""
    settings = request.app.state.settings
    _check_text_or_url(body)
    if body.text is None:
        # Reading the token opened a transaction (on SQLite, holding the write lock): end it, so no
        # lock or connection is held while the page is fetched; the idempotency key is claimed anew.
        session.rollback()
        page = fetching.fetch_page(str(body.url), settings=settings)
        body = fetching.source_from_page(body, page)
        claim_key(request, session)
    with fields_in("body"):
        created = source_revisions.store_source(session, body, threshold=settings.anchoring_threshold, actor=actor)
    response.headers["Location"] = f"/v1/sources/{created.id}"
    return created


def _check_text_or_url(body: SourceCreate) -> None:
    """The rule across fields (`text` with `title` and `published_at`, or a `url` to fetch),
    reported like any other invalid field."""
    invalid: list[tuple[str, str, str]] = []
    if body.text is not None:
        invalid += [
            (name, "missing", "Field required with `text`") for name in ("title", "published_at")
            if getattr(body, name) is None
        ]  # fmt: skip
    elif body.url is None:
        invalid.append(("text", "missing", "Field required: give the document's `text`, or its `url` to fetch it"))
    elif body.retrieved_at is not None:
        invalid.append(("retrieved_at", "value_error", "Given only with `text`: a fetch records its own time"))
    if invalid:
        raise RequestValidationError(
            [{"type": kind, "loc": ("body", name), "msg": message, "input": None} for name, kind, message in invalid]
        )


@router.get(
    "/{source_id}",
    name="get",
    response_model=SourcePublic,
    responses=problems(404, 422),
    summary="Get a source",
    response_description="The source with its full text",
)
def get_source(session: SessionDep, source_id: EntityId) -> SourcePublic:
    """The source's metadata and its full text, which quote offsets (`selector.start`/`end`) index."""
    return service.source_public(service.get_source(session, source_id))


@router.get(
    "/{source_id}/text",
    name="get-text",
    response_class=PlainTextResponse,
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "The stored text, byte for byte.",
        },
        **problems(404, 422),
    },
    summary="Get a source's text as plain text",
)
def get_source_text(session: SessionDep, source_id: EntityId) -> PlainTextResponse:
    """The exact stored text, UTF-8, so `sha256sum` of the body equals the source's `sha256` and
    quote offsets can be checked with any tool that counts code points."""
    source = service.get_source(session, source_id)
    digest = base64.b64encode(bytes.fromhex(source.sha256)).decode()
    return PlainTextResponse(source.text, headers={"Repr-Digest": f"sha-256=:{digest}:"})


@router.get(
    "/{source_id}/text-diff",
    name="text-diff",
    response_model=TextDiff,
    responses=problems(404, 422),
    summary="Compare a source's text with another's",
    response_description="The inserted, deleted and replaced passages, with offsets in both texts",
)
def text_diff(
    session: SessionDep,
    source_id: EntityId,
    against: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_ID,
            description="Id of the older text to compare with; by default the source this one supersedes.",
        ),
    ] = None,
) -> TextDiff:
    """What changed from source `against` (old) to this one (new), word by word (line by line when
    both texts exceed 200,000 characters). Changes of whitespace alone are ignored; offsets are in
    the stored texts, in code points, so `old_text`/`new_text` are exact slices of them."""
    with fields_in("query"):
        return source_revisions.text_diff(session, source_id, against)


@router.get(
    "/{source_id}/anchoring",
    name="anchoring",
    response_model=AnchoringReport,
    responses=problems(404, 422),
    summary="Where the superseded source's quotes landed in this one",
    response_description="The re-anchoring outcome of every statement, with counts per outcome",
)
def anchoring(session: SessionDep, source_id: EntityId) -> AnchoringReport:
    """Recorded when this source was stored with `supersedes`; empty for any other source. A
    `drifted` or `orphaned` outcome is a flag an editor acts on: correct the statement (PATCH with
    `source` and the new passage as `quote`), retract it, or confirm it as it stands
    (POST /v1/statements/{id}/confirm); `resolution` says which was done. GET /v1/anchoring lists
    the unresolved ones across sources."""
    return source_revisions.anchoring_report(session, source_id)


@router.patch(
    "/{source_id}",
    name="update",
    response_model=SourcePublic,
    responses=problems(400, 401, 403, 404, 413, 422),
    summary="Correct a source's metadata",
)
def update_source(session: SessionDep, actor: ActorDep, source_id: EntityId, body: SourceUpdate) -> SourcePublic:
    """Title, publisher, URL, date, kind and language can be corrected; the text cannot. Needs the
    write scope."""
    return service.source_public(service.update_source(session, source_id, body, actor=actor))


@router.delete(
    "/{source_id}",
    name="delete",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404, 409, 422),
    summary="Delete an unused source",
)
def delete_source(session: SessionDep, actor: ActorDep, source_id: EntityId) -> Response:
    """Refused with 409 while any statement (or earlier revision of one) quotes it, or a later version supersedes it.
    Needs the write scope."""
    service.delete_source(session, source_id, actor=actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
