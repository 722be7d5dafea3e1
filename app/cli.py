"""The `stancemap` command: serve, migrate, seed."""

import argparse
import sys

from sqlalchemy import func, select
from sqlmodel import Session

from app.config import get_settings
from app.db import make_engine
from app.models.party import Party
from app.services import schema


def _migrate() -> None:
    settings = get_settings()
    schema.upgrade(settings.database_url)
    print(f"database at migration {schema.head_revision()}", file=sys.stderr)


def _seed() -> None:
    from seeds.loader import load_seeds

    engine = make_engine(get_settings())
    try:
        with Session(engine) as session:
            print(f"seed: {load_seeds(session)}", file=sys.stderr)
    finally:
        engine.dispose()


def _database_is_empty() -> bool:
    engine = make_engine(get_settings())
    try:
        with Session(engine) as session:
            return session.exec(select(func.count()).select_from(Party)).scalar_one() == 0
    finally:
        engine.dispose()


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    _migrate()
    if _database_is_empty():
        _seed()
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=True,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stancemap",
        description="Stancemap: who stands where, every position backed by a verbatim quote. "
        "The database is STANCEMAP_DATABASE_URL (default: ./stancemap.db, SQLite).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="migrate, load the seeds into an empty database, and serve the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    commands.add_parser("migrate", help="apply database migrations up to the newest")
    commands.add_parser("seed", help="load the seed data; running it again changes nothing")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        _serve(args)
    elif args.command == "migrate":
        _migrate()
    elif args.command == "seed":
        _migrate()
        _seed()


if __name__ == "__main__":
    main()
