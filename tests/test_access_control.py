"""Who may write: bearer tokens with scopes, the audit trail, reads behind a token, CORS."""

import logging

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.main import create_app
from app.services.tokens import revoke_token
from tests.helpers import assert_problem, statement_body, table_counts, world

WRITE_METHODS = {"POST", "PATCH", "PUT", "DELETE"}
# A path per route template that exists in the seeded database.
PATH_VALUES = {"{slug}": "russia", "{source_id}": "1", "{statement_id}": "1"}


def write_routes(app) -> list[tuple[str, str]]:
    """Every write operation the OpenAPI document lists (those that declare the bearer token), with a
    path that exists in the seed data. A read sent as a POST (`/v1/match`) declares none."""
    routes = []
    for template, path_item in app.openapi()["paths"].items():
        for method, operation in path_item.items():
            if method.upper() not in WRITE_METHODS or "security" not in operation:
                continue
            path = template
            for placeholder, value in PATH_VALUES.items():
                path = path.replace(placeholder, value)
            routes.append((method.upper(), path))
    return sorted(routes)


def test_every_write_endpoint_refuses_a_request_without_a_token_and_changes_nothing(
    app, anonymous_client, client, seeded
):
    routes = write_routes(app)
    assert len(routes) >= 12  # parties, issues, sources: create/update/delete; statements: create/update/retract
    before = table_counts(client)
    audit_before = client.get("/v1/audit", params={"limit": 200}).json()["items"]
    for method, path in routes:
        response = anonymous_client.request(method, path, json={})
        problem = assert_problem(response, 401, "unauthorized")
        assert response.headers["www-authenticate"].startswith("Bearer"), (method, path)
        assert "token" in problem["detail"]
    assert table_counts(client) == before
    assert client.get("/v1/audit", params={"limit": 200}).json()["items"] == audit_before


def test_a_read_token_cannot_write(app, anonymous_client, tokens, seeded, client):
    before = table_counts(client)
    for method, path in write_routes(app):
        response = anonymous_client.request(
            method, path, json={}, headers={"Authorization": f"Bearer {tokens['read']}"}
        )
        assert_problem(response, 403, "forbidden")
        assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert table_counts(client) == before


def test_unknown_malformed_and_revoked_tokens_get_401(app, anonymous_client, tokens, seeded):
    body = {"slug": "x", "name": "X", "kind": "country"}
    for header in ("Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer", f"Token {tokens['write']}"):
        response = anonymous_client.post("/v1/parties", json=body, headers={"Authorization": header})
        assert_problem(response, 401, "unauthorized")
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
    with Session(app.state.write_engine) as session:
        revoke_token(session, "write")
    response = anonymous_client.post("/v1/parties", json=body, headers={"Authorization": f"Bearer {tokens['write']}"})
    assert_problem(response, 401, "unauthorized")


def test_writes_are_recorded_under_the_token_name(anonymous_client, tokens):
    anonymous_client.headers["Authorization"] = f"Bearer {tokens['write']}"
    source = world(anonymous_client)["source"]
    created = anonymous_client.post("/v1/statements", json=statement_body(source["id"])).json()
    assert created["recorded_by"] == "write"


def test_the_audit_trail_records_who_what_and_when_for_every_kind_of_write(client, anonymous_client, tokens):
    source = world(client)["source"]
    statement = client.post("/v1/statements", json=statement_body(source["id"])).json()
    client.patch(f"/v1/statements/{statement['id']}", json={"stance": "lean_oppose"})
    client.post(f"/v1/statements/{statement['id']}/retract", json={"reason": "Misquoted"})
    client.patch("/v1/parties/northland", json={"name": "Northland Republic"})
    client.patch(f"/v1/sources/{source['id']}", json={"publisher": "Wire"})
    client.post("/v1/issues", json={"slug": "spare", "title": "Spare", "proposition": "Nothing"})
    client.delete("/v1/issues/spare")

    events = [e for e in client.get("/v1/audit", params={"limit": 200}).json()["items"] if e["entity"] != "token"]
    assert [(e["entity"], e["action"]) for e in events] == [
        ("party", "create"),
        ("issue", "create"),
        ("source", "create"),
        ("statement", "create"),
        ("statement", "correct"),
        ("statement", "retract"),
        ("party", "update"),
        ("source", "update"),
        ("issue", "create"),
        ("issue", "delete"),
    ]
    assert {event["actor"] for event in events} == {"admin"}
    correction = events[4]
    assert correction["entity_id"] == str(statement["id"])
    assert (correction["before"]["stance"], correction["after"]["stance"]) == ("oppose", "lean_oppose")
    rename = events[6]
    assert (rename["before"]["name"], rename["after"]["name"]) == ("Northland", "Northland Republic")
    assert "text" not in events[2]["after"] and events[2]["after"]["sha256"] == source["sha256"]
    assert events[9]["after"] is None and events[9]["before"]["slug"] == "spare"
    assert all(event["at"].endswith("Z") for event in events)
    only_statements = client.get("/v1/audit", params={"entity": "statement", "entity_id": str(statement["id"])})
    assert [e["action"] for e in only_statements.json()["items"]] == ["create", "correct", "retract"]


