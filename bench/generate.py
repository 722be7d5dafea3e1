"""Generate a synthetic Stancemap data set at benchmark scale, bulk-loaded.

Every statement quotes a sentence of its source verbatim, with exact offsets and context, so the
data satisfies the same invariant as data written through the API (`text[start:end] == quote`).
Source texts are built from the seed article's own sentences plus attributed statements.

    python bench/generate.py --database-url sqlite:///bench.db --parties 50 --issues 40 --statements 500000
"""

import argparse
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.models import Issue, Party, Source, Statement, StatementRevision
from app.services import position_history, schema, search_index
from app.services.data_version import bump
from app.services.sources import text_sha256
from seeds.loader import SEEDS_DIR

STANCES = ["support", "lean_support", "neutral", "lean_oppose", "oppose", "unclear"]
VERBS = ["said", "wrote", "told reporters", "insisted", "argued", "posted"]
CONTEXT = 32


def seed_sentences() -> list[str]:
    article = (SEEDS_DIR / "sources" / "2025-08-18-white-house-ukraine-talks.txt").read_text(encoding="utf-8")
    return [line.strip() for line in article.split("\n") if len(line.strip()) > 60]


def build_source(
    rng: random.Random, filler: list[str], quotes_needed: int, party_names: list[str]
) -> tuple[str, list[tuple[int, int]]]:
    """A text alternating article sentences and attributed quotes; returns the text and quote spans."""
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    length = 0
    for index in range(quotes_needed):
        background = rng.choice(filler) + "\n"
        parts.append(background)
        length += len(background)
        speaker = rng.choice(party_names)
        quote = (
            f"“Position {index} of {speaker} on the talks is firm, and we will hold it,” {speaker} {rng.choice(VERBS)}."
        )
        spans.append((length, length + len(quote)))
        parts.append(quote + "\n")
        length += len(quote) + 1
    return "".join(parts).rstrip("\n"), spans


def generate(database_url: str, parties: int, issues: int, statements: int, per_source: int, seed: int) -> None:
    rng = random.Random(seed)
    started = time.perf_counter()
    schema.upgrade(database_url)
    engine = create_engine(database_url)
    now = datetime.now(UTC).replace(tzinfo=None) if database_url.startswith("sqlite") else datetime.now(UTC)
    with engine.begin() as connection:
        tables = ("search_index", "position_span", "position_cell", "statement_revision", "statement", "source")
        for table in (*tables, "issue", "party"):
            connection.execute(text(f"DELETE FROM {table}"))
        connection.execute(
            insert(Party),
            [
                {
                    "id": i,
                    "slug": f"party-{i:03d}",
                    "name": f"Party {i}",
                    "kind": "country",
                    "description": "",
                    "aliases": [f"Party {i}"],
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(1, parties + 1)
            ],
        )
        connection.execute(
            insert(Issue),
            [
                {
                    "id": i,
                    "slug": f"issue-{i:03d}",
                    "title": f"Issue {i}",
                    "proposition": f"Proposition {i} holds",
                    "description": "",
                    "keywords": [f"issue {i}"],
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(1, issues + 1)
            ],
        )

    filler = seed_sentences()
    names = [f"Party {i}" for i in range(1, parties + 1)]
    first_day = date(2024, 1, 1)
    source_count = (statements + per_source - 1) // per_source
    statement_id = 0
    with engine.begin() as connection:
        for source_id in range(1, source_count + 1):
            quotes = min(per_source, statements - statement_id)
            body, spans = build_source(rng, filler, quotes, names)
            published = first_day + timedelta(days=rng.randrange(0, 700))
            connection.execute(
                insert(Source),
                [
                    {
                        "id": source_id,
                        "title": f"Synthetic article {source_id}",
                        "title_is_editorial": True,
                        "publisher": "Bench Wire",
                        "kind": "article",
                        "language": "en",
                        "url": None,
                        "published_at": datetime(published.year, published.month, published.day),
                        "text": body,
                        "sha256": text_sha256(body),
                        "supersedes_id": None,
                        "created_at": now,
                        "updated_at": now,
                    }
                ],
            )
            rows = []
            for start, end in spans:
                statement_id += 1
                is_retracted = rng.random() < 0.01
                stated_on = published - timedelta(days=rng.randrange(0, 30))
                rows.append(
                    {
                        "id": statement_id,
                        "party_id": rng.randrange(1, parties + 1),
                        "issue_id": rng.randrange(1, issues + 1),
                        "source_id": source_id,
                        "stance": rng.choice(STANCES),
                        "summary": f"Synthetic position {statement_id}",
                        "speaker": None,
                        "stated_on": stated_on,
                        "quote": body[start:end],
                        "quote_start": start,
                        "quote_end": end,
                        "quote_prefix": body[max(0, start - CONTEXT) : start],
                        "quote_suffix": body[end : end + CONTEXT],
                        "revision": 1,
                        "recorded_by": "bench",
                        "recorded_at": now,
                        "created_at": now,
                        "retracted_at": now if is_retracted else None,
                        "retracted_on": stated_on + timedelta(days=60) if is_retracted else None,
                        "retracted_by": "bench" if is_retracted else None,
                        "retraction_reason": "synthetic retraction" if is_retracted else None,
                    }
                )
            connection.execute(insert(Statement), rows)
            connection.execute(
                insert(StatementRevision),
                [
                    {
                        key: row[key]
                        for key in (
                            "source_id",
                            "stance",
                            "summary",
                            "speaker",
                            "stated_on",
                            "quote",
                            "quote_start",
                            "quote_end",
                            "quote_prefix",
                            "quote_suffix",
                            "recorded_by",
                            "recorded_at",
                        )
                    }
                    | {"statement_id": row["id"], "revision": 1, "note": None}
                    for row in rows
                ],
            )
            if statement_id % 50_000 < per_source:
                print(f"  {statement_id} statements, {time.perf_counter() - started:.0f} s", file=sys.stderr)
        spans = position_history.rebuild_all(connection)
        print(f"  {spans} position spans, {time.perf_counter() - started:.0f} s", file=sys.stderr)
        documents = search_index.rebuild_all(connection)
        print(f"  {documents} search documents, {time.perf_counter() - started:.0f} s", file=sys.stderr)
        bump(connection)
        if engine.dialect.name == "postgresql":
            for table in ("party", "issue", "source", "statement", "statement_revision"):
                connection.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
                )
    # Planner statistics, and on PostgreSQL the visibility map that lets index-only scans skip the
    # heap: what autovacuum would reach on its own some time after a bulk load.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))
    engine.dispose()
    print(
        f"generated {parties} parties x {issues} issues, {statement_id} statements in {source_count} sources "
        f"in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )


def add_data_set_arguments(parser: argparse.ArgumentParser) -> None:
    """The size and seed of the data set, as every script generating it takes them."""
    parser.add_argument("--parties", type=int, default=50)
    parser.add_argument("--issues", type=int, default=40)
    parser.add_argument("--statements", type=int, default=500_000)
    parser.add_argument("--per-source", type=int, default=250, help="statements quoting each source")
    parser.add_argument("--seed", type=int, default=20250818)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    add_data_set_arguments(parser)
    args = parser.parse_args()
    generate(args.database_url, args.parties, args.issues, args.statements, args.per_source, args.seed)


if __name__ == "__main__":
    main()
