"""The `stancemap` command: serve, migrate, seed, tokens, export, import, load, check and the OpenAPI document."""

import argparse
import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import IO, Any, NoReturn

from pydantic import ValidationError
from sqlalchemy import func, make_url, select
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, DatabaseError, InterfaceError, OperationalError
from sqlmodel import Session

from app.config import Settings, get_settings
from app.db import WriteSession, dispose_engines, make_engine
from app.errors import ImportRefused
from app.models.imports import ImportKind
from app.models.party import Party
from app.services import backup, imports, integrity, schema

# Exit statuses: 1 for data that is refused or broken, 2 when the command cannot run at all
# (a database it cannot reach, a setting it cannot read), as argparse does for bad usage.
EXIT_CANNOT_RUN = 2
# As shells report a command ended by SIGINT (128 + 2).
EXIT_INTERRUPTED = 130


def _migrate() -> None:
    settings = get_settings()
    schema.upgrade(settings.database_url)
    print(f"database at migration {schema.head_revision()}", file=sys.stderr)


def _seed(*, wahlomat: bool = False) -> None:
    from seeds.loader import load_seeds
    from seeds.wahlomat import load_wahlomat

    engine = make_engine(get_settings(), for_writes=True)
    try:
        with Session(engine) as session:
            if wahlomat:
                print(f"seed --wahlomat: {load_wahlomat(session)}", file=sys.stderr)
            else:
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


PROGRESS_BAR_WIDTH = 30


def _progress_bar() -> backup.Progress | None:
    """Redraws one line on stderr per table (rows done / total); None when stderr is not a
    terminal, where a redrawn line would only clutter a log."""
    if not sys.stderr.isatty():
        return None

    def draw(table: str, done: int, total: int) -> None:
        filled = PROGRESS_BAR_WIDTH * done // total if total else PROGRESS_BAR_WIDTH
        bar = "#" * filled + "." * (PROGRESS_BAR_WIDTH - filled)
        sys.stderr.write(f"\r{table:<18} [{bar}] {done}/{total}")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return draw


def _row_counts(rows: dict[str, int]) -> str:
    return f"{sum(rows.values())} rows (" + ", ".join(f"{table} {count}" for table, count in rows.items()) + ")"


def _export() -> None:
    engine = make_engine(get_settings())
    try:
        rows = backup.export_dump(engine, sys.stdout.buffer, progress=_progress_bar())
    except backup.BackupError as error:
        sys.exit(f"stancemap export: {error}")
    except BrokenPipeError:
        # The reader went away (`stancemap export | head`): point stdout at /dev/null so the
        # interpreter's final flush does not fail a second time.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit("stancemap export: the output was closed before the dump was complete")
    finally:
        engine.dispose()
    print(f"exported {_row_counts(rows)}", file=sys.stderr)


def _open_dump(path: str) -> AbstractContextManager[IO[bytes]]:
    # stdin is left open: it is not ours to close.
    return nullcontext(sys.stdin.buffer) if path == "-" else open(path, "rb")


def _import(args: argparse.Namespace) -> None:
    _migrate()
    engine = make_engine(get_settings(), for_writes=True)
    try:
        with _open_dump(args.path) as dump:
            summary = backup.import_dump(engine, dump, progress=_progress_bar())
    except backup.BackupError as error:
        sys.exit(f"stancemap import: {error}")
    except OSError as error:
        sys.exit(f"stancemap import: cannot read {args.path}: {error.strerror or error}")
    finally:
        engine.dispose()
    print(f"imported {_row_counts(summary.rows)}; data version is now {summary.data_version}", file=sys.stderr)


class _LoadMeter:
    """Draws the bytes read so far of all files, and the lines, on one line of stderr (on a terminal)."""

    def __init__(self, total_bytes: int) -> None:
        self.total_bytes = total_bytes
        self.done_bytes = 0  # of the files finished
        self.current: IO[bytes] | None = None
        self.lines = 0
        self.drawn = False

    def tick(self, lines: int) -> None:
        self.lines = lines
        position = self.done_bytes + (self.current.tell() if self.current is not None else 0)
        self._draw(min(position, self.total_bytes))

    def file_done(self, size: int) -> None:
        self.done_bytes += size
        self.current = None
        self._draw(self.done_bytes)

    def _draw(self, done: int) -> None:
        filled = PROGRESS_BAR_WIDTH * done // self.total_bytes if self.total_bytes else 0
        bar = "#" * filled + "." * (PROGRESS_BAR_WIDTH - filled)
        size = f"{done / 1e6:.1f}/{self.total_bytes / 1e6:.1f} MB" if self.total_bytes else f"{done / 1e6:.1f} MB"
        sys.stderr.write(f"\rloading [{bar}] {size}, {self.lines} lines")
        sys.stderr.flush()
        self.drawn = True

    def end(self) -> None:
        """Ends the bar's line, once, before anything else is written to stderr."""
        if self.drawn:
            sys.stderr.write("\n")
            self.drawn = False


