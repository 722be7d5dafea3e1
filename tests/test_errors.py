"""The error contract: every failure a client can cause is an RFC 9457 problem and changes nothing."""

import pytest

from tests.helpers import assert_problem, statement_body, table_counts, world


def test_problem_types_are_documented_at_their_type_uri(client):
    problem = assert_problem(client.get("/v1/parties/nobody"), 404, "not-found")
    described = client.get(problem["type"])
    assert described.status_code == 200
    assert described.json()["name"] == "not-found"


def test_malformed_json_is_400_and_writes_nothing(client):
    world(client)
    before = table_counts(client)
    response = client.post(
        "/v1/statements", content=b'{"party": "northland",', headers={"content-type": "application/json"}
    )
    assert_problem(response, 400, "malformed-json")
    assert table_counts(client) == before


def test_body_over_the_limit_is_413_and_writes_nothing(client):
    world(client)
    before = table_counts(client)
    five_mb = "x" * (5 * 1024 * 1024)
    response = client.post("/v1/sources", json={"title": "Huge", "published_at": "2025-08-18", "text": five_mb})
    assert_problem(response, 413, "body-too-large")
    assert table_counts(client) == before


def test_chunked_body_over_the_limit_is_413(client):
    def chunks():
        yield b'{"title": "Huge", "published_at": "2025-08-18", "text": "'
        for _ in range(5):
            yield b"x" * (1024 * 1024)
        yield b'"}'

    before = table_counts(client)
    response = client.post("/v1/sources", content=chunks(), headers={"content-type": "application/json"})
    assert_problem(response, 413, "body-too-large")
    assert table_counts(client) == before


def test_validation_problem_lists_each_field(client):
    source = world(client)["source"]
    body = statement_body(source["id"], stance="maybe", stated_on="someday")
    problem = assert_problem(client.post("/v1/statements", json=body), 422, "validation-error")
    assert {error["field"] for error in problem["errors"]} == {"body.stance", "body.stated_on"}


def test_unknown_route_and_wrong_method_are_problems(client):
    assert_problem(client.get("/v1/nothing-here"), 404)
    assert_problem(client.delete("/v1/statements"), 405)


def test_lone_surrogates_are_refused_not_crashed_on(client):
    body = b'{"slug": "x", "name": "bad \\ud800 name", "kind": "country"}'
    response = client.post("/v1/parties", content=body, headers={"content-type": "application/json"})
    assert_problem(response, 422)


def test_no_free_database_connection_is_a_503_with_retry_after(settings):
    from fastapi.testclient import TestClient

    from app.main import create_app

    app = create_app(settings.model_copy(update={"pool_size": 1, "pool_timeout_s": 0.2}))
    with TestClient(app, raise_server_exceptions=False) as client:
        held = [app.state.engine.connect(), app.state.engine.connect()]  # the pool and its overflow
        try:
            response = client.get("/v1/parties")
        finally:
            for connection in held:
                connection.close()
        problem = assert_problem(response, 503, "busy")
        assert response.headers["retry-after"] == "1"
        assert "retry" in problem["detail"]
        assert client.get("/v1/parties").status_code == 200


@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/v1/matrix?parties=russia&parties=ukraine", "parties"),
        ("/v1/matrix?as_of=2025-08-14&issues=crimea&as_of=2025-08-18", "as_of"),
        ("/v1/diff?from=2025-08-14&from=2025-08-01", "from"),
        ("/v1/statements?party=russia&party=ukraine", "party"),
        ("/v1/parties/russia/issues/crimea/timeline?as_of=2025-08-14&as_of=2025-08-18", "as_of"),
    ],
)
def test_a_query_parameter_given_twice_is_a_422_naming_it(client, seeded, url, parameter):
    problem = assert_problem(client.get(url), 422, "validation-error")
    assert problem["errors"][0]["field"] == f"query.{parameter}"
    assert "comma-separated" in problem["detail"]
    # Given once, the same request is served.
    path, _, query = url.partition("?")
    first = query.split("&")[0]
    assert client.get(f"{path}?{first}").status_code == 200
