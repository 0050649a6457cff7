"""The core is sans-IO and the dependency rules of DESIGN.md hold.

Two checks, because either alone can be talked around:

- a static scan of the core's source that resolves every name to what it was imported as (so
  ``from datetime import datetime as dt; dt.now()`` is ``datetime.datetime.now``), and refuses
  dynamic imports and the builtins that open, evaluate or fetch by name;
- a run of a faulty scenario with the core under the trap of ``twin.sim.sans_io``, which sees the
  functions themselves, however they were reached.

Each check is shown catching what it looks for, planted. The import graph of the judge
(``twin/observe``, ``twin/conformance``) reaches neither a driver nor an integration.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.broken import Wrapped
from twin.domain.contract import Integration, IntegrationException, Outcome, RunContext
from twin.domain.model import SimTime
from twin.scenario import load_scenario
from twin.sim import Twin
from twin.sim.sans_io import SansIoViolation, trap_core

ROOT = Path(__file__).resolve().parent.parent
CORE = [ROOT / "mocks", ROOT / "twin" / "domain", ROOT / "twin" / "integration", ROOT / "twin" / "faults"]
CORE += [ROOT / "examples"]  # integrations users copy from
FORBIDDEN_MODULES = {
    "time", "socket", "asyncio", "threading", "multiprocessing", "subprocess", "selectors", "ssl", "signal",
    "os", "sys", "io", "pathlib", "shutil", "tempfile", "glob", "importlib", "builtins", "ctypes", "sqlite3",
    "http", "urllib", "requests", "httpx", "uvicorn", "fastapi", "secrets", "uuid", "simpy", "pytest",
}  # fmt: skip
FORBIDDEN_NAMES = {
    "datetime.datetime.now", "datetime.datetime.utcnow", "datetime.datetime.today", "datetime.date.today",
    "datetime.datetime.fromtimestamp", "datetime.date.fromtimestamp",
}  # fmt: skip
# the module-level functions of ``random`` draw from one unseeded generator; ``random.Random(seed)`` is fine
GLOBAL_RANDOM = {
    "random", "randint", "randrange", "choice", "choices", "shuffle", "sample", "uniform", "gauss", "seed",
    "getrandbits", "triangular", "betavariate", "expovariate", "lognormvariate", "normalvariate", "vonmisesvariate",
    "paretovariate", "weibullvariate", "gammavariate", "randbytes",
}  # fmt: skip
FORBIDDEN_BUILTINS = {"open", "__import__", "eval", "exec", "compile", "input", "breakpoint", "globals", "vars"}


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py"))


def violations(source: str) -> list[str]:
    """Every way ``source`` could do IO, read the clock or import behind the scan's back."""
    tree = ast.parse(source)
    bound: dict[str, str] = {}  # local name -> the dotted name it was imported as
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
                _module(alias.name, node, found)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                continue  # a relative import stays inside its own (scanned) package
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                bound[alias.asname or alias.name] = full
                _module(str(node.module), node, found)
                _name(full, node, found)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute | ast.Name):
            dotted = _dotted(node, bound)
            if dotted is not None:
                _name(dotted, node, found)
        if isinstance(node, ast.Name) and node.id in FORBIDDEN_BUILTINS and node.id not in bound:
            found.append(f"line {node.lineno}: {node.id}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr" and node.args:
            target = _dotted(node.args[0], bound)
            if target is not None and target.split(".")[0] in FORBIDDEN_MODULES | {"datetime", "random"}:
                found.append(f"line {node.lineno}: getattr on {target} (a name fetched at run time)")
    return found


def _module(name: str, node: ast.AST, found: list[str]) -> None:
    root = name.split(".")[0]
    if root in FORBIDDEN_MODULES:
        found.append(f"line {getattr(node, 'lineno', '?')}: imports {name}")


def _name(dotted: str, node: ast.AST, found: list[str]) -> None:
    line = getattr(node, "lineno", "?")
    if any(dotted == name or dotted.startswith(name + ".") for name in FORBIDDEN_NAMES):
        found.append(f"line {line}: {dotted} reads the wall clock")
    module, _, function = dotted.partition(".")
    if module == "random" and function in GLOBAL_RANDOM:
        found.append(f"line {line}: {dotted} draws from the unseeded global random")


def _dotted(node: ast.AST, bound: dict[str, str]) -> str | None:
    """``dt.now`` -> ``datetime.datetime.now`` when ``dt`` was imported as ``datetime.datetime``."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in bound:
        return None
    return ".".join([bound[node.id], *reversed(parts)])


@pytest.mark.parametrize("path", [p for folder in CORE for p in _files(folder)], ids=lambda p: str(p.relative_to(ROOT)))
def test_core_is_sans_io(path: Path) -> None:
    assert violations(path.read_text(encoding="utf-8")) == [], path


PLANTED = {
    "a clock read": "import datetime\nx = datetime.datetime.now()\n",
    "through an alias": "from datetime import datetime as dt\nx = dt.now()\n",
    "a method held for later": "from datetime import date\nclock = date.today\n",
    "a module alias": "import datetime as d\nx = d.datetime.utcnow()\n",
    "a dynamic import": "import importlib\nt = importlib.import_module('time')\n",
    "__import__": "t = __import__('time')\n",
    "a file": "text = open('x').read()\n",
    "a socket": "from socket import socket\n",
    "a sleep": "from time import sleep as pause\n",
    "global randomness": "import random\nx = random.choice([1, 2])\n",
    "a global random function imported": "from random import random\n",
    "eval": "x = eval('1 + 1')\n",
    "a function fetched by name": "import datetime\nnow = getattr(datetime.datetime, 'now')\n",
}


@pytest.mark.parametrize("what", sorted(PLANTED))
def test_the_scan_catches_what_is_planted(what: str) -> None:
    assert violations(PLANTED[what]), what


def test_the_scan_lets_the_core_do_what_it_may() -> None:
    allowed = (
        "import random\nfrom datetime import date, datetime, timedelta\n"
        "rng = random.Random('7/outbox')\nx = rng.random()\nd = datetime(2026, 1, 5) + timedelta(days=1)\n"
        "day = date.fromisoformat('2026-01-05')\nimport hashlib, json, math\n"
    )
    assert violations(allowed) == []


# -- the run under the trap ------------------------------------------------------------------------
REDUCED = ROOT / "tests" / "stress-reduced.yaml"


def test_the_reference_integration_and_the_mocks_run_under_the_trap() -> None:
    twin = Twin(load_scenario(REDUCED))
    trap_core(twin)
    assert twin.run().in_sync


class _Tempted(Wrapped):
    """The reference integration, but one call of the contract (``where``) makes it do one forbidden thing."""

    def __init__(self, context: RunContext, sin: str, where: str = "receive_hl7") -> None:
        super().__init__(context)
        self.sin = sin
        self.where = where

    def _tempted(self, call: str) -> None:
        if call == self.where:
            _SINS[self.sin]()

    def start(self, now: SimTime) -> Outcome:
        self._tempted("start")
        return super().start(now)

    def receive_hl7(self, payload: str, now: SimTime) -> Outcome:
        self._tempted("receive_hl7")
        return super().receive_hl7(payload, now)

    def exceptions(self) -> list[IntegrationException]:
        self._tempted("exceptions")
        return super().exceptions()


def _sins() -> dict[str, Any]:
    import datetime
    import importlib
    import os
    import random
    from datetime import datetime as dt  # noqa: I001 - the alias is the point

    class Stamp(datetime.datetime):  # a subclass reads the clock all the same
        pass

    def write_a_module_file() -> None:
        import tempfile

        with tempfile.TemporaryDirectory() as folder, open(os.path.join(folder, "x.py"), "w") as file:
            file.write("")

    return {
        "datetime.now": lambda: datetime.datetime.now(),
        "now on a datetime subclass": lambda: Stamp.now(),
        "clock_gettime": lambda: importlib.import_module("time").clock_gettime(0),
        "strftime with no time tuple": lambda: importlib.import_module("time").strftime("%H"),
        "writing a file named like a module": write_a_module_file,
        "an aliased clock": lambda: dt.utcnow(),
        "time through importlib": lambda: importlib.import_module("time").monotonic(),
        "sleep through __import__": lambda: __import__("time").sleep(0),
        "a file": lambda: open(os.devnull).close(),  # noqa: SIM115
        "a socket": lambda: importlib.import_module("socket").socket().close(),
        "global random": lambda: random.random(),
        "global random, a Python method": lambda: random.randint(1, 6),
    }


_SINS = _sins()


@pytest.mark.parametrize(
    ("sin", "where"),
    [(sin, "receive_hl7") for sin in sorted(_SINS)] + [("datetime.now", "start"), ("a file", "exceptions")],
)
def test_the_trap_catches_the_core_doing_io_however_it_is_reached(sin: str, where: str) -> None:
    def factory(context: RunContext) -> Integration:
        return _Tempted(context, sin, where)

    from tests.conftest import small_scenario

    twin = Twin(small_scenario(days=0.2), factory)
    trap_core(twin)
    with pytest.raises(SansIoViolation, match="the core"):
        twin.run()


# -- the dependency rules ---------------------------------------------------------------------------
def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for base in ("twin", "mocks", "examples") for p in (ROOT / base).rglob("*.py")}


def _imports(name: str) -> set[str]:
    """The project modules ``name`` imports, parent packages included (importing runs them)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(_without_lazy_attributes(tree) if path.name == "__init__.py" else tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([base] if base else [])])
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        for imported in names:
            chain = imported.split(".")
            found.update(".".join(chain[:i]) for i in range(1, len(chain) + 1) if ".".join(chain[:i]) in MODULES)
    return found


