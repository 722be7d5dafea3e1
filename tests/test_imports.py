"""Bulk import: POST /v1/imports and `stancemap load`, all or nothing, idempotent, streamed."""

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.config import Settings
from app.db import dispose_engines
from app.main import create_app
from app.models import examples
from app.services.imports import MAX_PROBLEMS
from tests.helpers import ARTICLE, assert_problem, create_source, table_counts, world
from tests.test_backup import run_on_terminal
from tests.test_cli import STANCEMAP, cli_env

NDJSON = {"content-type": "application/x-ndjson"}
PARTY = {"type": "party", "slug": "northland", "name": "Northland", "kind": "country"}
ISSUE = {"type": "issue", "slug": "cede-north", "title": "Ceding the north", "proposition": "Northland cedes the north"}
SOURCE = {"type": "source", "ref": "minister", "title": "Minister on the north", "published_at": "2025-08-18"}
OPPOSE = {
    "type": "statement",
    "party": "northland",
    "issue": "cede-north",
    "source_ref": "minister",
    "stance": "oppose",
    "quote": 'We will never give up the north."',
    "start": 20,
}
NEGOTIABLE = {
    **OPPOSE,
    "stance": "lean_support",
    "quote": "officials said the north was negotiable",
    "stated_on": "2025-08-20",
    "speaker": "officials",
}
del NEGOTIABLE["start"]


def jsonl(*lines: dict[str, Any]) -> bytes:
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode("utf-8")


def small_file() -> bytes:
    return jsonl(PARTY, ISSUE, {**SOURCE, "text": ARTICLE}, OPPOSE, NEGOTIABLE)


def post(client: TestClient, body: bytes, headers: dict[str, str] = NDJSON, **params: Any) -> Any:
    return client.post("/v1/imports", content=body, headers=headers, params=params)


def counts(report: dict[str, Any]) -> dict[str, tuple[int, int, int]]:
    return {
        kind: (report[kind]["created"], report[kind]["existing"], report[kind]["refused"])
        for kind in ("parties", "issues", "sources", "statements")
    }


def audit_count(client: TestClient) -> int:
    return len(client.get("/v1/audit", params={"limit": 200}).json()["items"])


def test_an_import_creates_every_type_with_quotes_anchored_as_single_writes_anchor_them(client):
    response = post(client, small_file())

    assert response.status_code == 200, response.text
    report = response.json()
    assert report["written"] is True and report["dry_run"] is False and report["lines"] == 5
    assert counts(report) == {
        "parties": (1, 0, 0),
        "issues": (1, 0, 0),
        "sources": (1, 0, 0),
        "statements": (2, 0, 0),
    }
    statements = client.get("/v1/statements", params={"party": "northland"}).json()["items"]
    oppose, negotiable = statements
    assert oppose["quote"] == "We will never give up the north.”"  # the source's own curly quote
    assert ARTICLE[oppose["selector"]["start"] : oppose["selector"]["end"]] == oppose["quote"]
    assert oppose["stated_on"] == "2025-08-18"  # the source's publication date, as for a single write
    assert (negotiable["stance"], negotiable["stated_on"], negotiable["speaker"]) == (
        "lean_support",
        "2025-08-20",
        "officials",
    )
    source = client.get(f"/v1/sources/{oppose['source']}").json()
    assert source["text"] == ARTICLE
    # Every created entry is audited as its single write would be, the statement as GET shows it.
    events = client.get("/v1/audit", params={"entity": "statement", "entity_id": str(oppose["id"])}).json()["items"]
    assert [(event["action"], event["actor"]) for event in events] == [("create", "admin")]
    assert events[0]["after"] == client.get(f"/v1/statements/{oppose['id']}").json()
    assert client.get("/v1/audit", params={"entity": "party", "entity_id": "northland"}).json()["items"]


