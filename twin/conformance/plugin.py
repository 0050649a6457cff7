"""The pytest plugin the runner installs: markers, tag checks, step tracing and verdicts with evidence.

pytest-bdd executes the scenarios; this plugin watches. It registers every requirement id as a
marker (and any other tag a feature uses, so ``--tags`` can select by it), refuses a scenario
whose ``req-`` tag names no registered requirement, skips the ``@slow`` variants unless the run
asked for them, records each step as it runs (through pytest-bdd's hooks) and turns each test
report into a ``ScenarioResult``: the verdict (pass / fail / skip / error, as Inferno has them),
the steps, the requirement tags and the evidence the Then steps attached. A failing Then step is
*fail* (the integration was found wanting); anything else that stops a scenario - an undefined
step, a scenario the Given steps made invalid, an integration that raised - is *error*.
Requirement tags and failing evidence also go to the JUnit XML as test properties.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pytest_bdd.exceptions import StepDefinitionNotFoundError
from pytest_bdd.parser import Feature, Scenario, ScenarioTemplate, Step
from pytest_bdd.scenario import scenario_wrapper_template_registry

from twin.conformance.context import CONTEXT_KEY, SESSION_KEY, ConformanceSession, Evidence
from twin.conformance.requirements import REQUIREMENTS, is_requirement_tag, unknown_requirements

SLOW = "slow"
VERDICTS = ("pass", "fail", "skip", "error")


@dataclass(slots=True)
class StepResult:
    keyword: str
    text: str
    line: int
    status: str = "not run"  # passed | failed | undefined | not run
    duration: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "keyword": self.keyword,
            "text": self.text,
            "line": self.line,
            "status": self.status,
            "duration": round(self.duration, 4),
        }


@dataclass(slots=True)
class ScenarioResult:
    """One scenario's verdict, as every report shows it."""

    nodeid: str
    area: str  # the feature's folder under the features root
    feature: str
    feature_file: str
    scenario: str
    line: int
    tags: list[str]
    verdict: str = "error"
    duration: float = 0.0
    message: str = ""
    steps: list[StepResult] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    setup: str = ""  # the twin scenario the Given steps built, in a line

    @property
    def requirements(self) -> list[str]:
        return [tag for tag in self.tags if is_requirement_tag(tag)]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.nodeid,
            "area": self.area,
            "feature": self.feature,
            "feature_file": self.feature_file,
            "scenario": self.scenario,
            "line": self.line,
            "tags": self.tags,
            "requirements": self.requirements,
            "verdict": self.verdict,
            "duration_seconds": round(self.duration, 3),
            "failure_message": self.message,
            "setup": self.setup,
            "steps": [step.as_dict() for step in self.steps],
            "evidence": [evidence.as_dict() for evidence in self.evidence],
        }


@dataclass(slots=True)
class _Trace:
    """What the plugin saw of one scenario while it ran."""

    steps: list[StepResult] = field(default_factory=list)
    current: StepResult | None = None
    started: float = 0.0
    evidence_mark: int = 0
    failed_type: str = ""  # the type of the step that failed: "given" | "when" | "then"


_TRACE_KEY = pytest.StashKey[_Trace]()
_TEMPLATE_KEY = pytest.StashKey[ScenarioTemplate]()


