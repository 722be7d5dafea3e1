from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, Security, status
from sqlmodel import Session

from app.api.auth import bearer_scheme, current_principal, require_scope
from app.api.deps import EntityId, fields_in, problems
from app.db import get_read_session
from app.models.candidate import CandidateList, CandidateRequest
from app.models.token import TokenScope
from app.services.candidates import propose_candidates
from app.services.tokens import Principal

router = APIRouter(prefix="/v1/sources", tags=["candidates"])


ReadSessionDep = Annotated[Session, Depends(get_read_session)]


def editor(
    request: Request,
    session: ReadSessionDep,
    _credentials: Annotated[object, Security(bearer_scheme)] = None,
) -> Principal:
    """The write scope, as every POST needs (proposing is an editor's tool, and it costs CPU time),
    with the token looked up through the read session: the check takes no write lock either."""
    return require_scope(TokenScope.write)(current_principal(request, session))


@router.post(
    "/{source_id}/candidates",
    name="propose",
    response_model=CandidateList,
    status_code=status.HTTP_200_OK,
    responses=problems(400, 401, 403, 404, 413, 422),
    dependencies=[Depends(editor)],
    summary="Propose candidate statements from a source's text",
    response_description="The candidates in text order, each with a ready-to-POST statement body",
)
def propose(
    session: ReadSessionDep,
    source_id: EntityId,
    body: Annotated[CandidateRequest | None, Body()] = None,
) -> CandidateList:
    """Finds direct quotations (split ones as one candidate per piece) and reported speech ("X said
    that …", "according to X, …") in the source, with the speaker, the party their name or title
    matches (null when none does), the issues ranked by keywords, a suggested stance and a
    confidence. Accepting a candidate is one POST of its `statement` to /v1/statements;
    `existing_statement` marks passages a standing statement already quotes. Computed on request:
    nothing is stored. The body is optional; its filters narrow the answer. Needs the write scope."""
    with fields_in("body"):
        return propose_candidates(session, source_id, body or CandidateRequest())