def test_the_documented_examples_are_what_an_import_of_seed_entries_answers(client, seeded):
    response = post(client, examples.IMPORT_LINES.encode("utf-8"))
    assert response.status_code == 200, response.text
    assert response.json() == examples.IMPORT_REPORT
    csv = post(client, examples.IMPORT_CSV.encode("utf-8"), {"content-type": "text/csv"}, type="party")
    assert csv.status_code == 200 and counts(csv.json())["parties"] == (0, 1, 0), csv.text


def test_running_the_same_file_again_changes_nothing(client):
    assert post(client, small_file()).status_code == 200
    before = (table_counts(client), audit_count(client), client.get("/v1/matrix").headers["ETag"])

    again = post(client, small_file())

    assert again.status_code == 200, again.text
    assert again.json()["written"] is False
    assert counts(again.json()) == {
        "parties": (0, 1, 0),
        "issues": (0, 1, 0),
        "sources": (0, 1, 0),
        "statements": (0, 2, 0),
    }
    assert (table_counts(client), audit_count(client), client.get("/v1/matrix").headers["ETag"]) == before


def test_statements_already_recorded_are_not_recorded_again_even_retracted_or_twice_in_a_file(client):
    assert post(client, small_file()).status_code == 200
    first = client.get("/v1/statements", params={"party": "northland"}).json()["items"][0]
    retracted = client.post(f"/v1/statements/{first['id']}/retract", json={"reason": "Misattributed."})
    assert retracted.status_code == 200, retracted.text

    response = post(
        client, jsonl(OPPOSE, OPPOSE, {**NEGOTIABLE, "stance": "neutral"}, {**NEGOTIABLE, "stance": "neutral"})
    )

    assert response.status_code == 200, response.text
    assert counts(response.json())["statements"] == (1, 3, 0)
    listed = client.get("/v1/statements", params={"party": "northland", "include_retracted": True}).json()["items"]
    assert [statement["stance"] for statement in listed] == ["oppose", "lean_support", "neutral"]


def test_one_refused_line_writes_nothing_and_every_problem_is_listed_by_line_and_field(client):
    body = jsonl(
        PARTY,
        ISSUE,
        {**ISSUE, "slug": "Not A Slug"},
        {**SOURCE, "text": ARTICLE},
        {**OPPOSE, "quote": "We will never give up the south."},
        {**OPPOSE, "party": "atlantis", "stance": "strongly_support"},
        {**OPPOSE, "source_ref": "no-such-ref"},
        {**SOURCE, "ref": "no-text"},
    )
    body += b'this is not JSON\n{"type": "vote"}\n["a list"]\n'
    audited = audit_count(client)

    response = post(client, body)

    problem = assert_problem(response, 422, "import-refused")
    found = {(error["line"], error["field"]) for error in problem["errors"]}
    assert found == {
        (3, "slug"),
        (5, "quote"),
        (6, "stance"),  # the model's rules first; a line with invalid fields is not looked up further
        (7, "source_ref"),
        (8, "text"),
        (9, ""),
        (10, "type"),
        (11, ""),
    }, problem["errors"]
    by_line = {error["line"]: error for error in problem["errors"]}
    assert by_line[5]["type"] == "quote-not-found" and "closest passage" in by_line[5]["message"]
    assert by_line[5]["loc"] == ["body", 5, "quote"]
    assert "not valid JSON" in by_line[9]["message"]
    assert counts(problem["report"]) == {
        "parties": (1, 0, 0),
        "issues": (1, 0, 1),
        "sources": (1, 0, 1),
        "statements": (0, 0, 3),
    }
    assert problem["report"]["written"] is False and problem["report"]["lines"] == 11
    assert problem["detail"].startswith("8 line(s) refused, nothing was written: line 3: slug: ")
    assert table_counts(client) == {"/v1/parties": 0, "/v1/issues": 0, "/v1/sources": 0, "/v1/statements": 0}
    assert audit_count(client) == audited


