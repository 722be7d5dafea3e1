"""Search: statements, parties and issues found by their words, in English and German, ranked,
filtered and paginated, with snippets and quote offsets; the index follows every write in the
write's own request, is rebuilt when missing, and no query string is a server error. Every test
runs on both engines, with the same expected results."""

import itertools
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from app.config import Settings
from app.db import dispose_engines
from app.main import create_app
from app.models import examples
from app.services import backup, schema, search_index
from app.services import search as search_service
from app.services.search_terms import Word, parse_query, words
from tests.helpers import assert_problem, create_issue, create_party, create_source
from tests.test_query_counts import QueryCounter

# Four parties' justifications of their answer to the Wahl-O-Mat thesis "Generelles Tempolimit auf
# Autobahnen!" (Bundestag election 2017; bpb, via gockelhahn/qual-o-mat-data, comment.json ids 84,
# 160, 198 and 388), verbatim without the converter's enclosing quotation marks.
TEMPOLIMIT_TEXT = (
    "Tempolimits schützen Menschen und Klima. Deshalb wollen wir 120 km/h auf Autobahnen und eine "
    "Regelgeschwindigkeit von 30 km/h in Ortschaften. Tatsächlich liegt die Fahrgeschwindigkeit selten "
    "darüber. Der Verkehr wird flüssiger. Tempolimits führen zu weniger schweren Unfällen, weniger "
    "Verkehrstoten und geringerem Ausstoß von Schadstoffen. Das ist für alle gut.\n\n"
    "Ein generelles Tempolimit auf Autobahnen sowie die weitere Absenkung allgemeiner "
    "Höchstgeschwindigkeiten (wie beispielsweise innerorts flächendeckend auf 30 km/h) lehnen wir Freie "
    "Demokraten ab. Wir halten es für zielführender, den Ausbau intelligenter "
    "Verkehrsbeeinflussungsanlagen vorantreiben.\n\n"
    "Es gibt bereits genug Tempolimits auf Autobahnen. Keine weitere Bevormundung der Bürger.\n\n"
    "Die ÖDP fordert Tempolimits auf allen Straßen, so 120 km/h auf den Autobahnen. Dies führt zu einem "
    "besseren Verkehrsfluss, zur Energieeinsparung, zu einem geringeren CO2-Ausstoss, zu niedrigeren "
    "Unfallzahlen und zu entspannterem Fahren."
)
TEMPOLIMIT_QUOTES = {
    "linke": ("support", "Tempolimits schützen Menschen und Klima."),
    "fdp": ("oppose", "Ein generelles Tempolimit auf Autobahnen sowie die weitere Absenkung allgemeiner "
            "Höchstgeschwindigkeiten (wie beispielsweise innerorts flächendeckend auf 30 km/h) lehnen wir Freie "
            "Demokraten ab."),
    "afd": ("oppose", "Es gibt bereits genug Tempolimits auf Autobahnen."),
    "oedp": ("support", "Die ÖDP fordert Tempolimits auf allen Straßen, so 120 km/h auf den Autobahnen. Dies führt "
             "zu einem besseren Verkehrsfluss, zur Energieeinsparung, zu einem geringeren CO2-Ausstoss, zu niedrigeren "
             "Unfallzahlen und zu entspannterem Fahren."),
}  # fmt: skip
GERMAN_PARTIES = {
    "linke": ("DIE LINKE", []),
    "fdp": ("Freie Demokratische Partei", ["FDP", "Freie Demokraten"]),
    "afd": ("Alternative für Deutschland", ["AfD"]),
    "oedp": ("Ökologisch-Demokratische Partei", ["ÖDP"]),
}
# Hostile or malformed queries: FTS5 and tsquery syntax, unbalanced quotes, SQL, control characters.
HOSTILE = [
    "*", '"', '""', '"""', "'", "''", "\\", "-", ":", "^", "(", ")", "{", "}", "[", "]", "+", "%", "_", "&", "|",
    "!", "<->", "~", "@@", "NEAR", "NEAR(guarantees security, 2)", "AND", "OR", "NOT", "guarantees AND",
    "OR guarantees", "guarantees NOT security", "-guarantees", "guarantees*", "*guarantees", "guarante*",
    "quote:guarantees", "en:guarantees", "{en de}: guarantees", "de : security", "rowid:1", "^security",
    '"security guarantees', 'security guarantees"', '"security" "guarantees', '"a" "', "security:guarantees",
    "security-guarantees", "'security' & 'guarantees'", "security <-> guarantees", "security | guarantees",
    "!security", "security:*", "'; DROP TABLE statement; --", "\" OR 1=1 --", "guarantees\ttab", "\u200b",
    "😀 security", "ﬁnance", "İstanbul", "ǅ", "a" * 499, "x " * 240, "\u0301", "e\u0301",
]  # fmt: skip


