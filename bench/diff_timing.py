"""In-process CPU time of an uncached diff, split into the cells query, the build and the
serialisation: medians over N date pairs.

    python bench/diff_timing.py <checkout> <database URL> [N]

`<checkout>` is the tree whose `app` is imported (for an A/B between two commits).
"""

import gc
import json
import statistics
import sys
import time
from datetime import date, timedelta

sys.path.insert(0, sys.argv[1])
from sqlmodel import Session

from app.api.tabular import json_bytes
from app.config import Settings
from app.db import make_engine, make_view_engine
from app.models.matrix import DiffEnd
from app.services import diffs, matrix, positions

settings = Settings(database_url=sys.argv[2])
engine = make_view_engine(settings, make_engine(settings))
n = int(sys.argv[3]) if len(sys.argv) > 3 else 200
pairs = [
    (date(2024, 1, 1) + timedelta(days=100 + k % 300), date(2025, 1, 1) + timedelta(days=k % 300)) for k in range(n)
]
t = {"query": [], "build": [], "serialise": []}
with Session(engine) as session:
    grid = matrix.resolve_grid(session, None, None)
    pids, iids = [p.id for p in grid.parties], [i.id for i in grid.issues]
    json_bytes(diffs.diff(session, grid, DiffEnd(as_of=pairs[0][0]), DiffEnd(as_of=pairs[0][1])))
    gc.collect()
    gc.freeze()
    for a, b in pairs:
        c0 = time.process_time()
        positions.cells_on_two_days(session, pids, iids, a, b)
        c1 = time.process_time()
        doc = diffs.diff(session, grid, DiffEnd(as_of=a), DiffEnd(as_of=b))
        c2 = time.process_time()
        json_bytes(doc)
        c3 = time.process_time()
        t["query"].append(c1 - c0)
        t["build"].append(c2 - c1)
        t["serialise"].append(c3 - c2)
print(json.dumps({k: round(statistics.median(v) * 1000, 2) for k, v in t.items()}))
