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

    engine = make_engine(get_settings(), for_writes=True)
    try:
        with Session(engine) as session:
            print(f"seed: {load_seeds(session)}", file=sys.stderr)
    finally:
        engine.dispose()


def _token(args: argparse.Namespace) -> None:
    from app.errors import ProblemError
    from app.models.token import TokenScope
    from app.services import tokens

    _migrate()
    engine = make_engine(get_settings(), for_writes=True)
    try:
        with Session(engine) as session:
            if args.token_command == "create":
                secret = tokens.create_token(session, name=args.name, scope=TokenScope(args.scope))
                print(f"token '{args.name}' ({args.scope}) created; it is shown only this once:", file=sys.stderr)
                print(secret)
            elif args.token_command == "list":
                for token in tokens.list_tokens(session):
                    state = f"revoked {token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else "active"
                    print(f"{token.name}\t{token.scope}\t{token.created_at:%Y-%m-%d %H:%M}\t{state}")
            else:
                tokens.revoke_token(session, args.name)
                print(f"token '{args.name}' revoked", file=sys.stderr)
    except ProblemError as error:
        sys.exit(f"stancemap token {args.token_command}: {error.detail}")
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
    token = commands.add_parser("token", help="manage API tokens (writes need one)")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    create = token_commands.add_parser("create", help="create a token and print it once")
    create.add_argument("--name", required=True, type=_token_name, help="who the token is for; recorded on every write")
    create.add_argument("--scope", required=True, choices=["read", "write", "admin"])
    token_commands.add_parser("list", help="list tokens (names, scopes, state; never the secrets)")
    revoke = token_commands.add_parser("revoke", help="revoke a token by name")
    revoke.add_argument("name")
    return parser


def _token_name(value: str) -> str:
    import re

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}", value):
        raise argparse.ArgumentTypeError("1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit")
    return value


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        _serve(args)
    elif args.command == "migrate":
        _migrate()
    elif args.command == "seed":
        _migrate()
        _seed()
    elif args.command == "token":
        _token(args)


if __name__ == "__main__":
    main()
