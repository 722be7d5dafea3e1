"""Latency of ranking a reader against the parties (POST /v1/match) and of comparing every pair of
parties (GET /v1/compare), uncached, on a live server: p50 and p99 over one connection.

Starts the server as bench/load.py does (`stancemap serve`, one uvicorn worker, no access log) on
a database filled by bench/generate.py, and drives it with wrk, one connection:

    python bench/comparison.py --database-url sqlite:////tmp/bench.db --label sqlite-500k

- POST /v1/match: a reader answering all 40 issues (stances drawn once, with seed 18; four of them
  counting double) against all 50 parties. Its answers are never cached, and each request also
  gets a date of its own (`as_of`), so that no request reads what the one before just read.
  Two rows: dates in the data's range (2024-2025), and dates after it (the latest positions).
- GET /v1/compare for all 50 parties (1,225 pairs) over all 40 issues, each request with an
  `as_of` of its own, so that the view cache, whose key holds the date, never has it: every
  request is built. Skipped while the server has no /v1/compare.

Like load.py it goes over the scenarios in several rounds, in alternating order, and reports per
scenario the median over the rounds; raw figures go to bench/results/<label>-comparison.json.
"""

import argparse
import json
import os
import random
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.load import (
    DATE_FN,
    LUA_DONE,
    RESULTS,
    cpu_reference_ms,
    cpu_seconds,
    free_port,
    run_wrk_script,
    start,
    stop,
)

STANCES = ["support", "lean_support", "neutral", "lean_oppose", "oppose"]

# One connection, one thread: `counter` numbers the requests, and each gets its own date from it.
LUA = """
local counter = -1
request = function()
  counter = counter + 1
  return wrk.format("%(method)s", %(path)s, {["Content-Type"] = "application/json"}, %(body)s)
end
""" + LUA_DONE.replace("%", "%%")


@dataclass(frozen=True)
class Scenario:
    name: str
    method: str
    path: str  # Lua expressions
    body: str = "nil"
    example: tuple[str, dict[str, Any] | None] = ("", None)  # one request as Python sends it, to check and size


def lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a Lua string literal for this ASCII text


def scenarios(parties: list[str], issues: list[str]) -> list[Scenario]:
    rng = random.Random(18)
    answers = {issue: rng.choice(STANCES) for issue in issues}
    weights = dict.fromkeys(rng.sample(issues, 4), 2)
    reader = json.dumps({"answers": answers, "weights": weights})
    # The reader's body with `as_of` spliced in before its closing brace.
    opened = lua_string(reader[:-1] + ', "as_of": "')

    def match_on(base_year: int, days: int) -> str:
        return f'{opened} .. {DATE_FN}({base_year}, counter % {days}) .. "\\"}}"'

    compare = "/v1/compare?parties=" + ",".join(parties) + "&issues=" + ",".join(issues) + "&as_of="
    example_reader = {"answers": answers, "weights": weights, "as_of": "2025-06-01"}
    return [
        Scenario(
            "POST /v1/match, 50 parties x 40 issues (as_of in the data's range)",
            "POST",
            '"/v1/match"',
            match_on(2024, 700),
            ("/v1/match", example_reader),
        ),
        Scenario(
            "POST /v1/match, 50 parties x 40 issues (latest: as_of after the data)",
            "POST",
            '"/v1/match"',
            match_on(2030, 3000),
            ("/v1/match", {**example_reader, "as_of": "2030-01-01"}),
        ),
        Scenario(
            "GET /v1/compare, 50 parties (1,225 pairs) x 40 issues (uncached: as_of in the data's range)",
            "GET",
            f"{lua_string(compare)} .. {DATE_FN}(2024, counter % 700)",
            example=(compare + "2025-06-01", None),
        ),
        Scenario(
            "GET /v1/compare, 50 parties (1,225 pairs) x 40 issues (uncached, latest: as_of after the data)",
            "GET",
            f"{lua_string(compare)} .. {DATE_FN}(2040, counter % 3000)",
            example=(compare + "2040-01-01", None),
        ),
    ]


def run_wrk(base_url: str, scenario: Scenario, seconds: int) -> dict[str, float]:
    script = LUA % {"method": scenario.method, "path": scenario.path, "body": scenario.body}
    figures = run_wrk_script(base_url, script, connections=1, threads=1, seconds=seconds)
    return {**figures, "errors": figures["errors"] + figures["non_2xx"]}