def test_references_to_unknown_entries_are_each_named(client):
    world(client)
    body = jsonl(
        {**OPPOSE, "source": 99},
        {key: value for key, value in OPPOSE.items() if key != "source_ref"},
        {**OPPOSE, "source_ref": 5},
    )

    problem = assert_problem(post(client, body), 422, "import-refused")

    assert {(error["line"], error["field"]) for error in problem["errors"]} == {
        (1, "source_ref"),  # given beside `source`
        (2, "source"),
        (3, "source_ref"),
    }
    alone = {key: value for key, value in OPPOSE.items() if key != "source_ref"}
    problem = assert_problem(
        post(client, jsonl({**alone, "party": "atlantis", "issue": "no-issue", "source": 99})), 422
    )
    assert {error["field"] for error in problem["errors"]} == {"party", "issue"}
    problem = assert_problem(post(client, jsonl({**alone, "source": 99})), 422)
    assert problem["errors"][0]["message"].startswith("No source has the id 99")


def test_checking_stops_at_the_problem_limit(client):
    body = b"not JSON\n" * (MAX_PROBLEMS + 50)

    problem = assert_problem(post(client, body), 422, "import-refused")

    assert len(problem["errors"]) == MAX_PROBLEMS
    assert problem["report"]["stopped_early"] is True and problem["report"]["lines"] == MAX_PROBLEMS
    assert f"Checking stopped at the limit of {MAX_PROBLEMS} problems" in problem["detail"]


def test_a_dry_run_checks_and_reports_without_writing(client):
    version = client.get("/v1/matrix").headers["ETag"]

    response = post(client, small_file(), dry_run="true")

    assert response.status_code == 200, response.text
    assert response.json()["dry_run"] is True and response.json()["written"] is False
    assert counts(response.json())["statements"] == (2, 0, 0)
    assert table_counts(client) == {"/v1/parties": 0, "/v1/issues": 0, "/v1/sources": 0, "/v1/statements": 0}
    assert client.get("/v1/matrix").headers["ETag"] == version
    refused = post(client, jsonl(OPPOSE), dry_run="true")
    assert assert_problem(refused, 422, "import-refused")["report"]["dry_run"] is True


def test_a_source_ref_names_a_source_of_an_earlier_import(client):
    first = post(client, jsonl(PARTY, ISSUE, {**SOURCE, "text": ARTICLE}))
    assert first.status_code == 200, first.text

    second = post(client, jsonl(OPPOSE))

    assert second.status_code == 200, second.text
    assert counts(second.json())["statements"] == (1, 0, 0)
    statement = client.get("/v1/statements").json()["items"][0]
    assert statement["source"] == client.get("/v1/sources").json()["items"][0]["id"]
    # The same ref with another text is another document: refused, not silently merged.
    changed = post(client, jsonl({**SOURCE, "text": ARTICLE + " Updated."}))
    problem = assert_problem(changed, 422, "import-refused")
    assert problem["errors"][0]["field"] == "ref" and "whose text differs" in problem["errors"][0]["message"]


def test_sources_without_a_ref_are_matched_by_their_text_and_title(client):
    stored = create_source(client)  # through the API: no ref
    same = {"type": "source", "title": stored["title"], "published_at": "2025-08-18", "text": ARTICLE}

    response = post(client, jsonl(same, {**same, "title": "Another title"}))

    assert response.status_code == 200, response.text
    assert counts(response.json())["sources"] == (1, 1, 0)


def test_an_ambiguous_quote_is_chosen_by_start_or_prefix(client):
    repeated = {
        **{key: value for key, value in OPPOSE.items() if key != "start"},
        "quote": "We will never give up the north.",
    }
    assert post(client, jsonl(PARTY, ISSUE, {**SOURCE, "text": ARTICLE})).status_code == 200

    problem = assert_problem(post(client, jsonl(repeated)), 422, "import-refused")
    assert problem["errors"][0]["type"] == "ambiguous-quote"
    assert "(starts: 20, 151)" in problem["errors"][0]["message"]

    by_start = post(client, jsonl({**repeated, "start": 151}))
    by_prefix = post(client, jsonl({**repeated, "stance": "neutral", "prefix": "talks continue”."}))
    assert by_start.status_code == 200 and by_prefix.status_code == 200, by_start.text + by_prefix.text
    starts = [statement["selector"]["start"] for statement in client.get("/v1/statements").json()["items"]]
    assert starts == [151, 151]


