"""POST /v1/match: the parties ranked against a reader's answers, as voting advice applications
score them, every point backed by the party's quote."""

import json
import logging
import random
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text, update

from app.main import create_app
from app.models import examples
from app.models.position_span import Projection
from app.services import position_history
from tests.conftest import WAHLOMAT_DIR
from tests.helpers import assert_problem, create_issue, create_party, create_source
from tests.test_write_locks import write_lock_held

ISSUES = ["tax", "rail", "army", "school"]


def run(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/match", json=body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def positions(client: TestClient, stances: dict[str, dict[str, str]], stated_on: str = "2025-08-18") -> None:
    """Parties (in the order given) with these stances on ISSUES, each statement quoting its own
    sentence of one source."""
    for issue in ISSUES:
        create_issue(client, issue, title=f"About {issue}", proposition=f"More {issue}")
    lines = {
        (party, issue): f"{party} on {issue}: {stance}."
        for party, row in stances.items()
        for issue, stance in row.items()
    }
    source = create_source(client, text="\n".join(lines.values()) or "nothing said")
    for party, row in stances.items():
        create_party(client, party)
        for issue, stance in row.items():
            body = {
                "party": party,
                "issue": issue,
                "source": source["id"],
                "quote": lines[(party, issue)],
                "stance": stance,
                "stated_on": stated_on,
            }
            response = client.post("/v1/statements", json=body)
            assert response.status_code == 201, response.text


def by_party(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["party"]["slug"]: entry for entry in result["results"]}


def test_points_follow_the_scale_and_add_up_to_the_score(client):
    positions(
        client,
        {
            "amber": {"tax": "support", "rail": "lean_oppose", "army": "neutral", "school": "oppose"},
            "birch": {"tax": "lean_support", "rail": "unclear", "school": "support"},
        },
    )
    answers = {"tax": "support", "rail": "oppose", "army": "lean_support", "school": "oppose"}
    result = run(client, answers=answers, weights={"rail": 2, "army": 0.5})
    assert (result["answered"], result["skipped"], result["max_points"]) == (4, 0, 2 + 4 + 1 + 2)
    assert [issue["slug"] for issue in result["issues"]] == list(answers)
    amber, birch = by_party(result)["amber"], by_party(result)["birch"]
    assert [
        (issue["stance"], issue["agreement"], issue["points"], issue["max_points"]) for issue in amber["issues"]
    ] == [
        ("support", 1.0, 2.0, 2.0),
        ("lean_oppose", 0.75, 3.0, 4.0),  # weight 2
        ("neutral", 0.75, 0.75, 1.0),  # weight 0.5
        ("oppose", 1.0, 2.0, 2.0),
    ]
    # `unclear` and no statement are no position: 0 points, and the maximum still counts.
    assert [(issue["stance"], issue["agreement"], issue["points"]) for issue in birch["issues"]] == [
        ("lean_support", 0.75, 1.5),
        ("unclear", None, 0.0),
        (None, None, 0.0),
        ("support", 0.0, 0.0),
    ]
    assert (birch["issues_with_position"], amber["issues_with_position"]) == (2, 4)
    matrix = client.get("/v1/matrix", params={"as_of": "2025-08-18"}).json()
    cells = {(cell["party"], cell["issue"]): cell for cell in matrix["cells"]}
    for entry in result["results"]:
        assert entry["points"] == sum(issue["points"] for issue in entry["issues"])
        assert entry["max_points"] == sum(issue["max_points"] for issue in entry["issues"]) == result["max_points"]
        assert entry["score"] == round(100 * entry["points"] / entry["max_points"], 1)
        for issue in entry["issues"]:
            assert issue["answer"] == answers[issue["issue"]]
            assert issue["weight"] == {"rail": 2, "army": 0.5}.get(issue["issue"], 1)
            # Each number rests on the cell the matrix serves: its quote, selector and source.
            assert issue["cell"] == cells[(entry["party"]["slug"], issue["issue"])]
            assert issue["cell"]["stance"] == issue["stance"]
    assert (amber["score"], birch["score"]) == (86.1, 16.7)  # 7.75 / 9 and 1.5 / 9


def test_one_issue_answered_or_weighed_under_two_of_its_slugs_is_refused(client):
    positions(client, {"amber": {"tax": "support"}})
    for old, new in (("tax", "levy"), ("levy", "duty")):
        response = client.patch(f"/v1/issues/{old}", json={"slug": new})
        assert response.status_code == 200, response.text
    # Any former slug still names the issue, alone: answered as `duty`.
    assert by_party(run(client, answers={"tax": "oppose"}))["amber"]["issues"][0]["issue"] == "duty"
    for body, field in [
        ({"answers": {"tax": "support", "levy": "oppose"}}, "body.answers"),
        ({"answers": {"levy": "support", "duty": "oppose"}}, "body.answers"),
        ({"answers": {"duty": "support"}, "weights": {"tax": 2, "levy": 3}}, "body.weights"),
    ]:
        problem = assert_problem(client.post("/v1/match", json=body), 422, "validation-error")
        assert [error["field"] for error in problem["errors"]] == [field], problem
        slugs = [*body.get("weights", body["answers"])]
        assert all(slug in problem["detail"] for slug in slugs), problem


def test_the_score_has_one_decimal_rounded_half_up(client):
    positions(client, {"amber": {"tax": "neutral"}, "birch": {"tax": "support", "rail": "support", "army": "oppose"}})
    # amber: 1 point of 16 (6.25 %); birch: 4 of 6 (66.67 %).
    four = {"tax": "support", "rail": "support", "army": "support", "school": "support"}
    amber = by_party(run(client, answers=four, weights={"rail": 3, "army": 2, "school": 2}))["amber"]
    assert (amber["points"], amber["max_points"], amber["score"]) == (1.0, 16.0, 6.3)
    birch = by_party(run(client, answers={"tax": "support", "rail": "support", "army": "support"}))["birch"]
    assert (birch["points"], birch["max_points"], birch["score"]) == (4.0, 6.0, 66.7)


def test_decimal_weights_score_as_written_and_their_points_read_as_written(client):
    positions(client, {"amber": {"tax": "neutral", "rail": "oppose"}})
    # 3.3 × 0.5 × 2 + 1.1 × 0.25 × 2 = 3.85 of 8.8 points: 43.75 %, half up 43.8 (in binary
    # floating point 3.85 / 8.8 comes out just under 43.75).
    answers = {"tax": "support", "rail": "lean_support"}
    result = run(client, answers=answers, weights={"tax": 3.3, "rail": 1.1})
    amber = by_party(result)["amber"]
    assert (amber["points"], amber["max_points"], amber["score"]) == (3.85, 8.8, 43.8)
    assert [(issue["points"], issue["max_points"]) for issue in amber["issues"]] == [(3.3, 6.6), (0.55, 2.2)]
    # The numbers as written add up, without binary remainders such as 0.30000000000000004.
    response = client.post(
        "/v1/match", json={"answers": {"tax": "support", "rail": "support"}, "weights": {"tax": 0.1, "rail": 0.2}}
    )
    assert '"max_points":0.6,' in response.text and "0000000" not in response.text
    decimals = json.loads(response.text, parse_float=Decimal)
    for entry in decimals["results"]:
        assert entry["points"] == sum(issue["points"] for issue in entry["issues"])
        assert entry["max_points"] == sum(issue["max_points"] for issue in entry["issues"]) == Decimal("0.6")


def test_ranking_ties_and_competition_ranks(client):
    positions(
        client,
        {
            "ash": {},  # 0 %, no position at all
            "oak": {"tax": "oppose"},  # 0 %, one position
            "elm": {"tax": "support"},  # 50 %, one position
            "fir": {"tax": "support"},  # 50 %, one position: tied with elm in every respect
            "yew": {"tax": "neutral", "rail": "neutral"},  # 50 %, two positions
            "pine": {"tax": "support", "rail": "support"},  # 100 %
        },
    )
    answers = {"tax": "support", "rail": "support"}

    def ranking(**body: Any) -> list[tuple[int, str, float]]:
        return [(entry["rank"], entry["party"]["slug"], entry["score"]) for entry in run(client, **body)["results"]]

    # By score; on equal score more positions first, then creation order; ranks 1, 2, 2, 2, 5, 5.
    assert ranking(answers=answers) == [
        (1, "pine", 100.0),
        (2, "yew", 50.0),
        (2, "elm", 50.0),
        (2, "fir", 50.0),
        (5, "oak", 0.0),
        (5, "ash", 0.0),
    ]
    # With `parties`, only those, and their order breaks the remaining ties.
    assert ranking(answers=answers, parties=["fir", "ash", "elm", "oak"]) == [
        (1, "fir", 50.0),
        (1, "elm", 50.0),
        (3, "oak", 0.0),
        (3, "ash", 0.0),
    ]
    # A party named twice is ranked once.
    assert ranking(answers=answers, parties=["oak", "pine", "oak"]) == [(1, "pine", 100.0), (2, "oak", 0.0)]


def test_skipped_issues_count_for_nothing_and_weights_multiply(client):
    positions(client, {"amber": {"tax": "support", "rail": "oppose", "army": "oppose"}})
    plain = run(client, answers={"tax": "support", "rail": "support"})
    assert by_party(plain)["amber"]["score"] == 50.0
    skipped = run(client, answers={"tax": "support", "rail": "skip", "army": "skip"}, weights={"army": 3})
    assert (skipped["answered"], skipped["skipped"], skipped["max_points"]) == (1, 2, 2.0)
    assert [issue["slug"] for issue in skipped["issues"]] == ["tax"]
    assert [issue["issue"] for issue in by_party(skipped)["amber"]["issues"]] == ["tax"]
    assert by_party(skipped)["amber"]["score"] == 100.0
    # The Wahl-O-Mat's "counts double": the weighted issue's points and maximum both double.
    double = by_party(run(client, answers={"tax": "support", "rail": "support"}, weights={"tax": 2}))["amber"]
    assert (double["points"], double["max_points"], double["score"]) == (4.0, 6.0, 66.7)
    everything_skipped = run(client, answers={"tax": "skip"})
    assert everything_skipped["max_points"] == 0
    assert [(entry["rank"], entry["score"], entry["issues"]) for entry in everything_skipped["results"]] == [
        (1, 0.0, [])
    ]


def test_as_of_travels_back_in_time(client, seeded):
    answers = {"security-guarantees": "support"}

    def russia(as_of: str) -> dict[str, Any]:
        result = run(client, answers=answers, parties=["russia"], as_of=as_of)
        assert result["as_of"] == as_of
        (entry,) = result["results"]
        return entry["issues"][0]

    # Before the Alaska summit Russia opposed security guarantees for Ukraine; after it, it leant towards them.
    before, after = russia("2025-08-14"), russia("2025-08-18")
    assert (before["stance"], before["points"], before["cell"]["stated_on"]) == ("oppose", 0.0, "2025-08-14")
    assert (after["stance"], after["points"], after["cell"]["stated_on"]) == ("lean_support", 1.5, "2025-08-15")
    nothing_yet = russia("2025-01-01")
    assert (nothing_yet["stance"], nothing_yet["points"], nothing_yet["cell"]["quote"]) == (None, 0.0, None)
    # Today by default.
    assert run(client, answers=answers, parties=["russia"])["results"][0]["issues"][0]["stance"] == "lean_support"


def test_the_documented_example_is_what_the_seed_data_gives(client, seeded):
    assert run(client, **examples.MATCH_REQUEST) == examples.MATCH_RESULT


def test_unknown_slugs_are_named(client, seeded):
    response = client.post(
        "/v1/match",
        json={"answers": {"crimea": "support", "atlantis": "oppose", "mu": "skip", "sanctions-on-russia": "neutral"}},
    )
    problem = assert_problem(response, 422, "validation-error")
    assert problem["errors"][0]["field"] == "body.answers"
    assert "atlantis" in problem["detail"] and "mu" in problem["detail"] and "crimea" not in problem["detail"]
    response = client.post("/v1/match", json={"answers": {"crimea": "support"}, "parties": ["russia", "narnia", "oz"]})
    problem = assert_problem(response, 422, "validation-error")
    assert problem["errors"][0]["field"] == "body.parties"
    assert "narnia" in problem["detail"] and "oz" in problem["detail"] and "russia" not in problem["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"answers": {"crimea": "unclear"}}, "body.answers.crimea"),
        ({"answers": {"crimea": "yes"}}, "body.answers.crimea"),
        ({"answers": {}}, "body.answers"),
        ({"answers": {f"issue-{n}": "skip" for n in range(501)}}, "body.answers"),
        ({"answers": {"Crimea!": "support"}}, "body.answers.Crimea!.[key]"),
        ({"answers": {"crimea": "support"}, "weights": {"crimea": 0}}, "body.weights.crimea"),
        ({"answers": {"crimea": "support"}, "weights": {"crimea": -1}}, "body.weights.crimea"),
        ({"answers": {"crimea": "support"}, "weights": {"crimea": 10.5}}, "body.weights.crimea"),
        # Not numbers: `true` ("counts double"?) would otherwise count once, and "2" is text.
        ({"answers": {"crimea": "support"}, "weights": {"crimea": True}}, "body.weights.crimea"),
        ({"answers": {"crimea": "support"}, "weights": {"crimea": "2"}}, "body.weights.crimea"),
        ({"answers": {"crimea": "support"}, "weights": {"nato-membership": 2}}, "body.weights"),
        ({"answers": {"crimea": "support"}, "as_of": "18.08.2025"}, "body.as_of"),
        ({"answers": {"crimea": "support"}, "as_of": None}, "body.as_of"),
        ({"answers": {"crimea": "support"}, "parties": []}, "body.parties"),
        ({"answers": {"crimea": "support"}, "party": "russia"}, "body.party"),
        ({"answers": {"crimea": "support"}, "token": "x", "stored": True}, "body.token"),
        ({}, "body.answers"),
    ],
)
def test_invalid_bodies_are_refused_naming_the_field(client, seeded, body, field):
    problem = assert_problem(client.post("/v1/match", json=body), 422)
    assert field in [error["field"] for error in problem["errors"]], problem