def search(client: TestClient, q: str, **params: Any) -> dict[str, Any]:
    response = client.get("/v1/search", params={"q": q, **params})
    assert response.status_code == 200, response.text
    return response.json()


def found(client: TestClient, q: str, **params: Any) -> set[tuple[str, str]]:
    """(kind, identifier) of every result: a statement by its quote, a party or an issue by its slug."""
    results = search(client, q, limit=200, **params)["items"]
    return {(item["kind"], _identify(item)) for item in results}


def shares_a_stem(word: Word, stems: set[str]) -> bool:
    return bool({word.stems.english, word.stems.german} & stems)


def _identify(item: dict[str, Any]) -> str:
    if item["kind"] == "statement":
        return item["statement"]["quote"]
    return item[item["kind"]]["slug"]


@pytest.fixture
def tempolimit(client: TestClient) -> dict[str, int]:
    """The Wahl-O-Mat's speed-limit thesis: four parties, their justifications, one statement each."""
    for slug, (name, aliases) in GERMAN_PARTIES.items():
        create_party(client, slug, name=name, kind="political_party", aliases=aliases)
    create_issue(client, "tempolimit", title="Tempolimit", proposition="Generelles Tempolimit auf Autobahnen!")
    source = create_source(
        client, TEMPOLIMIT_TEXT, title="Wahl-O-Mat Bundestagswahl 2017: Tempolimit", language="de",
        published_at="2017-08-30",
    )  # fmt: skip
    ids = {}
    for slug, (stance, quote) in TEMPOLIMIT_QUOTES.items():
        body = {"party": slug, "issue": "tempolimit", "source": source["id"], "quote": quote, "stance": stance}
        response = client.post("/v1/statements", json=body)
        assert response.status_code == 201, response.text
        ids[slug] = response.json()["id"]
    return ids


def test_an_inflected_english_word_finds_its_other_forms(client, seeded):
    by_plural = found(client, "guarantees")
    assert ("issue", "security-guarantees") in by_plural
    assert ("statement", "That is why reliable security guarantees are required.") in by_plural
    assert ("statement", "I am confident that we will defend Ukraine, effectively guarantee security") in by_plural
    assert found(client, "guarantee") == found(client, "guaranteed") == by_plural
    assert (
        "statement",
        "the Russian camp reportedly demanded that Ukraine cede the entirety of the Donbas region",
    ) in (found(client, "demands"))


def test_an_inflected_german_word_finds_its_other_forms(client, tempolimit):
    everything = {("issue", "tempolimit")} | {("statement", quote) for _, quote in TEMPOLIMIT_QUOTES.values()}
    assert found(client, "Tempolimits") == found(client, "Tempolimit") == found(client, "tempolimiten") == everything
    on_motorways = {("issue", "tempolimit")} | {
        ("statement", TEMPOLIMIT_QUOTES[slug][1]) for slug in ("fdp", "afd", "oedp")
    }
    assert found(client, "Autobahn") == found(client, "Autobahnen") == on_motorways
    assert found(client, "Demokrat") == {
        ("party", "oedp"),
        ("party", "fdp"),
        ("statement", TEMPOLIMIT_QUOTES["fdp"][1]),
    }


