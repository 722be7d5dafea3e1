"""Slugs made from names when none is given, and former slugs that keep answering after a rename:
their address redirects (308) to the current one, and as a value they still name the same party
or issue, which alone may take them back."""

from typing import Any

import pytest
from sqlmodel import Session

from app.models.party import Party, PartyKind
from app.services import integrity
from app.services.slugs import slug_from_name, slug_text
from tests.helpers import assert_problem, create_party, statement_body, world


def new_party(client, name: str, **fields: Any) -> dict[str, Any]:
    response = client.post("/v1/parties", json={"name": name, "kind": "political_party", **fields})
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/v1/parties/{response.json()['slug']}"
    return response.json()


def rename(client, path: str, slug: str) -> dict[str, Any]:
    response = client.patch(path, json={"slug": slug})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Bündnis 90/Die Grünen", "buendnis-90-die-gruenen"),
        ("ÖDP – Ökologisch-Demokratische Partei", "oedp-oekologisch-demokratische-partei"),
        ("Straße der Ärzte", "strasse-der-aerzte"),
        ("Parti socialiste (PS) – Élysée", "parti-socialiste-ps-elysee"),
        ("Łódź Ñandú Øresund", "lodz-nandu-oresund"),
        ("Россия", "rossiya"),
        ("ΣΥΡΙΖΑ", "syriza"),
        ("V-Partei³", "v-partei3"),
    ],
)
def test_a_party_created_without_a_slug_gets_one_from_its_name(client, name, slug):
    party = new_party(client, name)
    assert party["slug"] == slug and party["name"] == name
    assert client.get(f"/v1/parties/{slug}").json()["name"] == name


def test_an_issue_gets_its_slug_from_its_title(client):
    response = client.post("/v1/issues", json={"title": "Tempolimit auf Autobahnen", "proposition": "Ein Tempolimit."})
    assert response.status_code == 201, response.text
    assert response.json()["slug"] == "tempolimit-auf-autobahnen"


def test_a_slug_taken_gets_the_next_free_number(client):
    assert new_party(client, "Die Linke")["slug"] == "die-linke"
    assert new_party(client, "DIE LINKE.")["slug"] == "die-linke-2"
    create_party(client, "die-linke-3")
    assert new_party(client, "Die Linke")["slug"] == "die-linke-4"


def test_a_name_without_letters_or_digits_and_a_long_name(client):
    assert [new_party(client, "★ ☆")["slug"] for _ in range(2)] == ["party", "party-2"]
    long_name = "Partei für Arbeit, Rechtsstaat, Tierschutz, Elitenförderung und basisdemokratische Initiative"
    first, second = new_party(client, long_name)["slug"], new_party(client, long_name)["slug"]
    assert first == "partei-fuer-arbeit-rechtsstaat-tierschutz-elitenfoerderung-und"  # cut between words
    assert second == first + "-2"
    # 64 characters: the number takes the place of the last word.
    full = new_party(client, "a" * 30 + " " + "b" * 33)["slug"]
    assert (len(full), new_party(client, "a" * 30 + " " + "b" * 33)["slug"]) == (64, "a" * 30 + "-2")


def test_slug_from_name_counts_rows_added_to_the_session(engine):
    # As a bulk load calls it: several parties of one name in one transaction.
    with Session(engine) as session:
        for expected in ("die-partei", "die-partei-2", "die-partei-3"):
            slug = slug_from_name(session, Party, "Die PARTEI")
            assert slug == expected
            session.add(Party(slug=slug, name="Die PARTEI", kind=PartyKind.political_party))
        session.rollback()
    assert (
        slug_text("   ") == "" and slug_text("Mike Dunleavy (Governor of Alaska)") == "mike-dunleavy-governor-of-alaska"
    )


def test_an_explicit_slug_is_kept_as_given(client):
    assert new_party(client, "Die Linke", slug="linke")["slug"] == "linke"
    assert_problem(client.post("/v1/parties", json={"name": "X", "kind": "bloc", "slug": "linke"}), 409, "conflict")


# --- renames ---------------------------------------------------------------------------------------


