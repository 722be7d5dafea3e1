"""Write a JSON Lines file for a bulk import (POST /v1/imports, `stancemap load`) at benchmark scale.

The data set is bench/generate.py's (the same sources, built from the seed article's sentences and
attributed quotes), as lines an import reads: the parties, the issues, then each source with a
`ref`, followed by the statements quoting it by `source_ref`, each quote verbatim.

    python bench/import_file.py --output /tmp/import-500k.jsonl --statements 500000
"""

import argparse
import json
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import STANCES, add_data_set_arguments, build_source, seed_sentences


def write_file(output: Path, parties: int, issues: int, statements: int, per_source: int, seed: int) -> None:
    rng = random.Random(seed)
    started = time.perf_counter()
    filler = seed_sentences()
    names = [f"Party {i}" for i in range(1, parties + 1)]
    first_day = date(2024, 1, 1)
    written = 0
    with output.open("w", encoding="utf-8") as out:

        def line(value: dict) -> None:
            out.write(json.dumps(value, ensure_ascii=False) + "\n")

        for i in range(1, parties + 1):
            line({"type": "party", "slug": f"party-{i:03d}", "name": f"Party {i}", "kind": "country"})
        for i in range(1, issues + 1):
            line(
                {
                    "type": "issue",
                    "slug": f"issue-{i:03d}",
                    "title": f"Issue {i}",
                    "proposition": f"Proposition {i} holds",
                }
            )
        source_number = 0
        while written < statements:
            source_number += 1
            quotes = min(per_source, statements - written)
            text, spans = build_source(rng, filler, quotes, names)
            published = first_day + timedelta(days=rng.randrange(0, 700))
            ref = f"bench-{source_number}"
            line(
                {
                    "type": "source",
                    "ref": ref,
                    "title": f"Synthetic article {source_number}",
                    "publisher": "Bench Wire",
                    "published_at": published.isoformat(),
                    "text": text,
                }
            )
            for start, end in spans:
                written += 1
                line(
                    {
                        "type": "statement",
                        "party": f"party-{rng.randrange(1, parties + 1):03d}",
                        "issue": f"issue-{rng.randrange(1, issues + 1):03d}",
                        "source_ref": ref,
                        "stance": rng.choice(STANCES),
                        "quote": text[start:end],
                        "stated_on": (published - timedelta(days=rng.randrange(0, 30))).isoformat(),
                        "summary": f"Synthetic position {written}",
                    }
                )
    print(
        f"wrote {parties} parties, {issues} issues, {source_number} sources and {written} statements "
        f"({output.stat().st_size / 1e6:.0f} MB) to {output} in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, required=True)
    add_data_set_arguments(parser)
    args = parser.parse_args()
    write_file(args.output, args.parties, args.issues, args.statements, args.per_source, args.seed)


if __name__ == "__main__":
    main()
