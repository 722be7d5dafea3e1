"""Load run against a live Stancemap server: req/s, p50 and p99 per endpoint, measured in one run.

Starts one uvicorn worker on the given database (fill it first with bench/generate.py), drives it
with wrk, and prints a Markdown table; raw figures go to bench/results/<label>.json.

    python bench/load.py --database-url sqlite:////tmp/bench.db --label sqlite-500k

Each scenario runs twice: with 1 connection (latency: what one request costs) and with 32
connections over 2 threads (throughput, as `wrk -t2 -c32`). "Uncached" scenarios give every
request a different `as_of` (or `from`), so neither the response cache nor ETags can help.
At 32 connections it also reads the server's CPU time from /proc: what a request costs the server
(and how much of it is kernel time, such as copying a response into the socket), apart from the
share of the two cores that wrk itself takes; then it waits for the server to finish what that
run left queued before the next run starts. Two "uncached, gzip" scenarios ask for views as
browsers do, with Accept-Encoding: gzip.

This machine's speed changes from minute to minute, so one pass over the scenarios can put
/healthz in a fast minute and the matrix in a slow one. The run therefore goes over all scenarios
in several rounds, in alternating order, and reports per scenario the median over the rounds; a
ratio to /healthz is taken within each round (against that round's /healthz) before the median.
One more row serves the cached matrix's own bytes from a bare ASGI app on the same uvicorn
(bench/static_body.py): what sending that many bytes costs here with no application at all."""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

# wrk Lua: `done` prints one JSON line with the figures (bench/comparison.py ends its scripts with it too).
LUA_DONE = """done = function(summary, latency, requests)
  io.write(string.format('{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "errors": %d, "non_2xx": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
"""
# wrk Lua: each request may get its own path.
# Thread k counts k, k + threads, k + 2 * threads, ...: no two threads ask for the same "uncached"
# view (the second would be answered from the cache, or wait for the first one's build).
LUA_TEMPLATE = """
local counter = 0
local threads_set_up = 0
setup = function(thread)
  thread:set("first", threads_set_up)
  threads_set_up = threads_set_up + 1
end
init = function(args)
  counter = first - %(threads)d
end
request = function()
  counter = counter + %(threads)d
  local path = %(path_expression)s
  return wrk.format("GET", path, {%(headers)s})
end
""" + LUA_DONE.replace("%", "%%")

# Lua helpers building a date string from a day offset.
DATE_FN = """(function(base_year, offset)
    local t = os.time({year=base_year, month=1, day=1, hour=12}) + offset * 86400
    return os.date("!%Y-%m-%d", t)
  end)"""


GZIP = '["Accept-Encoding"] = "gzip"'


@dataclass(frozen=True)
class Scenario:
    name: str
    caching: str
    path: str  # a Lua expression giving each request's path
    headers: str = ""  # Lua table entries
    static: bool = False  # served by bench/static_body.py rather than by Stancemap


HEALTHZ = "/healthz"


