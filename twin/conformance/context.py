"""One conformance scenario's state: the twin scenario its Given steps build, the run, the evidence.

A scenario starts from a small network (``baseline_data``: the default scenario cut to one
hospital of 120 beds and two days of activity, master data clean, no faults), which is what the
project's own tests use: big enough that every flow has work, small enough for a run in about a
second. Given steps change fields of it; the When step validates it (a mistake is explained as a
scenario file's would be) and runs it through the integration under test; Then steps judge the
run and attach their ``Evidence``, passed or failed, so every verdict carries what it saw.

Runs are deterministic for a scenario and seed, so the session keeps the last few in a
``RunCache``: scenarios that build the same network under the same integration share one run.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import ValidationError

from twin.domain.contract import Sut
from twin.observe.view import RunResult
from twin.scenario import DEFAULT_SCENARIO, Scenario, ScenarioError, _explain, load_scenario

Simulate = Callable[[Scenario, Sut], RunResult]  # a driver: runs a scenario through an integration, judged

BASELINE_DAYS = 2
BASELINE_BEDS = 120
CACHE_SIZE = 6  # runs kept: one run of the baseline network is some tens of MB


@dataclass(slots=True)
class Evidence:
    """What one Then step saw: a one-line summary and, where it helps, a small table.

    Rows never hold patient identifiers in clear: keys are pseudonymised before they get here.
    """

    title: str
    passed: bool
    summary: str
    columns: tuple[str, ...] = ()
    rows: Sequence[tuple[str, ...]] = field(default_factory=list)
    step: str = ""  # the step text that attached it (filled in by the plugin)

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "title": self.title,
            "passed": self.passed,
            "summary": self.summary,
            "columns": list(self.columns),
            "rows": [list(row) for row in self.rows],
        }


class ConformanceFailure(AssertionError):
    """A Then step found the integration wanting; its message is the evidence's summary."""


@dataclass(slots=True)
class CachedRun:
    result: RunResult
    memo: dict[Any, Any] = field(default_factory=dict)  # derived figures Then steps share (expectations)


class RunCache:
    """The last few runs by (integration, scenario): identical inputs give identical runs."""

    def __init__(self, simulate: Simulate, size: int = CACHE_SIZE) -> None:
        self.simulate = simulate
        self.size = size
        self._runs: OrderedDict[tuple[str, str], CachedRun] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, sut: Sut, scenario: Scenario) -> CachedRun:
        key = (sut.name, scenario.model_dump_json())
        cached = self._runs.get(key)
        if cached is not None:
            self.hits += 1
            self._runs.move_to_end(key)
            return cached
        self.misses += 1
        cached = CachedRun(self.simulate(scenario, sut))
        self._runs[key] = cached
        while len(self._runs) > self.size:
            self._runs.popitem(last=False)
        return cached


class ConformanceSession:
    """What every scenario of one ``twin conform`` run shares: the integration under test, the
    driver that runs it (handed in: the conformance kit depends on no driver) and the run cache."""

    def __init__(self, sut: Sut, simulate: Simulate) -> None:
        self.sut = sut
        self.cache = RunCache(simulate)


SESSION_KEY = pytest.StashKey[ConformanceSession]()
CONTEXT_KEY = pytest.StashKey["ScenarioUnderTest"]()


def baseline_data() -> dict[str, Any]:
    """The default scenario cut down: one hospital, 120 beds, two days, clean master data, clean
    registration (no ADT corrections, no mistyped member ids), no faults, and no bill hold (a bill goes
    when coding completes, so bills fall due - and faults can catch them - inside two days; a scenario
    about the hold sets one: "Given bills are held 72 hours after discharge")."""
    data = load_scenario(DEFAULT_SCENARIO).model_dump()
    data["name"] = "conformance"
    data["description"] = "A conformance scenario built by Given steps from the baseline network."
    data["days"] = BASELINE_DAYS
    data["network"] = {"hospitals": 1, "beds": {"min": BASELINE_BEDS, "max": BASELINE_BEDS}}
    data["governance"] = {**data["governance"], "items_missing_in_erp": 0, "retire_cost_center": None}
    data["faults"] = []
    data["billing"] = {**data["billing"], "bill_hold_hours": 0}
    # clean registration too: the ADT corrections and mistyped member ids are scenarios of their own
    data["workload"]["adt"] = dict.fromkeys(data["workload"]["adt"], 0.0)
    data["revenue_cycle"] = {**data["revenue_cycle"], "registration_error_share": 0.0}
    return data