def test_accents_and_case_do_not_matter(client, tempolimit):
    oedp = {("party", "oedp"), ("statement", TEMPOLIMIT_QUOTES["oedp"][1])}
    assert found(client, "ÖDP") == found(client, "odp") == found(client, "o\u0308dp") == found(client, "ödp") == oedp
    assert found(client, "STRASSEN") == found(client, "straßen") == {("statement", TEMPOLIMIT_QUOTES["oedp"][1])}
    # The quote has "CO2-Ausstoss"; the same word is spelt with ß elsewhere in the source.
    assert found(client, "Ausstoß") == found(client, "AUSSTOSS") == {("statement", TEMPOLIMIT_QUOTES["oedp"][1])}
    assert found(client, "Hochstgeschwindigkeit") == {("statement", TEMPOLIMIT_QUOTES["fdp"][1])}


def test_a_quoted_phrase_matches_as_a_phrase(client, seeded, tempolimit):
    reliable = ("statement", "That is why reliable security guarantees are required.")
    reversed_order = ("statement", "I am confident that we will defend Ukraine, effectively guarantee security")
    phrase = found(client, '"security guarantees"')
    assert reliable in phrase and ("issue", "security-guarantees") in phrase and reversed_order not in phrase
    assert reversed_order in found(client, "security guarantees")
    assert found(client, "“guarantee security”") == {reversed_order}  # typographic quotation marks too
    assert found(client, '"generelles Tempolimit"') == {
        ("issue", "tempolimit"),
        ("statement", TEMPOLIMIT_QUOTES["fdp"][1]),
    }
    assert found(client, '"Tempolimit generelles"') == set()
    # A phrase does not run from one field into the next: the name's last word and an alias's first.
    assert found(client, '"Partei FDP"') == set() and ("party", "fdp") in found(client, "Partei FDP")


def test_parties_and_issues_come_first_then_statements_each_ranked(client, seeded):
    body = search(client, "Russia Ukraine", limit=200)
    kinds = [item["kind"] for item in body["items"]]
    first_statement = kinds.index("statement")
    assert first_statement > 0 and set(kinds[:first_statement]) <= {"party", "issue"}
    assert set(kinds[first_statement:]) == {"statement"}
    entities = [item["score"] for item in body["items"] if item["kind"] != "statement"]
    statements = [item["score"] for item in body["items"] if item["kind"] == "statement"]
    assert entities == sorted(entities, reverse=True) and statements == sorted(statements, reverse=True)


def test_a_document_holding_the_words_more_often_ranks_higher(client):
    create_party(client)
    create_issue(client)
    text_of_source = "Talks went on. The north, the north and again the north: nothing else. The north is ours."
    source = create_source(client, text_of_source)
    for quote in ("Talks went on.", "The north is ours.", "The north, the north and again the north: nothing else."):
        body = {"party": "northland", "issue": "cede-north", "source": source["id"], "quote": quote, "stance": "oppose"}
        assert client.post("/v1/statements", json=body).status_code == 201
    expected = ["The north, the north and again the north: nothing else.", "The north is ours."]
    for filters in ({"kind": "statement"}, {"party": "northland"}, {"stance": "oppose", "issue": "cede-north"}):
        ranked = search(client, "north", **filters)["items"]
        assert [item["statement"]["quote"] for item in ranked] == expected, filters
        assert ranked[0]["score"] > ranked[1]["score"] > 0


