"""The webhook API: admins create, list, change and delete webhooks; the secret is shown only when
it is made; URLs obey the rules of fetched sources; every write is in the audit trail."""

import socket
from contextlib import suppress
from ipaddress import ip_address
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlmodel import col

from app.config import Settings
from app.models.change_event import ChangeEvent
from app.models.common import utcnow
from app.models.webhook import Webhook, WebhookDelivery
from app.services import webhooks
from tests.helpers import assert_problem, create_issue, create_party

# A pretend DNS: these names resolve to these addresses, an address to itself, anything else to nothing.
NAMES = {
    "hooks.example.org": ["93.184.216.34"],
    "dual.example.org": ["93.184.216.34", "10.1.2.3"],
    "intranet.example.org": ["10.0.0.5"],
    "metadata.example.org": ["169.254.169.254"],
}
PUBLIC_URL = "https://hooks.example.org/stancemap"


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Nothing is sent from these tests: the addresses are made up.
    return Settings(database_url=database_url, webhook_delivery=False)


@pytest.fixture(autouse=True)
def dns(monkeypatch: pytest.MonkeyPatch) -> None:
    def getaddrinfo(host: bytes | str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        name = host.decode() if isinstance(host, bytes) else host
        answers = NAMES.get(name)
        if answers is None:
            with suppress(ValueError):
                answers = [str(ip_address(name))]
        if answers is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in answers]

    monkeypatch.setattr(webhooks, "getaddrinfo", getaddrinfo)


@pytest.fixture
def catalog(client) -> None:
    for slug in ("northland", "southland"):
        create_party(client, slug)
    create_issue(client, "cede-north")


def create(client, **fields: Any) -> dict[str, Any]:
    response = client.post("/v1/webhooks", json={"url": PUBLIC_URL, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def test_a_webhook_is_created_with_its_secret_which_is_never_shown_again(client, catalog):
    created = create(
        client,
        parties=["northland"],
        issues=["cede-north"],
        changes=["shifted", "reversed"],
        description="  Northland desk alerts ",
    )
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert created["url"] == PUBLIC_URL
    assert (created["parties"], created["issues"], created["changes"]) == (
        ["northland"], ["cede-north"], ["shifted", "reversed"]
    )  # fmt: skip
    assert created["description"] == "Northland desk alerts"
    assert created["enabled"] is True and created["consecutive_failures"] == 0 and created["created_by"] == "admin"

    location = f"/v1/webhooks/{created['id']}"
    shown = client.get(location).json()
    assert shown == {name: value for name, value in created.items() if name != "secret"}
    listed = client.get("/v1/webhooks").json()
    assert listed == {"items": [shown], "next_cursor": None}
    audited = client.get("/v1/audit", params={"entity": "webhook"}).json()["items"]
    assert [(event["action"], event["entity_id"]) for event in audited] == [("create", str(created["id"]))]
    assert audited[0]["after"] == shown
    for response in (client.get(location), client.get("/v1/webhooks"), client.get("/v1/audit")):
        assert created["secret"] not in response.text


def test_filters_follow_a_renamed_party_and_accept_former_slugs(client, catalog):
    assert client.patch("/v1/parties/northland", json={"slug": "north-land"}).status_code == 200
    created = create(client, parties=["northland", "southland"])  # the former slug names the same party
    assert created["parties"] == ["north-land", "southland"]
    assert client.patch("/v1/parties/southland", json={"slug": "south-land"}).status_code == 200
    assert client.get(f"/v1/webhooks/{created['id']}").json()["parties"] == ["north-land", "south-land"]


def test_unknown_slugs_and_change_classes_are_refused_naming_them(client, catalog):
    before = client.get("/v1/webhooks").json()
    response = client.post("/v1/webhooks", json={"url": PUBLIC_URL, "parties": ["northland", "atlantis", "lemuria"]})
    problem = assert_problem(response, 422, "validation-error")
    assert "atlantis" in problem["detail"] and "lemuria" in problem["detail"]
    assert problem["errors"][0]["field"] == "body.parties"
    problem = assert_problem(client.post("/v1/webhooks", json={"url": PUBLIC_URL, "issues": ["nowhere"]}), 422)
    assert "nowhere" in problem["detail"]
    problem = assert_problem(client.post("/v1/webhooks", json={"url": PUBLIC_URL, "changes": ["new", "moved"]}), 422)
    assert problem["errors"][0]["field"] == "body.changes.1" and "'restated'" in problem["detail"]
    assert_problem(client.post("/v1/webhooks", json={"url": PUBLIC_URL, "parties": []}), 422)
    assert client.get("/v1/webhooks").json() == before


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ftp://hooks.example.org/x", "URL scheme should be 'http' or 'https'"),
        ("https://user:pass@hooks.example.org/x", "user name or password"),
        ("http://127.0.0.1:8080/hook", "is a loopback address"),
        ("http://[::1]/hook", "is a loopback address"),
        ("https://intranet.example.org/hook", "resolves to 10.0.0.5, a private address"),
        ("https://metadata.example.org/", "a link-local address"),
        ("https://dual.example.org/hook", "a private address"),  # one address is enough to refuse
        ("https://unknown.example.org/hook", "could not be resolved"),
    ],
)
def test_urls_the_server_would_not_fetch_are_refused(client, url, expected):
    problem = assert_problem(client.post("/v1/webhooks", json={"url": url}), 422, "validation-error")
    assert expected in problem["detail"], problem["detail"]
    assert problem["errors"][0]["field"] == "body.url"
    if "address" in expected:
        assert "STANCEMAP_FETCH_ALLOW_PRIVATE=true" in problem["detail"]
    assert client.get("/v1/webhooks").json()["items"] == []