def test_csv_files_one_per_type_with_the_field_names_as_columns(client):
    files = {
        "party": "slug,name,kind,aliases\nnorthland,Northland,country,Northland|the north\n",
        "issue": "slug,title,proposition,keywords\ncede-north,Ceding the north,Northland cedes the north,north\n",
        "source": 'ref,title,published_at,title_is_editorial,text\nminister,Minister,2025-08-18,true,"'
        + ARTICLE.replace('"', '""')
        + '\nSecond line, quoted ""like this""."\n',
        "statement": "party,issue,source_ref,stance,quote,start\n"
        'northland,cede-north,minister,oppose,"We will never give up the north.",20\n',
    }
    for kind, body in files.items():
        response = post(client, body.encode(), {"content-type": "text/csv; charset=utf-8"}, type=kind)
        assert response.status_code == 200, response.text
        assert response.json()["lines"] == 1

    party = client.get("/v1/parties/northland").json()
    assert party["aliases"] == ["Northland", "the north"]
    source = client.get("/v1/sources").json()["items"][0]
    assert source["title_is_editorial"] is True
    assert client.get(f"/v1/sources/{source['id']}").json()["text"] == ARTICLE + '\nSecond line, quoted "like this".'
    assert client.get("/v1/statements").json()["items"][0]["selector"]["start"] == 20

    bad = "party,issue,source_ref,stance,quote\nnorthland,cede-north,minister,maybe,north\n"
    problem = assert_problem(post(client, bad.encode(), {"content-type": "text/csv"}, type="statement"), 422)
    assert [(error["line"], error["field"]) for error in problem["errors"]] == [(2, "stance")]
    unknown = post(client, b"slug,colour\nx,red\n", {"content-type": "text/csv"}, type="party")
    assert assert_problem(unknown, 422, "import-refused")["errors"][0]["field"] == "colour"
    untyped = assert_problem(post(client, b"slug\n", {"content-type": "text/csv"}), 422, "validation-error")
    assert untyped["errors"][0]["field"] == "query.type"


def test_a_body_that_is_not_json_lines_or_csv_is_415(client):
    for headers in ({"content-type": "application/json"}, {}):
        response = post(client, small_file(), headers)
        assert_problem(response, 415, "unsupported-media-type")
        assert response.headers["Accept-Post"] == "application/x-ndjson, application/jsonl, text/csv"
    problem = assert_problem(post(client, small_file(), type="party"), 422, "validation-error")
    assert problem["errors"][0]["field"] == "query.type"


def test_an_import_needs_the_write_scope(anonymous_client, tokens):
    assert_problem(post(anonymous_client, small_file()), 401, "unauthorized")
    read_only = {**NDJSON, "Authorization": f"Bearer {tokens['read']}"}
    assert_problem(post(anonymous_client, small_file(), read_only), 403, "forbidden")


@pytest.fixture
def small_limits(app, tokens, database_url) -> Iterator[TestClient]:
    """A server whose body limit is the smallest allowed (1 KiB) and whose import limit is 64 KiB."""
    limited = create_app(Settings(database_url=database_url, max_body_bytes=1024, max_import_bytes=64 * 1024))
    with TestClient(limited, raise_server_exceptions=False) as test_client:
        test_client.headers["Authorization"] = f"Bearer {tokens['write']}"
        yield test_client
    if limited.state.version_probe is not None:
        limited.state.version_probe.close()
    dispose_engines(limited.state)


