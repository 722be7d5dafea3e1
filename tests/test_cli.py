"""The installed `stancemap` console script, run as a user would: from a directory outside the
repository, configured only by environment variables. SQLite only: it is the embedded default."""

import argparse
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import ENGINES, SEED_DIR
from tests.servers import running_server

pytestmark = pytest.mark.skipif("sqlite" not in ENGINES, reason="the CLI tests run with the SQLite engine")

STANCEMAP = Path(sys.executable).parent / "stancemap"
REPOSITORY = Path(__file__).resolve().parent.parent


def cli_env(**overrides: str) -> dict[str, str]:
    """The current environment without any STANCEMAP_* setting, plus the given ones."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("STANCEMAP_")}
    env.update(overrides)
    return env


def outside_repository(path: Path) -> Path:
    assert REPOSITORY not in path.resolve().parents, path
    return path


def created(stderr: str, kind: str) -> int:
    match = re.search(rf"{kind}: (\d+) created", stderr)
    assert match, stderr
    return int(match.group(1))


def test_seed_twice_creates_the_statements_once(tmp_path):
    workdir = outside_repository(tmp_path)
    env = cli_env(STANCEMAP_DATABASE_URL=f"sqlite:///{tmp_path / 'seeded.db'}")
    seed_statements = len(json.loads((SEED_DIR / "statements.json").read_text(encoding="utf-8")))

    first = subprocess.run([STANCEMAP, "seed"], cwd=workdir, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert created(first.stderr, "statements") == seed_statements
    assert created(first.stderr, "parties") > 0

    second = subprocess.run([STANCEMAP, "seed"], cwd=workdir, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    for kind in ("parties", "issues", "sources", "statements"):
        assert created(second.stderr, kind) == 0, second.stderr
    assert f"statements: 0 created, {seed_statements} present" in second.stderr
    assert not (workdir / "stancemap.db").exists()


def test_serve_from_another_directory_migrates_seeds_and_serves_the_default_database(tmp_path):
    workdir = outside_repository(tmp_path / "run")
    workdir.mkdir()
    with running_server(cli_env(), workdir, "serve", workers=1) as server:
        parties = httpx.get(f"{server.base}/v1/parties", timeout=5)
        assert parties.status_code == 200
        assert "ukraine" in [party["slug"] for party in parties.json()["items"]]
        assert (workdir / "stancemap.db").is_file()


# --- a database that cannot be used, and --help ------------------------------------------------------

EVERY_COMMAND = [
    ["serve"],
    ["migrate"],
    ["seed"],
    ["token", "create", "--name", "desk", "--scope", "write"],
    ["token", "list"],
    ["token", "revoke", "desk"],
    ["export"],
    ["import", "-"],
    ["load", "-"],
    ["check"],
]


@pytest.fixture
def run_cli(monkeypatch, capsys):
    """Runs `stancemap ARGS` in this process with the given STANCEMAP_DATABASE_URL: (status, stdout, stderr)."""
    from app.cli import main
    from app.config import get_settings

    monkeypatch.setenv("MALLOC_ARENA_MAX", "2")  # `serve` would re-execute itself to set it
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))

    def run(arguments: list[str], database_url: str) -> tuple[int, str, str]:
        monkeypatch.setenv("STANCEMAP_DATABASE_URL", database_url)
        get_settings.cache_clear()
        try:
            main(arguments)
            status = 0
        except SystemExit as stop:
            status = stop.code if isinstance(stop.code, int) else 1
        finally:
            get_settings.cache_clear()
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run


def unusable_databases(tmp_path: Path) -> dict[str, tuple[str, str]]:
    """Database URLs no command can use, and what the one line says of each."""
    not_a_database = tmp_path / "notes.txt"
    not_a_database.write_text("not a database\n")
    return {
        "unparsable": ("not a url", "STANCEMAP_DATABASE_URL is not a database URL"),
        "bad port": ("postgresql+psycopg://stancemap:secret@[::1/db", "STANCEMAP_DATABASE_URL is not a database URL"),
        "unreachable": (
            "postgresql+psycopg://stancemap:secret@127.0.0.1:1/nowhere",
            "cannot use the database postgresql+psycopg://stancemap:***@127.0.0.1:1/nowhere: ",
        ),
        "unknown host": ("postgresql+psycopg://stancemap@no-such-host.invalid/db", "cannot use the database"),
        "no driver": ("mysql://stancemap@127.0.0.1/db", "its driver"),
        "in memory": ("sqlite://", "in-memory SQLite database"),
        "not a database": (f"sqlite:///{not_a_database}", "file is not a database"),
        "no such directory": (f"sqlite:///{tmp_path / 'missing' / 'x.db'}", "unable to open database file"),
    }


@pytest.mark.parametrize("arguments", EVERY_COMMAND, ids=" ".join)
def test_every_command_with_an_unusable_database_says_so_in_one_line_and_exits_2(run_cli, tmp_path, arguments):
    for case, (url, reason) in unusable_databases(tmp_path).items():
        status, out, err = run_cli(arguments, url)
        assert status == 2, (case, err)
        assert out == "" and err.count("\n") == 1, (case, err)
        assert err.startswith(f"stancemap {arguments[0]}: ") and reason in err, (case, err)
        assert "secret" not in err and "Traceback" not in err
    assert not (tmp_path / "missing").exists()


def _subcommands(parser: argparse.ArgumentParser, prefix: list[str]) -> list[tuple[list[str], argparse.ArgumentParser]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, subparser in action.choices.items():
                found.append(([*prefix, name], subparser))
                found += _subcommands(subparser, [*prefix, name])
    return found


def test_every_commands_help_gives_its_defaults(run_cli, monkeypatch):
    from app.cli import DEFAULT_DATABASE_URL, build_parser

    monkeypatch.setenv("COLUMNS", "1000")  # argparse wraps lines, hyphenated paths too, at the terminal's width
    commands = _subcommands(build_parser(), [])
    names = {" ".join(command) for command, _ in commands}
    assert names >= {
        "serve",
        "migrate",
        "seed",
        "token create",
        "token list",
        "token revoke",
        "export",
        "import",
        "load",
    }
    for command, subparser in commands:
        status, out, _ = run_cli([*command, "--help"], "sqlite:///unused.db")
        assert status == 0
        text = " ".join(out.split())
        for action in subparser._actions:
            # A flag's default is its absence; every option with a value has its default shown.
            if action.nargs != 0 and action.default not in (None, argparse.SUPPRESS):
                assert f"(default: {action.default})" in text, (command, action.dest, text)
        if command != ["openapi"]:
            assert f"STANCEMAP_DATABASE_URL (default: {DEFAULT_DATABASE_URL}" in text, (command, text)