def listed(base_url: str, path: str, count: int) -> list[str]:
    response = httpx.get(f"{base_url}{path}", params={"limit": 200}, timeout=60)
    response.raise_for_status()
    return [item["slug"] for item in response.json()["items"]][:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--label", required=True, help="names the results file, e.g. sqlite-500k")
    parser.add_argument("--seconds", type=int, default=5, help="per scenario and round")
    parser.add_argument("--rounds", type=int, default=5, help="passes over all scenarios; figures are medians")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    server = start(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", "1", "--no-access-log"],
        {**os.environ, "STANCEMAP_DATABASE_URL": args.database_url},
        f"{base_url}/readyz",
    )
    try:
        parties, issues = listed(base_url, "/v1/parties", 50), listed(base_url, "/v1/issues", 40)
        has_compare = "/v1/compare" in httpx.get(f"{base_url}/openapi.json", timeout=60).json()["paths"]
        chosen = [
            scenario for scenario in scenarios(parties, issues) if has_compare or "/v1/compare" not in scenario.name
        ]
        sizes = {}
        for scenario in chosen:  # each answers 200, and how large its body is
            path, body = scenario.example
            response = httpx.request(scenario.method, f"{base_url}{path}", json=body, timeout=60)
            response.raise_for_status()
            sizes[scenario.name] = len(response.content)
        rounds = []
        for number in range(args.rounds):
            ordered = chosen if number % 2 == 0 else chosen[::-1]
            results = {}
            for scenario in ordered:
                before = sum(cpu_seconds(server.pid))
                results[scenario.name] = run_wrk(base_url, scenario, args.seconds)
                used = sum(cpu_seconds(server.pid)) - before
                results[scenario.name]["server_cpu_ms_per_request"] = used / results[scenario.name]["requests"] * 1000
                print(
                    f"  round {number + 1}, {scenario.name}: p50 {results[scenario.name]['p50_ms']:.1f} ms",
                    file=sys.stderr,
                )
            rounds.append(
                {
                    "cpu_reference_ms": round(cpu_reference_ms(), 1),
                    # The machine may be shared: how busy it was is part of the figures.
                    "load_average_1min": round(os.getloadavg()[0], 2),
                    "results": results,
                }
            )
    finally:
        stop(server)

    summary = [
        {
            "scenario": scenario.name,
            "response_bytes": sizes[scenario.name],
            **{
                figure: median(one_round["results"][scenario.name][figure] for one_round in rounds)
                for figure in ("p50_ms", "p99_ms", "server_cpu_ms_per_request")
            },
            "p50_ms_per_round": [one_round["results"][scenario.name]["p50_ms"] for one_round in rounds],
            "errors": sum(one_round["results"][scenario.name]["errors"] for one_round in rounds),
        }
        for scenario in chosen
    ]
    references = [one_round["cpu_reference_ms"] for one_round in rounds]
    report = {
        "label": args.label,
        "database": args.database_url.split(":")[0],
        "parties": len(parties),
        "issues": len(issues),
        "seconds_per_run": args.seconds,
        "rounds": args.rounds,
        "cpu_reference_ms": median(references),
        "summary": summary,
        "per_round": rounds,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.label}-comparison.json").write_text(json.dumps(report, indent=2) + "\n")

    print(f"### {args.label}: one connection, medians of {args.rounds} rounds, {args.seconds} s per run\n")
    print("| request | body bytes | p50 ms | p99 ms | server CPU ms/req | p50 per round | errors |")
    print("|---|---:|---:|---:|---:|---|---:|")
    for row in summary:
        spread = " ".join(f"{value:.1f}" for value in row["p50_ms_per_round"])
        print(
            f"| {row['scenario']} | {row['response_bytes']:,} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} "
            f"| {row['server_cpu_ms_per_request']:.1f} | {spread} | {row['errors']} |"
        )
    print(
        f"\nCPU reference (bench/load.py `cpu_reference_ms`), per round: {', '.join(f'{r:.0f}' for r in references)} ms"
    )
    loads = ", ".join(f"{one_round['load_average_1min']:.1f}" for one_round in rounds)
    print(f"Load average (1 min) after each round: {loads}")


if __name__ == "__main__":
    main()