@pytest.mark.parametrize("weight", ["NaN", "Infinity", "-Infinity"])
def test_a_weight_that_is_not_a_finite_number_is_refused_as_such(client, seeded, weight):
    # Python's JSON reader takes these words; a weight must still be a number in (0, 10].
    body = '{"answers": {"crimea": "support"}, "weights": {"crimea": ' + weight + "}}"
    response = client.post("/v1/match", content=body, headers={"content-type": "application/json"})
    problem = assert_problem(response, 422, "validation-error")
    assert [(error["field"], error["type"]) for error in problem["errors"]] == [
        ("body.weights.crimea", "finite_number")
    ]


def test_a_body_that_is_not_json_or_too_large_is_refused(client, seeded):
    assert_problem(client.post("/v1/match", content=b"{answers", headers={"content-type": "application/json"}), 400)
    huge = {"answers": {"crimea": "support"}, "parties": ["russia"] * 300_000}
    assert_problem(client.post("/v1/match", json=huge), 413)


def test_nothing_is_stored_or_logged_and_no_token_is_needed(app, anonymous_client, engine, seeded, caplog):
    def counts() -> dict[str, int]:
        with engine.connect() as connection:
            tables = ("audit_event", "idempotency_key", "statement", "party", "issue", "source", "data_version")
            found = {table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() for table in tables}
            found["version"] = connection.execute(text("SELECT version FROM data_version")).scalar_one()
            return found

    before = counts()
    loggers = ["stancemap", "uvicorn", "uvicorn.access", "uvicorn.error", "fastapi"]
    for name in loggers:
        caplog.set_level(logging.DEBUG, logger=name)
    # An Idempotency-Key is ignored: a read has nothing to replay, and each answer is computed anew.
    headers = {"Idempotency-Key": "0f8e5f6e-reader"}
    first = anonymous_client.post("/v1/match", json={"answers": {"crimea": "oppose"}}, headers=headers)
    second = anonymous_client.post("/v1/match", json={"answers": {"crimea": "support"}}, headers=headers)
    refused = anonymous_client.post("/v1/match", json={"answers": {"crimea": "oppose", "secret-issue": "support"}})
    assert first.status_code == second.status_code == 200 and refused.status_code == 422
    assert "Idempotent-Replayed" not in second.headers
    assert first.json()["results"] != second.json()["results"]
    assert counts() == before
    for record in caplog.records:
        assert "crimea" not in record.getMessage() and "secret-issue" not in record.getMessage(), record


