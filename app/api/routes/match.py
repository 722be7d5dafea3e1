from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from sqlmodel import Session

from app.api.auth import read_access
from app.api.caching import build_session
from app.api.deps import READ_PROBLEMS, fields_in, problems
from app.api.tabular import json_bytes
from app.db import get_read_session
from app.models.common import utcnow
from app.models.match import MatchRequest, MatchResult
from app.services.matching import match

router = APIRouter(prefix="/v1/match", tags=["match"])

ReadSessionDep = Annotated[Session, Depends(get_read_session)]


def reader(request: Request, session: ReadSessionDep) -> None:
    """The read check every read has, through the read engine: a POST's usual session would be a
    write session, and on SQLite take the write lock."""
    read_access(request, session)


@router.post(
    "",
    name="run",
    response_model=MatchResult,
    status_code=status.HTTP_200_OK,
    responses={**READ_PROBLEMS, **problems(400, 413, 422, 503)},
    dependencies=[Depends(reader)],
    summary="Rank the parties by how close they stand to a reader's answers",
    response_description="The parties ranked by score, each with the points per issue and the quote behind them",
)
def run(request: Request, body: MatchRequest) -> Response:
    """Scores every party (or those in `parties`) against the reader's answers as voting advice
    applications such as the Wahl-O-Mat do: per answered issue, weight × agreement × 2 points,
    agreement being 1 − |a − b| / 4 on the scale support +2 … oppose −2 (on agree, neutral and
    disagree: 2, 1 or 0 points). A party without a position on an issue gets 0 points there, and
    the issue still counts towards the maximum; a skipped issue counts for nothing. The score is
    the points as a percentage of the maximum, to one decimal. Each issue carries the party's
    matrix cell: the quote, where it stands in its source, and the source.

    Nothing of the answers is stored or logged, and no token is needed (unless the server requires
    one for every read). An unknown issue or party slug is a 422 naming every such slug."""
    # Built like an uncached view: in a build slot, on the build engine, from a current position history.
    with fields_in("body"), build_session(request) as session:
        result = match(session, body, as_of=body.as_of or utcnow().date())
    return Response(json_bytes(result), media_type="application/json")
