"""Time writes at benchmark scale: each rebuilds the position history of the cells it touches.

Changes the database it is given: run it on a copy of one made by bench/generate.py.

    cp /tmp/bench.db /tmp/bench-writes.db
    python bench/writes.py --database-url sqlite:////tmp/bench-writes.db
"""

import argparse
import sys
import time
from pathlib import Path

from sqlmodel import Session, func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.config import Settings
from app.db import make_engine
from app.models.source import SourceUpdate
from app.models.statement import Statement, StatementCreate, StatementRetract
from app.services.sources import update_source
from app.services.statements import create_statement, retract_statement


def timed(label: str, write) -> None:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    write()
    print(f"{label}: {(time.perf_counter() - started) * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument(
        "--statement",
        type=int,
        default=1234,
        help="a standing statement: its cell gets a new one, then it is retracted",
    )
    parser.add_argument("--source", type=int, default=77, help="a source to retitle")
    args = parser.parse_args()
    engine = make_engine(Settings(database_url=args.database_url), for_writes=True)
    try:
        _time_writes(engine, args.statement, args.source)
    finally:
        engine.dispose()


def _time_writes(engine, statement_id: int, source_id: int) -> None:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        quoted = session.get(Statement, statement_id)
        if quoted is None or quoted.retracted_on is not None:
            sys.exit(f"statement {statement_id} does not exist or is retracted")
        in_cell = session.exec(
            select(func.count()).where(Statement.party_id == quoted.party_id, Statement.issue_id == quoted.issue_id)
        ).one()
        on_source = session.exec(select(func.count()).where(Statement.source_id == source_id)).one()
        new = StatementCreate(
            party=f"party-{quoted.party_id:03d}", issue=f"issue-{quoted.issue_id:03d}", source=quoted.source_id,
            quote=quoted.quote, start=quoted.quote_start, stance="support",
        )  # fmt: skip
        timed(f"record a statement in a cell of {in_cell}", lambda: create_statement(session, new, actor="bench"))
        timed(
            "retract a statement",
            lambda: retract_statement(session, statement_id, StatementRetract(reason="bench"), actor="bench"),
        )
        timed(
            f"retitle a source quoted by {on_source} statements",
            lambda: update_source(session, source_id, SourceUpdate(title="Retitled"), actor="bench"),
        )


if __name__ == "__main__":
    main()
