"""Comparing parties (GET /v1/compare): agreement between every pair, issue by issue, as of a date
or at two moments."""

import csv
import io
import json
from datetime import UTC, datetime
from itertools import combinations
from typing import Any

import pytest

from app.models import examples
from app.models.compare import ComparisonView
from tests.conftest import SEED_DIR, WAHLOMAT_DIR
from tests.helpers import SEED_ISSUES, SEED_PARTIES, assert_problem, create_issue, create_party, create_source

TEXT = (
    "North backs the plan. South rejects the plan. East shrugs at the plan. "
    "North likes the budget somewhat. South loves the budget. East doubts the budget. "
    "North is unsure about the border. South is neutral on the border. East wants the border open. "
    "North refuses the treaty. East half refuses the treaty. North now rejects the plan."
)
PARTIES = ["north", "south", "east", "west"]
ISSUES = ["plan", "budget", "border", "treaty"]
BEFORE, AFTER = "2025-08-10", "2025-08-20"


def state(client, source_id: int, party: str, issue: str, quote: str, stance: str, stated_on: str) -> dict[str, Any]:
    body = {"party": party, "issue": issue, "source": source_id, "quote": quote, "stance": stance}
    response = client.post("/v1/statements", json={**body, "stated_on": stated_on})
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def positions(client) -> dict[str, Any]:
    """Four parties on four issues. As of BEFORE:

    |        | plan    | budget       | border  | treaty      |
    | north  | support | lean_support | unclear | oppose      |
    | south  | oppose  | support      | neutral | —           |
    | east   | neutral | lean_oppose  | support | lean_oppose |
    | west   | —       | —            | —       | —           |

    By AFTER north opposes the plan, and east's statement on the border is retracted."""
    for slug in PARTIES:
        create_party(client, slug)
    for slug in ISSUES:
        create_issue(client, slug, title=slug.title())
    source = create_source(client, text=TEXT, title="Four parties", published_at="2025-08-01")
    made = {}
    for party, issue, quote, stance in [
        ("north", "plan", "North backs the plan.", "support"),
        ("south", "plan", "South rejects the plan.", "oppose"),
        ("east", "plan", "East shrugs at the plan.", "neutral"),
        ("north", "budget", "North likes the budget somewhat.", "lean_support"),
        ("south", "budget", "South loves the budget.", "support"),
        ("east", "budget", "East doubts the budget.", "lean_oppose"),
        ("north", "border", "North is unsure about the border.", "unclear"),
        ("south", "border", "South is neutral on the border.", "neutral"),
        ("east", "border", "East wants the border open.", "support"),
        ("north", "treaty", "North refuses the treaty.", "oppose"),
        ("east", "treaty", "East half refuses the treaty.", "lean_oppose"),
    ]:
        made[party, issue] = state(client, source["id"], party, issue, quote, stance, "2025-08-01")
    made["north", "plan", "later"] = state(
        client, source["id"], "north", "plan", "North now rejects the plan.", "oppose", "2025-08-15"
    )
    retracted = client.post(
        f"/v1/statements/{made['east', 'border']['id']}/retract",
        json={"reason": "Misattributed", "retracted_on": "2025-08-16"},
    )
    assert retracted.status_code == 200, retracted.text
    return made


def utc_today() -> str:
    return datetime.now(UTC).date().isoformat()


