import hashlib
import json

from sqlalchemy import select
from sqlmodel import Session

from app.models.source import Source
from app.models.statement import Statement, StatementRevision
from seeds.loader import load_seeds
from tests.conftest import SEED_DIR, SEED_SOURCE_SHA256
from tests.helpers import SEED_ISSUES, SEED_PARTIES


def test_seed_article_is_stored_byte_identical(client, seeded):
    source = client.get("/v1/sources/1").json()
    assert source["sha256"] == SEED_SOURCE_SHA256
    assert source["published_at"] == "2025-08-18T00:00:00Z"
    assert source["title_is_editorial"] is True
    body = client.get("/v1/sources/1/text").content
    assert hashlib.sha256(body).hexdigest() == SEED_SOURCE_SHA256
    assert body == (SEED_DIR / "sources" / "2025-08-18-white-house-ukraine-talks.txt").read_bytes()


def test_every_stored_quote_is_the_exact_source_span(client, seeded, engine):
    """The invariant the product rests on, checked over every statement and every revision."""
    with Session(engine) as session:
        texts = {source.id: source.text for source in session.exec(select(Source)).scalars()}
        rows = [*session.exec(select(Statement)).scalars(), *session.exec(select(StatementRevision)).scalars()]
    assert len(rows) >= 2 * 20
    for row in rows:
        assert texts[row.source_id][row.quote_start : row.quote_end] == row.quote
        assert texts[row.source_id][: row.quote_start].endswith(row.quote_prefix)
        assert texts[row.source_id][row.quote_end :].startswith(row.quote_suffix)
    served = client.get("/v1/statements", params={"limit": 200}).json()["items"]
    assert len(served) == len(rows) // 2
    for statement in served:
        selector = statement["selector"]
        assert texts[statement["source"]][selector["start"] : selector["end"]] == statement["quote"]


def test_seed_covers_the_required_parties_and_issues(client, seeded):
    parties = {party["slug"] for party in client.get("/v1/parties").json()["items"]}
    issues = {issue["slug"] for issue in client.get("/v1/issues").json()["items"]}
    assert set(SEED_PARTIES) <= parties
    assert set(SEED_ISSUES) <= issues


def _stances(client, party, issue):
    items = client.get("/v1/statements", params={"party": party, "issue": issue}).json()["items"]
    return sorted((item["stated_on"], item["stance"]) for item in items)


def test_seed_records_the_changes_the_article_reports(client, seeded):
    """Earlier and later positions, dated around the Alaska summit of 2025-08-15."""
    russia = _stances(client, "russia", "security-guarantees")
    assert russia[0][0] < "2025-08-15" and russia[0][1] in ("oppose", "lean_oppose")
    assert russia[-1][0] >= "2025-08-15" and russia[-1][1] in ("support", "lean_support")
    united_states = _stances(client, "united-states", "sanctions-on-russia")
    assert united_states[0][0] < "2025-08-15" and united_states[0][1] in ("support", "lean_support")
    assert united_states[-1][0] >= "2025-08-15" and united_states[-1][1] in ("oppose", "lean_oppose", "neutral")


def test_seeding_twice_changes_nothing(client, seeded, engine):
    before = client.get("/v1/statements", params={"limit": 200}).json()
    with Session(engine) as session:
        report = load_seeds(session)
    assert sum(report.created.values()) == 0
    assert report.existing["statements"] == len(json.loads((SEED_DIR / "statements.json").read_text()))
    assert client.get("/v1/statements", params={"limit": 200}).json() == before


def test_seed_statements_are_recorded_by_the_seed(client, seeded):
    items = client.get("/v1/statements", params={"limit": 200}).json()["items"]
    assert {item["recorded_by"] for item in items} == {"seed"}
