"""``twin conform``: bind feature files to the step library, run them with pytest, report verdicts.

pytest-bdd needs test functions, so the runner writes one thin module per ``.feature`` file into a
temporary folder - ``scenarios("/abs/path/x.feature")``, as pytest-bdd's docs organise suites -
and runs ``pytest.main`` on that folder with its own ini file (the project's pytest settings do
not leak in), importlib import mode (modules named alike in two runs never collide), the step
modules registered as plugins (their steps and fixture are visible to every feature, wherever the
feature lives) and ``ConformancePlugin`` collecting verdicts and evidence. JUnit XML is pytest's
own ``--junitxml``; JSON and HTML are written from the collected results. pytest's terminal output
is switched off: the runner prints one table of verdicts instead.

Before anything runs, every feature's ``req-`` tags are checked against the registry; an unknown
one is bad input (exit 2), naming the file, the scenario's line and the tag.
"""

from __future__ import annotations

import importlib
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import twin
from twin.conformance.context import ConformanceSession, Simulate
from twin.conformance.plugin import VERDICTS, ConformancePlugin, ScenarioResult
from twin.conformance.requirements import REQUIREMENTS, unknown_requirements
from twin.conformance.steps import STEP_MODULES
from twin.domain.contract import Sut


class ConformError(Exception):
    """Bad input to a conformance run (no features, an unknown requirement tag); meant for a person."""


def default_features() -> Path:
    """The project's own suite: ``conformance/features`` beside the ``twin`` package (a checkout or
    an editable install)."""
    return Path(twin.__file__).resolve().parent.parent / "conformance" / "features"


@dataclass(slots=True)
class ConformOptions:
    """What to run (``features``, ``tags``, ``slow``), against which integration (``sut``), with which
    driver (``simulate``: ``twin.suts.simulate`` for the simulated one), and where to report."""

    sut: Sut
    simulate: Simulate
    features: Path | None = None
    tags: str | None = None
    junit: Path | None = None
    json: Path | None = None
    html: Path | None = None
    slow: bool = False  # also run the @slow larger variants, whatever ``tags`` says


@dataclass(slots=True)
class ConformRun:
    """The outcome of one ``twin conform``: every scenario's result and the run's context."""

    sut: str
    features: Path
    tags: str | None
    started_at: str
    results: list[ScenarioResult] = field(default_factory=list)
    collection_errors: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    pytest_exit: int = 0
    runs_simulated: int = 0
    runs_reused: int = 0

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(VERDICTS, 0)
        for result in self.results:
            counts[result.verdict] += 1
        return counts

    @property
    def ok(self) -> bool:
        counts = self.counts
        return bool(self.results) and not counts["fail"] and not counts["error"] and not self.collection_errors

    def coverage(self) -> list[dict[str, Any]]:
        """Requirement -> scenarios -> verdict, every registered requirement (uncovered ones too)."""
        rows = []
        for requirement in REQUIREMENTS:
            scenarios = [r for r in self.results if requirement.id in r.tags]
            rows.append(
                {
                    "id": requirement.id,
                    "area": requirement.area,
                    "statement": requirement.statement,
                    "brief_section": requirement.section,
                    "verdict": overall([r.verdict for r in scenarios]),
                    "scenarios": [
                        {"id": r.nodeid, "feature": r.feature, "scenario": r.scenario, "verdict": r.verdict}
                        for r in scenarios
                    ],
                }
            )
        untraced = [r for r in self.results if not r.requirements]
        if untraced:
            rows.append(
                {
                    "id": "(no requirement tag)",
                    "area": "",
                    "statement": "scenarios that trace to no requirement",
                    "brief_section": "",
                    "verdict": overall([r.verdict for r in untraced]),
                    "scenarios": [
                        {"id": r.nodeid, "feature": r.feature, "scenario": r.scenario, "verdict": r.verdict}
                        for r in untraced
                    ],
                }
            )
        return rows

    def as_dict(self) -> dict[str, Any]:
        return {
            "tool": "twin conform",
            "sut": self.sut,
            "features": str(self.features),
            "tags": self.tags,
            "started_at": self.started_at,
            "wall_seconds": round(self.wall_seconds, 2),
            "simulated_runs": {"run": self.runs_simulated, "reused": self.runs_reused},
            "counts": self.counts,
            "ok": self.ok,
            "collection_errors": self.collection_errors,
            "requirements": self.coverage(),
            "scenarios": [result.as_dict() for result in self.results],
        }


def overall(verdicts: list[str]) -> str:
    """A requirement's verdict from its scenarios': any error or fail wins, all skipped is skip."""
    if not verdicts:
        return "not covered"
    for worst in ("error", "fail"):
        if worst in verdicts:
            return worst
    return "pass" if "pass" in verdicts else "skip"


