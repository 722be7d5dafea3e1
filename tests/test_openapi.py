"""The OpenAPI document is a published interface: generated clients are built from the committed
openapi.json, so it must be what the code serves, its operationIds must not move, every operation
must be typed and described, and its examples must be real (seed data, as the API returns it)."""

import difflib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from app.api.routes.health import Health, Readiness
from app.api.routes.problems import ProblemType
from app.config import Settings
from app.db import dispose_engines
from app.main import TAGS, create_app, openapi_json
from app.models import examples
from app.models.anchoring import AnchoringReport, TextDiff
from app.models.audit import AuditEventPublic
from app.models.compare import Comparison, ComparisonDrift
from app.models.issue import IssueCreate, IssuePublic, IssueUpdate
from app.models.matrix import Diff, Matrix, Timeline
from app.models.party import PartyCreate, PartyPublic, PartyUpdate
from app.models.problem import Problem
from app.models.search import SearchPage
from app.models.source import (
    SourceCreate,
    SourceCreated,
    SourcePublic,
    SourceSummary,
    SourceUpdate,
)
from app.models.statement import (
    StatementCreate,
    StatementHistory,
    StatementPublic,
    StatementRetract,
    StatementUpdate,
)
from app.services.quotes import matching_form
from tests.conftest import SEED_DIR

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "openapi.json"
STANCEMAP = Path(sys.executable).parent / "stancemap"
PROBLEM_REF = "#/components/schemas/Problem"

# Generated clients name their methods after these (`statements_create`, `matrixGet`, ...): a
# change here breaks every client built before it. Change this list only on purpose.
OPERATION_IDS = [
    "GET /healthz -> health-live",
    "GET /readyz -> health-ready",
    "GET /problems/{name} -> problems-get",
    "GET /v1/matrix -> matrix-get",
    "GET /v1/diff -> diffs-get",
    "GET /v1/sources/{source_id}/diff -> diffs-since-source",
    "GET /v1/changes -> changes-list",
    "GET /v1/parties/{slug}/changes.atom -> changes-party-atom",
    "GET /v1/issues/{slug}/changes.atom -> changes-issue-atom",
    "GET /v1/parties/{party}/issues/{issue}/timeline -> timeline-get",
    "GET /v1/compare -> compare-get",
    "GET /v1/parties -> parties-list",
    "POST /v1/parties -> parties-create",
    "GET /v1/parties/{slug} -> parties-get",
    "PATCH /v1/parties/{slug} -> parties-update",
    "DELETE /v1/parties/{slug} -> parties-delete",
    "GET /v1/issues -> issues-list",
    "POST /v1/issues -> issues-create",
    "GET /v1/issues/{slug} -> issues-get",
    "PATCH /v1/issues/{slug} -> issues-update",
    "DELETE /v1/issues/{slug} -> issues-delete",
    "GET /v1/sources -> sources-list",
    "POST /v1/sources -> sources-create",
    "GET /v1/sources/{source_id} -> sources-get",
    "PATCH /v1/sources/{source_id} -> sources-update",
    "DELETE /v1/sources/{source_id} -> sources-delete",
    "GET /v1/sources/{source_id}/text -> sources-get-text",
    "GET /v1/sources/{source_id}/text-diff -> sources-text-diff",
    "GET /v1/sources/{source_id}/anchoring -> sources-anchoring",
    "GET /v1/statements -> statements-list",
    "POST /v1/statements -> statements-create",
    "GET /v1/statements/{statement_id} -> statements-get",
    "PATCH /v1/statements/{statement_id} -> statements-update",
    "POST /v1/statements/{statement_id}/retract -> statements-retract",
    "POST /v1/statements/{statement_id}/confirm -> statements-confirm",
    "GET /v1/statements/{statement_id}/history -> statements-history",
    "GET /v1/search -> search-list",
    "GET /v1/anchoring -> anchoring-list",
    "POST /v1/imports -> imports-create",
    "GET /v1/audit -> audit-list",
    "POST /v1/webhooks -> webhooks-create",
    "GET /v1/webhooks -> webhooks-list",
    "GET /v1/webhooks/{webhook_id} -> webhooks-get",
    "PATCH /v1/webhooks/{webhook_id} -> webhooks-update",
    "DELETE /v1/webhooks/{webhook_id} -> webhooks-delete",
    "GET /v1/webhooks/{webhook_id}/deliveries -> webhooks-deliveries",
    "POST /v1/sources/{source_id}/candidates -> candidates-propose",
    "POST /v1/match -> match-run",
]