def get_comparison(client, **params: Any) -> dict[str, Any]:
    response = client.get("/v1/compare", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


# The scale and agreement as the issue defines them, independently of app.services.agreement.
SCALE = {"support": 2, "lean_support": 1, "neutral": 0, "lean_oppose": -1, "oppose": -2}


def _agreement(a: str | None, b: str | None) -> float | None:
    if a not in SCALE or b not in SCALE:
        return None
    return 1 - abs(SCALE[a] - SCALE[b]) / 4


def pair_of(comparison: dict[str, Any], a: str, b: str) -> dict[str, Any]:
    (found,) = [pair for pair in comparison["pairs"] if pair["parties"] == [a, b]]
    return found


def cell_of(cells: list[dict[str, Any]], comparison: dict[str, Any], party: str, issue: str) -> dict[str, Any]:
    """A party's cell on an issue where the document says it is: party index × len(issues) + issue index."""
    party_index = [ref["slug"] for ref in comparison["parties"]].index(party)
    issue_slugs = [ref["slug"] for ref in comparison["issues"]]
    cell = cells[party_index * len(issue_slugs) + issue_slugs.index(issue)]
    assert (cell["party"], cell["issue"]) == (party, issue)
    return cell


def stances(
    comparison: dict[str, Any], pair: dict[str, Any], issue: str, moment: str | None = None
) -> list[str | None]:
    """Both parties' stances on the issue, in the pair's order, from the cells (at `from` or `to`)."""
    cells = comparison["cells"] if moment is None else comparison["cells"][moment]
    return [cell_of(cells, comparison, party, issue)["stance"] for party in pair["parties"]]


def by_issue(comparison: dict[str, Any], agreements: list[float | None]) -> dict[str, float | None]:
    return dict(zip([issue["slug"] for issue in comparison["issues"]], agreements, strict=True))


# --- as of a date ---------------------------------------------------------------------------------


def test_agreement_per_issue_and_per_pair_on_hand_made_positions(client, positions):
    comparison = get_comparison(client, parties=",".join(PARTIES), as_of=BEFORE)
    ComparisonView.model_validate(comparison)
    assert comparison["as_of"] == BEFORE
    assert [party["slug"] for party in comparison["parties"]] == PARTIES
    assert [issue["slug"] for issue in comparison["issues"]] == ISSUES

    north_south = pair_of(comparison, "north", "south")
    assert north_south["agreements"] == [0.0, 0.75, None, None]
    assert [stances(comparison, north_south, issue) for issue in ISSUES] == [
        ["support", "oppose"],
        ["lean_support", "support"],
        ["unclear", "neutral"],
        ["oppose", None],
    ]
    assert north_south["agreement"] == 0.375 and north_south["issues_compared"] == 2

    north_east = pair_of(comparison, "north", "east")
    assert north_east["agreements"] == [0.5, 0.5, None, 0.75]
    assert north_east["agreement"] == pytest.approx(1.75 / 3) and north_east["issues_compared"] == 3

    south_east = pair_of(comparison, "south", "east")
    assert south_east["agreements"] == [0.5, 0.25, 0.5, None]
    assert stances(comparison, south_east, "treaty") == [None, "lean_oppose"]
    assert south_east["agreement"] == pytest.approx(1.25 / 3) and south_east["issues_compared"] == 3

    # A party without any position is compared on nothing: an agreement per issue, all null.
    north_west = pair_of(comparison, "north", "west")
    assert north_west["agreement"] is None and north_west["issues_compared"] == 0
    assert north_west["agreements"] == [None, None, None, None]
    assert [stances(comparison, north_west, issue) for issue in ISSUES] == [
        ["support", None],
        ["lean_support", None],
        ["unclear", None],
        ["oppose", None],
    ]
    for pair in comparison["pairs"]:
        assert len(pair["agreements"]) == len(ISSUES)
        for issue, value in by_issue(comparison, pair["agreements"]).items():
            # Null exactly where a cell behind it has no position, which its stance shows; else the scale's.
            both = stances(comparison, pair, issue)
            assert (value is None) == any(stance in (None, "unclear") for stance in both)
            assert value == _agreement(*both)
        scored = [value for value in pair["agreements"] if value is not None]
        assert pair["issues_compared"] == len(scored)
        assert pair["agreement"] == (pytest.approx(sum(scored) / len(scored)) if scored else None)


def test_every_pair_once_in_the_order_the_parties_were_given(client, positions):
    given = ["west", "east", "north", "south"]
    comparison = get_comparison(client, parties=",".join(given), as_of=BEFORE)
    assert [pair["parties"] for pair in comparison["pairs"]] == [
        ["west", "east"],
        ["west", "north"],
        ["west", "south"],
        ["east", "north"],
        ["east", "south"],
        ["north", "south"],
    ]
    assert [pair["parties"] for pair in comparison["pairs"]] == [list(pair) for pair in combinations(given, 2)]
    # The cells follow the parties as given: west's first, then east's, each party's issues in order.
    assert [(cell["party"], cell["issue"]) for cell in comparison["cells"]] == [
        (party, issue) for party in given for issue in ISSUES
    ]
    # The other way round, a pair's stances follow its own order.
    east_north = pair_of(comparison, "east", "north")
    assert stances(comparison, east_north, "border") == ["support", "unclear"]
    assert east_north["agreements"] == [0.5, 0.5, None, 0.75]
    assert east_north["agreement"] == pytest.approx(1.75 / 3)


def test_cells_are_the_matrix_cells_served_once(client, positions):
    comparison = get_comparison(client, parties="south,north", issues="treaty,plan", as_of=BEFORE)
    matrix = client.get("/v1/matrix", params={"parties": "south,north", "issues": "treaty,plan", "as_of": BEFORE})
    assert comparison["cells"] == matrix.json()["cells"]
    assert [(cell["party"], cell["issue"]) for cell in comparison["cells"]] == [
        ("south", "treaty"),
        ("south", "plan"),
        ("north", "treaty"),
        ("north", "plan"),
    ]
    (pair,) = comparison["pairs"]
    assert pair == {"parties": ["south", "north"], "agreement": 0.0, "issues_compared": 1, "agreements": [None, 0.0]}
    quotes = {(cell["party"], cell["issue"]): cell["quote"] for cell in comparison["cells"]}
    assert quotes["north", "plan"] == "North backs the plan." and quotes["south", "treaty"] is None


def test_the_default_date_is_today(client, positions):
    before = utc_today()
    today = get_comparison(client, parties="north,south")
    assert today["as_of"] in (before, utc_today())
    assert stances(today, today["pairs"][0], "plan") == ["oppose", "oppose"]
    assert by_issue(today, today["pairs"][0]["agreements"])["plan"] == 1.0
    assert today["pairs"] == get_comparison(client, parties="north,south", as_of=AFTER)["pairs"]


# --- at two moments -------------------------------------------------------------------------------


def test_drift_reports_the_issues_whose_agreement_changed(client, positions):
    drift = get_comparison(client, parties=",".join(PARTIES), **{"from": BEFORE, "to": AFTER})
    ComparisonView.model_validate(drift)
    assert drift["from"] == {"as_of": BEFORE, "source": None} and drift["to"] == {"as_of": AFTER, "source": None}
    assert [pair["parties"] for pair in drift["pairs"]] == [list(pair) for pair in combinations(PARTIES, 2)]

    north_south = pair_of(drift, "north", "south")
    assert north_south == {
        "parties": ["north", "south"],
        "agreement": {"from": 0.375, "to": 0.875},
        "issues_compared": {"from": 2, "to": 2},
        "agreements": {"from": [0.0, 0.75, None, None], "to": [1.0, 0.75, None, None]},
        "changed": ["plan"],
    }
    assert stances(drift, north_south, "plan", "from") == ["support", "oppose"]
    assert stances(drift, north_south, "plan", "to") == ["oppose", "oppose"]
    # North moved from support to oppose, but stands as far from neutral east as before.
    north_east = pair_of(drift, "north", "east")
    assert stances(drift, north_east, "plan", "from") == ["support", "neutral"]
    assert stances(drift, north_east, "plan", "to") == ["oppose", "neutral"]
    assert by_issue(drift, north_east["agreements"]["from"])["plan"] == 0.5
    assert by_issue(drift, north_east["agreements"]["to"])["plan"] == 0.5 and north_east["changed"] == []
    # A number against no position (east's border statement retracted) is a change.
    south_east = pair_of(drift, "south", "east")
    assert by_issue(drift, south_east["agreements"]["from"])["border"] == 0.5
    assert by_issue(drift, south_east["agreements"]["to"])["border"] is None
    assert stances(drift, south_east, "border", "to") == ["neutral", None]
    assert south_east["changed"] == ["border"]
    assert south_east["issues_compared"] == {"from": 3, "to": 2}
    assert south_east["agreement"]["from"] == pytest.approx(1.25 / 3) and south_east["agreement"]["to"] == 0.375

    changed = {tuple(pair["parties"]): pair["changed"] for pair in drift["pairs"]}
    assert changed == {
        ("north", "south"): ["plan"],
        ("north", "east"): [],
        ("north", "west"): [],
        ("south", "east"): ["border"],
        ("south", "west"): [],
        ("east", "west"): [],
    }
    # `only=changed` keeps the pairs with a change, whole, and drops the others.
    only = get_comparison(client, parties=",".join(PARTIES), **{"from": BEFORE, "to": AFTER, "only": "changed"})
    assert only["pairs"] == [north_south, south_east]
    assert only["cells"] == drift["cells"] and only["issues"] == drift["issues"]

    # Each side is the comparison as of that date.
    for moment in ("from", "to"):
        single = get_comparison(client, parties=",".join(PARTIES), as_of=drift[moment]["as_of"])
        assert drift["cells"][moment] == single["cells"]
        for pair, single_pair in zip(drift["pairs"], single["pairs"], strict=True):
            assert pair["agreement"][moment] == single_pair["agreement"]
            assert pair["issues_compared"][moment] == single_pair["issues_compared"]
            assert pair["agreements"][moment] == single_pair["agreements"]


def _seed_positions(day: str) -> dict[tuple[str, str], str]:
    """Each party's stance per issue as of `day`, computed from the seed file itself: its latest
    statement by `stated_on`, the later-listed one on the same day (none is retracted)."""
    statements = json.loads((SEED_DIR / "statements.json").read_text(encoding="utf-8"))
    assert not any(statement.get("retracted_on") for statement in statements)
    latest: dict[tuple[str, str], tuple[str, int, str]] = {}
    for order, statement in enumerate(statements):
        key = (statement["party"], statement["issue"])
        if statement["stated_on"] <= day and (key not in latest or (statement["stated_on"], order) > latest[key][:2]):
            latest[key] = (statement["stated_on"], order, statement["stance"])
    return {key: stance for key, (_, _, stance) in latest.items()}


@pytest.mark.parametrize(("start", "end"), [("2025-08-10", "2025-08-18"), ("2025-08-14", "2025-08-18")])
def test_seed_drift_around_the_alaska_summit(client, seeded, start, end):
    drift = get_comparison(client, parties=",".join(SEED_PARTIES), **{"from": start, "to": end})
    before, after = _seed_positions(start), _seed_positions(end)
    expected_changes = {}
    for a, b in combinations(SEED_PARTIES, 2):
        expected_changes[a, b] = [
            issue
            for issue in SEED_ISSUES
            if _agreement(before.get((a, issue)), before.get((b, issue)))
            != _agreement(after.get((a, issue)), after.get((b, issue)))
        ]
    got = {tuple(pair["parties"]): pair["changed"] for pair in drift["pairs"]}
    assert got == expected_changes
    # Positions were taken during and after the summit: some pairs came to be compared at all.
    assert got["ukraine", "russia"] == ["cede-donbas", "security-guarantees"]
    assert got["united-states", "alaska-governor"] == ["alaska-resources"]
    ukraine_russia = pair_of(drift, "ukraine", "russia")
    assert stances(drift, ukraine_russia, "security-guarantees", "to") == ["support", "lean_support"]
    after_agreements = by_issue(drift, ukraine_russia["agreements"]["to"])
    assert after_agreements["security-guarantees"] == 0.75 and after_agreements["cede-donbas"] == 0.0
    for pair in drift["pairs"]:
        a, b = pair["parties"]
        assert pair["agreements"] == {
            "from": [_agreement(before.get((a, issue)), before.get((b, issue))) for issue in SEED_ISSUES],
            "to": [_agreement(after.get((a, issue)), after.get((b, issue))) for issue in SEED_ISSUES],
        }
    only = get_comparison(client, parties=",".join(SEED_PARTIES), **{"from": start, "to": end, "only": "changed"})
    assert only["pairs"] == [pair for pair in drift["pairs"] if pair["changed"]]
    assert 0 < len(only["pairs"]) < len(drift["pairs"])


def test_drift_from_a_source_takes_its_publication_date(client, seeded):
    (source,) = client.get("/v1/sources").json()["items"]
    drift = get_comparison(client, parties="russia,ukraine", **{"from": "2025-08-14", "to": f"source:{source['id']}"})
    assert drift["to"] == {"as_of": "2025-08-18", "source": source["id"]}
    dated = get_comparison(client, parties="russia,ukraine", **{"from": "2025-08-14", "to": "2025-08-18"})
    assert drift["pairs"] == dated["pairs"] and drift["cells"] == dated["cells"]


def test_examples_are_what_the_api_returns_for_the_seed_data(client, seeded):
    as_of = "/v1/compare?parties=russia,ukraine,european-allies&issues=security-guarantees&as_of=2025-08-18"
    assert client.get(as_of).json() == examples.COMPARISON
    drift = "/v1/compare?parties=russia,ukraine&issues=security-guarantees&from=2025-08-14&to=2025-08-18"
    assert client.get(drift).json() == examples.COMPARISON_DRIFT


# --- CSV --------------------------------------------------------------------------------------------


def csv_rows(client, **params: Any) -> list[list[str]]:
    response = client.get("/v1/compare", params={**params, "format": "csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(response.content.decode("utf-8"), newline="")))


def test_csv_a_row_per_pair_or_per_pair_and_issue(client, positions):
    rows = csv_rows(client, parties="north,south,west", as_of=BEFORE)
    assert rows == [
        ["party_a", "party_b", "agreement", "issues_compared"],
        ["north", "south", "0.375", "2"],
        ["north", "west", "", "0"],
        ["south", "west", "", "0"],
    ]
    long = csv_rows(client, parties="north,south,west", issues="plan,border", as_of=BEFORE, layout="long")
    assert long == [
        ["party_a", "party_b", "issue", "stance_a", "stance_b", "agreement", "quote_a", "quote_b"],
        ["north", "south", "plan", "support", "oppose", "0.0", "North backs the plan.", "South rejects the plan."],
        ["north", "south", "border", "unclear", "neutral", "", "North is unsure about the border.",
         "South is neutral on the border."],
        ["north", "west", "plan", "support", "", "", "North backs the plan.", ""],
        ["north", "west", "border", "unclear", "", "", "North is unsure about the border.", ""],
        ["south", "west", "plan", "oppose", "", "", "South rejects the plan.", ""],
        ["south", "west", "border", "neutral", "", "", "South is neutral on the border.", ""],
    ]  # fmt: skip
    by_accept = client.get(
        "/v1/compare", params={"parties": "north,south,west", "as_of": BEFORE}, headers={"Accept": "text/csv"}
    )
    assert by_accept.headers["content-type"].startswith("text/csv") and by_accept.text.startswith("party_a,")


def test_drift_csv_has_both_moments_side_by_side(client, positions):
    moments = {"from": BEFORE, "to": AFTER}
    rows = csv_rows(client, parties="north,south", **moments)
    assert rows == [
        ["party_a", "party_b", "agreement_from", "agreement_to", "issues_compared_from", "issues_compared_to"],
        ["north", "south", "0.375", "0.875", "2", "2"],
    ]
    long = csv_rows(client, parties="north,south", issues="plan,treaty", layout="long", **moments)
    assert long == [
        [
            "party_a", "party_b", "issue",
            "stance_a_from", "stance_b_from", "agreement_from", "stance_a_to", "stance_b_to", "agreement_to",
            "changed", "quote_a_from", "quote_b_from", "quote_a_to", "quote_b_to",
        ],
        [
            "north", "south", "plan", "support", "oppose", "0.0", "oppose", "oppose", "1.0", "true",
            "North backs the plan.", "South rejects the plan.", "North now rejects the plan.", "South rejects the plan.",
        ],
        [
            "north", "south", "treaty", "oppose", "", "", "oppose", "", "", "false",
            "North refuses the treaty.", "", "North refuses the treaty.", "",
        ],
    ]  # fmt: skip
    # Of north, south and east only north and south drifted apart (on the plan): only their rows, every issue.
    three = {"parties": "north,south,east", "issues": "plan,treaty", "layout": "long", **moments}
    assert [row[:3] for row in csv_rows(client, **three)[1:]] == [
        ["north", "south", "plan"],
        ["north", "south", "treaty"],
        ["north", "east", "plan"],
        ["north", "east", "treaty"],
        ["south", "east", "plan"],
        ["south", "east", "treaty"],
    ]
    assert csv_rows(client, **three, only="changed") == long


# --- conditional requests ---------------------------------------------------------------------------


def test_etag_304_and_gzip_like_the_other_views(client, positions):
    url = f"/v1/compare?parties={','.join(PARTIES)}&as_of={BEFORE}"
    first = client.get(url, headers={"Accept-Encoding": "identity"})
    etag = first.headers["etag"]
    assert first.status_code == 200 and etag.startswith('"') and first.headers["cache-control"] == "no-cache"
    again = client.get(url, headers={"If-None-Match": etag, "Accept-Encoding": "identity"})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    gzipped = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert gzipped.headers["content-encoding"] == "gzip" and gzipped.json() == first.json()
    for other in (
        f"/v1/compare?parties={','.join(PARTIES)}&as_of={AFTER}",
        f"/v1/compare?parties={','.join(reversed(PARTIES))}&as_of={BEFORE}",
        f"/v1/compare?parties={','.join(PARTIES)}&from={BEFORE}&to={BEFORE}",
        url + "&format=csv",
        url + "&format=csv&layout=long",
    ):
        assert client.get(other, headers={"If-None-Match": etag}).status_code == 200, other
    # A write changes the view: the old ETag no longer holds.
    create_issue(client, "pensions", title="Pensions")
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 200


# --- refused requests -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"parties": "north,atlantis"}, "query.parties", "atlantis"),
        ({"parties": "north"}, "query.parties", "2 to 50"),
        ({"parties": "north,north"}, "query.parties", "2 to 50"),
        ({"parties": ",".join(f"p{number}" for number in range(51))}, "query.parties", "2 to 50"),
        ({"parties": ",".join(f"p{number}" for number in range(600))}, "query.parties", "2 to 50"),
        ({"parties": " , "}, "query.parties", "2 to 50"),
        ({"parties": "north,south", "issues": "plan,atlantis"}, "query.issues", "atlantis"),
        ({"parties": "north,south", "as_of": BEFORE, "from": BEFORE}, "query.as_of", "not both"),
        ({"parties": "north,south", "as_of": BEFORE, "from": BEFORE, "to": AFTER}, "query.as_of", "not both"),
        ({"parties": "north,south", "to": AFTER}, "query.to", "`from`"),
        ({"parties": "north,south", "only": "changed"}, "query.only", "`from`"),
        ({"parties": "north,south", "from": AFTER, "to": BEFORE}, "query.from", "later"),
        ({"parties": "north,south", "from": "source:999"}, "query.from", "999"),
        ({"parties": "north,south", "from": "2025-02-30"}, "query.from", "2025-02-30"),
    ],
)
def test_refused_requests_are_422_problems_naming_the_field(client, positions, params, field, words):
    problem = assert_problem(client.get("/v1/compare", params=params), 422, "validation-error")
    fields = [error["field"] for error in problem["errors"]]
    assert fields == [field], problem
    assert words in problem["detail"], problem


def test_a_party_named_by_its_former_and_current_slug_is_one_party(client, positions):
    response = client.patch("/v1/parties/north", json={"slug": "northern"})
    assert response.status_code == 200, response.text
    # Two slugs, one party: fewer than two parties to compare, as `north,north` is.
    for params in ({"parties": "north,northern"}, {"parties": "north,northern", "from": BEFORE, "to": AFTER}):
        problem = assert_problem(client.get("/v1/compare", params=params), 422, "validation-error")
        assert [error["field"] for error in problem["errors"]] == ["query.parties"], problem
        assert "2 to 50" in problem["detail"], problem
    # With a third party, the two slugs are compared once, as the party's current slug.
    pairs = client.get("/v1/compare", params={"parties": "north,northern,south"}).json()["pairs"]
    assert [pair["parties"] for pair in pairs] == [["northern", "south"]]


def test_a_missing_or_malformed_parameter_is_a_422_problem(client, positions):
    assert_problem(client.get("/v1/compare"), 422)
    assert_problem(client.get("/v1/compare", params={"parties": "north,south", "as_of": "yesterday"}), 422)
    assert_problem(client.get("/v1/compare", params={"parties": "north,south", "from": "last week"}), 422)
    assert_problem(client.get("/v1/compare", params={"parties": "north,south", "layout": "tall"}), 422)
    assert_problem(client.get("/v1/compare?parties=north,south&parties=east"), 422)


def test_fifty_parties_are_compared(client):
    slugs = [f"party-{number:02d}" for number in range(50)]
    for slug in slugs:
        create_party(client, slug)
    create_issue(client, "plan")
    comparison = get_comparison(client, parties=",".join(slugs))
    assert len(comparison["pairs"]) == 50 * 49 // 2
    assert all(pair["issues_compared"] == 0 and pair["agreements"] == [None] for pair in comparison["pairs"])
    assert len(comparison["cells"]) == 50


def test_parties_without_any_issue_are_compared_on_nothing(client):
    create_party(client, "north"), create_party(client, "south")
    comparison = get_comparison(client, parties="north,south")
    assert comparison["issues"] == [] and comparison["cells"] == []
    assert comparison["pairs"] == [
        {"parties": ["north", "south"], "agreement": None, "issues_compared": 0, "agreements": []}
    ]
    drift = get_comparison(client, parties="north,south", **{"from": BEFORE})
    assert drift["cells"] == {"from": [], "to": []}
    assert drift["pairs"] == [
        {
            "parties": ["north", "south"],
            "agreement": {"from": None, "to": None},
            "issues_compared": {"from": 0, "to": 0},
            "agreements": {"from": [], "to": []},
            "changed": [],
        }
    ]


# --- the Wahl-O-Mat 2017 ------------------------------------------------------------------------------


def _wahlomat(name: str) -> Any:
    return json.loads((WAHLOMAT_DIR / name).read_text(encoding="utf-8"))


def _wahl_o_mat_points(answer_a: int, answer_b: int) -> int:
    """The Wahl-O-Mat's points for answers 0 (agree), 1 (disagree), 2 (neutral): 2 for the same
    answer, 1 between neutral and either side, 0 for opposite answers."""
    if answer_a == answer_b:
        return 2
    return 1 if 2 in (answer_a, answer_b) else 0


def test_agreement_on_the_wahl_o_mat_is_its_points_halved(wahlomat_client):
    party_names = {party["id"]: party["name"] for party in _wahlomat("party.json")}
    theses = _wahlomat("statement.json")
    answers = {(opinion["party"], opinion["statement"]): opinion["answer"] for opinion in _wahlomat("opinion.json")}
    listed = wahlomat_client.get("/v1/parties", params={"limit": 100}).json()["items"]
    slug_of = {party["name"]: party["slug"] for party in listed}
    chosen = [0, 1, 2, 3, 4, 5, 17, 31]  # the six parties elected to the Bundestag, and two more
    comparison = get_comparison(
        wahlomat_client, parties=",".join(slug_of[party_names[party]] for party in chosen), as_of="2017-09-24"
    )
    issue_titles = [issue["title"] for issue in comparison["issues"]]
    assert issue_titles == [thesis["label"] for thesis in theses]
    for (a, b), pair in zip(combinations(chosen, 2), comparison["pairs"], strict=True):
        assert pair["parties"] == [slug_of[party_names[a]], slug_of[party_names[b]]]
        points = [_wahl_o_mat_points(answers[a, thesis["id"]], answers[b, thesis["id"]]) for thesis in theses]
        assert [value * 2 for value in pair["agreements"]] == points
        assert pair["issues_compared"] == len(theses)
        assert pair["agreement"] == pytest.approx(sum(points) / (2 * len(theses)))
