"""Real `stancemap serve` processes for tests that need a server over TCP: the installed console
script, started from a temporary directory on a database of the test's choosing."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

STANCEMAP = Path(sys.executable).parent / "stancemap"

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
        cwd=workdir, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout
    return lines[0].strip()


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def _descendants(pid: int) -> list[int]:
    pending, found = [pid], []
    while pending:
        for child in _children(pending.pop()):
            found.append(child)
            pending.append(child)
    return found


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
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@contextmanager
def running_server(env: dict[str, str], workdir: Path, name: str, *, workers: int) -> Iterator[Server]:
    port = free_port()
    log_path = workdir / f"{name}.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [STANCEMAP, "serve", "--port", str(port), "--workers", str(workers)],
            cwd=workdir, env=env, stdout=log, stderr=log,
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
