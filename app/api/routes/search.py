from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.api.deps import LISTED, PagingDep, SessionDep, StatementFilterDep, fields_in, problems
from app.models.search import SearchKind, SearchPage
from app.services import search as service

router = APIRouter(prefix="/v1/search", tags=["search"])


@router.get(
    "",
    name="list",
    response_model=SearchPage,
    responses={200: LISTED, **problems(400, 422)},
    summary="Search parties, issues and statements",
    response_description="One page of results, in ranking order",
)
def search(
    session: SessionDep,
    paging: PagingDep,
    response: Response,
    statements: StatementFilterDep,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=500,
            pattern=r"^[^\x00]*$",
            description='Words to find, all of them; `"…"` around words finds them as a phrase. English and German '
            "words match their other forms (`guarantees` finds `guarantee`, `Tempolimits` finds `Tempolimit`); "
            "accents and case do not matter. Anything but letters and digits only separates words.",
        ),
    ],
    kind: Annotated[SearchKind | None, Query(description="Only results of this kind.")] = None,
) -> SearchPage:
    """Parties (by name and alias), issues (by title and proposition), then statements (by their
    quote, summary and speaker) that contain every word of `q`, each ranked by how often the words
    occur in them; statements 200 at a time, the most recently recorded first (a query matching up
    to 200 is ranked as a whole). Each result carries its object, a snippet of the field that
    matched best with the matches highlighted, and, for a statement, where the query matched its
    quote (`quote_matches`, offsets into `statement.quote`). The statement filters (`party`,
    `issue`, `source`, `stance`, `speaker`, `stated_from`, `stated_to`) leave parties and issues
    out. Retracted statements are left out unless `include_retracted`."""
    filters = service.SearchFilter(kind=kind, statements=statements)
    with fields_in("query"):
        items, next_cursor = service.search(session, q, filters, limit=paging.limit, cursor=paging.cursor)
    paging.link_next(response, next_cursor)
    return SearchPage(items=items, next_cursor=next_cursor)