def test_a_body_over_the_default_limit_streams_in_under_the_import_limit(small_limits):
    statements = [{**NEGOTIABLE, "stated_on": f"2025-09-{day:02d}"} for day in range(1, 31)]
    body = small_file() + jsonl(*statements)
    assert 4 * 1024 < len(body) < 64 * 1024
    assert_problem(small_limits.post("/v1/sources", json={"title": "x", "text": "y" * 2000}), 413)

    # Sent with a length, and chunked (a generator body has none).
    response = post(small_limits, body)
    again = small_limits.post("/v1/imports", content=iter([body[:3000], body[3000:]]), headers=NDJSON)

    assert response.status_code == 200, response.text
    assert counts(response.json())["statements"] == (32, 0, 0)
    assert again.status_code == 200 and counts(again.json())["statements"] == (0, 32, 0), again.text


def test_a_body_over_the_import_limit_is_413(small_limits):
    body = jsonl(*[{**PARTY, "slug": f"party-{number}"} for number in range(2000)])
    assert len(body) > 64 * 1024

    assert_problem(post(small_limits, body), 413, "body-too-large")
    chunks = iter([body[index : index + 8192] for index in range(0, len(body), 8192)])
    assert_problem(small_limits.post("/v1/imports", content=chunks, headers=NDJSON), 413, "body-too-large")
    assert small_limits.get("/v1/parties").json()["items"] == []


