"""TypeScript types generated from the committed openapi.json by openapi-typescript compile, under
strict tsc, with clients/typescript/index.ts: typed code over `paths` and `components` that breaks
when the schema changes under it.

Skipped when npm is not on PATH, except under CI=true, where it fails.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "clients" / "typescript"


def _run(*command: str, timeout: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(command), cwd=PROJECT, capture_output=True, text=True, timeout=timeout, check=False)


def test_generated_typescript_types_compile_with_the_typed_client():
    npm, npx = shutil.which("npm"), shutil.which("npx")
    if npm is None or npx is None:
        message = "npm is not on PATH"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)

    if not (PROJECT / "node_modules" / ".bin" / "tsc").exists():
        installed = _run(npm, "ci", "--no-audit", "--no-fund", timeout=600)
        assert installed.returncode == 0, installed.stdout + installed.stderr

    generated = _run(
        npx, "--no-install", "openapi-typescript", "../../openapi.json", "-o", "generated/stancemap.ts", timeout=300
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    types = (PROJECT / "generated" / "stancemap.ts").read_text(encoding="utf-8")
    assert '"matrix-get": {' in types and "Matrix: {" in types

    checked = _run(npx, "--no-install", "tsc", "--noEmit", "-p", ".", timeout=300)
    assert checked.returncode == 0, checked.stdout + checked.stderr