def scenarios(party: str, issue: str, matrix_etag: str) -> list[Scenario]:
    # What a browser does with a view it holds (Cache-Control: no-cache): revalidate, and get a 304.
    revalidate = f"[\"If-None-Match\"] = '{matrix_etag}'"
    return [
        Scenario(HEALTHZ, "-", '"/healthz"'),
        Scenario("/v1/matrix (latest, repeated)", "cached", '"/v1/matrix"'),
        Scenario("/v1/matrix (latest, repeated, gzip)", "cached", '"/v1/matrix"', GZIP),
        Scenario("/v1/matrix (latest, repeated, If-None-Match: 304)", "cached", '"/v1/matrix"', revalidate),
        Scenario("the repeated matrix's bytes from a bare ASGI app (ceiling)", "static", '"/"', static=True),
        Scenario(
            "/v1/matrix (latest, uncached)", "uncached", f'"/v1/matrix?as_of=" .. {DATE_FN}(2030, counter % 3000)'
        ),
        Scenario(
            "/v1/matrix (past as_of, uncached)",
            "uncached",
            f'"/v1/matrix?as_of=" .. {DATE_FN}(2024, 150 + counter % 450)',
        ),
        Scenario(
            "/v1/diff (uncached)",
            "uncached",
            f'"/v1/diff?from=" .. {DATE_FN}(2024, 100 + counter % 300) .. "&to=" .. {DATE_FN}(2025, counter % 300)',
        ),
        # What a browser gets on a first visit: the view built, then compressed. Dates of their own,
        # so that no body built by the scenarios above is in the cache.
        Scenario(
            "/v1/matrix (latest, uncached, gzip)",
            "uncached",
            f'"/v1/matrix?as_of=" .. {DATE_FN}(2040, counter % 3000)',
            GZIP,
        ),
        Scenario(
            "/v1/diff (uncached, gzip)",
            "uncached",
            f'"/v1/diff?from=" .. {DATE_FN}(2024, counter % 100) .. "&to=" .. {DATE_FN}(2025, counter % 300)',
            GZIP,
        ),
        Scenario(
            "/v1/statements?party&issue (filtered list)",
            "not cached",
            f'"/v1/statements?party={party}&issue={issue}&limit=50"',
        ),
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_wrk(
    base_url: str, path_expression: str, headers: str, connections: int, threads: int, seconds: int
) -> dict[str, float]:
    script = LUA_TEMPLATE % {"path_expression": path_expression, "headers": headers, "threads": threads}
    return run_wrk_script(base_url, script, connections, threads, seconds)


def run_wrk_script(base_url: str, script_text: str, connections: int, threads: int, seconds: int) -> dict[str, float]:
    """Runs wrk with a Lua script that ends in LUA_DONE; the figures it printed."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(script_text)
    try:
        output = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{seconds}s",
                "--timeout",
                "10s",
                "-s",
                script.name,
                base_url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    figures = json.loads(next(line for line in output.splitlines() if line.startswith("{")))
    return {
        "requests": figures["requests"],
        "req_per_s": figures["requests"] / (figures["duration_us"] / 1e6),
        "p50_ms": figures["p50_us"] / 1000,
        "p99_ms": figures["p99_us"] / 1000,
        "errors": figures["errors"],
        "non_2xx": figures["non_2xx"],
    }


def cpu_reference_ms() -> float:
    """Median time of a fixed pure-Python loop: how fast this machine is right now. Latencies from
    runs on different machines (or on a shared one at different times) compare after scaling by it."""
    timings = []
    for _ in range(7):
        started = time.perf_counter()
        sum(number * number for number in range(1_000_000))
        timings.append((time.perf_counter() - started) * 1000)
    return sorted(timings)[len(timings) // 2]


def peak_memory_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of the server and its children."""
    total = 0
    for process in [pid, *_children(pid)]:
        for line in Path(f"/proc/{process}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1])
    return total / 1024


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, kernel) CPU seconds the server and its children have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    user = kernel = 0
    for process in [pid, *_children(pid)]:
        # Fields 14 and 15 of /proc/<pid>/stat, counted after the parenthesised command name.
        fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        user, kernel = user + int(fields[11]), kernel + int(fields[12])
    return user / ticks, kernel / ticks


def _children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in found.read_text().split()] if found.exists() else []