def test_a_client_gone_mid_upload_imports_nothing_and_is_no_server_error(app, tokens, client, caplog):
    messages = [{"type": "http.request", "body": small_file()[:100], "more_body": True}, {"type": "http.disconnect"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [(b"authorization", f"Bearer {tokens['write']}".encode()), (b"content-type", b"application/x-ndjson")]
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/imports",
        "raw_path": b"/v1/imports",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    anyio.run(app, scope, receive, send)

    assert sent[0]["status"] == 400
    assert "unhandled error" not in caplog.text
    assert table_counts(client)["/v1/parties"] == 0


def test_positions_after_an_import_are_those_of_single_writes(client):
    assert post(client, small_file()).status_code == 200

    as_of_18 = client.get("/v1/matrix", params={"as_of": "2025-08-18"}).json()
    as_of_20 = client.get("/v1/matrix", params={"as_of": "2025-08-20"}).json()

    assert [cell["stance"] for cell in as_of_18["cells"]] == ["oppose"]
    assert [(cell["stance"], cell["evidence_count"]) for cell in as_of_20["cells"]] == [("lean_support", 1)]
    timeline = client.get("/v1/parties/northland/issues/cede-north/timeline").json()
    assert [(entry["statement"]["stance"], entry["change"]) for entry in timeline["entries"]] == [
        ("oppose", "new"),
        ("lean_support", "reversed"),
    ]


# --- stancemap load --------------------------------------------------------------------------


def load(url: str, *arguments: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [STANCEMAP, "load", *map(str, arguments)],
        check=False,
        cwd=cwd,
        env=cli_env(STANCEMAP_DATABASE_URL=url),
        capture_output=True,
        text=True,
        timeout=180,
    )


def last_line(result: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    return result.stderr.strip().splitlines()[-1]


def test_stancemap_load_imports_files_reports_in_one_line_and_check_passes(database_url, engine, tmp_path):
    lines = tmp_path / "world.jsonl"
    lines.write_bytes(jsonl(PARTY, ISSUE, {**SOURCE, "text": ARTICLE}))
    statements = tmp_path / "northland-statements.csv"
    statements.write_text(
        "party,issue,source_ref,stance,quote,start,stated_on\n"
        "northland,cede-north,minister,oppose,We will never give up the north.,20,2025-08-18\n"
        "northland,cede-north,minister,lean_support,officials said the north was negotiable,,2025-08-20\n",
        encoding="utf-8",
    )

    first = load(database_url, lines, statements, cwd=tmp_path)
    second = load(database_url, lines, statements, cwd=tmp_path)

    assert first.returncode == 0, first.stderr
    assert last_line(first).startswith("stancemap load: loaded 5 lines in ")
    assert last_line(first).endswith(
        "parties 1 created, 0 existing; issues 1 created, 0 existing; sources 1 created, 0 existing; "
        "statements 2 created, 0 existing"
    )
    assert second.returncode == 0, second.stderr
    assert last_line(second).endswith("statements 0 created, 2 existing")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM statement")).scalar_one() == 2
        actors = connection.execute(text("SELECT DISTINCT actor FROM audit_event")).scalars().all()
    assert actors == ["cli"]
    check = subprocess.run(
        [STANCEMAP, "check"],
        check=False,
        env=cli_env(STANCEMAP_DATABASE_URL=database_url),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_stancemap_load_names_each_problem_and_a_bad_file_in_one_line(database_url, engine, tmp_path):
    refused = tmp_path / "refused.jsonl"
    refused.write_bytes(jsonl(PARTY, {**ISSUE, "slug": "Bad Slug"}, OPPOSE))
    not_lines = tmp_path / "notes.txt"
    not_lines.write_text("Dear editor,\nplease load these.\n", encoding="utf-8")

    result = load(database_url, refused, cwd=tmp_path)
    assert result.returncode == 1
    assert (
        f"{refused}:2: slug: " in result.stderr and f"{refused}:3: source_ref: No source has the ref" in result.stderr
    )
    assert last_line(result) == "stancemap load: 3 problem(s) in 2 line(s); nothing was written"

    for bad, expected in (
        (not_lines, f"stancemap load: {not_lines} is not JSON Lines: line 1: not valid JSON: "),
        (tmp_path / "missing.jsonl", f"stancemap load: cannot read {tmp_path / 'missing.jsonl'}: No such file"),
        (tmp_path / "rows.csv", f"stancemap load: cannot tell what the rows of {tmp_path / 'rows.csv'} are"),
    ):
        result = load(database_url, bad, cwd=tmp_path)
        assert result.returncode == 1, result.stderr
        assert last_line(result).startswith(expected), result.stderr
        assert sum(line.startswith("stancemap load") for line in result.stderr.splitlines()) == 1
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM party")).scalar_one() == 0


def test_stancemap_load_draws_progress_on_a_terminal_only(database_url, tmp_path):
    lines = tmp_path / "world.jsonl"
    lines.write_bytes(jsonl(PARTY, ISSUE, {**SOURCE, "text": ARTICLE}, OPPOSE))
    result, shown = run_on_terminal(["load", str(lines), "--dry-run"], database_url)
    assert result.returncode == 0, shown
    assert f"\rloading [{'#' * 30}] " in shown and ", 4 lines" in shown
    assert "stancemap load: checked (dry run, nothing written) 4 lines" in shown
    piped = load(database_url, lines, "--dry-run", cwd=tmp_path)
    assert "loading [" not in piped.stderr and piped.returncode == 0


def test_stancemap_load_interrupted_writes_nothing_and_says_so_in_one_line(database_url, engine, tmp_path):
    process = subprocess.Popen(
        [STANCEMAP, "load", "-"],
        env=cli_env(STANCEMAP_DATABASE_URL=database_url),
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None
    process.stdin.write(jsonl(PARTY, ISSUE).decode("utf-8"))
    process.stdin.flush()
    # Wait until it has read those lines and waits for more: blocked in read(2) on stdin.
    deadline = time.monotonic() + 60
    while not Path(f"/proc/{process.pid}/syscall").read_text().startswith("0 0x0 "):
        assert time.monotonic() < deadline, "stancemap load never waited for input"
        time.sleep(0.05)
    time.sleep(0.2)  # the lines read before are checked and inserted, not yet committed

    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)

    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == "stancemap load: interrupted; nothing was written"
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM party")).scalar_one() == 0
