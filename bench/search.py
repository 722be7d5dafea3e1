"""Search latency against a live Stancemap server: p50 and p99 of one connection, per query, and
the server's CPU time per search.

Starts one uvicorn worker on the given database (fill it first with bench/generate.py, which
builds the search index), and sends each query with wrk over one connection for `--seconds`, in
several rounds in alternating order; the figures are medians over the rounds. Search answers are
not cached: every request runs the query.

    python bench/search.py --database-url sqlite:////tmp/bench.db --label search-sqlite-500k

The generated statements all follow one template ("Position N of Party P on the talks is firm,
and we will hold it," Party P said.) with the summary "Synthetic position <id>", so a word is in
either a few statements (numbers) or nearly all of them (every other word). The queries span
that range; beside each, the number of statements its words match.
"""

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from statistics import median
from urllib.parse import urlencode

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.services.search_index import fts5_query, tsquery_literal
from app.services.search_terms import parse_query
from bench.load import RESULTS, cpu_reference_ms, cpu_seconds, free_port, run_wrk, start, stop

# (what it is, q): two-word queries from rare to everywhere, and a phrase.
QUERIES = [
    ("a speaker's name", "Party 17"),
    ("a rare word and a word in every statement", "position 123456"),
    ("two words in every statement", "firm talks"),
    ("a phrase", '"Party 17 said"'),
    ("a speaker's name, one party's statements", "Party 17&party=party-017"),
]


def matching_statements(database_url: str, query: str) -> int:
    """How many statements the words match (retracted ones left out, filters not applied)."""
    clauses = parse_query(query.split("&")[0])
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                sql = "SELECT count(*) FROM search_index WHERE search_index MATCH :q AND rowid > 0"
                expression = fts5_query(clauses, include_retracted=False)
            else:
                sql = "SELECT count(*) FROM search_index WHERE document @@ CAST(:q AS tsquery) AND key > 0"
                expression = tsquery_literal(clauses, include_retracted=False)
            return connection.execute(text(sql), {"q": expression}).scalar_one()
    finally:
        engine.dispose()


def path_of(query: str) -> str:
    words, _, filters = query.partition("&")
    return "/v1/search?" + urlencode({"q": words}) + (f"&{filters}" if filters else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--label", required=True, help="names the results file, e.g. search-sqlite-500k")
    parser.add_argument("--seconds", type=int, default=5, help="per query and round")
    parser.add_argument("--rounds", type=int, default=3, help="passes over all queries; figures are medians")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")

    matches = {query: matching_statements(args.database_url, query) for _, query in QUERIES}
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    server = start(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", "1", "--no-access-log"],
        {**os.environ, "STANCEMAP_DATABASE_URL": args.database_url},
        f"{base_url}/readyz",
    )
    rounds = []
    try:
        for number in range(args.rounds):
            ordered = QUERIES if number % 2 == 0 else QUERIES[::-1]
            results = {}
            for _, query in ordered:
                path = path_of(query)
                before = sum(cpu_seconds(server.pid))
                figures = run_wrk(base_url, json.dumps(path), "", connections=1, threads=1, seconds=args.seconds)
                if figures["non_2xx"] or figures["errors"]:
                    sys.exit(f"{path}: {figures}")
                # What one search costs the server, whatever share of the two cores others take.
                figures["server_cpu_ms"] = (sum(cpu_seconds(server.pid)) - before) * 1000 / figures["requests"]
                results[query] = figures
                print(f"  round {number + 1}, {query}: p50 {figures['p50_ms']:.1f} ms", file=sys.stderr)
            rounds.append(
                {
                    "cpu_reference_ms": round(cpu_reference_ms(), 1),
                    "load_average_1min": round(os.getloadavg()[0], 2),
                    "results": results,
                }
            )
    finally:
        stop(server)

    def median_of(query: str, figure: str) -> float:
        return round(median(one["results"][query][figure] for one in rounds), 2)

    summary = [
        {
            "query": query,
            "what": what,
            "path": path_of(query),
            "matching_statements": matches[query],
            "p50_ms": median_of(query, "p50_ms"),
            "p99_ms": median_of(query, "p99_ms"),
            "server_cpu_ms": median_of(query, "server_cpu_ms"),
            "p50_ms_per_round": [one["results"][query]["p50_ms"] for one in rounds],
        }
        for what, query in QUERIES
    ]
    references = [one["cpu_reference_ms"] for one in rounds]
    report = {
        "label": args.label,
        "database": args.database_url.split(":")[0],
        "seconds_per_run": args.seconds,
        "rounds": args.rounds,
        "cpu_reference_ms": median(references),
        "summary": summary,
        "per_round": rounds,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.label}.json").write_text(json.dumps(report, indent=2) + "\n")

    print(f"### {args.label}: one uvicorn worker, one connection; medians of {args.rounds} rounds\n")
    print("| query | | statements matching the words | p50 ms | p99 ms | server CPU ms/req | p50 per round |")
    print("|---|---|---:|---:|---:|---:|---|")
    for row in summary:
        spread = " ".join(f"{value:.1f}" for value in row["p50_ms_per_round"])
        print(
            f"| `{row['path']}` | {row['what']} | {row['matching_statements']:,} | {row['p50_ms']:.1f} "
            f"| {row['p99_ms']:.1f} | {row['server_cpu_ms']:.1f} | {spread} |"
        )
    loads = ", ".join(f"{one['load_average_1min']:.1f}" for one in rounds)
    print(
        f"\nCPU reference per round: {', '.join(f'{r:.0f}' for r in references)} ms; load average after each: {loads}"
    )


if __name__ == "__main__":
    main()
