"""Diffs between two moments (GET /v1/diff, /v1/sources/{id}/diff) and per-cell timelines."""

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest

from app.models.common import Stance
from app.models.matrix import ChangeClass
from app.services.diffs import classify
from tests.helpers import assert_problem, create_issue, create_party, create_source

SUPPORT_SIDE = {"support", "lean_support"}
OPPOSE_SIDE = {"oppose", "lean_oppose"}
CELL_COLUMNS = [
    "stance", "summary", "stated_on", "statement", "quote", "speaker",
    "quote_start", "quote_end", "source", "source_title", "source_url", "flag",
]  # fmt: skip
DIFF_HEADER = [
    "party",
    "issue",
    "change",
    *(f"before_{c}" for c in CELL_COLUMNS),
    *(f"after_{c}" for c in CELL_COLUMNS),
]

TEXT = (
    "Alpha said yes. Beta said no, “firmly”, today. Gamma hedged. Delta agreed. "
    "Epsilon refused. Zeta wavered. Eta insisted. Theta doubted. Iota conceded. Kappa objected. "
    "Lambda paused. Mu repeated yes. Nu was unsure. Xi stalled."
)


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def get_diff(client, **params: Any) -> dict[str, Any]:
    response = client.get("/v1/diff", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def change_of(diff: dict[str, Any], party: str, issue: str) -> dict[str, Any] | None:
    found = [change for change in diff["changes"] if change["party"] == party and change["issue"] == issue]
    assert len(found) <= 1
    return found[0] if found else None


def seed_source_id(client) -> int:
    items = client.get("/v1/sources").json()["items"]
    assert len(items) == 1
    return items[0]["id"]


def state(
    client, source_id: int, issue: str, quote: str, stance: str, stated_on: str, party: str = "northland"
) -> dict[str, Any]:
    body = {
        "party": party,
        "issue": issue,
        "source": source_id,
        "quote": quote,
        "stance": stance,
        "stated_on": stated_on,
    }
    response = client.post("/v1/statements", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def retract(client, statement_id: int, retracted_on: str) -> None:
    response = client.post(
        f"/v1/statements/{statement_id}/retract", json={"reason": "Withdrawn", "retracted_on": retracted_on}
    )
    assert response.status_code == 200, response.text


# --- classify() over every pair ------------------------------------------------------------------

STANCES = list(Stance)


REVERSED_PAIRS = {
    ("support", "oppose"), ("support", "lean_oppose"), ("lean_support", "oppose"), ("lean_support", "lean_oppose"),
    ("oppose", "support"), ("oppose", "lean_support"), ("lean_oppose", "support"), ("lean_oppose", "lean_support"),
}  # fmt: skip


@pytest.mark.parametrize("before", STANCES, ids=[s.value for s in STANCES])
@pytest.mark.parametrize("after", STANCES, ids=[s.value for s in STANCES])
def test_classify_every_pair_of_stances(before, after):
    result = classify(before, after)
    if before == after:
        assert result is ChangeClass.unchanged
    elif (before.value, after.value) in REVERSED_PAIRS:
        assert result is ChangeClass.reversed
    else:
        assert result is ChangeClass.shifted


def test_classify_the_explicit_cases_of_the_spec():
    assert len(REVERSED_PAIRS) == 8
    assert classify(Stance.oppose, Stance.lean_oppose) is ChangeClass.shifted
    assert classify(Stance.lean_support, Stance.support) is ChangeClass.shifted
    assert classify(Stance.support, Stance.neutral) is ChangeClass.shifted
    assert classify(Stance.unclear, Stance.oppose) is ChangeClass.shifted
    assert classify(Stance.neutral, Stance.unclear) is ChangeClass.shifted
    assert classify(Stance.lean_oppose, Stance.lean_support) is ChangeClass.reversed


@pytest.mark.parametrize("stance", STANCES, ids=[s.value for s in STANCES])
def test_classify_appearance_and_disappearance(stance):
    assert classify(None, stance) is ChangeClass.new
    assert classify(stance, None) is ChangeClass.withdrawn


# --- The seed article -------------------------------------------------------------------------------


def test_seed_diff_over_the_alaska_summit(client, seeded):
    diff = get_diff(client, **{"from": "2025-08-14", "to": "2025-08-18"})
    assert diff["from"] == {"as_of": "2025-08-14", "source": None}
    assert diff["to"] == {"as_of": "2025-08-18", "source": None}

    russia = change_of(diff, "russia", "security-guarantees")
    assert russia["change"] in ("reversed", "shifted")
    assert russia["change"] == "reversed"
    assert russia["before"]["stance"] in OPPOSE_SIDE and russia["after"]["stance"] in SUPPORT_SIDE
    assert russia["before"]["quote"] == "an arrangement previously thought off the table"

    sanctions = change_of(diff, "united-states", "sanctions-on-russia")
    assert sanctions["change"] != "unchanged"
    assert (sanctions["before"]["stance"], sanctions["after"]["stance"]) == ("support", "lean_oppose")
    assert sanctions["change"] == "reversed"

    ukraine = change_of(diff, "ukraine", "cede-donbas")
    assert ukraine["change"] == "unchanged" and ukraine["before"]["stated_on"] == "2025-08-14"
    assert ukraine["after"]["stated_on"] == "2025-08-18"  # the newer quote is shown

    crimea = change_of(diff, "united-states", "crimea")
    assert crimea["change"] == "new" and crimea["before"] is None and crimea["after"]["stance"] == "support"

    # No position on either side: not listed.
    assert change_of(diff, "alaska-governor", "crimea") is None
    counts = {name: sum(change["change"] == name for change in diff["changes"]) for name in diff["summary"]}
    assert diff["summary"] == counts == {"new": 13, "withdrawn": 0, "unchanged": 2, "shifted": 0, "reversed": 2}
    for change in diff["changes"]:
        for side in ("before", "after"):
            if change[side] is not None:
                assert (change[side]["party"], change[side]["issue"]) == (change["party"], change["issue"])


def test_seed_only_changed_drops_unchanged_but_keeps_the_summary(client, seeded):
    full = get_diff(client, **{"from": "2025-08-14", "to": "2025-08-18"})
    changed = get_diff(client, **{"from": "2025-08-14", "to": "2025-08-18", "only": "changed"})
    assert changed["summary"] == full["summary"]
    assert all(change["change"] != "unchanged" for change in changed["changes"])
    assert changed["changes"] == [change for change in full["changes"] if change["change"] != "unchanged"]
    assert len(changed["changes"]) == len(full["changes"]) - full["summary"]["unchanged"]


def test_seed_diff_from_a_source_uses_its_publication_date(client, seeded):
    source_id = seed_source_id(client)
    before = today()
    diff = get_diff(client, **{"from": f"source:{source_id}"})
    assert diff["from"] == {"as_of": "2025-08-18", "source": source_id}
    assert diff["to"]["as_of"] in (before, today()) and diff["to"]["source"] is None
    # Nothing was stated after the article, so every position is unchanged since then.
    assert diff["summary"] == {"new": 0, "withdrawn": 0, "unchanged": 17, "shifted": 0, "reversed": 0}

    to_source = get_diff(client, **{"from": "2025-08-14", "to": f"source:{source_id}"})
    assert to_source["to"] == {"as_of": "2025-08-18", "source": source_id}
    assert to_source["summary"] == get_diff(client, **{"from": "2025-08-14", "to": "2025-08-18"})["summary"]


def test_seed_diff_since_a_source(client, seeded):
    source_id = seed_source_id(client)
    response = client.get(f"/v1/sources/{source_id}/diff")
    assert response.status_code == 200, response.text
    diff = response.json()
    assert diff["from"]["as_of"] == "2025-08-18"
    assert diff["from"]["source"] == source_id
    assert diff["to"]["as_of"] >= "2025-08-18"
    assert diff == get_diff(client, **{"from": f"source:{source_id}", "to": diff["to"]["as_of"]})

    only_changed = client.get(f"/v1/sources/{source_id}/diff", params={"only": "changed"}).json()
    assert only_changed["changes"] == [] and only_changed["summary"]["unchanged"] == 17

    assert_problem(client.get("/v1/sources/999/diff"), 404, "not-found")
    assert_problem(client.get("/v1/sources/abc/diff"), 422)


# --- A synthetic scenario with every class --------------------------------------------------------


@pytest.fixture
def scenario(client) -> dict[str, Any]:
    """Positions of northland (and southland) as of 2025-03-01 versus 2025-06-01."""
    create_party(client, "northland")
    create_party(client, "southland")
    for slug in (
        "appears",
        "disappears",
        "holds",
        "softens",
        "flips",
        "goes-neutral",
        "unclear-now",
        "silent",
        "too-late",
        "replaced",
    ):
        create_issue(client, slug, title=f"Issue {slug}")
    source = create_source(client, text=TEXT, title="Synthetic wire", published_at="2025-01-01")
    sid = source["id"]
    made = {
        "appears": state(client, sid, "appears", "Alpha said yes.", "support", "2025-04-01"),
        "disappears": state(client, sid, "disappears", "Beta said no, “firmly”, today.", "oppose", "2025-02-01"),
        "holds_old": state(client, sid, "holds", "Gamma hedged.", "support", "2025-02-01"),
        "holds_new": state(client, sid, "holds", "Mu repeated yes.", "support", "2025-04-01"),
        "softens_old": state(client, sid, "softens", "Epsilon refused.", "oppose", "2025-02-01"),
        "softens_new": state(client, sid, "softens", "Zeta wavered.", "lean_oppose", "2025-04-01"),
        "flips_old": state(client, sid, "flips", "Delta agreed.", "lean_support", "2025-02-01"),
        "flips_new": state(client, sid, "flips", "Kappa objected.", "oppose", "2025-05-01"),
        "neutral_old": state(client, sid, "goes-neutral", "Eta insisted.", "support", "2025-02-01"),
        "neutral_new": state(client, sid, "goes-neutral", "Lambda paused.", "neutral", "2025-04-01"),
        "unclear_old": state(client, sid, "unclear-now", "Theta doubted.", "oppose", "2025-02-01"),
        "unclear_new": state(client, sid, "unclear-now", "Nu was unsure.", "unclear", "2025-04-01"),
        "too_late": state(client, sid, "too-late", "Xi stalled.", "support", "2025-07-01"),
        "replaced_base": state(client, sid, "replaced", "Iota conceded.", "support", "2025-01-15"),
        "replaced_top": state(client, sid, "replaced", "Kappa objected.", "oppose", "2025-02-01"),
        "south": state(client, sid, "holds", "Alpha said yes.", "neutral", "2025-02-01", party="southland"),
    }
    retract(client, made["disappears"]["id"], "2025-05-01")
    retract(client, made["replaced_top"]["id"], "2025-05-01")
    return {"source": source, "made": made}


def test_synthetic_diff_hits_every_class(client, scenario):
    made = scenario["made"]
    diff = get_diff(client, **{"from": "2025-03-01", "to": "2025-06-01"})
    got = {(change["party"], change["issue"]): change for change in diff["changes"]}
    assert {key: change["change"] for key, change in got.items()} == {
        ("northland", "appears"): "new",
        ("northland", "disappears"): "withdrawn",
        ("northland", "holds"): "unchanged",
        ("northland", "softens"): "shifted",
        ("northland", "flips"): "reversed",
        ("northland", "goes-neutral"): "shifted",
        ("northland", "unclear-now"): "shifted",
        ("northland", "replaced"): "reversed",  # the retracted oppose falls back to the older support
        ("southland", "holds"): "unchanged",
    }
    assert list(got) == [
        ("northland", slug)
        for slug in ("appears", "disappears", "holds", "softens", "flips", "goes-neutral", "unclear-now", "replaced")
    ] + [("southland", "holds")]
    assert diff["summary"] == {"new": 1, "withdrawn": 1, "unchanged": 2, "shifted": 3, "reversed": 2}

    appears = got[("northland", "appears")]
    assert appears["before"] is None and appears["after"]["statement"] == made["appears"]["id"]
    disappears = got[("northland", "disappears")]
    assert disappears["after"] is None
    assert disappears["before"]["statement"] == made["disappears"]["id"] and disappears["before"]["stance"] == "oppose"
    holds = got[("northland", "holds")]
    assert holds["before"]["quote"] == "Gamma hedged." and holds["after"]["quote"] == "Mu repeated yes."
    assert holds["after"]["statement"] == made["holds_new"]["id"] and holds["after"]["evidence_count"] == 2
    softens = got[("northland", "softens")]
    assert (softens["before"]["stance"], softens["after"]["stance"]) == ("oppose", "lean_oppose")
    flips = got[("northland", "flips")]
    assert (flips["before"]["stance"], flips["after"]["stance"]) == ("lean_support", "oppose")
    replaced = got[("northland", "replaced")]
    assert replaced["before"]["statement"] == made["replaced_top"]["id"]
    assert replaced["after"]["statement"] == made["replaced_base"]["id"]

    # Cells in a diff are the matrix cells of each side.
    for as_of, side in (("2025-03-01", "before"), ("2025-06-01", "after")):
        cells = client.get("/v1/matrix", params={"as_of": as_of}).json()["cells"]
        by_key = {(cell["party"], cell["issue"]): cell for cell in cells}
        for key, change in got.items():
            expected = by_key[key] if by_key[key]["stance"] is not None else None
            assert change[side] == expected, (key, side)


def test_synthetic_diff_filters_by_party_and_issue_and_only_changed(client, scenario):
    diff = get_diff(
        client, **{"from": "2025-03-01", "to": "2025-06-01", "parties": "southland,northland", "issues": "holds,flips"}
    )
    assert [(c["party"], c["issue"], c["change"]) for c in diff["changes"]] == [
        ("southland", "holds", "unchanged"),
        ("northland", "holds", "unchanged"),
        ("northland", "flips", "reversed"),
    ]
    changed = get_diff(client, **{"from": "2025-03-01", "to": "2025-06-01", "only": "changed"})
    assert changed["summary"] == {"new": 1, "withdrawn": 1, "unchanged": 2, "shifted": 3, "reversed": 2}
    assert sorted(c["change"] for c in changed["changes"]) == sorted(
        ["new", "withdrawn", "shifted", "shifted", "shifted", "reversed", "reversed"]
    )


@pytest.mark.parametrize("issues", ["disappears", "appears", "holds,disappears", "holds,appears", "appears,holds"])
def test_a_diff_ending_on_any_kind_of_change_is_valid_json(client, scenario, issues):
    # The changes are joined from stored JSON pieces: whichever side is null in the last change,
    # the document must still parse.
    response = client.get(
        "/v1/diff", params={"from": "2025-03-01", "to": "2025-06-01", "parties": "northland", "issues": issues}
    )
    assert response.status_code == 200
    assert [change["issue"] for change in response.json()["changes"]] == issues.split(",")


def test_same_moment_on_both_sides_is_all_unchanged(client, scenario):
    diff = get_diff(client, **{"from": "2025-06-01", "to": "2025-06-01"})
    assert diff["summary"]["unchanged"] == len(diff["changes"]) > 0
    assert all(change["before"] == change["after"] for change in diff["changes"])


def test_diff_csv_has_before_and_after_columns(client, scenario):
    made = scenario["made"]
    response = client.get("/v1/diff", params={"from": "2025-03-01", "to": "2025-06-01", "format": "csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8"), newline="")))
    assert rows[0] == DIFF_HEADER
    records = {(row[0], row[1]): dict(zip(DIFF_HEADER, row, strict=True)) for row in rows[1:]}
    assert len(records) == len(rows) - 1 == 9
    withdrawn = records[("northland", "disappears")]
    assert withdrawn["change"] == "withdrawn"
    assert withdrawn["before_stance"] == "oppose" and withdrawn["before_quote"] == "Beta said no, “firmly”, today."
    assert withdrawn["before_statement"] == str(made["disappears"]["id"])
    assert all(withdrawn[f"after_{column}"] == "" for column in CELL_COLUMNS)
    new = records[("northland", "appears")]
    assert all(new[f"before_{column}"] == "" for column in CELL_COLUMNS)
    assert new["after_stance"] == "support" and new["after_stated_on"] == "2025-04-01"
    assert new["after_source_title"] == "Synthetic wire"
    flips = records[("northland", "flips")]
    assert (flips["change"], flips["before_stance"], flips["after_stance"]) == ("reversed", "lean_support", "oppose")

    json_changes = get_diff(client, **{"from": "2025-03-01", "to": "2025-06-01"})["changes"]
    assert [(row[0], row[1], row[2]) for row in rows[1:]] == [
        (c["party"], c["issue"], c["change"]) for c in json_changes
    ]

    by_header = client.get(
        "/v1/diff", params={"from": "2025-03-01", "to": "2025-06-01"}, headers={"Accept": "text/csv"}
    )
    assert by_header.status_code == 200 and by_header.content == response.content

    only = client.get("/v1/diff", params={"from": "2025-03-01", "to": "2025-06-01", "format": "csv", "only": "changed"})
    assert len(list(csv.reader(io.StringIO(only.content.decode("utf-8"))))) == 1 + 7