def test_results_carry_their_object(client, seeded):
    body = search(client, "security guarantees")
    (issue,) = [item for item in body["items"] if item["kind"] == "issue"]
    assert issue["issue"] == client.get("/v1/issues/security-guarantees").json()
    assert issue["statement"] is None and issue["party"] is None and issue["quote_matches"] == []
    for item in body["items"]:
        if item["kind"] == "statement":
            assert item["statement"] == client.get(f"/v1/statements/{item['statement']['id']}").json()
    (party,) = search(client, "Zelenskyy", kind="party")["items"]
    assert party["party"] == client.get("/v1/parties/ukraine").json()
    assert party["snippet"]["field"] == "aliases"
    assert party["snippet"]["text"][party["snippet"]["highlights"][0]["start"] :].startswith("Zelenskyy")


def test_statements_are_ranked_a_window_of_the_newest_at_a_time(client, seeded, monkeypatch):
    monkeypatch.setattr(search_service, "WINDOW", 4)
    whole = search(client, "Russia", kind="statement", limit=200)["items"]
    ids = [item["statement"]["id"] for item in whole]
    assert sorted(ids, reverse=True)[:4] == sorted(ids[:4], reverse=True)  # the 4 newest, ranked
    windows = [whole[start : start + 4] for start in range(0, len(whole), 4)]
    for newer, older in itertools.pairwise(windows):
        assert min(item["statement"]["id"] for item in newer) > max(item["statement"]["id"] for item in older)
    for window in windows:
        scores = [item["score"] for item in window]
        assert scores == sorted(scores, reverse=True)
    for limit in (1, 3, 5):
        assert [item["statement"]["id"] for item in pages(client, "Russia", limit, kind="statement")] == ids


def test_snippets_and_quote_offsets_point_at_the_matched_words(client, seeded, tempolimit):
    for query in ("guarantees", "Russia demanded", '"security guarantees"', "Tempolimits Autobahn", "Putin war"):
        clauses = parse_query(query)
        stems = {stem for clause in clauses for word in clause.words for stem in (word.english, word.german)}
        for item in search(client, query, limit=200)["items"]:
            snippet = item["snippet"]
            assert snippet["highlights"], (query, item)
            for span in snippet["highlights"]:
                highlighted = snippet["text"][span["start"] : span["end"]]
                assert all(shares_a_stem(word, stems) for word in words(highlighted)), (query, highlighted)
            if item["kind"] != "statement":
                continue
            quote = item["statement"]["quote"]
            if snippet["field"] == "quote":
                assert item["quote_matches"], (query, item)
            for span in item["quote_matches"]:
                matched = quote[span["start"] : span["end"]]
                assert matched == matched.strip() and matched, (query, quote, span)
                assert all(shares_a_stem(word, stems) for word in words(matched)), (query, matched)
    (fdp,) = search(client, "Höchstgeschwindigkeiten Freie")["items"]
    quote = fdp["statement"]["quote"]
    assert [quote[span["start"] : span["end"]] for span in fdp["quote_matches"]] == ["Höchstgeschwindigkeiten", "Freie"]
    (phrase,) = search(client, '"generelles Tempolimit auf Autobahnen"', kind="statement")["items"]
    assert [phrase["statement"]["quote"][m["start"] : m["end"]] for m in phrase["quote_matches"]] == [
        "generelles Tempolimit auf Autobahnen"
    ]


def test_a_long_field_is_cut_around_its_first_match(client, tempolimit):
    (item,) = search(client, "Energieeinsparung")["items"]
    snippet = item["snippet"]
    assert snippet["field"] == "quote" and snippet["text"].startswith("…") and len(snippet["text"]) <= 202
    (span,) = snippet["highlights"]
    assert snippet["text"][span["start"] : span["end"]] == "Energieeinsparung"
    assert snippet["text"][1:-1] in item["statement"]["quote"]