@pytest.fixture(scope="module")
def document_text() -> str:
    # The document depends on the code alone; this engine is never connected.
    app = create_app(Settings(database_url="sqlite:///never-connected.db"))
    try:
        return openapi_json(app)
    finally:
        dispose_engines(app.state)


@pytest.fixture(scope="module")
def document(document_text: str) -> dict[str, Any]:
    return json.loads(document_text)


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, path_item in document["paths"].items()
        for method, operation in path_item.items()
    ]


def test_the_committed_openapi_json_is_what_the_app_generates(document_text):
    committed = COMMITTED.read_text(encoding="utf-8") if COMMITTED.exists() else ""
    if committed != document_text:
        diff = "".join(
            list(difflib.unified_diff(
                committed.splitlines(keepends=True), document_text.splitlines(keepends=True),
                "openapi.json (committed)", "openapi.json (generated)",
            ))[:80]
        )  # fmt: skip
        pytest.fail(f"openapi.json is out of date: run `stancemap openapi` and commit the result.\n{diff}")


def test_stancemap_openapi_writes_the_document_to_a_file_or_stdout(document_text, tmp_path):
    env = {name: value for name, value in os.environ.items() if not name.startswith("STANCEMAP_")}
    target = tmp_path / "out" / "api.json"
    target.parent.mkdir()
    to_file = subprocess.run(
        [STANCEMAP, "openapi", "--output", str(target)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert to_file.returncode == 0, to_file.stderr
    assert target.read_text(encoding="utf-8") == document_text
    assert to_file.stdout == b""

    to_stdout = subprocess.run(
        [STANCEMAP, "openapi", "--output", "-"], cwd=tmp_path, env=env, capture_output=True, timeout=120, check=False
    )
    assert to_stdout.returncode == 0, to_stdout.stderr
    assert to_stdout.stdout.decode("utf-8") == document_text
    assert document_text.endswith("}\n") and '\n  "openapi": ' in document_text  # indent 2, trailing newline
    assert list(tmp_path.iterdir()) == [target.parent]  # no database file left behind


def test_operation_ids_are_stable(document):
    current = [f"{method} {path} -> {operation['operationId']}" for method, path, operation in operations(document)]
    assert current == OPERATION_IDS, (
        "operationIds changed: generated clients name their methods after them. If this is intended, "
        "update OPERATION_IDS in this test and regenerate openapi.json (`stancemap openapi`).\n"
        + "\n".join(difflib.unified_diff(OPERATION_IDS, current, "expected", "current", lineterm=""))
    )


def test_every_operation_has_one_declared_tag_a_tag_prefixed_id_a_summary_and_a_description(document):
    declared = [tag["name"] for tag in document["tags"]]
    assert declared == [tag["name"] for tag in TAGS]
    for method, path, operation in operations(document):
        where = f"{method} {path}"
        assert len(operation["tags"]) == 1, where
        tag = operation["tags"][0]
        assert tag in declared, where
        assert operation["operationId"].startswith(f"{tag}-"), where
        assert operation.get("summary"), where
        assert operation.get("description"), where
        for status, response in operation["responses"].items():
            assert response.get("description"), (where, status)


def test_every_response_is_typed(document):
    for method, path, operation in operations(document):
        where = f"{method} {path}"
        responses = operation["responses"]
        assert list(responses) == sorted(responses), where
        for status, response in responses.items():
            content = response.get("content")
            if status in ("204", "304"):
                assert content is None, (where, status)
            elif path == "/readyz" and status == "503":  # it tells what is not ready in its own body
                assert content == {"application/json": {"schema": {"$ref": "#/components/schemas/Readiness"}}}
            elif status.startswith(("4", "5")):
                assert content == {"application/problem+json": {"schema": {"$ref": PROBLEM_REF}}}, (where, status)
            elif path.endswith("/text"):
                assert content == {"text/plain": {"schema": {"type": "string"}}}, where
            elif path.endswith(".atom") and status == "200":
                assert content == {"application/atom+xml": {"schema": {"type": "string"}}}, where
            else:
                assert content["application/json"]["schema"]["$ref"].startswith("#/components/schemas/"), where
        if method == "POST" and "201" in responses:
            assert responses["201"]["headers"]["Location"]["required"] is True, where
        if method != "GET" or path in ("/healthz", "/readyz") or path.startswith("/problems/"):
            continue
        # Every read can be refused when the server requires a token for reads.
        assert {"401", "403"} <= responses.keys(), where


def test_views_document_csv_conditional_requests_and_etags(document):
    views = {"matrix-get", "diffs-get", "diffs-since-source", "timeline-get", "compare-get"}
    for method, path, operation in operations(document):
        where = f"{method} {path}"
        responses = operation["responses"]
        if operation["operationId"] not in views:
            assert "304" not in responses, where
            continue
        assert responses["200"]["headers"]["ETag"]["required"] is True, where
        assert responses["304"]["headers"]["ETag"]["required"] is True, where
        headers = [parameter["name"] for parameter in operation["parameters"] if parameter["in"] == "header"]
        assert headers == ["If-None-Match"], where
        if operation["operationId"] != "timeline-get":
            assert responses["200"]["content"]["text/csv"] == {"schema": {"type": "string"}}, where
            assert list(responses["200"]["content"]) == ["application/json", "text/csv"], where


def test_no_schema_is_an_anonymous_free_form_object(document):
    """A field typed `dict[str, Any]` becomes an anonymous class in generated clients
    (`ProblemClosestPassageType0`); only AuditSnapshot, named, is free-form on purpose."""

    def free_form(schema: dict[str, Any]) -> bool:
        if schema.get("type") == "object" and "properties" not in schema:
            return True
        parts = schema.get("anyOf", []) + ([schema["items"]] if "items" in schema else [])
        return any(free_form(part) for part in parts)

    for name, schema in document["components"]["schemas"].items():
        for field, field_schema in schema.get("properties", {}).items():
            assert not free_form(field_schema), f"{name}.{field}"
    assert document["components"]["schemas"]["AuditSnapshot"]["type"] == "object"


MODEL_EXAMPLES: list[tuple[type[BaseModel], str]] = [
    (PartyCreate, "PARTY_CREATE"), (PartyUpdate, "PARTY_UPDATE"), (PartyPublic, "PARTY_PUBLIC"),
    (IssueCreate, "ISSUE_CREATE"), (IssueUpdate, "ISSUE_UPDATE"), (IssuePublic, "ISSUE_PUBLIC"),
    (SourceCreate, "SOURCE_CREATE"), (SourceUpdate, "SOURCE_UPDATE"),
    (SourceSummary, "SOURCE_SUMMARY"), (SourcePublic, "SOURCE_PUBLIC"), (SourceCreated, "SOURCE_CREATED"),
    (AnchoringReport, "ANCHORING_REPORT"), (TextDiff, "TEXT_DIFF"),
    (StatementCreate, "STATEMENT_CREATE"), (StatementUpdate, "STATEMENT_UPDATE"),
    (StatementRetract, "STATEMENT_RETRACT"), (StatementPublic, "STATEMENT_PUBLIC"),
    (StatementHistory, "STATEMENT_HISTORY"), (SearchPage, "SEARCH_PAGE"), (Matrix, "MATRIX"), (Diff, "DIFF"),
    (Timeline, "TIMELINE"), (Comparison, "COMPARISON"), (ComparisonDrift, "COMPARISON_DRIFT"),
    (Problem, "PROBLEM_QUOTE_NOT_FOUND"), (Problem, "PROBLEM_NOT_FOUND"), (AuditEventPublic, "AUDIT_EVENT"),
]  # fmt: skip


@pytest.mark.parametrize(("model", "name"), MODEL_EXAMPLES, ids=[name for _, name in MODEL_EXAMPLES])
def test_each_example_is_valid_for_its_model_and_shown_in_the_document(document, model, name):
    example = getattr(examples, name)
    model.model_validate(example)
    assert example in document["components"]["schemas"][model.__name__]["examples"]


def test_every_schema_of_a_body_or_a_json_response_has_an_example(document):
    schemas = document["components"]["schemas"]
    referenced = set()
    for _, _, operation in operations(document):
        bodies = [operation.get("requestBody", {}), *operation["responses"].values()]
        for body in bodies:
            for media in body.get("content", {}).values():
                ref = media["schema"].get("$ref", "")
                if ref.startswith("#/components/schemas/"):
                    referenced.add(ref.rsplit("/", 1)[1])
    pages = {name for name in referenced if name.endswith("Page")}  # a list of items that have examples
    for name in sorted(referenced - pages):
        assert schemas[name].get("examples"), name
    for model in (Health, Readiness, ProblemType):
        assert schemas[model.__name__]["examples"], model.__name__


def _seed(name: str) -> list[dict[str, Any]]:
    return json.loads((SEED_DIR / name).read_text(encoding="utf-8"))


def test_request_examples_are_the_seed_data():
    (russia,) = [party for party in _seed("parties.json") if party["slug"] == "russia"]
    assert russia == examples.PARTY_CREATE
    (guarantees,) = [issue for issue in _seed("issues.json") if issue["slug"] == "security-guarantees"]
    assert guarantees == examples.ISSUE_CREATE

    (article,) = _seed("sources.json")
    text = (SEED_DIR / article["file"]).read_bytes().decode("utf-8")
    assert examples.SOURCE_EXCERPT in text
    for field in ("title", "title_is_editorial", "kind", "language", "published_at"):
        assert examples.SOURCE_CREATE[field] == article[field], field

    statement = dict(examples.STATEMENT_CREATE)
    seeded = [entry for entry in _seed("statements.json") if entry["summary"] == statement["summary"]]
    assert len(seeded) == 1
    assert matching_form(statement.pop("quote")) == matching_form(seeded[0]["quote"])
    assert statement.pop("source") == 1  # the seed article is source 1 of a seeded database
    assert statement == {name: seeded[0][name] for name in statement}


def _recorded_at_example_time(value: Any) -> Any:
    """Recording timestamps are the only values examples make up."""
    if isinstance(value, dict):
        return {
            name: examples.RECORDED_AT if name in ("at", "created_at", "updated_at", "recorded_at") else
            _recorded_at_example_time(item)
            for name, item in value.items()
        }  # fmt: skip
    if isinstance(value, list):
        return [_recorded_at_example_time(item) for item in value]
    return value


def test_response_examples_are_what_the_api_returns_for_the_seed_data(client, seeded):
    def get(path: str) -> Any:
        response = client.get(path)
        assert response.status_code == 200, response.text
        return _recorded_at_example_time(response.json())

    assert get("/v1/parties/russia") == examples.PARTY_PUBLIC
    assert get("/v1/issues/security-guarantees") == examples.ISSUE_PUBLIC
    assert get("/v1/sources?limit=1")["items"] == [examples.SOURCE_SUMMARY]
    assert get("/v1/statements/12") == examples.STATEMENT_PUBLIC
    assert get("/v1/statements/12/history") == examples.STATEMENT_HISTORY
    assert get("/v1/matrix?parties=russia&issues=security-guarantees&as_of=2025-08-18") == examples.MATRIX
    diff = "/v1/diff?from=2025-08-14&to=2025-08-18&parties=russia&issues=security-guarantees"
    assert get(diff) == examples.DIFF
    assert get("/v1/parties/russia/issues/security-guarantees/timeline?as_of=2025-08-18") == examples.TIMELINE
    (created_russia,) = get("/v1/audit?entity=party&entity_id=russia")["items"]
    # Its id is 3 when the seeds are the first writes; here the test's tokens came first.
    assert created_russia == {**examples.AUDIT_EVENT, "id": created_russia["id"]}

    missing = client.get("/v1/parties/kremlin")
    assert missing.status_code == 404 and missing.json() == examples.PROBLEM_NOT_FOUND

    # The request examples, sent as they are, give the response examples.
    source = client.post("/v1/sources", json=examples.SOURCE_CREATE)
    assert source.status_code == 201, source.text
    assert _recorded_at_example_time(source.json()) == examples.SOURCE_PUBLIC
    # The create example records statement 12 once more: refused while 12 stands, as a duplicate.
    duplicate = client.post("/v1/statements", json=examples.STATEMENT_CREATE)
    assert duplicate.status_code == 409 and duplicate.json()["statement"] == 12, duplicate.text
    misquote = {**examples.STATEMENT_CREATE, "issue": "cede-donbas", "quote": "the Russian camp demanded the Donbas"}
    refused = client.post("/v1/statements", json=misquote)
    assert refused.status_code == 422 and refused.json() == examples.PROBLEM_QUOTE_NOT_FOUND
    for path, body in (
        ("/v1/statements/12", examples.STATEMENT_UPDATE),
        ("/v1/statements/11/retract", examples.STATEMENT_RETRACT),
        ("/v1/parties/russia", examples.PARTY_UPDATE),
        ("/v1/issues/security-guarantees", examples.ISSUE_UPDATE),
        ("/v1/sources/1", examples.SOURCE_UPDATE),
    ):
        method = client.post if path.endswith("/retract") else client.patch
        response = method(path, json=body)
        assert response.status_code == 200, (path, response.text)
    assert client.post("/v1/statements/12/retract", json=examples.STATEMENT_RETRACT).status_code == 200
    statement = client.post("/v1/statements", json=examples.STATEMENT_CREATE)
    assert statement.status_code == 201, statement.text
    created = _recorded_at_example_time(statement.json())
    assert created == {**examples.STATEMENT_PUBLIC, "id": created["id"], "recorded_by": "admin"}