def test_diff_from_a_synthetic_source_counts_statements_up_to_its_date(client, scenario):
    later = create_source(client, text="A later report. Nothing new.", title="Later report", published_at="2025-04-15")
    diff = get_diff(client, **{"from": f"source:{later['id']}", "to": "2025-06-01"})
    assert diff["from"] == {"as_of": "2025-04-15", "source": later["id"]}
    got = {(c["party"], c["issue"]): c["change"] for c in diff["changes"]}
    assert got[("northland", "appears")] == "unchanged"  # stated 2025-04-01, before the source
    assert got[("northland", "flips")] == "reversed"  # stated 2025-05-01, after it
    assert got[("northland", "disappears")] == "withdrawn"

    before = today()
    since = client.get(f"/v1/sources/{later['id']}/diff")
    assert since.status_code == 200, since.text
    assert since.json()["from"] == {"as_of": "2025-04-15", "source": later["id"]}
    assert since.json()["to"]["as_of"] in (before, today())


# --- Errors ------------------------------------------------------------------------------------------


def test_from_later_than_to_is_a_422(client, seeded):
    problem = assert_problem(
        client.get("/v1/diff", params={"from": "2025-08-18", "to": "2025-08-14"}), 422, "validation-error"
    )
    assert "2025-08-18" in problem["detail"] and "2025-08-14" in problem["detail"]
    source_id = seed_source_id(client)
    assert_problem(client.get("/v1/diff", params={"from": f"source:{source_id}", "to": "2025-08-14"}), 422)
    assert_problem(client.get("/v1/diff", params={"from": "9999-12-31"}), 422)  # `to` defaults to today


