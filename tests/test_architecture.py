"""The core is sans-IO and the dependency rules of DESIGN.md hold (checked on the source's AST)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = [ROOT / "mocks", ROOT / "twin" / "integration"]
FORBIDDEN_MODULES = {"simpy", "asyncio", "socket", "threading", "time", "selectors", "subprocess"}
FORBIDDEN_CALLS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "sleep"),
    ("time", "time"),
    ("time", "monotonic"),
    ("time", "perf_counter"),
}


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py"))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def _calls(path: Path) -> set[tuple[str, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    calls = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            calls.add((node.value.id, node.attr))
    return calls


@pytest.mark.parametrize("path", [p for folder in CORE for p in _files(folder)], ids=lambda p: str(p.relative_to(ROOT)))
def test_core_is_sans_io(path: Path) -> None:
    roots = {name.split(".")[0] for name in _imports(path)}
    assert not roots & FORBIDDEN_MODULES, f"{path.name} imports {roots & FORBIDDEN_MODULES}"
    assert not _calls(path) & FORBIDDEN_CALLS, f"{path.name} reads a clock or sleeps: {_calls(path) & FORBIDDEN_CALLS}"


def test_the_scan_would_catch_a_clock_read(tmp_path: Path) -> None:
    planted = tmp_path / "bad.py"
    planted.write_text("import time\nfrom datetime import datetime\nx = datetime.now()\ntime.sleep(1)\n")
    assert "time" in {n.split(".")[0] for n in _imports(planted)}
    assert ("datetime", "now") in _calls(planted) and ("time", "sleep") in _calls(planted)


def _ours(path: Path) -> set[str]:
    return {name for name in _imports(path) if name.split(".")[0] in ("twin", "mocks")}


def test_domain_imports_nothing_else_of_ours() -> None:
    for path in _files(ROOT / "twin" / "domain"):
        assert all(name.startswith("twin.domain") for name in _ours(path)), path


def test_mocks_see_only_the_domain() -> None:
    for path in _files(ROOT / "mocks"):
        others = {n for n in _ours(path) if not n.startswith(("twin.domain", "mocks"))}
        assert not others, f"{path} imports {others}"


def test_integration_sees_only_the_domain() -> None:
    for path in _files(ROOT / "twin" / "integration"):
        others = {n for n in _ours(path) if not n.startswith(("twin.domain", "twin.integration"))}
        assert not others, f"{path} imports {others}"