_CSV_KINDS = {
    "party": "party",
    "parties": "party",
    "issue": "issue",
    "issues": "issue",
    "source": "source",
    "sources": "source",
    "statement": "statement",
    "statements": "statement",
}


def _load_kind(path: str, given: str | None) -> str | None:
    """What a CSV file's rows are (None for JSON Lines): `--type`, or the last word of its name
    (`statements.csv`, `2025-sources.csv`)."""
    if not path.lower().endswith(".csv"):
        return None
    if given is not None:
        return given
    word = re.split(r"[-_. ]", Path(path).stem.lower())[-1]
    if word not in _CSV_KINDS:
        sys.exit(
            f"stancemap load: cannot tell what the rows of {path} are: give --type, or end its name in "
            "parties.csv, issues.csv, sources.csv or statements.csv"
        )
    return _CSV_KINDS[word]


def _load_file(path: str, kind: str | None, meter: _LoadMeter | None) -> Iterator[imports.Line]:
    with _open_dump(path) as stream:
        if meter is not None:
            meter.current = stream
        if kind is not None:
            yield from imports.csv_rows(stream, ImportKind(kind))
        else:
            lines = imports.json_lines(stream)
            first = next(lines, None)
            # A first line that is not a JSON object at all: the file is not JSON Lines (a PDF, a
            # CSV without its .csv name); one line says so rather than a problem per line.
            if first is not None and first.unreadable is not None and first.unreadable[0] == "":
                _end_bar(meter)
                sys.exit(f"stancemap load: {path} is not JSON Lines: line {first.number}: {first.unreadable[1]}")
            if first is not None:
                yield first
                yield from lines
        if meter is not None:
            meter.file_done(os.fstat(stream.fileno()).st_size if path != "-" else 0)


def _end_bar(meter: _LoadMeter | None) -> None:
    if meter is not None:
        meter.end()