def _without_lazy_attributes(tree: ast.Module) -> ast.Module:
    """A package without its module-level ``__getattr__`` (PEP 562): what that imports runs when someone
    reads the attribute (``twin.run`` loads the API), not when the package or a submodule is imported."""
    body = [n for n in tree.body if not (isinstance(n, ast.FunctionDef) and n.name == "__getattr__")]
    return ast.Module(body=body, type_ignores=[])


def _reach(start: str) -> dict[str, str]:
    """Every project module ``start`` reaches, each with the module that imports it on the way."""
    via: dict[str, str] = {}
    todo = [start]
    while todo:
        current = todo.pop()
        for imported in _imports(current):
            if imported not in via and imported != start:
                via[imported] = current
                todo.append(imported)
    return via


DRIVERS_AND_INTEGRATIONS = ("twin.sim", "twin.integration", "twin.reference_factory", "twin.suts", "twin.workflows")


@pytest.mark.parametrize("judge", ["twin.observe", "twin.conformance"])
def test_the_judge_reaches_neither_a_driver_nor_an_integration(judge: str) -> None:
    for name in sorted(m for m in MODULES if m == judge or m.startswith(judge + ".")):
        via = _reach(name)
        for reached in via:
            if reached.startswith(DRIVERS_AND_INTEGRATIONS):
                path = [reached]
                while path[-1] in via and via[path[-1]] != name:
                    path.append(via[path[-1]])
                raise AssertionError(f"{name} reaches {reached} (through {' <- '.join(path)})")