def check_features(root: Path) -> list[Path]:
    """The feature files under ``root``; ``ConformError`` for none, a parse error or an unknown requirement tag."""
    from pytest_bdd.exceptions import FeatureError
    from pytest_bdd.parser import FeatureParser

    if not root.is_dir():
        raise ConformError(f"features folder {root} does not exist (pass --features DIR)")
    files = sorted(root.rglob("*.feature"))
    if not files:
        raise ConformError(f"no .feature files under {root}")
    problems = []
    for path in files:
        try:
            feature = FeatureParser(str(path.parent), path.name).parse()
        except FeatureError as exc:
            problems.append(f"{path}: {exc}")
            continue
        except Exception as exc:  # gherkin's own parser errors name the line
            problems.append(f"{path}: {exc}")
            continue
        for template in feature.scenarios.values():
            unknown = unknown_requirements(template.tags | feature.tags)
            if unknown:
                problems.append(
                    f"{path}, line {template.line_number} (scenario {template.name!r}): unregistered requirement "
                    f"tag(s) {', '.join('@' + tag for tag in unknown)}"
                )
    if problems:
        raise ConformError(
            "; ".join(problems) + ". Requirement ids are listed by twin conform --list-requirements "
            "(twin/conformance/requirements.py)."
        )
    return files


def _module_name(root: Path, path: Path, taken: set[str]) -> str:
    slug = re.sub(r"\W+", "_", path.relative_to(root).with_suffix("").as_posix().replace("/", "__")).strip("_")
    name = f"test_{slug.lower() or 'feature'}"
    while name in taken:
        name += "_"
    taken.add(name)
    return name


def _bind(work: Path, root: Path, files: list[Path]) -> None:
    (work / "pytest.ini").write_text(
        "[pytest]\n# written by twin conform: feature files bound to the twin's step library\n", encoding="utf-8"
    )
    taken: set[str] = set()
    for path in files:
        name = _module_name(root, path, taken)
        (work / f"{name}.py").write_text(
            f'"""Binds {path.relative_to(root).as_posix()} (generated by twin conform)."""\n\n'
            "from pytest_bdd import scenarios\n\n"
            f"scenarios({str(path)!r})\n",
            encoding="utf-8",
        )


def run_conformance(options: ConformOptions) -> ConformRun:
    """Run every scenario under ``options.features`` (default: the project's suite) against ``options.sut``."""
    import pytest_bdd.feature

    sut = options.sut
    root = (options.features if options.features is not None else default_features()).resolve()
    files = check_features(root)
    started = time.perf_counter()
    run = ConformRun(sut.name, root, options.tags, datetime.now(UTC).isoformat(timespec="seconds"))
    session = ConformanceSession(sut, options.simulate)
    run_slow = options.slow or (options.tags is not None and re.search(r"\bslow\b", options.tags) is not None)
    plugin = ConformancePlugin(session, root, run_slow=run_slow)
    step_modules = [importlib.import_module(name) for name in STEP_MODULES]
    pytest_bdd.feature.features.clear()  # pytest-bdd caches parsed features by path for the process
    with tempfile.TemporaryDirectory(prefix="twin-conform-") as folder:
        work = Path(folder)
        _bind(work, root, files)
        args = [
            str(work),
            "-c",
            str(work / "pytest.ini"),
            "--rootdir",
            str(work),
            "--import-mode=importlib",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:terminal",
            "-o",
            "junit_suite_name=twin-conform",
            "-o",
            "junit_logging=no",
        ]
        if options.tags:
            args += ["-m", options.tags]
        if options.junit is not None:
            options.junit.parent.mkdir(parents=True, exist_ok=True)
            args += ["--junitxml", str(options.junit)]
        try:
            run.pytest_exit = int(pytest.main(args, plugins=[plugin, *step_modules]))
        finally:
            for name, module in list(sys.modules.items()):
                if str(getattr(module, "__file__", "") or "").startswith(folder):
                    del sys.modules[name]
    run.results = plugin.results
    run.collection_errors = plugin.collection_errors
    run.wall_seconds = time.perf_counter() - started
    run.runs_simulated, run.runs_reused = session.cache.misses, session.cache.hits
    if options.json is not None:
        import json

        options.json.parent.mkdir(parents=True, exist_ok=True)
        options.json.write_text(json.dumps(run.as_dict(), indent=2) + "\n", encoding="utf-8")
    if options.html is not None:
        from twin.conformance.html import render_html

        options.html.parent.mkdir(parents=True, exist_ok=True)
        options.html.write_text(render_html(run), encoding="utf-8")
    return run
