"""The project's own promises: the README's commands, CI and the Dockerfile agree and hold."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```(?:sh|bash|console)?\n(.*?)\n```", readme, flags=re.S)


def test_readme_starts_with_a_serve_command_and_a_test_command():
    serve, test = _readme_commands()[:2]
    assert "stancemap serve" in serve
    assert "pytest" in test


def test_ci_runs_the_readme_test_command_verbatim():
    test_command = _readme_commands()[1].strip()
    assert test_command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_dockerfile_passes_hadolint():
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run([str(hadolint), str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_serves_as_a_non_root_user():
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    users = re.findall(r"^USER\s+(\S+)", dockerfile, flags=re.M)
    assert users and users[-1] not in ("root", "0")
    assert '"stancemap", "serve"' in dockerfile
