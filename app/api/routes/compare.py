from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlmodel import Session

from app.api.caching import conditional_view
from app.api.deps import (
    NOT_MODIFIED,
    VIEW_HEADERS,
    IfNoneMatch,
    SessionDep,
    SlugListQuery,
    fields_in,
    problems,
)
from app.api.routes.diffs import MOMENT_PATTERN
from app.api.tabular import (
    CSV_CONTENT,
    CSV_MEDIA_TYPE,
    FormatQuery,
    Layout,
    comparison_csv,
    comparison_drift_csv,
    json_bytes,
    wants_csv,
)
from app.errors import InvalidField
from app.models.common import BoundedDate, utcnow
from app.models.compare import ComparisonView
from app.models.matrix import DiffEnd
from app.services import comparison as service
from app.services.diffs import parse_moment
from app.services.matrix import parse_slug_list, resolve_grid

router = APIRouter(prefix="/v1/compare", tags=["compare"])


@router.get(
    "",
    name="get",
    response_model=ComparisonView,
    responses={
        200: {
            "content": CSV_CONTENT,
            "headers": VIEW_HEADERS,
            "description": "Every pair of the parties, as JSON (`Comparison`, or `ComparisonDrift` with `from`) or CSV",
        },
        **NOT_MODIFIED,
        **problems(422, 503),
    },
    summary="How close parties stand: agreement between every pair, issue by issue",
)
def get_comparison(
    request: Request,
    session: SessionDep,
    parties: Annotated[
        str,
        Query(
            max_length=20_000,
            pattern=r"^[^\x00]*$",
            description=f"{service.MIN_PARTIES} to {service.MAX_PARTIES} comma-separated party slugs; pairs are "
            "listed in this order.",
        ),
    ],
    issues: SlugListQuery = None,
    as_of: Annotated[
        BoundedDate | None, Query(description="Positions as of this date (default: today, UTC); not with `from`.")
    ] = None,
    from_: Annotated[
        str | None,
        Query(
            alias="from",
            pattern=MOMENT_PATTERN,
            description="Compare at two moments instead of one: a date (YYYY-MM-DD) or `source:<id>`, as in /v1/diff.",
        ),
    ] = None,
    to: Annotated[
        str | None, Query(pattern=MOMENT_PATTERN, description="With `from`: a date or `source:<id>`; default today.")
    ] = None,
    only: Annotated[
        str | None,
        Query(
            pattern="^changed$", description="With `from`: `changed` keeps only the pairs with an issue in `changed`."
        ),
    ] = None,
    format: FormatQuery = None,
    layout: Annotated[
        Layout, Query(description="CSV layout: `wide` (a row per pair) or `long` (a row per pair × issue).")
    ] = Layout.wide,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """For every pair of the parties, in the order given ((a, b), (a, c), …, (b, c), …): its
    `agreements`, one per issue in the order of `issues`, 1 − |a − b| / 4 on the scale support +2,
    lean_support +1, neutral 0, lean_oppose −1, oppose −2; and its `agreement`, the mean over the
    `issues_compared`, those both parties have a position on. An issue where either has none (no
    statement, or `unclear`) has agreement null and is not scored.

    The stances and quotes behind the numbers are the matrix `cells`, each served once, parties then
    issues: party i's cell on issue j is `cells[i × len(issues) + j]`. Where an agreement is null,
    the two cells' stances (null or `unclear`) say which party has no position.

    With `from` (and `to`, default today) instead of `as_of`: the agreements and `cells` at both
    moments, and per pair the issues whose agreement `changed` ("where did these two drift
    apart?"), null against a number included; `only=changed` lists only the pairs with such an
    issue."""
    with fields_in("query"):
        party_slugs = service.parties_to_compare(parties)
        issue_slugs = parse_slug_list(issues, "issues")
        if from_ is None:
            if to is not None or only is not None:
                raise InvalidField("to" if to is not None else "only", "Give `from` too: this compares two moments.")
            day = as_of or utcnow().date()
            moments = str(day)
            document = partial(service.compare, as_of=day)
            to_csv = comparison_csv
        else:
            if as_of is not None:
                raise InvalidField("as_of", "Give `as_of` or `from` and `to`, not both.")
            start = parse_moment(session, from_, "from")
            end = parse_moment(session, to, "to") if to is not None else DiffEnd(as_of=utcnow().date())
            moments = f"{start.model_dump_json()}|{end.model_dump_json()}|{only}"
            document = partial(service.compare_drift, start=start, end=end, only_changed=only == "changed")
            to_csv = comparison_drift_csv
    csv = wants_csv(request, format)
    view_key = f"compare|{moments}|{party_slugs}|{issue_slugs}|{csv}|{layout if csv else ''}"

    def render(build: Session) -> tuple[bytes, str]:
        with fields_in("query"):
            built = document(build, resolve_grid(build, party_slugs, issue_slugs), as_dicts=csv)
        if csv:
            return to_csv(built, layout), CSV_MEDIA_TYPE
        return json_bytes(built), "application/json"

    return conditional_view(request, session, view_key, render)
