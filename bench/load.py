"""Load run against a live Stancemap server: req/s, p50 and p99 per endpoint, measured in one run.

Starts one uvicorn worker on the given database (fill it first with bench/generate.py), drives it
with wrk, and prints a Markdown table; raw figures go to bench/results/<label>.json.

    python bench/load.py --database-url sqlite:////tmp/bench.db --label sqlite-500k

Each scenario runs twice: with 1 connection (latency: what one request costs) and with 32
connections over 2 threads (throughput, as `wrk -t2 -c32`). "Uncached" scenarios give every
request a different `as_of` (or `from`), so neither the response cache nor ETags can help.
At 32 connections it also reads the server's CPU time from /proc: what a request costs the server
(and how much of it is kernel time, such as copying a response into the socket), apart from the
share of the two cores that wrk itself takes.
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

# wrk Lua: each request may get its own path; `done` prints one JSON line with the figures.
LUA_TEMPLATE = """
local counter = 0
math.randomseed(os.time())
request = function()
  counter = counter + 1
  local path = %(path_expression)s
  return wrk.format("GET", path, {%(headers)s})
end
done = function(summary, latency, requests)
  io.write(string.format('{"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, "errors": %%d, "non_2xx": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
"""

# Lua helpers building a date string from a day offset.
DATE_FN = """(function(base_year, offset)
    local t = os.time({year=base_year, month=1, day=1, hour=12}) + offset * 86400
    return os.date("!%Y-%m-%d", t)
  end)"""


GZIP = '["Accept-Encoding"] = "gzip"'


def scenarios(party: str, issue: str, matrix_etag: str) -> list[tuple[str, str, str, str]]:
    """(name, caching, Lua expression for the request path, Lua request headers)."""
    # What a browser does with a view it holds (Cache-Control: no-cache): revalidate, and get a 304.
    revalidate = f"[\"If-None-Match\"] = '{matrix_etag}'"
    return [
        ("/healthz", "-", '"/healthz"', ""),
        ("/v1/matrix (latest, repeated)", "cached", '"/v1/matrix"', ""),
        ("/v1/matrix (latest, repeated, gzip)", "cached", '"/v1/matrix"', GZIP),
        ("/v1/matrix (latest, repeated, If-None-Match: 304)", "cached", '"/v1/matrix"', revalidate),
        ("/v1/matrix (latest, uncached)", "uncached", f'"/v1/matrix?as_of=" .. {DATE_FN}(2030, counter % 3000)', ""),
        (
            "/v1/matrix (past as_of, uncached)",
            "uncached",
            f'"/v1/matrix?as_of=" .. {DATE_FN}(2024, 150 + counter % 450)',
            "",
        ),
        (
            "/v1/diff (uncached)",
            "uncached",
            f'"/v1/diff?from=" .. {DATE_FN}(2024, 100 + counter % 300) .. "&to=" .. {DATE_FN}(2025, counter % 300)',
            "",
        ),
        (
            "/v1/statements?party&issue (filtered list)",
            "not cached",
            f'"/v1/statements?party={party}&issue={issue}&limit=50"',
            "",
        ),
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_wrk(
    base_url: str, path_expression: str, headers: str, connections: int, threads: int, seconds: int
) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA_TEMPLATE % {"path_expression": path_expression, "headers": headers})
    try:
        output = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", script.name, base_url],
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--label", required=True, help="names the results file, e.g. sqlite-500k")
    parser.add_argument("--seconds", type=int, default=10, help="per scenario and concurrency")
    parser.add_argument("--party", default="party-007")
    parser.add_argument("--issue", default="issue-012")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "STANCEMAP_DATABASE_URL": args.database_url}
    # The server as deployed (`stancemap serve`), less the per-request access log.
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", "1", "--no-access-log"],
        cwd=ROOT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            sys.exit("server did not become ready")
        scale = httpx.get(f"{base_url}/v1/matrix", params={"as_of": "2000-01-01"}, timeout=60).json()
        cells = len(scale["cells"])
        results = []
        matrix_etag = httpx.get(f"{base_url}/v1/matrix", timeout=60).headers["etag"]
        for name, caching, expression, headers in scenarios(args.party, args.issue, matrix_etag):
            single = run_wrk(base_url, expression, headers, connections=1, threads=1, seconds=args.seconds)
            before = cpu_seconds(server.pid)
            loaded = run_wrk(base_url, expression, headers, connections=32, threads=2, seconds=args.seconds)
            # What one request costs the server, whatever share of the two cores wrk itself takes.
            user, kernel = (after - start for after, start in zip(cpu_seconds(server.pid), before, strict=True))
            loaded["server_cpu_us_per_request"] = (user + kernel) / loaded["requests"] * 1e6
            loaded["server_kernel_share"] = kernel / (user + kernel) if user + kernel else 0.0
            results.append({"scenario": name, "caching": caching, "c1": single, "c32": loaded})
            print(f"  {name}: {loaded['req_per_s']:.0f} req/s, p50 {single['p50_ms']:.1f} ms", file=sys.stderr)
        memory = peak_memory_mb(server.pid)
        reference = cpu_reference_ms()
    finally:
        server.terminate()
        server.wait(timeout=30)

    healthz = results[0]["c32"]["req_per_s"]
    report = {
        "label": args.label,
        "database": args.database_url.split(":")[0],
        "grid_cells": cells,
        "seconds_per_run": args.seconds,
        "peak_server_memory_mb": round(memory, 1),
        "cpu_reference_ms": round(reference, 1),
        "scenarios": results,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.label}.json").write_text(json.dumps(report, indent=2) + "\n")

    print(f"### {args.label}: {cells} cells, one uvicorn worker, {args.seconds} s per run\n")
    print(
        "| endpoint | caching | req/s (c32) | vs /healthz | p50 ms (c1) | p99 ms (c1) | p50 ms (c32) | p99 ms (c32) "
        "| server CPU µs/req (c32) | in kernel | errors |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in results:
        c1, c32 = row["c1"], row["c32"]
        errors = c1["errors"] + c1["non_2xx"] + c32["errors"] + c32["non_2xx"]
        print(
            f"| {row['scenario']} | {row['caching']} | {c32['req_per_s']:.0f} | {c32['req_per_s'] / healthz:.0%} "
            f"| {c1['p50_ms']:.1f} | {c1['p99_ms']:.1f} | {c32['p50_ms']:.1f} | {c32['p99_ms']:.1f} "
            f"| {c32['server_cpu_us_per_request']:.0f} | {c32['server_kernel_share']:.0%} | {errors} |"
        )
    print(f"\nPeak server memory (VmHWM): {memory:.0f} MB. CPU reference (bench/load.py `cpu_reference_ms`): {reference:.0f} ms")


if __name__ == "__main__":
    main()
