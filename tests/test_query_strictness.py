"""Every route of the API refuses a query parameter it does not take, naming it and the ones it
takes, and changes nothing; routes are read from the served OpenAPI document, so those added
later are held to it too."""

from typing import Any

import pytest

from tests.helpers import assert_problem, table_counts

# A value for every path parameter, from the seed data.
PATH_VALUES = {
    "name": "not-found",
    "slug": "russia",
    "party": "russia",
    "issue": "crimea",
    "source_id": "1",
    "statement_id": "1",
    "webhook_id": "1",
}


def operations(client) -> list[tuple[str, str, dict[str, Any]]]:
    document = client.get("/openapi.json").json()
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def concrete(path: str) -> str:
    for name, value in PATH_VALUES.items():
        path = path.replace("{" + name + "}", value)
    assert "{" not in path, f"add a value for the path parameters of {path} to PATH_VALUES"
    return path


def test_every_route_refuses_an_unknown_query_parameter_naming_it(client, seeded):
    before = table_counts(client)
    checked = 0
    for method, path, operation in operations(client):
        declared = sorted(p["name"] for p in operation.get("parameters", []) if p["in"] == "query")
        body = {"json": {}} if "requestBody" in operation else {}
        response = client.request(method, concrete(path), params={"colour": "red"}, **body)

        problem = assert_problem(response, 422, "validation-error")
        assert [error["field"] for error in problem["errors"]] == ["query.colour"], (method, path)
        message = problem["errors"][0]["message"]
        assert message.startswith("`colour` is not a query parameter of this route"), message
        assert message.count("`") - 2 == 2 * len(declared), (method, path, message)
        for name in declared:
            assert f"`{name}`" in message, (method, path, name)
        checked += 1
    assert checked >= 35
    assert table_counts(client) == before


def test_a_misspelt_filter_is_refused_rather_than_ignored(client, seeded):
    problem = assert_problem(client.get("/v1/statements", params={"partie": "russia"}), 422, "validation-error")
    assert "`partie`" in problem["detail"] and "`party`" in problem["detail"]
    assert client.get("/v1/statements", params={"party": "russia"}).status_code == 200


def test_unknown_and_repeated_parameters_are_listed_together(client, seeded):
    response = client.get("/v1/matrix?parties=russia&parties=ukraine&colour=red&as_of=2025-08-14")
    problem = assert_problem(response, 422, "validation-error")
    assert {error["field"] for error in problem["errors"]} == {"query.parties", "query.colour"}


def test_declared_parameters_of_dependencies_count_as_declared(client, seeded):
    # `limit` and `cursor` are the paging dependency's, `sort` the route's own.
    assert client.get("/v1/parties", params={"limit": 1, "sort": "name"}).status_code == 200


@pytest.mark.parametrize("path", ["/", "/docs", "/redoc"])
def test_pages_outside_the_api_keep_their_query_string(anonymous_client, path):
    # The viewer keeps its state (`as_of`, the diff's dates) in its own address.
    assert anonymous_client.get(path, params={"as_of": "2025-08-14"}).status_code == 200


def test_a_head_request_is_held_to_the_same_parameters(client, seeded):
    response = client.head("/v1/matrix", params={"colour": "red"})
    assert response.status_code == 422
