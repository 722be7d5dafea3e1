"""GET /v1/matrix: one cell per party × issue, each the party's latest standing statement."""

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.helpers import (
    SEED_ISSUES,
    SEED_PARTIES,
    assert_problem,
    create_issue,
    create_party,
    create_source,
)

CELL_KEYS = {
    "party", "issue", "stance", "summary", "stated_on", "statement", "quote", "selector",
    "speaker", "source", "evidence_count", "evidence_since", "flag", "evidence",
}  # fmt: skip
LONG_HEADER = [
    "party", "issue", "stance", "summary", "stated_on", "statement", "quote", "speaker",
    "quote_start", "quote_end", "source", "source_title", "source_url", "flag", "evidence_count",
]  # fmt: skip

TEXT = (
    "Alpha said yes. Beta said no, “firmly”, today. Gamma hedged. Delta agreed. "
    "Epsilon refused. Zeta wavered. Eta insisted. Theta doubted."
)


def matrix(client, **params: Any) -> dict[str, Any]:
    response = client.get("/v1/matrix", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def cell_of(body: dict[str, Any], party: str, issue: str) -> dict[str, Any]:
    found = [cell for cell in body["cells"] if cell["party"] == party and cell["issue"] == issue]
    assert len(found) == 1, (party, issue, body["cells"])
    return found[0]


def state(client, source_id: int, quote: str, stance: str, stated_on: str, **fields: Any) -> dict[str, Any]:
    body = {
        "party": "northland",
        "issue": "cede-north",
        "source": source_id,
        "quote": quote,
        "stance": stance,
        "stated_on": stated_on,
        **fields,
    }
    response = client.post("/v1/statements", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def retract(client, statement_id: int, retracted_on: str) -> None:
    response = client.post(
        f"/v1/statements/{statement_id}/retract", json={"reason": "Misattributed", "retracted_on": retracted_on}
    )
    assert response.status_code == 200, response.text


@pytest.fixture
def synthetic(client) -> dict[str, Any]:
    """Two parties, two issues and a source of distinct sentences, without any statement yet."""
    create_party(client, "northland")
    create_party(client, "southland", kind="bloc")
    create_issue(client, "cede-north")
    create_issue(client, "tariffs", title="Tariffs", proposition="Northland raises tariffs")
    source = create_source(
        client, text=TEXT, title="Synthetic wire", published_at="2025-01-01", url="https://example.org/wire"
    )
    return {"source": source}


# --- The seed article -------------------------------------------------------------------------


def test_seed_grid_has_every_party_issue_cell_in_party_major_order(client, seeded):
    body = matrix(client, as_of="2025-08-18")
    assert set(body) == {"as_of", "source", "parties", "issues", "cells"}
    assert body["as_of"] == "2025-08-18" and body["source"] is None
    assert [party["slug"] for party in body["parties"]] == SEED_PARTIES
    assert [issue["slug"] for issue in body["issues"]] == SEED_ISSUES
    assert all(set(party) == {"slug", "name", "kind"} for party in body["parties"])
    assert all(set(issue) == {"slug", "title", "proposition"} for issue in body["issues"])
    russia = next(party for party in body["parties"] if party["slug"] == "russia")
    assert russia == {"slug": "russia", "name": "Russia", "kind": "country"}
    # A frontend can draw the whole grid from this one response.
    assert len(body["cells"]) == len(body["parties"]) * len(body["issues"]) == 45
    assert [(cell["party"], cell["issue"]) for cell in body["cells"]] == [
        (party, issue) for party in SEED_PARTIES for issue in SEED_ISSUES
    ]
    assert all(set(cell) <= CELL_KEYS for cell in body["cells"])
    assert sum(cell["stance"] is not None for cell in body["cells"]) == 17


def test_seed_russia_on_security_guarantees_turns_from_oppose_to_lean_support(client, seeded):
    before = cell_of(matrix(client, as_of="2025-08-14"), "russia", "security-guarantees")
    assert before["stance"] == "oppose"
    assert before["stated_on"] == "2025-08-14"
    assert before["quote"] == "an arrangement previously thought off the table"
    assert before["evidence_count"] == 1 and before["evidence_since"] == "2025-08-14"

    after = cell_of(matrix(client, as_of="2025-08-18"), "russia", "security-guarantees")
    assert after["stance"] == "lean_support"
    # Two statements of 2025-08-15: the later-recorded one is the position.
    assert after["stated_on"] == "2025-08-15"
    assert after["quote"] == "first time we had ever heard the Russians agree to that"
    assert after["speaker"] == "Steve Witkoff"
    assert after["statement"] > before["statement"]
    # The evidence is the two lean_support statements of 2025-08-15; the reversed oppose is not.
    assert after["evidence_count"] == 2 and after["evidence_since"] == "2025-08-15"


def test_seed_united_states_on_sanctions_goes_from_support_to_lean_oppose(client, seeded):
    before = cell_of(matrix(client, as_of="2025-08-14"), "united-states", "sanctions-on-russia")
    after = cell_of(matrix(client, as_of="2025-08-18"), "united-states", "sanctions-on-russia")
    assert before["stance"] == "support" and before["evidence_count"] == 1
    assert after["stance"] == "lean_oppose" and after["stated_on"] == "2025-08-18"
    # lean_oppose on 2025-08-15 and 2025-08-18, after the support of 2025-08-14.
    assert after["evidence_count"] == 2 and after["evidence_since"] == "2025-08-15"


def test_cells_without_a_statement_are_present_and_empty(client, seeded):
    body = matrix(client, as_of="2025-08-18")
    empty = cell_of(body, "alaska-governor", "crimea")
    assert empty["stance"] is None and empty["evidence_count"] == 0
    for field in ("summary", "stated_on", "statement", "quote", "selector", "speaker", "source", "evidence_since"):
        assert empty[field] is None, field
    # Before any statement was made, every cell is empty.
    early = matrix(client, as_of="2025-08-01")
    assert len(early["cells"]) == 45
    assert all(cell["stance"] is None and cell["evidence_count"] == 0 for cell in early["cells"])


def test_every_filled_cell_quotes_its_source_exactly(client, seeded):
    body = matrix(client, as_of="2025-08-18")
    filled = [cell for cell in body["cells"] if cell["stance"] is not None]
    assert filled
    texts: dict[int, str] = {}
    for cell in filled:
        source = cell["source"]
        assert set(source) == {"id", "title", "published_at", "url"}
        if source["id"] not in texts:
            response = client.get(f"/v1/sources/{source['id']}/text")
            assert response.status_code == 200
            texts[source["id"]] = response.text
            meta = client.get(f"/v1/sources/{source['id']}").json()
            assert source["title"] == meta["title"] and source["url"] == meta["url"]
            assert source["published_at"] == meta["published_at"]
            assert source["published_at"].startswith("2025-08-18")
        text = texts[source["id"]]
        selector = cell["selector"]
        assert set(selector) == {"start", "end", "prefix", "suffix"}
        assert text[selector["start"] : selector["end"]] == cell["quote"]
        assert text[: selector["start"]].endswith(selector["prefix"])
        assert text[selector["end"] :].startswith(selector["suffix"])
        statement = client.get(f"/v1/statements/{cell['statement']}").json()
        assert (statement["party"], statement["issue"], statement["stance"]) == (
            cell["party"],
            cell["issue"],
            cell["stance"],
        )
        assert statement["quote"] == cell["quote"] and statement["summary"] == cell["summary"]
        assert cell["evidence_count"] >= 1 and cell["evidence_since"] <= cell["stated_on"]


def test_parties_and_issues_come_back_in_the_order_given_without_duplicates(client, seeded):
    body = matrix(client, as_of="2025-08-18", parties="russia,ukraine,russia", issues=" crimea,cede-donbas,crimea,")
    assert [party["slug"] for party in body["parties"]] == ["russia", "ukraine"]
    assert [issue["slug"] for issue in body["issues"]] == ["crimea", "cede-donbas"]
    assert [(cell["party"], cell["issue"]) for cell in body["cells"]] == [
        ("russia", "crimea"),
        ("russia", "cede-donbas"),
        ("ukraine", "crimea"),
        ("ukraine", "cede-donbas"),
    ]
    assert [cell["stance"] for cell in body["cells"]] == [None, "support", None, "oppose"]


def test_unknown_slug_is_a_422_that_names_it(client, seeded):
    for param, value, unknown in (
        ("parties", "russia,atlantis", "atlantis"),
        ("parties", "Russia", "Russia"),
        ("issues", "crimea,moon-landing", "moon-landing"),
    ):
        problem = assert_problem(client.get("/v1/matrix", params={param: value}), 422, "validation-error")
        assert unknown in problem["detail"], value
        assert problem["errors"][0]["field"] == f"query.{param}", value


def test_malformed_as_of_is_a_422(client, seeded):
    for as_of in ("yesterday", "2025-02-30", "18/08/2025", "2025-8-1x", "0999-12-31", ""):
        problem = assert_problem(client.get("/v1/matrix", params={"as_of": as_of}), 422, "validation-error")
        assert problem["errors"][0]["field"] == "query.as_of", as_of


def test_unknown_or_malformed_source_is_a_422(client, seeded):
    for source in ("999", "0", "abc", "-1", "99999999999"):
        problem = assert_problem(client.get("/v1/matrix", params={"source": source}), 422, "validation-error")
        assert problem["errors"][0]["field"] == "query.source", source


def test_odd_queries_are_problems_not_server_errors(client, seeded):
    for params in (
        {"parties": ","},
        {"issues": " "},
        {"parties": ",".join(f"p{number}" for number in range(501))},
        {"evidence": "some"},
        {"format": "xml"},
        {"format": "csv", "layout": "diagonal"},
        {"parties": "x" * 20_001},
    ):
        assert_problem(client.get("/v1/matrix", params=params), 422)


def test_as_of_defaults_to_today_in_utc(client, seeded):
    before = datetime.now(UTC).date().isoformat()
    body = matrix(client)
    after = datetime.now(UTC).date().isoformat()
    assert body["as_of"] in (before, after)
    # Every seed statement is in the past, so today's positions are those of the latest date.
    assert [cell["stance"] for cell in body["cells"]] == [
        cell["stance"] for cell in matrix(client, as_of="2025-08-18")["cells"]
    ]


# --- Synthetic scenarios -----------------------------------------------------------------------


def test_latest_statement_wins_and_a_same_day_tie_goes_to_the_later_recorded(client, synthetic):
    source_id = synthetic["source"]["id"]
    state(client, source_id, "Alpha said yes.", "support", "2025-03-01")
    older = state(client, source_id, "Gamma hedged.", "neutral", "2025-02-01")  # recorded later, stated earlier
    first_same_day = state(client, source_id, "Delta agreed.", "lean_support", "2025-04-01")
    second_same_day = state(client, source_id, "Epsilon refused.", "oppose", "2025-04-01")

    assert cell_of(matrix(client, as_of="2025-02-15"), "northland", "cede-north")["statement"] == older["id"]
    march = cell_of(matrix(client, as_of="2025-03-31"), "northland", "cede-north")
    assert march["stance"] == "support" and march["quote"] == "Alpha said yes."
    # The support of 2025-03-01 follows a neutral statement: it is its own evidence.
    assert march["evidence_count"] == 1 and march["evidence_since"] == "2025-03-01"
    april = cell_of(matrix(client, as_of="2025-04-01"), "northland", "cede-north")
    assert april["statement"] == second_same_day["id"] != first_same_day["id"]
    assert april["stance"] == "oppose" and april["stated_on"] == "2025-04-01"
    assert april["evidence_count"] == 1 and april["evidence_since"] == "2025-04-01"
    # Nothing before the first statement.
    assert cell_of(matrix(client, as_of="2025-01-31"), "northland", "cede-north")["stance"] is None


def test_a_retraction_counts_from_its_date_on_and_not_before(client, synthetic):
    source_id = synthetic["source"]["id"]
    old = state(client, source_id, "Alpha said yes.", "oppose", "2025-01-10")
    new = state(client, source_id, "Eta insisted.", "support", "2025-02-01")
    retract(client, new["id"], "2025-03-01")

    standing = cell_of(matrix(client, as_of="2025-02-28"), "northland", "cede-north")
    assert standing["statement"] == new["id"] and standing["stance"] == "support"
    assert standing["evidence_count"] == 1 and standing["evidence_since"] == "2025-02-01"

    for as_of in ("2025-03-01", "2025-12-31"):
        fallen_back = cell_of(matrix(client, as_of=as_of), "northland", "cede-north")
        assert fallen_back["statement"] == old["id"] and fallen_back["stance"] == "oppose"
        assert fallen_back["evidence_count"] == 1 and fallen_back["evidence_since"] == "2025-01-10"

    retract(client, old["id"], "2025-06-01")
    emptied = cell_of(matrix(client, as_of="2025-06-01"), "northland", "cede-north")
    assert emptied["stance"] is None and emptied["evidence_count"] == 0 and emptied["statement"] is None
    assert cell_of(matrix(client, as_of="2025-05-31"), "northland", "cede-north")["statement"] == old["id"]


def test_source_filter_keeps_only_positions_stated_in_that_source(client, synthetic):
    first = synthetic["source"]["id"]
    second = create_source(client, text="Omega said: “Never.” Sigma shrugged.", title="Second wire")["id"]
    state(client, first, "Alpha said yes.", "oppose", "2025-02-01")
    state(client, second, "Omega said: “Never.”", "support", "2025-03-01")
    state(client, second, "Sigma shrugged.", "neutral", "2025-03-02", party="southland", issue="tariffs")

    everything = matrix(client, as_of="2025-06-01")
    assert cell_of(everything, "northland", "cede-north")["stance"] == "support"

    only_first = matrix(client, as_of="2025-06-01", source=first)
    assert only_first["source"] == first
    assert len(only_first["cells"]) == 4
    kept = cell_of(only_first, "northland", "cede-north")
    assert kept["stance"] == "oppose" and kept["source"]["id"] == first
    assert cell_of(only_first, "southland", "tariffs")["stance"] is None

    only_second = matrix(client, as_of="2025-06-01", source=second)
    assert only_second["source"] == second
    assert cell_of(only_second, "southland", "tariffs")["stance"] == "neutral"
    assert cell_of(only_second, "northland", "cede-north")["source"]["id"] == second


def test_evidence_all_lists_the_standing_statements_oldest_first(client, synthetic):
    source_id = synthetic["source"]["id"]
    later = state(client, source_id, "Zeta wavered.", "lean_oppose", "2025-03-01")
    earlier = state(client, source_id, "Alpha said yes.", "oppose", "2025-01-10")
    withdrawn = state(client, source_id, "Eta insisted.", "support", "2025-02-01")
    state(client, source_id, "Theta doubted.", "neutral", "2025-09-01")  # after as_of
    retract(client, withdrawn["id"], "2025-02-15")

    body = matrix(client, as_of="2025-06-01", evidence="all")
    cell = cell_of(body, "northland", "cede-north")
    assert [statement["id"] for statement in cell["evidence"]] == [earlier["id"], later["id"]]
    # Both stand and are listed; only the lean_oppose one backs the position.
    assert len(cell["evidence"]) == 2 and cell["evidence_count"] == 1
    assert cell["statement"] == later["id"] == cell["evidence"][-1]["id"]
    newest = cell["evidence"][-1]
    assert newest["quote"] == "Zeta wavered." and newest["stance"] == "lean_oppose"
    assert newest["party"] == "northland" and newest["issue"] == "cede-north"
    assert newest["source"] == source_id and newest["retraction"] is None
    for listed in cell["evidence"]:
        assert listed == client.get(f"/v1/statements/{listed['id']}").json()
    assert cell_of(body, "southland", "tariffs")["evidence"] == []

    # Without evidence=all the list is not included.
    plain = cell_of(matrix(client, as_of="2025-06-01"), "northland", "cede-north")
    assert plain.get("evidence") is None
    assert {key: value for key, value in plain.items() if key != "evidence"} == {
        key: value for key, value in cell.items() if key != "evidence"
    }


# --- CSV -----------------------------------------------------------------------------------------


def parse_csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8"), newline="")))


def test_wide_csv_has_a_row_per_party_and_a_column_per_issue(client, seeded):
    rows = parse_csv(client.get("/v1/matrix", params={"as_of": "2025-08-18", "format": "csv"}))
    assert rows[0] == ["party", *SEED_ISSUES]
    assert [row[0] for row in rows[1:]] == SEED_PARTIES
    body = matrix(client, as_of="2025-08-18")
    for row in rows[1:]:
        assert len(row) == 1 + len(SEED_ISSUES)
        for issue, value in zip(SEED_ISSUES, row[1:], strict=True):
            assert value == (cell_of(body, row[0], issue)["stance"] or "")
    assert rows[3][SEED_ISSUES.index("security-guarantees") + 1] == "lean_support"
    assert rows[5][SEED_ISSUES.index("crimea") + 1] == ""

    by_header = client.get("/v1/matrix", params={"as_of": "2025-08-18"}, headers={"Accept": "text/csv"})
    assert parse_csv(by_header) == rows


def test_wide_csv_follows_the_requested_parties_and_issues(client, seeded):
    rows = parse_csv(
        client.get(
            "/v1/matrix",
            params={
                "as_of": "2025-08-14",
                "format": "csv",
                "parties": "russia,united-states",
                "issues": "security-guarantees,sanctions-on-russia",
            },
        )
    )
    assert rows == [
        ["party", "security-guarantees", "sanctions-on-russia"],
        ["russia", "oppose", ""],
        ["united-states", "", "support"],
    ]


def test_long_csv_has_a_row_per_cell_and_keeps_commas_and_curly_quotes(client, synthetic):
    source = synthetic["source"]
    made = state(
        client,
        source["id"],
        "Beta said no, “firmly”, today.",
        "oppose",
        "2025-02-01",
        summary='Refuses, "flatly"',
        speaker="Beta, the minister",
    )
    rows = parse_csv(client.get("/v1/matrix", params={"as_of": "2025-06-01", "format": "csv", "layout": "long"}))
    assert rows[0] == LONG_HEADER
    assert [(row[0], row[1]) for row in rows[1:]] == [
        ("northland", "cede-north"),
        ("northland", "tariffs"),
        ("southland", "cede-north"),
        ("southland", "tariffs"),
    ]
    filled = dict(zip(LONG_HEADER, rows[1], strict=True))
    assert filled == {
        "party": "northland",
        "issue": "cede-north",
        "stance": "oppose",
        "summary": 'Refuses, "flatly"',
        "stated_on": "2025-02-01",
        "statement": str(made["id"]),
        "quote": "Beta said no, “firmly”, today.",
        "speaker": "Beta, the minister",
        "quote_start": str(made["selector"]["start"]),
        "quote_end": str(made["selector"]["end"]),
        "source": str(source["id"]),
        "source_title": "Synthetic wire",
        "source_url": "https://example.org/wire",
        "flag": "",
        "evidence_count": "1",
    }
    assert TEXT[int(filled["quote_start"]) : int(filled["quote_end"])] == filled["quote"]
    empty = dict(zip(LONG_HEADER, rows[2], strict=True))
    assert empty["stance"] == "" and empty["quote"] == "" and empty["evidence_count"] == "0"

    by_header = client.get(
        "/v1/matrix", params={"as_of": "2025-06-01", "layout": "long"}, headers={"Accept": "text/csv"}
    )
    assert parse_csv(by_header) == rows


def test_format_json_wins_over_an_accept_csv_header(client, seeded):
    response = client.get(
        "/v1/matrix", params={"as_of": "2025-08-18", "format": "json"}, headers={"Accept": "text/csv"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert len(response.json()["cells"]) == 45


# --- Evidence counts over time ------------------------------------------------------------------


def test_evidence_count_follows_statements_across_months_corrections_and_retractions(client, synthetic):
    source_id = synthetic["source"]["id"]
    a = state(client, source_id, "Alpha said yes.", "oppose", "2025-01-10")
    b = state(client, source_id, "Gamma hedged.", "neutral", "2025-02-05")
    c = state(client, source_id, "Delta agreed.", "support", "2025-02-20")
    d = state(client, source_id, "Zeta wavered.", "lean_oppose", "2025-03-03")
    e = state(client, source_id, "Eta insisted.", "support", "2025-06-05")
    retract(client, b["id"], "2025-03-10")
    retract(client, e["id"], "2025-06-20")
    moved = client.patch(f"/v1/statements/{c['id']}", json={"stated_on": "2025-04-02", "note": "wrong date"})
    assert moved.status_code == 200, moved.text
    c = moved.json()
    retract(client, a["id"], "2025-05-01")

    # Per date: the standing statements, and those of them that are the evidence (the run that
    # shares the newest one's stance). Stances: a oppose, b neutral, c support, d lean_oppose, e support.
    expected = {
        "2025-01-09": ([], []),
        "2025-01-31": ([a], [a]),
        "2025-02-10": ([a, b], [b]),
        "2025-02-28": ([a, b], [b]),  # c now counts from April
        "2025-03-05": ([a, b, d], [d]),
        "2025-03-10": ([a, d], [d]),  # lean_oppose after oppose is another stance
        "2025-04-01": ([a, d], [d]),
        "2025-04-02": ([a, d, c], [c]),
        "2025-04-30": ([a, d, c], [c]),
        "2025-05-01": ([d, c], [c]),
        "2025-06-10": ([d, c, e], [c, e]),
        "2025-06-20": ([d, c], [c]),
        "2026-01-01": ([d, c], [c]),
    }
    for as_of, (standing, evidence) in expected.items():
        cell = cell_of(matrix(client, as_of=as_of, evidence="all"), "northland", "cede-north")
        assert [statement["id"] for statement in cell["evidence"]] == [s["id"] for s in standing], as_of
        assert cell["statement"] == (standing[-1]["id"] if standing else None), as_of
        assert cell["evidence_count"] == len(evidence), as_of
        assert cell["evidence_since"] == (evidence[0]["stated_on"] if evidence else None), as_of
        if standing and standing[-1] is c:
            assert cell["stated_on"] == "2025-04-02"


def test_seed_evidence_is_the_run_of_the_position_s_stance_among_the_listed_statements(client, seeded):
    for as_of in ("2025-08-14", "2025-08-15", "2025-08-17", "2025-08-18"):
        body = matrix(client, as_of=as_of, evidence="all")
        for cell in body["cells"]:
            where = (as_of, cell["party"], cell["issue"])
            listed, count = cell["evidence"], cell["evidence_count"]
            if not listed:
                assert count == 0 and cell["evidence_since"] is None, where
                continue
            assert listed[-1]["id"] == cell["statement"], where
            assert all(s["stated_on"] <= as_of for s in listed), where
            assert 1 <= count <= len(listed), where
            assert {s["stance"] for s in listed[-count:]} == {cell["stance"]}, where
            assert count == len(listed) or listed[-count - 1]["stance"] != cell["stance"], where
            assert cell["evidence_since"] == listed[-count]["stated_on"], where


def test_evidence_counts_the_statements_since_the_cell_last_took_its_stance(client, synthetic):
    source_id = synthetic["source"]["id"]
    days = ["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04", "2025-01-05"]
    for quote, stance, day in zip(
        ["Alpha said yes.", "Gamma hedged.", "Delta agreed.", "Epsilon refused.", "Zeta wavered."],
        ["support", "support", "oppose", "oppose", "oppose"],
        days,
        strict=True,
    ):
        state(client, source_id, quote, stance, day)
    # support, oppose, support on the other cell: the last support follows an oppose.
    for quote, stance, day in zip(
        ["Alpha said yes.", "Gamma hedged.", "Delta agreed."], ["support", "oppose", "support"], days[:3], strict=True
    ):
        state(client, source_id, quote, stance, day, party="southland", issue="tariffs")

    def evidence(as_of: str, party: str, issue: str) -> tuple[str, int, str]:
        cell = cell_of(matrix(client, as_of=as_of), party, issue)
        return cell["stance"], cell["evidence_count"], cell["evidence_since"]

    assert evidence("2025-01-02", "northland", "cede-north") == ("support", 2, "2025-01-01")
    assert evidence("2025-01-03", "northland", "cede-north") == ("oppose", 1, "2025-01-03")
    assert evidence("2025-01-05", "northland", "cede-north") == ("oppose", 3, "2025-01-03")
    assert evidence("2025-01-03", "southland", "tariffs") == ("support", 1, "2025-01-03")

    csv_rows = list(
        csv.reader(
            io.StringIO(
                client.get("/v1/matrix", params={"as_of": "2025-01-05", "format": "csv", "layout": "long"}).text
            )
        )
    )
    assert [row[-1] for row in csv_rows[1:3]] == ["3", "0"]  # northland × cede-north, northland × tariffs


def test_retracting_the_newest_statement_brings_back_the_run_before_it(client, synthetic):
    source_id = synthetic["source"]["id"]
    state(client, source_id, "Alpha said yes.", "support", "2025-01-01")
    state(client, source_id, "Gamma hedged.", "support", "2025-01-02")
    reversal = state(client, source_id, "Delta agreed.", "oppose", "2025-01-03")
    later = state(client, source_id, "Epsilon refused.", "support", "2025-01-04")
    before = cell_of(matrix(client, as_of="2025-02-01"), "northland", "cede-north")
    assert (before["statement"], before["evidence_count"], before["evidence_since"]) == (later["id"], 1, "2025-01-04")

    # Without the reversal, the later support joins the run of the two before it.
    retract(client, reversal["id"], "2025-01-10")
    joined = cell_of(matrix(client, as_of="2025-02-01"), "northland", "cede-north")
    assert (joined["statement"], joined["evidence_count"], joined["evidence_since"]) == (later["id"], 3, "2025-01-01")
    # Before the retraction took effect, the reversal still divides them.
    assert cell_of(matrix(client, as_of="2025-01-09"), "northland", "cede-north")["evidence_count"] == 1

    # Retracting the newest brings back the position before it, with its own run.
    retract(client, later["id"], "2025-01-20")
    fallen_back = cell_of(matrix(client, as_of="2025-02-01"), "northland", "cede-north")
    assert (fallen_back["stance"], fallen_back["evidence_count"], fallen_back["evidence_since"]) == (
        "support",
        2,
        "2025-01-01",
    )
    diff = client.get("/v1/diff", params={"from": "2025-01-05", "to": "2025-02-01"}).json()
    (change,) = diff["changes"]
    assert change["change"] == "unchanged"
    assert (change["before"]["evidence_count"], change["after"]["evidence_count"]) == (1, 2)


def test_a_matrix_of_one_source_counts_the_run_within_that_source(client, synthetic):
    first = synthetic["source"]["id"]
    second = create_source(client, text="Omega said: “Never.” Sigma shrugged.", title="Second wire")["id"]
    state(client, first, "Alpha said yes.", "support", "2025-01-01")
    state(client, second, "Sigma shrugged.", "oppose", "2025-01-02")
    state(client, first, "Gamma hedged.", "support", "2025-01-03")

    everything = cell_of(matrix(client, as_of="2025-02-01"), "northland", "cede-north")
    assert (everything["evidence_count"], everything["evidence_since"]) == (1, "2025-01-03")
    only_first = cell_of(matrix(client, as_of="2025-02-01", source=first), "northland", "cede-north")
    assert (only_first["evidence_count"], only_first["evidence_since"]) == (2, "2025-01-01")
    only_second = cell_of(matrix(client, as_of="2025-02-01", source=second), "northland", "cede-north")
    assert (only_second["stance"], only_second["evidence_count"], only_second["evidence_since"]) == (
        "oppose",
        1,
        "2025-01-02",
    )