MALFORMED_MOMENTS = (
    "yesterday", "source:abc", "source:999", "source:", "source:0", "source:-1",
    "source: 1", "2025-02-30", "", "source:99999999999", "0001-01-01", "0999-12-31",
)  # fmt: skip


@pytest.mark.parametrize("side", ["from", "to"])
def test_malformed_or_unknown_moment_is_a_422(client, seeded, side):
    for value in MALFORMED_MOMENTS:
        params = {"from": "2025-08-14", side: value}
        problem = assert_problem(client.get("/v1/diff", params=params), 422, "validation-error")
        assert problem["errors"][0]["field"] == f"query.{side}", value


@pytest.mark.parametrize(
    ("moment", "says"),
    [
        ("0999-12-31", "out of range: dates run from 1000-01-01 to 9999-12-31"),
        ("source:0", "source ids run from 1 to 2147483647"),
        ("source:9999999999", "source ids run from 1 to 2147483647"),
        ("2025-02-30", "neither a date (YYYY-MM-DD) nor `source:<id>`"),
    ],
)
def test_a_refused_moment_says_what_is_wrong_with_it(client, seeded, moment, says):
    problem = assert_problem(client.get("/v1/diff", params={"from": moment}), 422, "validation-error")
    assert says in problem["detail"], problem["detail"]