def test_it_is_a_read_that_takes_no_write_lock(anonymous_client, database_url, seeded):
    with write_lock_held(database_url):
        response = anonymous_client.post("/v1/match", json={"answers": {"crimea": "oppose"}})
    assert response.status_code == 200, response.text


def test_it_needs_a_read_token_where_every_read_does(settings, tokens, seeded):
    app = create_app(settings.model_copy(update={"read_requires_token": True}))
    with TestClient(app, raise_server_exceptions=False) as private:
        body = {"answers": {"crimea": "oppose"}}
        assert_problem(private.post("/v1/match", json=body), 401, "unauthorized")
        answered = private.post("/v1/match", json=body, headers={"Authorization": f"Bearer {tokens['read']}"})
        assert answered.status_code == 200, answered.text


def test_it_waits_for_a_position_history_being_rebuilt(client, engine, seeded):
    with engine.begin() as connection:
        connection.execute(update(Projection).where(Projection.name == position_history.PROJECTION).values(format=0))
    try:
        refused = client.post("/v1/match", json={"answers": {"crimea": "oppose"}})
        assert_problem(refused, 503, "rebuilding")
        assert refused.headers["Retry-After"] == "5"
    finally:
        assert position_history.ensure_current(engine) is True
    assert client.post("/v1/match", json={"answers": {"crimea": "oppose"}}).status_code == 200


