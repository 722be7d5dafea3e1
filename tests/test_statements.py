from tests.helpers import (
    ARTICLE,
    assert_problem,
    create_source,
    statement_body,
    table_counts,
    world,
)


def test_create_anchors_the_quote_and_returns_the_exact_source_text(client):
    source = world(client)["source"]
    body = statement_body(source["id"], quote='We will never give up the north."', start=20, summary="Refuses to cede")
    response = client.post("/v1/statements", json=body)
    assert response.status_code == 201, response.text
    statement = response.json()
    assert response.headers["Location"] == f"/v1/statements/{statement['id']}"
    assert statement["quote"] == "We will never give up the north.”"
    selector = statement["selector"]
    assert ARTICLE[selector["start"] : selector["end"]] == statement["quote"]
    assert selector["prefix"] == ARTICLE[max(0, selector["start"] - 32) : selector["start"]]
    assert selector["suffix"] == ARTICLE[selector["end"] : selector["end"] + 32]
    assert statement["stated_on"] == "2025-08-18"  # the source's publication date by default
    assert statement["revision"] == 1 and statement["retraction"] is None
    assert client.get(f"/v1/statements/{statement['id']}").json() == statement


def test_quote_not_in_source_is_refused_with_the_closest_passage_and_nothing_written(client):
    source = world(client)["source"]
    before = table_counts(client)
    response = client.post(
        "/v1/statements", json=statement_body(source["id"], quote="officials said the north was negotiabel")
    )
    problem = assert_problem(response, 422, "quote-not-found")
    assert problem["closest_passage"]["text"] == "officials said the north was negotiable"
    assert f"source {source['id']}" in problem["detail"]
    assert table_counts(client) == before


def test_repeated_quote_without_a_choice_lists_the_occurrences(client):
    source = world(client)["source"]
    body = statement_body(source["id"])
    del body["start"]
    problem = assert_problem(client.post("/v1/statements", json=body), 422, "ambiguous-quote")
    assert [occurrence["start"] for occurrence in problem["occurrences"]] == [20, 151]
    chosen = client.post("/v1/statements", json={**body, "prefix": "talks continue”."})
    assert chosen.status_code == 201, chosen.text
    assert chosen.json()["selector"]["start"] == 151


def test_unknown_party_issue_or_source_is_an_invalid_field_and_writes_nothing(client):
    source = world(client)["source"]
    before = table_counts(client)
    for field, value in (("party", "atlantis"), ("issue", "unknown-issue"), ("source", 999)):
        response = client.post("/v1/statements", json=statement_body(source["id"], **{field: value}))
        problem = assert_problem(response, 422)
        assert problem["errors"][0]["field"] == f"body.{field}"
    assert table_counts(client) == before


def test_malformed_fields_are_refused(client):
    source = world(client)["source"]
    before = table_counts(client)
    for field, value in (
        ("stated_on", "2025-02-30"),
        ("stated_on", "18/08/2025"),
        ("stance", "strongly_support"),
        ("quote", ""),
        ("quote", "x" * 5001),
        ("start", -1),
        ("party", "Not A Slug"),
        ("summary", "nul\x00byte"),
    ):
        problem = assert_problem(
            client.post("/v1/statements", json=statement_body(source["id"], **{field: value})), 422
        )
        assert problem["errors"][0]["loc"][:2] == ["body", field], problem
    assert_problem(client.post("/v1/statements", json=statement_body(source["id"], colour="red")), 422)
    assert table_counts(client) == before


def test_correction_creates_a_revision_and_keeps_the_old_one(client):
    source = world(client)["source"]
    created = client.post("/v1/statements", json=statement_body(source["id"])).json()
    response = client.patch(
        f"/v1/statements/{created['id']}",
        json={"stance": "lean_oppose", "quote": "officials said the north was negotiable", "note": "misread"},
    )
    assert response.status_code == 200, response.text
    corrected = response.json()
    assert corrected["revision"] == 2 and corrected["stance"] == "lean_oppose"
    assert corrected["quote"] == "officials said the north was negotiable"
    assert ARTICLE[corrected["selector"]["start"] : corrected["selector"]["end"]] == corrected["quote"]
    history = client.get(f"/v1/statements/{created['id']}/history").json()
    assert [(r["revision"], r["stance"], r["note"]) for r in history["revisions"]] == [
        (1, "oppose", None),
        (2, "lean_oppose", "misread"),
    ]
    assert history["revisions"][0]["quote"] == created["quote"]


def test_correction_that_changes_nothing_makes_no_revision(client):
    source = world(client)["source"]
    created = client.post("/v1/statements", json=statement_body(source["id"])).json()
    response = client.patch(f"/v1/statements/{created['id']}", json={"stance": "oppose"})
    assert response.json()["revision"] == 1
    assert len(client.get(f"/v1/statements/{created['id']}/history").json()["revisions"]) == 1


def test_correction_to_a_quote_not_in_the_source_changes_nothing(client):
    source = world(client)["source"]
    created = client.post("/v1/statements", json=statement_body(source["id"])).json()
    assert_problem(
        client.patch(f"/v1/statements/{created['id']}", json={"quote": "no such words"}), 422, "quote-not-found"
    )
    assert_problem(client.patch(f"/v1/statements/{created['id']}", json={"stance": None}), 422)
    assert client.get(f"/v1/statements/{created['id']}").json() == created


