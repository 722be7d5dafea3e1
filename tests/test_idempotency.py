"""Idempotency-Key on POSTs that write: a retry is answered with the first answer and writes nothing."""

import threading
import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session

from app.models.common import utcnow
from app.models.idempotency import IdempotencyRecord
from tests.helpers import assert_problem, create_party, statement_body, table_counts, world


def _audit_rows(client: TestClient, entity: str) -> int:
    return len(client.get("/v1/audit", params={"entity": entity, "limit": 200}).json()["items"])


def test_a_retry_with_the_same_key_gets_the_first_answer_and_writes_nothing(client):
    source = world(client)["source"]
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = client.post("/v1/statements", json=statement_body(source["id"]), headers=key)
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    before, audited = table_counts(client), _audit_rows(client, "statement")

    again = client.post("/v1/statements", json=statement_body(source["id"]), headers=key)
    assert again.status_code == 201
    assert again.content == first.content
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert table_counts(client) == before
    assert _audit_rows(client, "statement") == audited


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/parties", {"slug": "southland", "name": "Southland", "kind": "country"}),
        ("/v1/issues", {"slug": "cede-south", "title": "Ceding the south", "proposition": "Southland cedes"}),
        ("/v1/sources", {"title": "Again", "published_at": "2025-08-19", "text": "Once more, with feeling."}),
    ],
)
def test_every_create_honours_the_key(client, path, body):
    key = {"Idempotency-Key": f"create-{path}"}
    first = client.post(path, json=body, headers=key)
    assert first.status_code == 201, first.text
    again = client.post(path, json=body, headers=key)
    assert (again.status_code, again.content) == (201, first.content)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(client.get(path, params={"limit": 200}).json()["items"]) == 1


def test_a_retracted_statement_retried_is_answered_not_refused(client):
    source = world(client)["source"]
    statement = client.post("/v1/statements", json=statement_body(source["id"])).json()
    key = {"Idempotency-Key": "retract-once"}
    path = f"/v1/statements/{statement['id']}/retract"
    first = client.post(path, json={"reason": "misquoted"}, headers=key)
    assert first.status_code == 200, first.text
    again = client.post(path, json={"reason": "misquoted"}, headers=key)
    assert (again.status_code, again.content) == (200, first.content)  # not 409 already-retracted


def test_the_same_key_with_another_request_is_refused_and_writes_nothing(client):
    source = world(client)["source"]
    key = {"Idempotency-Key": "one-request-only"}
    assert client.post("/v1/statements", json=statement_body(source["id"]), headers=key).status_code == 201
    before = table_counts(client)
    other = client.post("/v1/statements", json=statement_body(source["id"], stance="neutral"), headers=key)
    problem = assert_problem(other, 422, "idempotency-key-reused")
    assert "one-request-only" in problem["detail"]
    assert_problem(client.post("/v1/parties", json={"slug": "x", "name": "X", "kind": "country"}, headers=key), 422)
    assert table_counts(client) == before


def test_a_request_that_changed_nothing_leaves_its_key_free(client):
    source = world(client)["source"]
    key = {"Idempotency-Key": "first-try-failed"}
    refused = client.post(
        "/v1/statements", json=statement_body(source["id"], quote="not in the text at all"), headers=key
    )
    assert_problem(refused, 422, "quote-not-found")
    assert client.post("/v1/statements", json=statement_body(source["id"]), headers=key).status_code == 201


def test_keys_belong_to_the_token_that_sent_them(client, tokens):
    source = world(client)["source"]
    key = {"Idempotency-Key": "shared-name"}
    mine = client.post("/v1/statements", json=statement_body(source["id"]), headers=key)
    assert mine.status_code == 201
    theirs = client.post(
        "/v1/statements",
        json=statement_body(source["id"], stance="neutral"),
        headers={**key, "Authorization": f"Bearer {tokens['write']}"},
    )
    assert theirs.status_code == 201, theirs.text
    assert theirs.json()["id"] != mine.json()["id"]


def test_a_key_expires_after_a_day(client, app):
    create_party(client, "northland")
    key = {"Idempotency-Key": "yesterday"}
    body = {"slug": "southland", "name": "Southland", "kind": "country"}
    assert client.post("/v1/parties", json=body, headers=key).status_code == 201
    with Session(app.state.write_engine) as session:
        session.execute(update(IdempotencyRecord).values(created_at=utcnow() - timedelta(hours=24, seconds=1)))
        session.commit()
    # Expired: the key is free again, and the request is carried out (a duplicate slug this time).
    assert_problem(client.post("/v1/parties", json=body, headers=key), 409, "conflict")
    assert client.post("/v1/parties", json={**body, "slug": "eastland"}, headers=key).status_code == 201


def test_a_key_whose_answer_is_not_stored_yet_is_in_use(client, app):
    source = world(client)["source"]
    key = {"Idempotency-Key": "in-flight"}
    assert client.post("/v1/statements", json=statement_body(source["id"]), headers=key).status_code == 201
    with Session(app.state.write_engine) as session:  # as if the first request were still being answered
        session.execute(update(IdempotencyRecord).values(status=None, body=None, media_type=None))
        session.commit()
    before = table_counts(client)
    response = client.post("/v1/statements", json=statement_body(source["id"]), headers=key)
    assert_problem(response, 409, "idempotency-key-in-use")
    assert response.headers["Retry-After"] == "1"
    assert table_counts(client) == before


@pytest.mark.parametrize("bad_key", ["", "x" * 256, "with space", "ключ"])
def test_a_malformed_key_is_an_invalid_header(client, bad_key):
    source = world(client)["source"]
    before = table_counts(client)
    response = client.post(
        "/v1/statements", json=statement_body(source["id"]), headers={"Idempotency-Key": bad_key.encode()}
    )
    problem = assert_problem(response, 422, "validation-error")
    assert problem["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    assert table_counts(client) == before


def test_concurrent_requests_with_one_key_write_once(app, client, tokens):
    source = world(client)["source"]
    body = statement_body(source["id"])
    answers: list[tuple[int, bytes]] = []
    start = threading.Barrier(6)

    def send() -> None:
        with TestClient(app, raise_server_exceptions=False) as own:
            start.wait()
            response = own.post(
                "/v1/statements",
                json=body,
                headers={"Idempotency-Key": "racing", "Authorization": f"Bearer {tokens['admin']}"},
            )
            answers.append((response.status_code, response.content))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    statements = client.get("/v1/statements").json()["items"]
    assert len(statements) == 1
    created = [content for status, content in answers if status == 201]
    assert created and set(created) == {created[0]}
    assert {status for status, _ in answers} <= {201, 409}, answers