def start(command: list[str], env: dict[str, str], ready_url: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(ready_url, timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    stop(process)
    sys.exit(f"{' '.join(command)} did not become ready")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def measure(scenario: Scenario, base_url: str, pid: int, seconds: int) -> dict[str, dict[str, float]]:
    single = run_wrk(base_url, scenario.path, scenario.headers, connections=1, threads=1, seconds=seconds)
    before = cpu_seconds(pid)
    loaded = run_wrk(base_url, scenario.path, scenario.headers, connections=32, threads=2, seconds=seconds)
    # What one request costs the server, whatever share of the two cores wrk itself takes.
    user, kernel = (after - start for after, start in zip(cpu_seconds(pid), before, strict=True))
    loaded["server_cpu_us_per_request"] = (user + kernel) / loaded["requests"] * 1e6 if loaded["requests"] else 0.0
    loaded["server_kernel_share"] = kernel / (user + kernel) if user + kernel else 0.0
    # When wrk stops, the server still has up to 32 requests to answer: two views being built
    # (max_concurrent_builds), the rest queued, one to three seconds of work on the uncached rows.
    # The next run must not start behind them: it did, and they were the single-connection p99
    # of every row that ran after an uncached one.
    if not wait_until_idle(pid):
        loaded["server_still_busy"] = True
        print(f"  warning: the server was still busy {IDLE_TIMEOUT_S:.0f} s after {scenario.name}", file=sys.stderr)
    return {"c1": single, "c32": loaded}


IDLE_TIMEOUT_S = 60.0


def wait_until_idle(pid: int) -> bool:
    """True once the server has used at most one clock tick (10 ms) in each of three 200 ms windows
    in a row; False if it has not after IDLE_TIMEOUT_S. Three windows, because on PostgreSQL a build
    waiting for its query uses no CPU of the server's own."""
    deadline = time.monotonic() + IDLE_TIMEOUT_S
    used, quiet = sum(cpu_seconds(pid)), 0
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = sum(cpu_seconds(pid))
        quiet = quiet + 1 if now - used <= 0.0101 else 0
        if quiet == 3:
            return True
        used = now
    return False


def summarise(all_scenarios: list[Scenario], rounds: list[dict]) -> list[dict]:
    """Per scenario, the median over the rounds of each figure; ratios to /healthz within a round."""
    summary = []
    for scenario in all_scenarios:
        runs = [one_round["results"][scenario.name] for one_round in rounds]
        ratios = [
            run["c32"]["req_per_s"] / one_round["results"][HEALTHZ]["c32"]["req_per_s"]
            for run, one_round in zip(runs, rounds, strict=True)
        ]

        def middle(concurrency: str, figure: str, runs: list[dict] = runs) -> float:
            return median(run[concurrency][figure] for run in runs)

        summary.append(
            {
                "scenario": scenario.name,
                "caching": scenario.caching,
                "req_per_s": middle("c32", "req_per_s"),
                "vs_healthz": median(ratios),
                "vs_healthz_per_round": ratios,
                "c1_p50_ms": middle("c1", "p50_ms"),
                "c1_p99_ms": middle("c1", "p99_ms"),
                "c32_p50_ms": middle("c32", "p50_ms"),
                "c32_p99_ms": middle("c32", "p99_ms"),
                "server_cpu_us_per_request": middle("c32", "server_cpu_us_per_request"),
                "server_kernel_share": middle("c32", "server_kernel_share"),
                "errors": sum(run[c]["errors"] + run[c]["non_2xx"] for run in runs for c in ("c1", "c32")),
            }
        )
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--label", required=True, help="names the results file, e.g. sqlite-500k")
    parser.add_argument("--seconds", type=int, default=5, help="per scenario, concurrency and round")
    parser.add_argument("--rounds", type=int, default=3, help="passes over all scenarios; figures are medians")
    parser.add_argument("--party", default="party-007")
    parser.add_argument("--issue", default="issue-012")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    if args.rounds < 1 or args.seconds < 1:
        sys.exit("--rounds and --seconds must be at least 1")

    port, static_port = free_port(), free_port()
    base_url, static_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{static_port}"
    # The server as deployed (`stancemap serve`), less the per-request access log.
    server = start(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", "1", "--no-access-log"],
        {**os.environ, "STANCEMAP_DATABASE_URL": args.database_url},
        f"{base_url}/readyz",
    )
    static_server = None
    scratch = tempfile.TemporaryDirectory()
    body_file = Path(scratch.name) / "matrix.json"
    try:
        scale = httpx.get(f"{base_url}/v1/matrix", params={"as_of": "2000-01-01"}, timeout=60).json()
        cells = len(scale["cells"])
        latest = httpx.get(f"{base_url}/v1/matrix", headers={"Accept-Encoding": "identity"}, timeout=60)
        latest.raise_for_status()  # the ceiling must serve the matrix, not a problem document
        body_file.write_bytes(latest.content)
        static_server = start(
            [sys.executable, "-m", "uvicorn", "bench.static_body:app", "--port", str(static_port), "--no-access-log"],
            {**os.environ, "STATIC_BODY_FILE": str(body_file), "MALLOC_ARENA_MAX": "2"},
            static_url,
        )
        rounds = []
        for number in range(args.rounds):
            # The latest matrix is the one as of today (UTC): after midnight it is another view with
            # another ETag, and the revalidating row would be sent whole matrices. Each round asks anew.
            etag = httpx.get(f"{base_url}/v1/matrix", headers={"Accept-Encoding": "identity"}, timeout=60).headers[
                "etag"
            ]
            all_scenarios = scenarios(args.party, args.issue, etag)
            # Alternate the order, so that no scenario always runs at the same point of a drift.
            ordered = all_scenarios if number % 2 == 0 else all_scenarios[::-1]
            results = {}
            for scenario in ordered:
                url, pid = (static_url, static_server.pid) if scenario.static else (base_url, server.pid)
                results[scenario.name] = measure(scenario, url, pid, args.seconds)
                print(
                    f"  round {number + 1}, {scenario.name}: {results[scenario.name]['c32']['req_per_s']:.0f} req/s",
                    file=sys.stderr,
                )
            rounds.append({"cpu_reference_ms": round(cpu_reference_ms(), 1), "results": results})
        memory = peak_memory_mb(server.pid)
    finally:
        try:
            for process in (server, static_server):
                if process is not None:
                    stop(process)
        finally:
            scratch.cleanup()

    summary = summarise(all_scenarios, rounds)
    references = [one_round["cpu_reference_ms"] for one_round in rounds]
    report = {
        "label": args.label,
        "database": args.database_url.split(":")[0],
        "grid_cells": cells,
        "matrix_bytes": len(latest.content),
        "seconds_per_run": args.seconds,
        "rounds": args.rounds,
        "peak_server_memory_mb": round(memory, 1),
        "cpu_reference_ms": median(references),
        "summary": summary,
        "per_round": rounds,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.label}.json").write_text(json.dumps(report, indent=2) + "\n")

    print(
        f"### {args.label}: {cells} cells, one uvicorn worker; medians of {args.rounds} rounds, "
        f"{args.seconds} s per run\n"
    )
    print(
        "| endpoint | caching | req/s (c32) | vs /healthz (rounds) | p50 ms (c1) | p99 ms (c1) | p50 ms (c32) "
        "| p99 ms (c32) | server CPU µs/req (c32) | in kernel | errors |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in summary:
        spread = " ".join(f"{ratio:.0%}" for ratio in row["vs_healthz_per_round"])
        print(
            f"| {row['scenario']} | {row['caching']} | {row['req_per_s']:.0f} | {row['vs_healthz']:.0%} ({spread}) "
            f"| {row['c1_p50_ms']:.1f} | {row['c1_p99_ms']:.1f} | {row['c32_p50_ms']:.1f} | {row['c32_p99_ms']:.1f} "
            f"| {row['server_cpu_us_per_request']:.0f} | {row['server_kernel_share']:.0%} | {row['errors']} |"
        )
    print(
        f"\nMatrix body: {len(latest.content):,} bytes. Peak server memory (VmHWM): {memory:.0f} MB. "
        f"CPU reference (bench/load.py `cpu_reference_ms`), per round: {', '.join(f'{r:.0f}' for r in references)} ms"
    )


if __name__ == "__main__":
    main()