class ConformancePlugin:
    """Installed by ``twin.conformance.runner`` into its ``pytest.main`` call."""

    def __init__(self, session: ConformanceSession, features_root: Path, *, run_slow: bool = False) -> None:
        self.session = session
        self.features_root = features_root
        self.run_slow = run_slow
        self.results: list[ScenarioResult] = []
        self.collection_errors: list[str] = []
        self._config: pytest.Config | None = None
        self._markers: set[str] = set()

    # -- configuration and collection ---------------------------------------------------------------
    def pytest_configure(self, config: pytest.Config) -> None:
        self._config = config
        config.stash[SESSION_KEY] = self.session
        for requirement in REQUIREMENTS:
            self._register(requirement.id, requirement.statement)
        self._register(SLOW, "a larger variant: skipped unless --tags selects it")

    def _register(self, name: str, description: str = "a tag used by a conformance feature") -> None:
        if name not in self._markers and self._config is not None:
            self._markers.add(name)
            self._config.addinivalue_line("markers", f"{name}: {description}")

    def pytest_bdd_apply_tag(self, tag: str, function: Any) -> Any:
        """Register every tag a feature uses as a marker (pytest-bdd then applies it as one)."""
        if not is_requirement_tag(tag):
            self._register(tag)
        return None  # pytest-bdd's own implementation marks the test

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        skip = pytest.mark.skip(reason="a larger variant: run it with --tags slow")
        for item in items:
            template = scenario_wrapper_template_registry.get(getattr(item, "obj", None))  # type: ignore[arg-type]
            if template is not None:
                item.stash[_TEMPLATE_KEY] = template
            if not self.run_slow and item.get_closest_marker(SLOW) is not None:
                item.add_marker(skip)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors.append(f"{report.nodeid or 'collection'}: {report.longreprtext.strip()}")

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        unknown = unknown_requirements([mark.name for mark in item.iter_markers()])
        if unknown:
            template = item.stash.get(_TEMPLATE_KEY, None)
            where = f"{template.feature.rel_filename}, line {template.line_number}" if template else item.nodeid
            pytest.fail(
                f"{where}: requirement tag(s) {', '.join('@' + u for u in unknown)} are not registered "
                "(twin/conformance/requirements.py lists the requirement ids)",
                pytrace=False,
            )

    # -- steps, through pytest-bdd's hooks -----------------------------------------------------------
    def pytest_bdd_before_scenario(self, request: pytest.FixtureRequest, feature: Feature, scenario: Scenario) -> None:
        trace = _Trace(
            [StepResult(s.keyword, s.name, s.line_number) for s in scenario.steps], started=time.perf_counter()
        )
        request.node.stash[_TRACE_KEY] = trace

    def _step(self, request: pytest.FixtureRequest, step: Step) -> tuple[_Trace | None, StepResult | None]:
        trace = request.node.stash.get(_TRACE_KEY, None)
        if trace is None:
            return None, None
        for result in trace.steps:
            if result.line == step.line_number and result.text == step.name and result.status == "not run":
                return trace, result
        return trace, None

    def pytest_bdd_before_step(
        self, request: pytest.FixtureRequest, feature: Feature, scenario: Scenario, step: Step, step_func: Any
    ) -> None:
        trace, result = self._step(request, step)
        if trace is not None:
            trace.current = result
            trace.started = time.perf_counter()
            context = request.node.stash.get(CONTEXT_KEY, None)
            trace.evidence_mark = len(context.evidence) if context is not None else 0

    def _finish(self, request: pytest.FixtureRequest, step: Step, status: str) -> None:
        trace = request.node.stash.get(_TRACE_KEY, None)
        if trace is None or trace.current is None:
            return
        trace.current.duration = time.perf_counter() - trace.started
        context = request.node.stash.get(CONTEXT_KEY, None)
        if context is not None:
            for evidence in context.evidence[trace.evidence_mark :]:
                evidence.step = f"{step.keyword} {step.name}"
                if not evidence.passed:
                    status = "failed"  # a soft verdict: the scenario goes on, the step failed
        trace.current.status = status
        if status == "failed":
            trace.failed_type = step.type
        trace.current = None

    def pytest_bdd_after_step(
        self,
        request: pytest.FixtureRequest,
        feature: Feature,
        scenario: Scenario,
        step: Step,
        step_func: Any,
        step_func_args: dict[str, Any],
    ) -> None:
        self._finish(request, step, "passed")

    def pytest_bdd_step_error(
        self,
        request: pytest.FixtureRequest,
        feature: Feature,
        scenario: Scenario,
        step: Step,
        step_func: Any,
        step_func_args: dict[str, Any],
        exception: Exception,
    ) -> None:
        self._finish(request, step, "failed")

    def pytest_bdd_step_func_lookup_error(
        self, request: pytest.FixtureRequest, feature: Feature, scenario: Scenario, step: Step, exception: Exception
    ) -> None:
        trace, result = self._step(request, step)
        if trace is not None and result is not None:
            result.status = "undefined"
            trace.failed_type = step.type

    def pytest_bdd_after_scenario(self, request: pytest.FixtureRequest, feature: Feature, scenario: Scenario) -> None:
        """Requirement tags and failing evidence as JUnit properties (read when the report is made)."""
        item = request.node
        for tag in sorted(scenario.tags | feature.tags):
            if is_requirement_tag(tag):
                item.user_properties.append(("requirement", tag))
        context = item.stash.get(CONTEXT_KEY, None)
        for evidence in context.evidence if context is not None else []:
            if not evidence.passed:
                item.user_properties.append(("evidence", f"{evidence.title}: {evidence.summary}"))

    # -- verdicts ---------------------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        report = yield
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self.results.append(self._result(item, call, report))
        elif report.when == "teardown" and report.failed and self.results and self.results[-1].nodeid == item.nodeid:
            self.results[-1].verdict = "error"
            self.results[-1].message = f"teardown failed: {report.longreprtext.strip()[:500]}"
        return report

    def _result(self, item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport) -> ScenarioResult:
        template = item.stash.get(_TEMPLATE_KEY, None)
        trace = item.stash.get(_TRACE_KEY, None)
        context = item.stash.get(CONTEXT_KEY, None)
        if template is not None:
            feature = template.feature
            path = Path(feature.filename)
            try:
                relative = path.relative_to(self.features_root)
            except ValueError:
                relative = Path(path.name)
            area = relative.parent.as_posix() if relative.parent != Path(".") else ""
            tags = sorted(template.tags | feature.tags)
            name = template.name
            callspec = getattr(item, "callspec", None)
            if callspec is not None:
                name += f" [{callspec.id}]"
            result = ScenarioResult(
                item.nodeid, area, feature.name, relative.as_posix(), name, template.line_number, tags
            )
        else:
            result = ScenarioResult(item.nodeid, "", "", "", item.name, 0, [m.name for m in item.iter_markers()])
        result.duration = report.duration
        result.steps = trace.steps if trace is not None else []
        if context is not None:
            result.evidence = list(context.evidence)
            result.setup = context.describe()
        result.verdict, result.message = _verdict(report, call, trace)
        return result


def _verdict(report: pytest.TestReport, call: pytest.CallInfo[None], trace: _Trace | None) -> tuple[str, str]:
    if report.skipped:
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        return "skip", reason.removeprefix("Skipped: ")
    if report.passed:
        return "pass", ""
    excinfo = call.excinfo
    exception = excinfo.value if excinfo is not None else None
    if isinstance(exception, StepDefinitionNotFoundError):
        return "error", f"{exception} (twin conform --list-steps shows the steps a feature may use)"
    if isinstance(exception, AssertionError) and trace is not None and trace.failed_type == "then":
        return "fail", _first_lines(str(exception))
    if exception is None:
        return "error", _first_lines(report.longreprtext)
    where = f"a {trace.failed_type} step" if trace is not None and trace.failed_type else f"the {report.when}"
    return "error", f"{where} raised {type(exception).__name__}: {_first_lines(str(exception))}"


def _first_lines(text: str, limit: int = 600) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."