def test_private_addresses_are_allowed_when_the_server_allows_fetching_them(app, client):
    app.state.settings.fetch_allow_private = True
    assert create(client, url="http://127.0.0.1:8080/hook")["url"] == "http://127.0.0.1:8080/hook"
    webhook = create(client, url="https://intranet.example.org/hook")
    app.state.settings.fetch_allow_private = False
    response = client.patch(f"/v1/webhooks/{webhook['id']}", json={"url": "http://10.9.9.9/"})
    assert "a private address" in assert_problem(response, 422)["detail"]


def test_update_changes_filters_url_and_enabled_and_rotates_the_secret(client, catalog):
    created = create(client, parties=["northland"], changes=["new"])
    path = f"/v1/webhooks/{created['id']}"

    response = client.patch(
        path, json={"url": "https://hooks.example.org/v2", "parties": None, "issues": ["cede-north"]}
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert (updated["url"], updated["parties"], updated["issues"], updated["changes"]) == (
        "https://hooks.example.org/v2", None, ["cede-north"], ["new"]
    )  # fmt: skip
    assert updated["secret"] is None and updated["updated_at"] > created["updated_at"]
    assert client.patch(path, json={"changes": None}).json()["changes"] is None
    assert client.patch(path, json={"description": "Desk"}).json()["description"] == "Desk"
    assert client.patch(path, json={"description": None}).json()["description"] is None

    disabled = client.patch(path, json={"enabled": False}).json()
    assert disabled["enabled"] is False and disabled["disabled_reason"] == "Disabled by admin."
    assert disabled["disabled_at"] is not None

    rotated = client.patch(path, json={"rotate_secret": True}).json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
    assert client.get(path).json() == {name: value for name, value in rotated.items() if name != "secret"}

    assert_problem(client.patch(path, json={"url": None}), 422)
    assert_problem(client.patch(path, json={"secret": "mine"}), 422)
    assert_problem(client.patch(path, json={"enabled": "yes"}), 422)
    actions = [event["action"] for event in client.get("/v1/audit", params={"entity": "webhook"}).json()["items"]]
    assert actions == ["create", "update", "update", "update", "update", "update", "update"]
    audit_text = client.get("/v1/audit", params={"entity": "webhook"}).text
    assert rotated["secret"] not in audit_text and created["secret"] not in audit_text


def test_enabling_a_webhook_disabled_after_failures_resets_its_failure_count(client, engine):
    created = create(client)
    with engine.begin() as connection:
        connection.execute(
            Webhook.__table__.update()
            .where(Webhook.__table__.c.id == created["id"])
            .values(enabled=False, consecutive_failures=5, disabled_reason="Disabled after 5 deliveries failed.")
        )
    path = f"/v1/webhooks/{created['id']}"
    assert client.get(path).json()["consecutive_failures"] == 5
    enabled = client.patch(path, json={"enabled": True}).json()
    assert enabled["enabled"] is True and enabled["consecutive_failures"] == 0
    assert enabled["disabled_reason"] is None and enabled["disabled_at"] is None


def _add_deliveries(engine, webhook_id: int, count: int) -> None:
    now = utcnow()
    with engine.begin() as connection:
        for n in range(count):
            event_id = connection.execute(
                insert(ChangeEvent).values(
                    party_id=1, issue_id=1, change="new", after=b"{}", stated_on=now.date(), at=now
                )
            ).inserted_primary_key[0]
            status = "delivered" if n % 2 else "pending"
            connection.execute(insert(WebhookDelivery).values(webhook_id=webhook_id, event_id=event_id, status=status))


def test_deliveries_are_listed_a_page_at_a_time_and_by_status(client, engine):
    webhook = create(client)
    _add_deliveries(engine, webhook["id"], 5)
    path = f"/v1/webhooks/{webhook['id']}/deliveries"

    first = client.get(path, params={"limit": 2})
    assert first.status_code == 200 and first.headers["link"].endswith('rel="next"')
    second = client.get(path, params={"limit": 2, "cursor": first.json()["next_cursor"]}).json()
    ids = [item["id"] for item in first.json()["items"] + second["items"]]
    assert ids == sorted(ids) and len(ids) == 4
    item = first.json()["items"][0]
    assert set(item) == {
        "id", "event", "status", "attempts", "next_attempt_at", "last_attempt_at", "last_status_code", "last_error",
        "delivered_at", "created_at",
    }  # fmt: skip
    assert (item["status"], item["attempts"], item["last_error"]) == ("pending", 0, None)

    pending = client.get(path, params={"status": "pending"}).json()["items"]
    assert [item["status"] for item in pending] == ["pending"] * 3
    newest_first = client.get(path, params={"sort": "-id"}).json()["items"]
    assert [item["id"] for item in newest_first] == sorted((item["id"] for item in newest_first), reverse=True)
    assert_problem(client.get(path, params={"status": "lost"}), 422)
    assert_problem(client.get("/v1/webhooks/999/deliveries"), 404, "not-found")


def test_deleting_a_webhook_deletes_its_deliveries_pending_ones_too(client, engine):
    kept, deleted = create(client), create(client)
    _add_deliveries(engine, kept["id"], 2)
    _add_deliveries(engine, deleted["id"], 3)

    response = client.delete(f"/v1/webhooks/{deleted['id']}")
    assert response.status_code == 204 and response.content == b""
    assert_problem(client.get(f"/v1/webhooks/{deleted['id']}"), 404, "not-found")
    assert_problem(client.delete(f"/v1/webhooks/{deleted['id']}"), 404)
    with engine.connect() as connection:
        remaining = connection.execute(
            select(col(WebhookDelivery.webhook_id), func.count()).group_by(col(WebhookDelivery.webhook_id))
        ).all()
    assert [tuple(row) for row in remaining] == [(kept["id"], 2)]
    audited = client.get("/v1/audit", params={"entity": "webhook", "entity_id": str(deleted["id"])}).json()["items"]
    assert [event["action"] for event in audited] == ["create", "delete"]
    audited = audited[1]
    assert audited["action"] == "delete" and audited["after"] is None and audited["before"]["url"] == PUBLIC_URL


def test_webhooks_need_the_admin_scope(client, anonymous_client, tokens):
    webhook = create(client)
    path = f"/v1/webhooks/{webhook['id']}"
    calls = [
        ("POST", "/v1/webhooks", {"url": PUBLIC_URL}),
        ("GET", "/v1/webhooks", None),
        ("GET", path, None),
        ("PATCH", path, {"enabled": False}),
        ("DELETE", path, None),
        ("GET", f"{path}/deliveries", None),
    ]
    for method, target, body in calls:
        assert_problem(anonymous_client.request(method, target, json=body), 401, "unauthorized")
        for scope in ("read", "write"):
            headers = {"Authorization": f"Bearer {tokens[scope]}"}
            problem = assert_problem(anonymous_client.request(method, target, json=body, headers=headers), 403)
            assert "admin" in problem["detail"], (method, target)
    assert client.get(path).json() == {name: value for name, value in webhook.items() if name != "secret"}
    assert len(client.get("/v1/webhooks").json()["items"]) == 1