def test_a_former_slug_redirects_every_method_to_the_current_address(client, seeded):
    rename(client, "/v1/parties/russia", "russian-federation")

    response = client.get("/v1/parties/russia?colour=", follow_redirects=False)
    assert response.status_code == 422  # an unknown parameter is refused before anything is looked up
    response = client.get("/v1/parties/russia", follow_redirects=False)
    assert response.status_code == 308
    assert response.headers["location"] == "/v1/parties/russian-federation"
    assert response.json()["location"] == "/v1/parties/russian-federation"
    assert "russian-federation" in response.json()["detail"]
    assert client.get("/v1/parties/russia").json()["slug"] == "russian-federation"  # followed
    assert client.head("/v1/parties/russia", follow_redirects=False).status_code == 308

    patched = client.patch("/v1/parties/russia", json={"description": "Changed."}, follow_redirects=False)
    assert patched.status_code == 308 and patched.headers["location"] == "/v1/parties/russian-federation"
    deleted = client.delete("/v1/parties/russia", follow_redirects=False)
    assert deleted.status_code == 308
    assert client.get("/v1/parties/russian-federation").json()["description"] != "Changed."

    timeline = client.get(
        "/v1/parties/russia/issues/crimea/timeline", params={"as_of": "2025-08-18"}, follow_redirects=False
    )
    assert timeline.status_code == 308
    assert timeline.headers["location"] == "/v1/parties/russian-federation/issues/crimea/timeline?as_of=2025-08-18"
    assert client.get(timeline.headers["location"]).status_code == 200


def test_a_renamed_issue_redirects_too_and_the_unknown_stays_404(client, seeded):
    rename(client, "/v1/issues/crimea", "status-of-crimea")
    response = client.get("/v1/parties/russia/issues/crimea/timeline", follow_redirects=False)
    assert response.headers["location"] == "/v1/parties/russia/issues/status-of-crimea/timeline"
    assert client.get("/v1/issues/crimea", follow_redirects=False).status_code == 308
    assert_problem(client.get("/v1/issues/nowhere"), 404, "not-found")


def test_a_slug_renamed_twice_redirects_straight_to_the_current_one(client, seeded):
    rename(client, "/v1/parties/ukraine", "ukraine-government")
    rename(client, "/v1/parties/ukraine-government", "government-of-ukraine")
    for former in ("ukraine", "ukraine-government"):
        response = client.get(f"/v1/parties/{former}", follow_redirects=False)
        assert response.headers["location"] == "/v1/parties/government-of-ukraine"


def test_a_former_slug_as_a_value_names_the_same_party(client, seeded):
    by_current = client.get("/v1/statements", params={"party": "russia", "limit": 200}).json()["items"]
    rename(client, "/v1/parties/russia", "russian-federation")
    by_former = client.get("/v1/statements", params={"party": "russia", "limit": 200}).json()["items"]
    assert [item["id"] for item in by_former] == [item["id"] for item in by_current]
    assert {item["party"] for item in by_former} == {"russian-federation"}

    matrix = client.get("/v1/matrix", params={"parties": "russia,ukraine", "issues": "crimea"}).json()
    assert [party["slug"] for party in matrix["parties"]] == ["russian-federation", "ukraine"]
    twice = client.get("/v1/matrix", params={"parties": "russia,russian-federation"}).json()
    assert [party["slug"] for party in twice["parties"]] == ["russian-federation"]


def test_a_statement_may_name_a_party_and_an_issue_by_a_former_slug(client):
    source = world(client)["source"]
    rename(client, "/v1/parties/northland", "kingdom-of-northland")
    rename(client, "/v1/issues/cede-north", "ceding-the-north")
    response = client.post("/v1/statements", json=statement_body(source["id"]))
    assert response.status_code == 201, response.text
    assert (response.json()["party"], response.json()["issue"]) == ("kingdom-of-northland", "ceding-the-north")


def test_a_reader_may_answer_an_issue_by_its_former_slug(client, seeded):
    rename(client, "/v1/issues/crimea", "status-of-crimea")
    body = {"answers": {"crimea": "oppose", "sanctions-on-russia": "support"}, "weights": {"crimea": 2}}
    response = client.post("/v1/match", json=body)
    assert response.status_code == 200, response.text
    assert [issue["slug"] for issue in response.json()["issues"]] == ["status-of-crimea", "sanctions-on-russia"]
    assert response.json()["results"][0]["issues"][0]["weight"] == 2
    twice = {"answers": {"crimea": "oppose", "status-of-crimea": "support"}}
    problem = assert_problem(client.post("/v1/match", json=twice), 422, "validation-error")
    assert problem["errors"][0]["field"] == "body.answers"


