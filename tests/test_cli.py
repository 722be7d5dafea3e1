"""The installed `stancemap` console script, run as a user would: from a directory outside the
repository, configured only by environment variables. SQLite only: it is the embedded default."""

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