def test_the_api_is_loaded_on_first_use_not_by_importing_the_package() -> None:
    """The judge imports ``twin.observe...``, which runs ``twin/__init__.py``: that must not load the API
    (and with it the driver); ``twin.run`` does, on first use."""
    assert "twin.api" not in _imports("twin")
    assert "twin.sim" in _reach("twin.api")
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, twin.observe.checker; print('twin.api' in sys.modules, 'twin.sim' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.split() == ["False", "False"]


def test_the_graph_check_would_catch_a_judge_importing_the_driver(tmp_path: Path) -> None:
    MODULES["twin.observe.planted"] = tmp_path / "planted.py"
    (tmp_path / "planted.py").write_text("from twin.suts import simulate\n")
    try:
        assert "twin.suts" in _reach("twin.observe.planted")
        with pytest.raises(AssertionError, match="twin.observe.planted reaches twin"):
            test_the_judge_reaches_neither_a_driver_nor_an_integration("twin.observe")
    finally:
        del MODULES["twin.observe.planted"]


def _ours(path: Path) -> set[str]:
    return {name for name in _imports(_module_name(path)) if name.split(".")[0] in ("twin", "mocks")}


def test_domain_imports_nothing_else_of_ours() -> None:
    for path in (ROOT / "twin" / "domain").rglob("*.py"):
        assert all(name == "twin" or name.startswith("twin.domain") for name in _ours(path)), path


def test_mocks_see_only_the_domain() -> None:
    for path in (ROOT / "mocks").rglob("*.py"):
        others = {n for n in _ours(path) if n not in ("twin",) and not n.startswith(("twin.domain", "mocks"))}
        assert not others, f"{path} imports {others}"


def test_integration_sees_only_the_domain() -> None:
    for path in (ROOT / "twin" / "integration").rglob("*.py"):
        others = {n for n in _ours(path) if n != "twin" and not n.startswith(("twin.domain", "twin.integration"))}
        assert not others, f"{path} imports {others}"
