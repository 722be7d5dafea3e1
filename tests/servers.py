"""Real `stancemap serve` processes for tests that need a server over TCP: the installed console
script, started from a temporary directory on a database of the test's choosing; and the requests
the load, fault and torture tests make to them (statements quoting the seed article)."""

import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import SEED_ISSUES, SEED_PARTIES, every_item

STANCEMAP = Path(sys.executable).parent / "stancemap"
SEED_SOURCE = 1
PARTIES, ISSUES = SEED_PARTIES, SEED_ISSUES
STANCES = ["support", "lean_support", "neutral", "lean_oppose", "oppose", "unclear"]
# Spread over several months, so writers add to different evidence tallies as well as the same ones.
STATED_ON = ["2025-05-30", "2025-06-01", "2025-06-15", "2025-07-31", "2025-08-01", "2025-08-18"]


def seconds_from_env(variable: str, *, default: float, under_ci: float) -> float:
    """How long a load runs: the variable's value, else shorter under CI=true than by default."""
    raw = os.environ.get(variable, "").strip()
    if raw:
        return float(raw)
    return under_ci if os.environ.get("CI", "").lower() == "true" else default


def server_env(database_url: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("STANCEMAP_")}
    env["STANCEMAP_DATABASE_URL"] = database_url
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def create_token(env: dict[str, str], workdir: Path, *, name: str, scope: str) -> str:
    """A new token from `stancemap token create`: the secret is the only line on stdout."""
    done = subprocess.run(
        [STANCEMAP, "token", "create", "--name", name, "--scope", scope],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout
    return lines[0].strip()


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _descendants(pid: int) -> list[int]:
    pending, found = [pid], []
    while pending:
        for child in _children(pending.pop()):
            found.append(child)
            pending.append(child)
    return found


def _alive(pid: int) -> bool:
    """Whether a process runs (a zombie waiting for its parent to reap it does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _server_side_inode(server_port: int, client_port: int) -> str | None:
    """Inode of the accepted socket serving the connection from 127.0.0.1:client_port."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if local_port == server_port and remote_port == client_port and fields[9] != "0":
                return fields[9]
    return None


def _holder(pids: list[int], inode: str) -> int | None:
    wanted = f"socket:[{inode}]"
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    if os.readlink(fd) == wanted:
                        return pid
                except OSError:
                    continue
        except OSError:
            continue
    return None


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    log_path: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, chars: int = 6000) -> str:
        return self.log()[-chars:]

    def kill(self) -> None:
        """SIGKILL to the server and every worker at once, as a power cut would stop them."""
        pids = [self.process.pid, *_descendants(self.process.pid)]
        for pid in pids:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        assert self.process.wait(timeout=20) == -signal.SIGKILL
        deadline = time.monotonic() + 20
        while any(_alive(pid) for pid in pids[1:]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(pid) for pid in pids[1:]), "a worker outlived SIGKILL"

    def serving_pid(self, client_port: int) -> int | None:
        """The process (the server or one of its workers) holding the server side of a connection."""
        inode = _server_side_inode(self.port, client_port)
        if inode is None:
            return None
        return _holder([self.process.pid, *_descendants(self.process.pid)], inode)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    descendants = _descendants(process.pid)
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=20)
    for pid in descendants:  # workers orphaned by a main process that had to be killed
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@contextmanager
def running_server(env: dict[str, str], workdir: Path, name: str, *, workers: int) -> Iterator[Server]:
    port = free_port()
    log_path = workdir / f"{name}.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [STANCEMAP, "serve", "--port", str(port), "--workers", str(workers)],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=log,
        )
    server = Server(process, port, log_path)
    try:
        deadline = time.monotonic() + 90
        ready = None
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"server exited with {process.returncode}:\n{server.log_tail()}")
            try:
                ready = httpx.get(f"{server.base}/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        assert ready is not None and ready.status_code == 200, server.log_tail()
        yield server
    finally:
        _stop(process)


# --- requests to a running server -----------------------------------------------------------------


def source_text(base: str, source_id: int = SEED_SOURCE) -> str:
    response = httpx.get(f"{base}/v1/sources/{source_id}/text", timeout=30)
    assert response.status_code == 200, response.text
    return response.text


def quote_spans(source: str) -> list[tuple[int, int]]:
    """Passages of 3 to 14 whole words within one line of the source, as (start, end)."""
    spans = []
    for line in re.finditer(r"[^\n]+", source):
        offset = line.start()
        words = [(match.start() + offset, match.end() + offset) for match in re.finditer(r"\S+", line.group())]
        for first in range(0, len(words), 2):
            for count in (3, 7, 14):
                if first + count <= len(words):
                    spans.append((words[first][0], words[first + count - 1][1]))
    assert len(spans) > 100
    return spans


def statement_request(
    rng: random.Random, source: str, spans: list[tuple[int, int]], tag: str, *, source_id: int = SEED_SOURCE
) -> dict[str, Any]:
    start, end = rng.choice(spans)
    return {
        "party": rng.choice(PARTIES),
        "issue": rng.choice(ISSUES),
        "source": source_id,
        "quote": source[start:end],
        "start": start,
        "stance": rng.choice(STANCES),
        "summary": f"load test statement {tag}",
        "stated_on": rng.choice(STATED_ON),
    }


def writer_client(base: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {token}"})


def list_all(base: str, path: str, *, headers: dict[str, str] | None = None, **params: Any) -> list[dict[str, Any]]:
    """Every item of a cursor-paginated list, following next_cursor."""
    with httpx.Client(base_url=base, timeout=60, headers=headers) as client:
        return every_item(client, path, **params)


def list_statements(base: str, **params: Any) -> list[dict[str, Any]]:
    return list_all(base, "/v1/statements", **params)


def fetch_all(base: str, paths: list[str]) -> list[httpx.Response]:
    """GET every path, 8 at a time; the responses in the order of the paths."""
    local = threading.local()
    clients: list[httpx.Client] = []

    def get(path: str) -> httpx.Response:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=base, timeout=60)
            clients.append(local.client)
        return local.client.get(path)

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            return list(pool.map(get, paths))
    finally:
        for client in clients:
            client.close()