def test_filters_narrow_the_results_to_statements(client, seeded, tempolimit):
    everything = found(client, "Tempolimits")
    assert ("issue", "tempolimit") in everything
    assert found(client, "Tempolimits", party="afd") == {("statement", TEMPOLIMIT_QUOTES["afd"][1])}
    assert found(client, "Tempolimits", stance="support") == {
        ("statement", TEMPOLIMIT_QUOTES["linke"][1]), ("statement", TEMPOLIMIT_QUOTES["oedp"][1])
    }  # fmt: skip
    assert found(client, "Tempolimits", issue="tempolimit") == everything - {("issue", "tempolimit")}
    assert found(client, "Tempolimits", issue="crimea") == set()
    assert found(client, "Tempolimits", stated_from="2017-08-30", stated_to="2017-08-30") == found(
        client, "Tempolimits", kind="statement"
    )
    assert found(client, "Tempolimits", stated_to="2017-08-29") == set()
    assert found(client, "Tempolimits", stated_from="2017-08-31") == set()
    assert found(client, "Tempolimits", kind="issue") == {("issue", "tempolimit")}
    assert found(client, "Demokraten", kind="party") == {("party", "fdp"), ("party", "oedp")}
    assert found(client, "Demokraten", party="fdp", stance="oppose", issue="tempolimit") == {
        ("statement", TEMPOLIMIT_QUOTES["fdp"][1])
    }


def test_unknown_or_contradictory_filters_are_refused(client, seeded):
    problem = assert_problem(client.get("/v1/search", params={"q": "Putin", "party": "atlantis"}), 422)
    assert problem["errors"][0]["field"] == "query.party"
    problem = assert_problem(client.get("/v1/search", params={"q": "Putin", "issue": "unknown-issue"}), 422)
    assert problem["errors"][0]["field"] == "query.issue"
    problem = assert_problem(client.get("/v1/search", params={"q": "Putin", "party": "russia", "kind": "issue"}), 422)
    assert problem["errors"][0]["field"] == "query.kind"
    assert_problem(client.get("/v1/search", params={"q": "Putin", "stance": "maybe"}), 422)
    assert_problem(client.get("/v1/search", params={"q": "Putin", "stated_from": "18.08.2025"}), 422)
    assert_problem(client.get("/v1/search"), 422)