def _load(args: argparse.Namespace) -> None:
    kinds = [_load_kind(path, args.kind) for path in args.files]
    sizes = [_readable_size(path) for path in args.files]
    _migrate()
    meter = _LoadMeter(sum(sizes)) if sys.stderr.isatty() else None
    inputs = [(path, _load_file(path, kind, meter)) for path, kind in zip(args.files, kinds, strict=True)]
    engine = make_engine(get_settings(), for_writes=True)
    started = time.perf_counter()
    try:
        with WriteSession(engine) as session:
            report = imports.run_import(
                session, inputs, actor=args.actor, dry_run=args.dry_run, progress=meter.tick if meter else None
            )
    except ImportRefused as refused:
        _end_bar(meter)
        _print_refusal(refused)
    except OSError as error:
        _end_bar(meter)
        sys.exit(f"stancemap load: cannot read {error.filename or 'the input'}: {error.strerror or error}")
    except KeyboardInterrupt:
        # Ctrl-C: the transaction was rolled back as the session closed.
        _end_bar(meter)
        print("stancemap load: interrupted; nothing was written", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    finally:
        _end_bar(meter)
        engine.dispose()
    seconds = time.perf_counter() - started
    counts = "; ".join(
        f"{kind} {getattr(report, kind).created} created, {getattr(report, kind).existing} existing"
        for kind in ("parties", "issues", "sources", "statements")
    )
    rate = f", {report.statements.created / seconds:.0f} statements/s" if report.statements.created else ""
    outcome = "checked (dry run, nothing written)" if args.dry_run else "loaded"
    print(f"stancemap load: {outcome} {report.lines} lines in {seconds:.1f} s{rate}: {counts}", file=sys.stderr)


def _readable_size(path: str) -> int:
    """The file's size, checked readable before anything is done; stdin counts as 0."""
    if path == "-":
        return 0
    try:
        with open(path, "rb") as stream:
            return os.fstat(stream.fileno()).st_size
    except OSError as error:
        sys.exit(f"stancemap load: cannot read {path}: {error.strerror or error}")


def _print_refusal(refused: ImportRefused) -> None:
    """Each problem on its own line (`FILE:LINE: field: message`), then one line that sums them up."""
    problems = refused.extensions["errors"]
    for problem in problems:
        field = f" {problem['field']}:" if problem["field"] else ""
        print(f"{problem['file']}:{problem['line']}:{field} {problem['message']}", file=sys.stderr)
    lines = len({(problem["file"], problem["line"]) for problem in problems})
    stopped = f", checking stopped at {imports.MAX_PROBLEMS}" if refused.extensions["report"]["stopped_early"] else ""
    sys.exit(f"stancemap load: {len(problems)} problem(s) in {lines} line(s){stopped}; nothing was written")


def _check() -> None:
    engine = make_engine(get_settings())
    try:
        report = integrity.check_database(engine)
    except integrity.OutdatedSchema as error:
        _cannot_run("check", str(error))
    finally:
        engine.dispose()
    for problem in report.problems:
        print(problem)
    rows = f"{_row_counts(report.rows)} and {report.spans} position spans"
    if report.problems:
        sys.exit(f"stancemap check: {len(report.problems)} problem(s) in {rows}")
    print(f"stancemap check: every invariant holds in {rows}", file=sys.stderr)


def _cannot_run(command: str, reason: str) -> NoReturn:
    print(f"stancemap {command}: {reason}", file=sys.stderr)
    sys.exit(EXIT_CANNOT_RUN)


def _default_openapi_path() -> Path:
    """openapi.json at the repository root when running from a checkout; else in the working directory."""
    root = Path(__file__).resolve().parent.parent
    return root / "openapi.json" if (root / "pyproject.toml").is_file() else Path("openapi.json")


def _openapi(args: argparse.Namespace) -> None:
    from app.config import Settings
    from app.main import create_app, openapi_json

    # The document depends on the code alone: an engine is created but never connected.
    app = create_app(Settings(database_url="sqlite:///stancemap-openapi.db"))
    try:
        document = openapi_json(app)
    finally:
        dispose_engines(app.state)
    if args.output == "-":
        sys.stdout.buffer.write(document.encode("utf-8"))
        sys.stdout.flush()
        return
    path = Path(args.output)
    try:
        path.write_text(document, encoding="utf-8")
    except OSError as error:
        sys.exit(f"stancemap openapi: cannot write {path}: {error.strerror or error}")
    print(f"wrote the OpenAPI document to {path}", file=sys.stderr)


def _database_is_empty() -> bool:
    engine = make_engine(get_settings())
    try:
        with Session(engine) as session:
            return session.execute(select(func.count()).select_from(Party)).scalar_one() == 0
    finally:
        engine.dispose()


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    if "MALLOC_ARENA_MAX" not in os.environ:
        # glibc gives each request thread its own malloc arena, which multiplies the server's
        # memory; two arenas keep it bounded. It must be set before the process starts: re-exec.
        os.environ["MALLOC_ARENA_MAX"] = "2"
        os.execv(sys.executable, [sys.executable, "-m", "app.cli", *sys.argv[1:]])
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
        access_log=args.access_log,
    )


DEFAULT_DATABASE_URL = Settings.model_fields["database_url"].default
DATABASE_EPILOG = (
    f"The database is STANCEMAP_DATABASE_URL (default: {DEFAULT_DATABASE_URL}, a SQLite file in the working "
    "directory; or postgresql+psycopg://user@host/db). Exit status 2: the database cannot be reached or a "
    "setting cannot be read."
)