class ScenarioUnderTest:
    """The ``conformance`` fixture: the scenario being built, its run, and the evidence attached."""

    def __init__(self, session: ConformanceSession) -> None:
        self.session = session
        self.data = baseline_data()
        self.evidence: list[Evidence] = []
        self.failures: list[Evidence] = []  # Then steps that found the integration wanting
        self.errored = False  # a step raised something other than a verdict: the scenario is in error
        self._run: CachedRun | None = None

    @property
    def sut(self) -> Sut:
        return self.session.sut

    # -- Given -------------------------------------------------------------------------------------
    def set(self, path: str, value: Any) -> None:
        """Set a scenario field by dotted path (``"governance.items_missing_in_erp"``)."""
        if self._run is not None:
            raise RuntimeError("the scenario already ran: Given steps go before the When step")
        *parents, name = path.split(".")
        node = self.data
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[name] = copy.deepcopy(value)

    def add_fault(self, spec: dict[str, Any]) -> None:
        """Append one entry to the scenario's ``faults:`` list (``twin/faults/specs.py``)."""
        if self._run is not None:
            raise RuntimeError("the scenario already ran: Given steps go before the When step")
        self.data.setdefault("faults", []).append(dict(spec))

    def scenario(self) -> Scenario:
        """The scenario as built so far, validated like a scenario file."""
        try:
            return Scenario.model_validate(self.data)
        except ValidationError as exc:  # explained as a scenario file's problems are, by field
            raise ScenarioError(_explain(exc, "built by the Given steps", None)) from None

    # -- When --------------------------------------------------------------------------------------
    def run(self) -> RunResult:
        """Run the scenario through the integration under test (or reuse an identical run)."""
        self._run = self.session.cache.get(self.sut, self.scenario())
        return self._run.result

    @property
    def result(self) -> RunResult:
        if self._run is None:
            raise RuntimeError("no run yet: a When step must run the network before Then steps judge it")
        return self._run.result

    @property
    def memo(self) -> dict[Any, Any]:
        if self._run is None:
            raise RuntimeError("no run yet")
        return self._run.memo

    # -- Then --------------------------------------------------------------------------------------
    def attach(self, evidence: Evidence) -> Evidence:
        self.evidence.append(evidence)
        return evidence

    def verdict(self, evidence: Evidence) -> None:
        """Attach ``evidence``; a failing one fails the scenario once all its Then steps have run.

        Then steps are soft assertions, as Inferno runs every test of a group: the scenario goes on
        judging after a failure, so the report shows every check's evidence, not only the first.
        ``steps.fixtures`` raises ``ConformanceFailure`` after the last step.
        """
        self.attach(evidence)
        if not evidence.passed:
            self.failures.append(evidence)

    def failure(self) -> ConformanceFailure:
        """The scenario's failure: every failing check's summary, in step order."""
        if len(self.failures) == 1:
            return ConformanceFailure(self.failures[0].summary)
        checks = len([e for e in self.evidence if e.title != "the run"])
        return ConformanceFailure(
            f"{len(self.failures)} of {checks} checks failed: " + " | ".join(e.summary for e in self.failures)
        )

    def describe(self) -> str:
        """The scenario's key figures for the report (no identifiers)."""
        data = self.data
        faults = ", ".join(str(f.get("kind")) for f in data.get("faults", [])) or "none"
        return (
            f"{data['network']['hospitals']} hospital(s), {data['days']:g} day(s), seed {data['seed']}, "
            f"design {data.get('integration', {}).get('design', 'event-driven')}, faults: {faults}"
        )