def pages(client: TestClient, query: str, limit: int, **params: Any) -> list[dict[str, Any]]:
    """Every result, a page at a time, following the cursors."""
    paged: list[dict[str, Any]] = []
    cursor = None
    while True:
        response = client.get(
            "/v1/search", params={"q": query, "limit": limit, **params, **({"cursor": cursor} if cursor else {})}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        paged.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            assert "Link" not in response.headers
            return paged
        assert len(body["items"]) == limit and f"cursor={cursor}" in response.headers["Link"]


def test_pages_follow_the_ranking_to_the_end(client, seeded):
    whole = search(client, "Russia", limit=200)
    assert whole["next_cursor"] is None and len(whole["items"]) > 5
    for limit in (1, 2, 7):
        assert [_identify(item) for item in pages(client, "Russia", limit)] == [
            _identify(item) for item in whole["items"]
        ]
    assert_problem(client.get("/v1/search", params={"q": "Russia", "cursor": "bm90LWEtY3Vyc29y"}), 400)
    assert_problem(client.get("/v1/search", params={"q": "Russia", "cursor": "eyJhZnRlciI6MX0"}), 400)


def test_the_index_follows_every_write_in_the_same_request(client):
    create_party(client, "northland", name="Northland", aliases=["the Northerners"])
    create_issue(client, "cede-north", title="Ceding the north", proposition="Northland cedes the fjords")
    source = create_source(client, "Officials said the fjords were negotiable. The minister promised a referendum.")
    body = {"party": "northland", "issue": "cede-north", "source": source["id"], "stance": "lean_support",
            "quote": "Officials said the fjords were negotiable.", "summary": "Open to talks"}  # fmt: skip
    created = client.post("/v1/statements", json=body).json()
    statement = ("statement", "Officials said the fjords were negotiable.")
    assert found(client, "negotiable fjord") == {statement}
    assert found(client, "talk") == {statement}

    corrected = client.patch(f"/v1/statements/{created['id']}", json={"quote": "The minister promised a referendum."})
    assert corrected.status_code == 200, corrected.text
    assert found(client, "negotiable") == set()
    assert found(client, "referendums") == {("statement", "The minister promised a referendum.")}
    client.patch(f"/v1/statements/{created['id']}", json={"summary": "Offers a vote", "speaker": "Anna Berg"})
    assert found(client, "talks") == set() and found(client, "votes Berg") == {
        ("statement", "The minister promised a referendum.")
    }

    retracted = client.post(f"/v1/statements/{created['id']}/retract", json={"reason": "Misattributed."})
    assert retracted.status_code == 200, retracted.text
    assert found(client, "referendum") == set()
    (item,) = search(client, "referendum", include_retracted="true")["items"]
    assert item["statement"]["retraction"]["reason"] == "Misattributed."

    assert found(client, "Northerners") == {("party", "northland")}
    renamed = client.patch("/v1/parties/northland", json={"name": "Nordland", "aliases": [], "slug": "nordland"})
    assert renamed.status_code == 200, renamed.text
    assert found(client, "Northerners") == set() and found(client, "Nordland") == {("party", "nordland")}
    client.patch("/v1/issues/cede-north", json={"proposition": "Nordland cedes the glaciers"})
    assert found(client, "fjords", kind="issue") == set() and found(client, "glacier") == {("issue", "cede-north")}
    other = create_party(client, "southland", name="Southland")["slug"]
    assert client.delete(f"/v1/parties/{other}").status_code == 204
    assert found(client, "Southland") == set()


def test_a_refused_write_leaves_the_index_as_it_was(client, seeded):
    before = search(client, "Donbas", limit=200)
    response = client.post("/v1/parties", json={"slug": "russia", "name": "Donbas Republic", "kind": "country"})
    assert_problem(response, 409)
    assert search(client, "Donbas", limit=200) == before


def test_no_query_string_is_a_server_error(client, seeded):
    for query in HOSTILE:
        response = client.get("/v1/search", params={"q": query})
        if response.status_code == 422:
            assert_problem(response, 422)
        else:
            assert response.status_code == 200, (query, response.text)
            assert isinstance(response.json()["items"], list)


def test_queries_without_words_or_too_long_are_invalid(client, seeded):
    for query in ("", " ", "*", '"', "-:()", "\u200b"):
        problem = assert_problem(client.get("/v1/search", params={"q": query}), 422)
        assert problem["errors"][0]["field"] == "query.q"
    assert_problem(client.get("/v1/search", params={"q": "a" * 501}), 422)
    assert_problem(client.get("/v1/search", params={"q": "a\x00b"}), 422)
    assert_problem(client.get("/v1/search", params={"q": " ".join(f"w{n}" for n in range(33))}), 422)
    # Syntax of either engine is just a separator: these find what their words find.
    assert found(client, "NEAR(guarantees* -security)") == found(client, "near guarantees security")
    assert found(client, "Zelenskyy:*") == found(client, "Zelenskyy")
    assert found(client, '"security guarantees') == found(client, "security guarantees")


def test_migrate_rebuilds_a_missing_index(client, seeded, app):
    expected = search(client, "guarantees", limit=200)
    with app.state.write_engine.begin() as connection:
        connection.execute(text("DELETE FROM search_index"))
    assert search(client, "guarantees")["items"] == []
    schema.upgrade(app.state.settings.database_url)
    assert search(client, "guarantees", limit=200) == expected
    # A change of format rebuilds it too.
    with app.state.write_engine.begin() as connection:
        connection.execute(text("UPDATE projection SET format = 0 WHERE name = 'search_index'"))
    assert search_index.ensure_current(app.state.write_engine)
    assert not search_index.ensure_current(app.state.write_engine)
    assert search(client, "guarantees", limit=200) == expected


def test_an_imported_dump_is_searchable(client, seeded, app, make_database, tmp_path):
    expected = search(client, "security guarantees", limit=200)
    assert expected["items"]
    dump = tmp_path / "dump.jsonl"
    with dump.open("wb") as file:
        backup.export_dump(app.state.engine, file)
    url = make_database(app.state.engine.dialect.name)
    schema.upgrade(url)
    engine = create_engine(url)
    try:
        with dump.open("rb") as file:
            backup.import_dump(engine, file)
    finally:
        engine.dispose()
    imported = create_app(Settings(database_url=url))
    try:
        with TestClient(imported) as imported_client:
            assert search(imported_client, "security guarantees", limit=200) == expected
    finally:
        dispose_engines(imported.state)


def test_the_documented_example_is_what_the_api_returns(client, seeded):
    body = search(client, "Witkoff conceded")
    (item,) = body["items"]
    assert item["score"] > 0
    example = examples.SEARCH_PAGE
    recorded = {name: example["items"][0]["statement"][name] for name in ("recorded_at", "created_at")}
    expected_item = {**item, "score": example["items"][0]["score"], "statement": {**item["statement"], **recorded}}
    assert {**body, "items": [expected_item]} == example


def test_a_search_costs_the_same_queries_whatever_the_page_size(client, seeded, app):
    counter = QueryCounter(app.state.engine)
    with counter:
        search(client, "Russia Ukraine", limit=2, party="russia")
    few = counter.count
    with counter:
        body = search(client, "Russia Ukraine", limit=50, party="russia")
    assert len(body["items"]) > 2 and counter.count == few
    with counter:
        body = search(client, "Ukraine", limit=50)
    assert {item["kind"] for item in body["items"]} == {"statement", "party", "issue"} and counter.count <= few


def test_a_bulk_import_is_searchable_once_it_answers_and_a_refused_one_leaves_nothing(client):
    lines = [
        {"type": "party", "slug": "northland", "name": "Northland", "kind": "country", "aliases": ["the Northerners"]},
        {"type": "issue", "slug": "cede-fjords", "title": "Ceding the fjords", "proposition": "Northland cedes them"},
        {"type": "source", "ref": "minister", "title": "On the fjords", "published_at": "2025-08-18",
         "text": "The minister said the fjords were never negotiable. Talks went on."},
        {"type": "statement", "party": "northland", "issue": "cede-fjords", "source_ref": "minister",
         "stance": "oppose", "quote": "the fjords were never negotiable", "summary": "Refuses"},
    ]  # fmt: skip
    refused = [*lines, {**lines[3], "quote": "a quote that is not in the source"}]
    body = "".join(json.dumps(line) + "\n" for line in refused).encode()
    assert client.post("/v1/imports", content=body, headers={"content-type": "application/x-ndjson"}).status_code == 422
    assert found(client, "fjords") == set() and found(client, "Northerners") == set()

    body = "".join(json.dumps(line) + "\n" for line in lines).encode()
    response = client.post("/v1/imports", content=body, headers={"content-type": "application/x-ndjson"})
    assert response.status_code == 200, response.text
    assert found(client, "fjord negotiable") == {("statement", "the fjords were never negotiable")}
    assert found(client, "fjords", kind="issue") == {("issue", "cede-fjords")}
    assert found(client, "Northerners") == {("party", "northland")}
    assert found(client, "refuses", party="northland", stance="oppose") == {
        ("statement", "the fjords were never negotiable")
    }


def test_the_speaker_filter_reads_the_speaker_as_recorded(client, seeded):
    by_zelensky = {
        ("statement", "That is why reliable security guarantees are required."),
        ("statement", "I am confident that we will defend Ukraine, effectively guarantee security"),
    }
    assert found(client, "guarantees", speaker="Volodymyr Zelensky") == by_zelensky
    assert found(client, "guarantees", speaker="volodymyr zelensky") == set()
    assert by_zelensky < found(client, "guarantees")