# --- the Wahl-O-Mat 2017 -----------------------------------------------------------------------


def _wahlomat(name: str) -> Any:
    return json.loads((WAHLOMAT_DIR / name).read_text(encoding="utf-8"))


def _wahlomat_points(reader: int, party: int) -> int:
    """The Wahl-O-Mat's points for one thesis, answers as in answer.json (0 agree, 1 disagree,
    2 neutral): the same answer 2, agree or disagree against neutral 1, opposite answers 0."""
    if reader == party:
        return 2
    return 1 if 2 in (reader, party) else 0


def test_random_readers_score_as_the_wahlomat_computes_from_its_data(wahlomat_client):
    parties = _wahlomat("party.json")
    theses = _wahlomat("statement.json")
    answers_of = {(opinion["party"], opinion["statement"]): opinion["answer"] for opinion in _wahlomat("opinion.json")}
    party_ids = {party["name"]: party["id"] for party in parties}
    as_stance = {0: "support", 1: "oppose", 2: "neutral"}
    slugs = {thesis["id"]: None for thesis in theses}
    for issue in wahlomat_client.get("/v1/issues", params={"limit": 100}).json()["items"]:
        (thesis,) = [
            thesis for thesis in theses if thesis["label"] == issue["title"] and thesis["text"] == issue["proposition"]
        ]
        slugs[thesis["id"]] = issue["slug"]
    rng = random.Random(2017)
    for _ in range(200):
        asked = rng.sample(theses, rng.randint(1, len(theses)))
        reader = {thesis["id"]: rng.choice([0, 1, 2, "skip"]) for thesis in asked}
        doubled = {thesis_id for thesis_id in reader if rng.random() < 0.25}
        body: dict[str, Any] = {
            "answers": {slugs[t]: "skip" if a == "skip" else as_stance[a] for t, a in reader.items()},
            "as_of": "2017-09-24",
        }
        if doubled:
            body["weights"] = {slugs[thesis_id]: 2 for thesis_id in doubled}
        result = run(wahlomat_client, **body)

        counted = {thesis_id: answer for thesis_id, answer in reader.items() if answer != "skip"}
        maximum = sum(4 if thesis_id in doubled else 2 for thesis_id in counted)
        assert result["max_points"] == maximum
        assert (result["answered"], result["skipped"]) == (len(counted), len(reader) - len(counted))
        expected = []
        for party in parties:
            points = sum(
                _wahlomat_points(answer, answers_of[(party["id"], thesis_id)]) * (2 if thesis_id in doubled else 1)
                for thesis_id, answer in counted.items()
            )
            percent = 100 * points / maximum if maximum else 0.0
            expected.append((party["name"], points, percent))
        assert len(result["results"]) == len(parties)
        for entry in result["results"]:
            name, points, percent = expected[party_ids[entry["party"]["name"]]]
            assert entry["points"] == points, (body, name)
            assert abs(entry["score"] - percent) <= 0.05 + 1e-9, (body, name)
            assert entry["points"] == sum(issue["points"] for issue in entry["issues"])
            assert entry["issues_with_position"] == len(counted)
        # Ranked by score, ties in the order of party.json (the order the parties were created in).
        scores = [entry["score"] for entry in result["results"]]
        assert scores == sorted(scores, reverse=True)
        tied_order = [(-entry["score"], party_ids[entry["party"]["name"]]) for entry in result["results"]]
        assert tied_order == sorted(tied_order)


def test_before_the_wahlomat_went_online_no_party_has_a_position(wahlomat_client):
    result = run(wahlomat_client, answers={"bundeswehr-im-inneren": "support"}, as_of="2017-08-29")
    assert {(entry["rank"], entry["score"], entry["issues_with_position"]) for entry in result["results"]} == {
        (1, 0.0, 0)
    }
    cdu = run(wahlomat_client, answers={"bundeswehr-im-inneren": "support"}, as_of="2017-08-30", parties=["cdu-csu"])
    (issue,) = cdu["results"][0]["issues"]
    assert (issue["stance"], issue["points"]) == ("support", 2.0)
    assert issue["cell"]["quote"].startswith("Bei der Abwehr eines besonders schweren Terrorangriffs")