def test_token_commands_are_audited_without_their_secrets(app, client, tokens):
    with Session(app.state.write_engine) as session:
        revoke_token(session, "read")
    events = client.get("/v1/audit", params={"entity": "token"}).json()["items"]
    assert [(e["entity_id"], e["action"], e["actor"]) for e in events] == [
        ("read", "create", "cli"),
        ("write", "create", "cli"),
        ("admin", "create", "cli"),
        ("read", "revoke", "cli"),
    ]
    assert events[-1]["after"]["revoked_at"] is not None
    everything = str(events)
    assert not any(secret in everything for secret in tokens.values())
    assert "sha256" not in everything


def test_a_refused_write_leaves_no_audit_event(client):
    source = world(client)["source"]
    before = client.get("/v1/audit", params={"limit": 200}).json()["items"]
    assert_problem(client.post("/v1/statements", json=statement_body(source["id"], quote="not in the text")), 422)
    assert_problem(client.post("/v1/parties", json={"slug": "northland", "name": "Again", "kind": "country"}), 409)
    assert client.get("/v1/audit", params={"limit": 200}).json()["items"] == before


def test_the_audit_trail_needs_the_admin_scope(anonymous_client, tokens):
    assert_problem(anonymous_client.get("/v1/audit"), 401)
    response = anonymous_client.get("/v1/audit", headers={"Authorization": f"Bearer {tokens['write']}"})
    assert_problem(response, 403, "forbidden")
    response = anonymous_client.get("/v1/audit", headers={"Authorization": f"Bearer {tokens['admin']}"})
    assert response.status_code == 200


MATCH_BODY = {"answers": {"crimea": "oppose"}}


def test_reads_are_public_by_default(anonymous_client, seeded):
    for path in ("/v1/parties", "/v1/matrix", "/v1/statements", "/v1/sources/1/text", "/v1/diff?from=2025-08-14"):
        assert anonymous_client.get(path).status_code == 200, path
    # Matching a reader is a read, though sent as a POST: no token.
    assert anonymous_client.post("/v1/match", json=MATCH_BODY).status_code == 200


def test_every_post_that_writes_declares_the_token_and_only_those(app):
    writes = write_routes(app)
    assert ("POST", "/v1/parties") in writes
    assert ("POST", "/v1/sources/1/candidates") in writes
    assert ("POST", "/v1/match") not in writes


@pytest.fixture
def private_client(settings, tokens):
    app = create_app(settings.model_copy(update={"read_requires_token": True}))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_reads_can_be_made_to_need_a_token(private_client, tokens, seeded):
    for path in ("/v1/parties", "/v1/matrix", "/v1/statements/1", "/v1/diff?from=2025-08-14"):
        assert_problem(private_client.get(path), 401, "unauthorized")
        response = private_client.get(path, headers={"Authorization": f"Bearer {tokens['read']}"})
        assert response.status_code == 200, path
        # A view answered once is kept ready to serve again, but only to a request that may read it.
        assert_problem(private_client.get(path), 401, "unauthorized")
        assert_problem(
            private_client.get(path, headers={"Authorization": "Bearer sm_not-a-token"}), 401, "unauthorized"
        )
    assert_problem(private_client.post("/v1/match", json=MATCH_BODY), 401, "unauthorized")
    response = private_client.post("/v1/match", json=MATCH_BODY, headers={"Authorization": f"Bearer {tokens['read']}"})
    assert response.status_code == 200
    # Probes stay open for load balancers.
    assert private_client.get("/healthz").status_code == 200
    assert private_client.get("/readyz").status_code == 200


def test_tokens_never_appear_in_responses_or_logs(client, tokens, caplog):
    secret = tokens["admin"]
    with caplog.at_level(logging.DEBUG):
        responses = [
            client.get("/v1/audit"),
            client.post("/v1/parties", json={"slug": "loggy", "name": "Loggy", "kind": "country"}),
            client.get("/v1/parties/loggy"),
        ]
    for response in responses:
        assert secret not in response.text
        assert secret not in str(response.headers)
    assert secret not in caplog.text


def test_cors_is_closed_by_default_and_opens_to_configured_origins(settings, anonymous_client):
    preflight = {"Origin": "https://newsroom.example", "Access-Control-Request-Method": "POST"}
    closed = anonymous_client.options("/v1/parties", headers=preflight)
    assert "access-control-allow-origin" not in closed.headers
    app = create_app(settings.model_copy(update={"cors_origins": "https://newsroom.example, https://desk.example"}))
    with TestClient(app) as open_client:
        allowed = open_client.options(
            "/v1/parties", headers={**preflight, "Access-Control-Request-Headers": "authorization"}
        )
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://newsroom.example"
        assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
        other = open_client.get("/v1/parties", headers={"Origin": "https://elsewhere.example"})
        assert "access-control-allow-origin" not in other.headers
        exposed = open_client.get("/v1/matrix", headers={"Origin": "https://desk.example"})
        assert "etag" in exposed.headers["access-control-expose-headers"].lower()


def test_method_not_allowed_lists_every_allowed_method(anonymous_client):
    response = anonymous_client.put("/v1/parties")
    assert_problem(response, 405)
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
