"""Small builders shared by the API tests."""

from typing import Any

from fastapi.testclient import TestClient

# The seed data's parties and issues, in the order the seed files list them.
SEED_PARTIES = ["united-states", "ukraine", "russia", "european-allies", "alaska-governor"]
SEED_ISSUES = [
    "cede-donbas",
    "crimea",
    "nato-membership",
    "security-guarantees",
    "sanctions-on-russia",
    "non-aggression-europe",
    "us-russia-trade",
    "who-ends-the-war",
    "alaska-resources",
]

ARTICLE = (
    "The minister said: “We will never give up the north.” Later, officials said the north "
    "was negotiable. The minister’s aide added that “talks continue”. We will never give up the north."
)


def create_party(client: TestClient, slug: str = "northland", **fields: Any) -> dict[str, Any]:
    body = {"slug": slug, "name": slug.title(), "kind": "country", **fields}
    response = client.post("/v1/parties", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def create_issue(client: TestClient, slug: str = "cede-north", **fields: Any) -> dict[str, Any]:
    body = {"slug": slug, "title": "Ceding the north", "proposition": "Northland cedes the north", **fields}
    response = client.post("/v1/issues", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def create_source(client: TestClient, text: str = ARTICLE, **fields: Any) -> dict[str, Any]:
    body = {"title": "Minister on the north", "published_at": "2025-08-18", "text": text, **fields}
    response = client.post("/v1/sources", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def statement_body(source_id: int, **fields: Any) -> dict[str, Any]:
    return {
        "party": "northland",
        "issue": "cede-north",
        "source": source_id,
        "quote": "We will never give up the north.",
        "start": 20,
        "stance": "oppose",
        **fields,
    }


def world(client: TestClient) -> dict[str, Any]:
    """A party, an issue and a source to hang statements on."""
    return {"party": create_party(client), "issue": create_issue(client), "source": create_source(client)}


def every_item(client: Any, path: str, *, limit: int = 200, **params: Any) -> list[dict[str, Any]]:
    """Every item of a cursor-paginated list, following next_cursor (`client`: a TestClient or an httpx.Client)."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {"limit": limit, **params, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def table_counts(client: TestClient) -> dict[str, int]:
    """How many of each thing the API lists, to check a refused write changed nothing."""
    counts = {}
    for path in ("/v1/parties", "/v1/issues", "/v1/sources"):
        counts[path] = len(client.get(path, params={"limit": 200}).json()["items"])
    counts["/v1/statements"] = len(
        client.get("/v1/statements", params={"limit": 200, "include_retracted": True}).json()["items"]
    )
    return counts


def assert_problem(response: Any, status: int, type_name: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["title"] and body["detail"]
    if type_name is not None:
        assert body["type"] == f"/problems/{type_name}"
    assert "Traceback" not in response.text
    return body
