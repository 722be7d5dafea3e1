"""Time and size of gzip at each level on a live server's own views: what the level in
app/api/caching.py trades (a first request for a view waits for its compression).

    python bench/gzip_levels.py --base-url http://127.0.0.1:8000 --diff-from 2024-05-01 --diff-to 2025-05-01

Fetches the latest matrix and one diff uncompressed, then compresses each at levels 1 to 9 in
turn, --repeat times over (levels interleaved, so that a drift of the machine's speed spreads over
all of them). Prints the median time and the size per level with the CPU reference of
bench/load.py, and writes them to bench/results/gzip-levels.json.
"""

import argparse
import gzip
import json
import sys
import time
from statistics import median

import httpx

# bench/load.py: run as a script, this file has bench/ on its path.
from load import RESULTS, cpu_reference_ms

LEVELS = range(1, 10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--diff-from", default="2024-05-01")
    parser.add_argument("--diff-to", default="2025-05-01")
    parser.add_argument("--repeat", type=int, default=7, help="timings per view and level; the median is shown")
    args = parser.parse_args()
    if args.repeat < 1:
        sys.exit("--repeat must be at least 1")

    views = {}
    with httpx.Client(base_url=args.base_url, headers={"Accept-Encoding": "identity"}, timeout=120) as client:
        for name, path, params in (
            ("matrix", "/v1/matrix", {}),
            ("diff", "/v1/diff", {"from": args.diff_from, "to": args.diff_to}),
        ):
            response = client.get(path, params=params)
            response.raise_for_status()
            views[name] = response.content

    timings: dict[tuple[str, int], list[float]] = {}
    sizes: dict[tuple[str, int], int] = {}
    for _ in range(args.repeat):
        for name, body in views.items():
            for level in LEVELS:
                started = time.perf_counter()
                packed = gzip.compress(body, compresslevel=level, mtime=0)
                timings.setdefault((name, level), []).append((time.perf_counter() - started) * 1000)
                sizes[(name, level)] = len(packed)
    reference = cpu_reference_ms()

    rows = [
        {"view": name, "bytes": len(body), "level": level, "gzip_bytes": sizes[(name, level)],
         "median_ms": round(median(timings[(name, level)]), 2)}
        for name, body in views.items()
        for level in LEVELS
    ]  # fmt: skip
    print("| view | bytes | level | gzip bytes | share | median ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        share = row["gzip_bytes"] / row["bytes"]
        print(
            f"| {row['view']} | {row['bytes']:,} | {row['level']} | {row['gzip_bytes']:,} | {share:.1%} | {row['median_ms']:.1f} |"
        )
    print(f"\nCPU reference (bench/load.py `cpu_reference_ms`): {reference:.0f} ms")
    report = {"diff": {"from": args.diff_from, "to": args.diff_to}, "repeat": args.repeat,
              "cpu_reference_ms": round(reference, 1), "levels": rows}  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "gzip-levels.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
