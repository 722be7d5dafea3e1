"""Why search ranks a window of matches: the ranking SQL alone, every match against a window.

For each query of bench/search.py, times (median of 7, in this process) the query that ranks every
matching statement by the engine's own relevance and keeps the best 50 (FTS5's `bm25()`,
PostgreSQL's `ts_rank`), against the one search runs: the 200 most recently recorded matches, with
what ranks them (FTS5's `highlight()` counts, `ts_rank`).

    python bench/search_ranking.py --database-url sqlite:////tmp/bench.db
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.services.search import WINDOW
from app.services.search_index import fts5_query, tsquery_literal
from app.services.search_terms import parse_query
from bench.search import QUERIES

SQLITE = {
    "bm25() over every match": "SELECT rowid FROM search_index WHERE search_index MATCH :q AND rowid > 0 "
    "ORDER BY bm25(search_index) LIMIT 50",
    f"a window of {WINDOW}": "SELECT rowid, length(highlight(search_index, 0, char(1), '')) - length(en), "
    "length(highlight(search_index, 1, char(1), '')) - length(de) FROM search_index "
    f"WHERE search_index MATCH :q AND rowid > 0 ORDER BY rowid DESC LIMIT {WINDOW}",
}
POSTGRESQL = {
    "ts_rank over every match": "SELECT key FROM search_index WHERE document @@ CAST(:q AS tsquery) AND key > 0 "
    "ORDER BY ts_rank(document, CAST(:q AS tsquery)) DESC LIMIT 50",
    f"a window of {WINDOW}": "SELECT key, ts_rank(document, CAST(:q AS tsquery)) FROM (SELECT key, document "
    "FROM search_index WHERE document @@ CAST(:q AS tsquery) AND key > 0 "
    f"ORDER BY key DESC LIMIT {WINDOW}) AS window_of_matches",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args()
    engine = create_engine(args.database_url)
    sqlite = engine.dialect.name == "sqlite"
    statements = SQLITE if sqlite else POSTGRESQL
    print("| query | " + " | ".join(f"{name}, ms" for name in statements) + " |")
    print("|---|" + "---:|" * len(statements))
    with engine.connect() as connection:
        for _, query in QUERIES:
            words, _, filters = query.partition("&")
            if filters:
                continue  # the same words as another query, with a filter this comparison leaves out
            clauses = parse_query(words)
            match = (fts5_query if sqlite else tsquery_literal)(clauses, include_retracted=False)
            medians = []
            for sql in statements.values():
                timings = []
                for _ in range(7):
                    started = time.perf_counter()
                    connection.execute(text(sql), {"q": match}).all()
                    timings.append(time.perf_counter() - started)
                medians.append(statistics.median(timings) * 1000)
            print(f"| `{words}` | " + " | ".join(f"{value:.1f}" for value in medians) + " |")
    engine.dispose()


if __name__ == "__main__":
    main()