def _command(commands: Any, name: str, help: str, *, database: bool = True) -> argparse.ArgumentParser:
    """A subcommand whose --help says what it does and which database it uses (options name their defaults)."""
    return commands.add_parser(
        name, help=help, description=help[0].upper() + help[1:] + ".", epilog=DATABASE_EPILOG if database else None
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stancemap",
        description="Stancemap: who stands where, every position backed by a verbatim quote.",
        epilog=DATABASE_EPILOG,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = _command(commands, "serve", "migrate, load the seeds into an empty database, and serve the API")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default: %(default)s)")
    serve.add_argument("--workers", type=int, default=1, help="server processes (default: %(default)s)")
    serve.add_argument(
        "--no-access-log",
        dest="access_log",
        action="store_false",
        help="do not log every request (default: every request is logged)",
    )
    _command(commands, "migrate", "apply database migrations up to the newest")
    seed = _command(commands, "seed", "load the seed data; running it again changes nothing")
    seed.add_argument(
        "--wahlomat",
        action="store_true",
        help="load the Wahl-O-Mat of the 2017 German federal election instead (32 parties, 38 theses, 1,216 answers)",
    )
    token = _command(commands, "token", "manage API tokens (writes need one)")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    create = _command(token_commands, "create", "create a token and print it once")
    create.add_argument("--name", required=True, type=_token_name, help="who the token is for; recorded on every write")
    create.add_argument(
        "--scope", required=True, choices=["read", "write", "admin"], help="what it may do (admin: also read the audit)"
    )
    _command(token_commands, "list", "list tokens (names, scopes, state; never the secrets)")
    revoke = _command(token_commands, "revoke", "revoke a token by name")
    revoke.add_argument("name", help="the token's name, as given to `token create`")
    _command(
        commands,
        "export",
        "write the whole database to stdout as JSON Lines: a header line, then a line per row (a backup)",
    )
    load = _command(commands, "import", "load a dump written by `stancemap export` into an empty database")
    load.add_argument("path", help="the dump file, or - for stdin")
    load = _command(
        commands,
        "load",
        "import parties, issues, sources and statements from JSON Lines or CSV files, all or nothing, as "
        "POST /v1/imports does; running it again writes nothing",
    )
    load.add_argument(
        "files", nargs="+", metavar="FILE", help="JSON Lines files (- for stdin), or CSV files named *.csv"
    )
    load.add_argument(
        "--type",
        dest="kind",
        choices=["party", "issue", "source", "statement"],
        help="what the rows of every CSV file are (default: the last word of each file's name, e.g. statements.csv)",
    )
    load.add_argument("--dry-run", action="store_true", help="check every line and report, writing nothing")
    load.add_argument(
        "--actor",
        default="cli",
        type=_token_name,
        help="the name the audit trail records the writes under (default: %(default)s)",
    )
    _command(
        commands,
        "check",
        "check every row of the database against the rules the API's writes keep, and the position history "
        "against a rebuild; exits 1 naming every problem",
    )
    openapi = _command(commands, "openapi", "write the OpenAPI document; it needs no database", database=False)
    openapi.add_argument(
        "--output",
        "-o",
        metavar="PATH",
        default=str(_default_openapi_path()),
        help="where to write it, or - for stdout (default: %(default)s)",
    )
    return parser


def _token_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}", value):
        raise argparse.ArgumentTypeError("1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit")
    return value


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        if args.command != "openapi":
            _usable_database_url(args.command)
        _run(args)
    except ValidationError as error:
        problem = error.errors()[0]
        setting = "STANCEMAP_" + "_".join(str(part) for part in problem["loc"]).upper()
        _cannot_run(args.command, f"{setting} is invalid: {problem['msg']}")
    except (OperationalError, InterfaceError, ArgumentError) as error:
        _cannot_run(args.command, f"cannot use the database {_shown_url()}: {_first_line(error)}")
    except DatabaseError as error:
        if type(error) is not DatabaseError:
            raise  # a constraint or a statement of ours failed: that traceback is for us
        # The driver's generic error: a file that is not a database, or a damaged one.
        _cannot_run(args.command, f"cannot use the database {_shown_url()}: {_first_line(error)}")
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] in ("app", "seeds", "migrations"):
            raise  # our own code is broken: that traceback is for us
        _cannot_run(args.command, f"cannot use the database {_shown_url()}: its driver {error.name} is not installed")


def _usable_database_url(command: str) -> None:
    """Stops with one line when STANCEMAP_DATABASE_URL cannot name a database a command can use,
    before anything tries to connect (SQLAlchemy would raise from deep inside, or worse, not at all)."""
    raw = os.environ.get("STANCEMAP_DATABASE_URL", DEFAULT_DATABASE_URL)
    try:
        url: URL = make_url(raw)
    except (ArgumentError, ValueError) as error:
        # The value itself is not shown: it may hold a password.
        _cannot_run(command, f"STANCEMAP_DATABASE_URL is not a database URL: {_first_line(error)}")
    # An in-memory SQLite database would be gone when the command ends, and fits no connection pool.
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        _cannot_run(
            command,
            "STANCEMAP_DATABASE_URL names an in-memory SQLite database; give a file, as sqlite:///./stancemap.db",
        )


def _shown_url() -> str:
    url = os.environ.get("STANCEMAP_DATABASE_URL", "sqlite:///./stancemap.db")
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(STANCEMAP_DATABASE_URL is not a database URL)"


def _first_line(error: Exception) -> str:
    reason = str(getattr(error, "orig", None) or error).strip()
    return reason.splitlines()[0] if reason else type(error).__name__


def _run(args: argparse.Namespace) -> None:
    if args.command == "serve":
        _serve(args)
    elif args.command == "migrate":
        _migrate()
    elif args.command == "seed":
        _migrate()
        _seed(wahlomat=args.wahlomat)
    elif args.command == "token":
        _token(args)
    elif args.command == "export":
        _export()
    elif args.command == "import":
        _import(args)
    elif args.command == "load":
        _load(args)
    elif args.command == "check":
        _check()
    elif args.command == "openapi":
        _openapi(args)


if __name__ == "__main__":
    main()