def test_moving_a_statement_to_another_source_re_anchors_the_quote(client):
    source = world(client)["source"]
    created = client.post("/v1/statements", json=statement_body(source["id"])).json()
    other = create_source(client, text="Update: “We will never give up the north.” he repeated.")
    moved = client.patch(f"/v1/statements/{created['id']}", json={"source": other["id"]}).json()
    assert moved["source"] == other["id"]
    assert moved["selector"]["start"] == 9 and moved["quote"] == "We will never give up the north."


def test_retraction_needs_a_reason_and_keeps_the_statement(client):
    source = world(client)["source"]
    created = client.post("/v1/statements", json=statement_body(source["id"])).json()
    assert_problem(client.post(f"/v1/statements/{created['id']}/retract", json={}), 422)
    assert_problem(client.post(f"/v1/statements/{created['id']}/retract", json={"reason": "  "}), 422)
    response = client.post(
        f"/v1/statements/{created['id']}/retract",
        json={"reason": "Misattributed speaker", "retracted_on": "2025-09-01"},
    )
    assert response.status_code == 200, response.text
    retraction = response.json()["retraction"]
    assert retraction["reason"] == "Misattributed speaker" and retraction["retracted_on"] == "2025-09-01"
    assert client.get(f"/v1/statements/{created['id']}").json()["retraction"] == retraction
    assert client.get(f"/v1/statements/{created['id']}/history").json()["retraction"] == retraction
    listed = client.get("/v1/statements").json()["items"]
    assert created["id"] not in [item["id"] for item in listed]
    listed = client.get("/v1/statements", params={"include_retracted": True}).json()["items"]
    assert created["id"] in [item["id"] for item in listed]
    assert_problem(
        client.post(f"/v1/statements/{created['id']}/retract", json={"reason": "again"}), 409, "already-retracted"
    )
    assert_problem(
        client.patch(f"/v1/statements/{created['id']}", json={"stance": "support"}), 409, "already-retracted"
    )


def test_retraction_cannot_predate_the_statement(client):
    source = world(client)["source"]
    created = client.post("/v1/statements", json=statement_body(source["id"])).json()
    response = client.post(
        f"/v1/statements/{created['id']}/retract", json={"reason": "x", "retracted_on": "2025-01-01"}
    )
    assert_problem(response, 422)
    assert client.get(f"/v1/statements/{created['id']}").json()["retraction"] is None


def test_list_filters(client, seeded):
    def ids(**params):
        return {item["id"] for item in client.get("/v1/statements", params={"limit": 200, **params}).json()["items"]}

    everything = client.get("/v1/statements", params={"limit": 200}).json()["items"]
    russia = ids(party="russia")
    assert russia and russia == {s["id"] for s in everything if s["party"] == "russia"}
    assert ids(party="russia", issue="security-guarantees") == {
        s["id"] for s in everything if s["party"] == "russia" and s["issue"] == "security-guarantees"
    }
    assert ids(stance="oppose") == {s["id"] for s in everything if s["stance"] == "oppose"}
    assert ids(stated_to="2025-08-14") == {s["id"] for s in everything if s["stated_on"] <= "2025-08-14"}
    assert ids(stated_from="2025-08-18") == {s["id"] for s in everything if s["stated_on"] >= "2025-08-18"}
    assert ids(source=1) == {s["id"] for s in everything}
    assert_problem(client.get("/v1/statements", params={"party": "atlantis"}), 422)
    assert_problem(client.get("/v1/statements", params={"stated_from": "not-a-date"}), 422)


def test_unknown_statement_is_404_and_huge_ids_are_refused(client):
    assert_problem(client.get("/v1/statements/12345"), 404, "not-found")
    assert_problem(client.get("/v1/statements/99999999999999999999999"), 422)
    assert_problem(client.get("/v1/statements/12345/history"), 404)
    assert_problem(client.post("/v1/statements/12345/retract", json={"reason": "x"}), 404)


def test_a_statement_identical_to_a_standing_one_is_a_conflict_naming_it(client):
    source = world(client)["source"]
    body = statement_body(source["id"], stated_on="2025-08-18")
    first = client.post("/v1/statements", json=body)
    assert first.status_code == 201, first.text
    before = table_counts(client)
    matrix_before = client.get("/v1/matrix").json()

    problem = assert_problem(client.post("/v1/statements", json=body), 409, "duplicate-statement")
    assert problem["statement"] == first.json()["id"]
    assert str(first.json()["id"]) in problem["detail"]
    assert table_counts(client) == before
    assert client.get("/v1/matrix").json()["cells"] == matrix_before["cells"]

    # Another stance, day or quote is another statement; a retracted one no longer stands in the way.
    assert client.post("/v1/statements", json={**body, "stance": "lean_oppose"}).status_code == 201
    assert client.post("/v1/statements", json={**body, "stated_on": "2025-08-19"}).status_code == 201
    retracted = client.post(f"/v1/statements/{first.json()['id']}/retract", json={"reason": "recorded twice"})
    assert retracted.status_code == 200, retracted.text
    assert client.post("/v1/statements", json=body).status_code == 201


def test_a_correction_that_would_duplicate_a_standing_statement_is_a_conflict(client):
    source = world(client)["source"]
    body = statement_body(source["id"], stated_on="2025-08-18")
    first = client.post("/v1/statements", json=body).json()
    second = client.post("/v1/statements", json={**body, "stance": "lean_oppose"}).json()
    problem = assert_problem(
        client.patch(f"/v1/statements/{second['id']}", json={"stance": "oppose"}), 409, "duplicate-statement"
    )
    assert problem["statement"] == first["id"]
    assert client.get(f"/v1/statements/{second['id']}").json() == second