def test_a_former_slug_stays_reserved_for_its_party(client, seeded):
    rename(client, "/v1/parties/russia", "russian-federation")
    problem = assert_problem(
        client.post("/v1/parties", json={"slug": "russia", "name": "Russia", "kind": "country"}), 409, "conflict"
    )
    assert "russian-federation" in problem["detail"]
    assert_problem(client.patch("/v1/parties/ukraine", json={"slug": "russia"}), 409, "conflict")
    # A slug made from a name passes it by.
    assert new_party(client, "Russia")["slug"] == "russia-2"


def test_a_party_may_take_back_its_former_slug(client, seeded):
    rename(client, "/v1/parties/russia", "russian-federation")
    rename(client, "/v1/parties/russian-federation", "russia")
    assert client.get("/v1/parties/russia", follow_redirects=False).status_code == 200
    response = client.get("/v1/parties/russian-federation", follow_redirects=False)
    assert response.status_code == 308 and response.headers["location"] == "/v1/parties/russia"


def test_deleting_a_party_frees_its_former_slugs(client):
    create_party(client, "northland")
    rename(client, "/v1/parties/northland", "kingdom-of-northland")
    assert client.delete("/v1/parties/kingdom-of-northland").status_code == 204
    assert_problem(client.get("/v1/parties/northland"), 404, "not-found")
    create_party(client, "northland")


def test_renames_are_audited_and_keep_the_database_consistent(client, engine, seeded):
    rename(client, "/v1/parties/russia", "russian-federation")
    rename(client, "/v1/issues/crimea", "status-of-crimea")
    events = client.get("/v1/audit", params={"entity": "party", "entity_id": "russia", "sort": "-id"}).json()["items"]
    assert events[0]["action"] == "update"
    assert (events[0]["before"]["slug"], events[0]["after"]["slug"]) == ("russia", "russian-federation")
    assert integrity.check_database(engine).problems == []


def test_the_check_names_a_former_slug_that_is_a_current_one(client, engine, seeded):
    from sqlalchemy import text

    rename(client, "/v1/parties/russia", "russian-federation")
    with engine.begin() as connection:
        connection.execute(text("UPDATE party_former_slug SET slug = 'ukraine'"))
    problems = [str(problem) for problem in integrity.check_database(engine).problems]
    assert problems == [
        "table party_former_slug, id 1, column slug: is the current slug of a party: a former slug is no other "
        "party's, nor its own"
    ]


# --- bulk import -----------------------------------------------------------------------------------


def test_an_import_makes_slugs_from_names_and_finds_them_again(client):
    from tests.test_imports import ARTICLE, OPPOSE, SOURCE, counts, jsonl, post

    lines = jsonl(
        {"type": "party", "name": "Nordländische Volkspartei", "kind": "political_party"},
        {"type": "issue", "title": "Abtretung des Nordens", "proposition": "Der Norden wird abgetreten."},
        {**SOURCE, "text": ARTICLE},
        {**OPPOSE, "party": "nordlaendische-volkspartei", "issue": "abtretung-des-nordens"},
    )
    first = post(client, lines)
    assert first.status_code == 200, first.text
    assert counts(first.json())["parties"] == (1, 0, 0) and counts(first.json())["statements"] == (1, 0, 0)
    assert client.get("/v1/parties/nordlaendische-volkspartei").status_code == 200

    rename(client, "/v1/parties/nordlaendische-volkspartei", "nvp")
    # The same file again, after the rename: everything is found, nothing is written.
    again = post(client, lines)
    assert again.status_code == 200, again.text
    assert {kind: created for kind, (created, _, _) in counts(again.json()).items()} == dict.fromkeys(
        ("parties", "issues", "sources", "statements"), 0
    )
    assert [party["slug"] for party in client.get("/v1/parties").json()["items"]] == ["nvp"]