def test_diff_dates_have_the_bounds_of_the_matrix(client, seeded):
    for as_of in ("1000-01-01", "9999-12-31"):
        assert client.get("/v1/matrix", params={"as_of": as_of}).status_code == 200
        assert client.get("/v1/diff", params={"from": "1000-01-01", "to": as_of}).status_code == 200
    for as_of in ("0999-12-31", "0001-01-01"):
        assert_problem(client.get("/v1/matrix", params={"as_of": as_of}), 422)
        assert_problem(client.get("/v1/diff", params={"from": as_of, "to": "2025-08-18"}), 422)


@pytest.mark.parametrize("side", ["from", "to"])
def test_source_id_with_non_ascii_digits_is_a_422_not_a_500(client, seeded, side):
    params = {"from": "2025-08-14", side: "source:²"}
    assert_problem(client.get("/v1/diff", params=params), 422, "validation-error")


def test_other_bad_diff_queries_are_422_problems(client, seeded):
    for params in (
        {},
        {"from": "2025-08-14", "parties": "atlantis"},
        {"from": "2025-08-14", "issues": "crimea,moon"},
        {"from": "2025-08-14", "only": "all"},
        {"from": "2025-08-14", "format": "xml"},
        {"from": "x" * 41},
    ):
        assert_problem(client.get("/v1/diff", params=params), 422)


