"""The error contract: every failure a client can cause is an RFC 9457 problem and changes nothing."""

import pytest

from tests.helpers import assert_problem, statement_body, table_counts, world


def test_problem_types_are_documented_at_their_type_uri(client):
    problem = assert_problem(client.get("/v1/parties/nobody"), 404, "not-found")
    described = client.get(problem["type"])
    assert described.status_code == 200
    assert described.json()["name"] == "not-found"


def test_an_unknown_problem_type_is_a_404_problem(client):
    problem = assert_problem(client.get("/problems/no-such-problem"), 404, "not-found")
    assert "no-such-problem" in problem["detail"]
    # Every type the server names is described.
    for name in client.get("/openapi.json").json()["paths"]["/problems/{name}"]["get"]["parameters"][0]["schema"][
        "enum"
    ]:
        assert client.get(f"/problems/{name}").status_code == 200, name


def test_a_problem_type_has_one_title_whoever_raises_it(client):
    unknown_route = assert_problem(client.get("/v1/nothing-here"), 404, "not-found")
    unknown_party = assert_problem(client.get("/v1/parties/nobody"), 404, "not-found")
    assert unknown_route["title"] == unknown_party["title"] == "Not found"
    unknown_slug = assert_problem(client.get("/v1/statements", params={"party": "nobody"}), 422, "validation-error")
    invalid_value = assert_problem(client.get("/v1/statements", params={"stance": "maybe"}), 422, "validation-error")
    assert unknown_slug["title"] == invalid_value["title"]


def test_malformed_json_is_400_and_writes_nothing(client):
    world(client)
    before = table_counts(client)
    response = client.post(
        "/v1/statements", content=b'{"party": "northland",', headers={"content-type": "application/json"}
    )
    assert_problem(response, 400, "malformed-json")
    assert table_counts(client) == before


def test_malformed_json_says_the_line_and_column(client):
    body = '{\n  "slug": "northland",\n  "name": "Northland",\n  "kind": country\n}'
    response = client.post("/v1/parties", content=body.encode(), headers={"content-type": "application/json"})
    problem = assert_problem(response, 400, "malformed-json")
    assert (problem["line"], problem["column"]) == (4, 11)
    assert "line 4, column 11" in problem["detail"]
    # Columns count characters, not bytes.
    body = '{"name": "Österreich" "slug": "at"}'
    response = client.post("/v1/parties", content=body.encode(), headers={"content-type": "application/json"})
    assert (response.json()["line"], response.json()["column"]) == (1, 23)


def operations_with_a_body(client) -> list[tuple[str, str, list[str]]]:
    """(method, path, the media types its body may be sent as) of every operation that takes a body."""
    document = client.get("/openapi.json").json()
    return [
        (
            method.upper(),
            path.replace("{slug}", "russia").replace("{source_id}", "1").replace("{statement_id}", "1"),
            list(operation["requestBody"]["content"]),
        )
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if "requestBody" in operation
    ]


def test_a_body_not_sent_as_it_should_be_is_a_415_saying_which_type_to_send(client, seeded):
    before = table_counts(client)
    checked = 0
    for method, path, media_types in operations_with_a_body(client):
        # What `curl -d 'slug=x&name=X'` sends.
        response = client.request(method, path, data={"slug": "northland", "name": "Northland"})
        problem = assert_problem(response, 415, "unsupported-media-type")
        assert "application/x-www-form-urlencoded" in problem["detail"], (method, path)
        assert any(media_type in problem["detail"] for media_type in media_types), (method, path)
        if media_types == ["application/json"]:
            assert "Content-Type: application/json" in problem["detail"]
            accept = "accept-patch" if method == "PATCH" else "accept-post"
            assert response.headers[accept] == "application/json", (method, path)
        checked += 1
    assert checked >= 10
    assert table_counts(client) == before


def test_a_body_without_a_content_type_is_a_415(client):
    response = client.post("/v1/parties", content=b'{"slug": "northland", "name": "Northland", "kind": "country"}')
    problem = assert_problem(response, 415, "unsupported-media-type")
    assert "without a Content-Type" in problem["detail"]
    assert client.get("/v1/parties/northland").status_code == 404


def test_json_media_types_are_read_as_json(client, seeded):
    for media_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = client.patch(
            "/v1/parties/russia", content=b'{"description": "Changed."}', headers={"content-type": media_type}
        )
        assert response.status_code == 200, response.text
    # A route whose body is optional takes a request without one.
    assert client.post("/v1/sources/1/candidates").status_code == 200


def test_body_over_the_limit_is_413_and_writes_nothing(client):
    world(client)
    before = table_counts(client)
    five_mb = "x" * (5 * 1024 * 1024)
    response = client.post("/v1/sources", json={"title": "Huge", "published_at": "2025-08-18", "text": five_mb})
    problem = assert_problem(response, 413, "body-too-large")
    assert problem["title"] == "Request body too large"
    assert table_counts(client) == before


def test_chunked_body_over_the_limit_is_413_with_the_same_title(client):
    def chunks():
        yield b'{"title": "Huge", "published_at": "2025-08-18", "text": "'
        for _ in range(5):
            yield b"x" * (1024 * 1024)
        yield b'"}'

    before = table_counts(client)
    response = client.post("/v1/sources", content=chunks(), headers={"content-type": "application/json"})
    problem = assert_problem(response, 413, "body-too-large")
    assert problem["title"] == "Request body too large"
    assert "2097152 bytes" in problem["detail"]
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
