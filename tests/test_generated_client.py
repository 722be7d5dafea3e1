"""A Python client generated from the committed openapi.json by openapi-python-client drives a live
server with typed calls, and gets typed model objects back: what a consumer of the published
document gets. The generator runs with --fail-on-warning, so a schema it cannot model fails here.

Skipped when openapi-python-client is not installed, except under CI=true, where it fails.
"""

import datetime
import importlib
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ARTICLE
from tests.servers import create_token, running_server, server_env

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
GENERATOR = BIN / "openapi-python-client"
PACKAGE = "stancemap_client"


def _require_generator() -> None:
    if GENERATOR.exists():
        return
    message = "openapi-python-client is not installed in the test environment (pip install -e '.[test]')"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The generated package, imported: `generated.api`, `generated.models`, `generated.client`."""
    _require_generator()
    where = tmp_path_factory.mktemp("generated")
    # The generator knows no JSON Lines, CSV or Atom: the bodies of POST /v1/imports and the Atom feeds
    # are files to it.
    config = where / "config.yml"
    config.write_text(
        "content_type_overrides:\n  application/x-ndjson: application/octet-stream\n  text/csv: application/octet-stream\n"
        "  application/atom+xml: application/octet-stream\n"
    )
    # The generator formats its output with ruff, installed beside it in this environment.
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        [
            GENERATOR, "generate", "--path", str(ROOT / "openapi.json"), "--output-path", str(where / PACKAGE),
            "--meta", "none", "--fail-on-warning", "--config", str(config),
        ],
        cwd=where, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "warning" not in (done.stdout + done.stderr).lower(), done.stdout + done.stderr
    sys.path.insert(0, str(where))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(where))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_a_generated_python_client_drives_the_api_with_typed_calls(generated, make_database, tmp_path):
    api = "api"
    parties_create = _module(f"{api}.parties.parties_create")
    parties_get = _module(f"{api}.parties.parties_get")
    issues_create = _module(f"{api}.issues.issues_create")
    sources_create = _module(f"{api}.sources.sources_create")
    sources_get_text = _module(f"{api}.sources.sources_get_text")
    statements_create = _module(f"{api}.statements.statements_create")
    statements_update = _module(f"{api}.statements.statements_update")
    statements_history = _module(f"{api}.statements.statements_history")
    statements_list = _module(f"{api}.statements.statements_list")
    matrix_get = _module(f"{api}.matrix.matrix_get")
    diffs_get = _module(f"{api}.diffs.diffs_get")
    diffs_since_source = _module(f"{api}.diffs.diffs_since_source")
    timeline_get = _module(f"{api}.timeline.timeline_get")
    audit_list = _module(f"{api}.audit.audit_list")
    m = _module("models")
    from stancemap_client import AuthenticatedClient, Client

    env = server_env(make_database("sqlite"))
    write_token = create_token(env, tmp_path, name="generated-client", scope="write")
    admin_token = create_token(env, tmp_path, name="generated-admin", scope="admin")
    with running_server(env, tmp_path, "generated-client", workers=1) as server:
        reader = Client(base_url=server.base, raise_on_unexpected_status=True)
        writer = AuthenticatedClient(base_url=server.base, token=write_token, raise_on_unexpected_status=True)
        admin = AuthenticatedClient(base_url=server.base, token=admin_token, raise_on_unexpected_status=True)

        party = parties_create.sync(
            client=writer,
            body=m.PartyCreate(slug="northland", name="Northland", kind=m.PartyKind.COUNTRY, aliases=["the minister"]),
        )
        assert isinstance(party, m.PartyPublic)
        assert party.slug == "northland" and party.kind is m.PartyKind.COUNTRY
        assert isinstance(party.created_at, datetime.datetime)

        issue = issues_create.sync(
            client=writer,
            body=m.IssueCreate(slug="cede-north", title="Ceding the north", proposition="Northland cedes the north"),
        )
        assert isinstance(issue, m.IssuePublic) and issue.keywords == []

        source = sources_create.sync(
            client=writer,
            body=m.SourceCreate(
                title="Minister on the north",
                published_at=datetime.datetime(2025, 8, 18, tzinfo=datetime.UTC),
                text=ARTICLE,
                kind=m.SourceKind.STATEMENT,
            ),
        )
        # SourcePublic plus `anchoring`, which only a source with `supersedes` has.
        assert isinstance(source, m.SourceCreated) and not source.anchoring
        assert source.text == ARTICLE and source.text_length == len(ARTICLE) and source.supersedes is None
        assert sources_get_text.sync(source.id, client=reader) == ARTICLE

        # Straight quotes in the request; the article's curly ones come back, with the exact span.
        statement = statements_create.sync(
            client=writer,
            body=m.StatementCreate(
                party="northland",
                issue="cede-north",
                source=source.id,
                quote='The minister said: "We will never give up the north."',
                stance=m.Stance.OPPOSE,
                speaker="The minister",
                stated_on=datetime.date(2025, 8, 17),
            ),
        )
        assert isinstance(statement, m.StatementPublic)
        assert isinstance(statement.selector, m.Selector)
        assert ARTICLE[statement.selector.start : statement.selector.end] == statement.quote
        assert statement.quote == "The minister said: “We will never give up the north.”"
        assert statement.stance is m.Stance.OPPOSE and statement.retraction is None

        # A quote that is not in the source: the problem is typed too, closest passage included.
        refused = statements_create.sync_detailed(
            client=writer,
            body=m.StatementCreate(
                party="northland", issue="cede-north", source=source.id, quote="we will give up the north",
                stance=m.Stance.SUPPORT,
            ),
        )  # fmt: skip
        assert refused.status_code == 422
        assert isinstance(refused.parsed, m.Problem)
        assert refused.parsed.type_ == "/problems/quote-not-found"
        assert isinstance(refused.parsed.closest_passage, m.ClosestPassage)
        assert 0 < refused.parsed.closest_passage.similarity <= 1

        corrected = statements_update.sync(
            statement.id,
            client=writer,
            body=m.StatementUpdate(stance=m.Stance.LEAN_OPPOSE, note="softer than first recorded"),
        )
        assert isinstance(corrected, m.StatementPublic) and corrected.revision == 2
        history = statements_history.sync(statement.id, client=reader)
        assert isinstance(history, m.StatementHistory)
        assert [revision.stance for revision in history.revisions] == [m.Stance.OPPOSE, m.Stance.LEAN_OPPOSE]
        assert history.revisions[-1].note == "softer than first recorded"

        page = statements_list.sync(client=reader, party="northland", limit=10)
        assert isinstance(page, m.StatementPage)
        assert [item.id for item in page.items] == [statement.id] and page.next_cursor is None

        matrix = matrix_get.sync(
            client=reader, parties="northland", issues="cede-north,crimea", as_of=datetime.date(2025, 8, 18)
        )
        assert isinstance(matrix, m.Matrix)
        assert [row.slug for row in matrix.parties] == ["northland"]
        assert [column.slug for column in matrix.issues] == ["cede-north", "crimea"]
        assert isinstance(matrix.cells[0], m.Cell)
        assert matrix.cells[0].stance is m.Stance.LEAN_OPPOSE
        assert matrix.cells[0].quote == statement.quote
        assert isinstance(matrix.cells[0].source, m.SourceRef) and matrix.cells[0].source.id == source.id
        assert matrix.cells[1].stance is None and matrix.cells[1].evidence_count == 0
        assert matrix.as_of == datetime.date(2025, 8, 18)

        # Conditional requests through the declared If-None-Match header: 304, no body.
        first = matrix_get.sync_detailed(client=reader, parties="northland")
        assert first.status_code == 200 and isinstance(first.parsed, m.Matrix)
        again = matrix_get.sync_detailed(client=reader, parties="northland", if_none_match=first.headers["etag"])
        assert again.status_code == 304 and again.parsed is None

        diff = diffs_get.sync(client=reader, from_="2025-08-16", to="2025-08-18", parties="northland", only="changed")
        assert isinstance(diff, m.Diff)
        assert isinstance(diff.from_, m.DiffEnd) and diff.from_.as_of == datetime.date(2025, 8, 16)
        assert isinstance(diff.summary, m.DiffSummary) and diff.summary.new == 1
        (change,) = diff.changes
        assert isinstance(change, m.Change) and change.change is m.ChangeClass.NEW
        assert change.before is None and isinstance(change.after, m.Cell)
        assert change.after.stance is m.Stance.LEAN_OPPOSE

        since = diffs_since_source.sync(source.id, client=reader, parties="northland")
        assert isinstance(since, m.Diff) and since.from_.source == source.id

        timeline = timeline_get.sync("northland", "cede-north", client=reader)
        assert isinstance(timeline, m.Timeline)
        assert [entry.change for entry in timeline.entries] == [m.ChangeClass.NEW]
        assert isinstance(timeline.entries[0].statement, m.StatementPublic)

        missing = parties_get.sync_detailed("nowhere", client=Client(base_url=server.base))
        assert missing.status_code == 404 and isinstance(missing.parsed, m.Problem)

        audit = audit_list.sync(client=admin, entity="statement", actor="generated-client")
        assert isinstance(audit, m.AuditPage)
        assert [event.action for event in audit.items] == ["create", "correct"]
        assert isinstance(audit.items[1].before, m.AuditSnapshot)
        assert audit.items[1].before["stance"] == "oppose" and audit.items[1].after["stance"] == "lean_oppose"
        assert audit.items[0].before is None and audit.items[0].entity_id == str(statement.id)

        # The CSV alternative: the generated methods parse JSON, so CSV is read through the
        # client's own httpx client (the document declares it as text/csv on the same operation).
        csv = reader.get_httpx_client().get(
            "/v1/matrix", params={"parties": "northland", "issues": "cede-north", "format": "csv"}
        )
        assert csv.headers["content-type"].startswith("text/csv")
        assert csv.text.splitlines() == ["party,cede-north", "northland,lean_oppose"]

        # A bulk import through the generated method: the body is a file, sent as CSV.
        imports_create = _module(f"{api}.imports.imports_create")
        from stancemap_client.types import File

        rows = b"slug,name,kind\nsouthland,Southland,country\n"
        report = imports_create.sync(
            client=writer, body=File(payload=io.BytesIO(rows), file_name="parties.csv"), type_=m.ImportKind.PARTY
        )
        assert isinstance(report, m.ImportReport) and report.written
        assert report.parties.created == 1
        assert parties_get.sync("southland", client=reader).name == "Southland"