# --- Timelines -------------------------------------------------------------------------------------


def test_seed_timeline_of_russia_on_security_guarantees(client, seeded):
    response = client.get("/v1/parties/russia/issues/security-guarantees/timeline")
    assert response.status_code == 200, response.text
    timeline = response.json()
    assert timeline["party"] == "russia" and timeline["issue"] == "security-guarantees"
    assert [(e["change"], e["statement"]["stance"], e["statement"]["stated_on"]) for e in timeline["entries"]] == [
        ("new", "oppose", "2025-08-14"),
        ("reversed", "lean_support", "2025-08-15"),
        ("unchanged", "lean_support", "2025-08-15"),
    ]
    ids = [entry["statement"]["id"] for entry in timeline["entries"]]
    assert ids == sorted(ids)
    last = timeline["entries"][-1]["statement"]
    assert last["party"] == "russia" and last["issue"] == "security-guarantees"
    assert last["quote"] == "first time we had ever heard the Russians agree to that"


def test_timeline_orders_by_date_then_recording_and_skips_retracted(client):
    create_party(client, "northland")
    create_issue(client, "cede-north")
    sid = create_source(client, text=TEXT, published_at="2025-01-01")["id"]
    fourth = state(client, sid, "cede-north", "Alpha said yes.", "support", "2025-05-01")
    first = state(client, sid, "cede-north", "Beta said no, “firmly”, today.", "oppose", "2025-01-10")
    gone = state(client, sid, "cede-north", "Delta agreed.", "support", "2025-02-01")
    second = state(client, sid, "cede-north", "Zeta wavered.", "lean_oppose", "2025-03-01")
    third = state(client, sid, "cede-north", "Epsilon refused.", "lean_oppose", "2025-03-01")
    fifth = state(client, sid, "cede-north", "Lambda paused.", "neutral", "2025-05-01")
    retract(client, gone["id"], "2025-02-20")

    entries = client.get("/v1/parties/northland/issues/cede-north/timeline").json()["entries"]
    assert [(e["change"], e["statement"]["id"]) for e in entries] == [
        ("new", first["id"]),
        ("shifted", second["id"]),
        ("unchanged", third["id"]),
        ("reversed", fourth["id"]),
        ("shifted", fifth["id"]),
    ]

    # As of a day the retracted statement still stood, it is part of the timeline.
    earlier = client.get("/v1/parties/northland/issues/cede-north/timeline", params={"as_of": "2025-02-15"}).json()
    assert [(e["change"], e["statement"]["id"]) for e in earlier["entries"]] == [
        ("new", first["id"]),
        ("reversed", gone["id"]),
    ]
    assert earlier["entries"][1]["statement"]["retraction"]["retracted_on"] == "2025-02-20"


def test_timeline_of_an_empty_cell_has_no_entries(client, seeded):
    timeline = client.get("/v1/parties/alaska-governor/issues/crimea/timeline").json()
    assert timeline == {"party": "alaska-governor", "issue": "crimea", "entries": []}


@pytest.mark.parametrize(
    ("path", "slug"),
    [
        ("/v1/parties/atlantis/issues/crimea/timeline", "atlantis"),
        ("/v1/parties/russia/issues/moon-landing/timeline", "moon-landing"),
    ],
)
def test_timeline_of_an_unknown_party_or_issue_is_a_404(client, seeded, path, slug):
    problem = assert_problem(client.get(path), 404, "not-found")
    assert slug in problem["detail"]


def test_timeline_with_a_malformed_as_of_is_a_422(client, seeded):
    assert_problem(client.get("/v1/parties/russia/issues/crimea/timeline", params={"as_of": "soon"}), 422)
