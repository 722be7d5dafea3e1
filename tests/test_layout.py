"""The layout's promises: the services hold the logic and know nothing of HTTP."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ROOT / "app" / "services"
WEB_FRAMEWORKS = frozenset({"fastapi", "starlette"})


def web_framework_imports(source: str) -> list[str]:
    """Every module imported from a web framework anywhere in the source, function bodies included."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
            names = [node.module]
        else:
            continue
        found += [name for name in names if name.split(".")[0] in WEB_FRAMEWORKS]
    return found


@pytest.mark.parametrize(
    "source",
    [
        "from fastapi import HTTPException",
        "import starlette.responses",
        "import json, fastapi",
        "def handler():\n    from starlette.requests import Request\n",
    ],
)
def test_the_check_sees_a_web_framework_import(source):
    assert web_framework_imports(source)


def test_the_check_leaves_other_imports_alone():
    assert web_framework_imports("import fastapi_offline\nfrom sqlmodel import Session\nfrom . import quotes") == []


def test_services_import_nothing_from_fastapi_or_starlette():
    modules = sorted(SERVICES.rglob("*.py"))
    assert modules, f"no modules under {SERVICES}"
    offending = {
        str(path.relative_to(ROOT)): imports
        for path in modules
        if (imports := web_framework_imports(path.read_text(encoding="utf-8")))
    }
    assert offending == {}, "services raise domain errors (app/errors.py) and leave HTTP to app/api"
