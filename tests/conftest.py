"""Shared fixtures: small scenarios and runs that keep the suite fast."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from twin.analysis.overrides import apply_overrides
from twin.scenario import DEFAULT_SCENARIO, Scenario, load_scenario
from twin.sim import RunResult, Twin

if TYPE_CHECKING:
    from twin.conformance.runner import ConformRun


def small_scenario(**overrides: Any) -> Scenario:
    """The default scenario cut down: one hospital, two days (and any field overridden)."""
    data = load_scenario(DEFAULT_SCENARIO).model_dump()
    data["days"] = 2
    data["network"] = {"hospitals": 1, "beds": {"min": 120, "max": 120}}
    for key, value in overrides.items():
        data[key] = value
    return Scenario.model_validate(data)


FAULTS_DEMO = Path(__file__).resolve().parent.parent / "scenarios" / "faults-demo.yaml"


def faults_demo(overrides: Mapping[str, Any]) -> Scenario:
    """``scenarios/faults-demo.yaml`` with overrides by dotted path (``billing.bill_hold_hours``), set
    and validated as a sweep sets them (``twin.analysis.overrides``)."""
    return apply_overrides(load_scenario(FAULTS_DEMO), overrides)


def run_small(**overrides: Any) -> RunResult:
    return Twin(small_scenario(**overrides)).run()


@pytest.fixture(scope="session")
def small_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run's output folder (summary, messages, fhir, records) shared by read-only tests."""
    from twin.observe.report import build_summary, write_outputs

    result = run_small()
    out = tmp_path_factory.mktemp("run")
    write_outputs(result, build_summary(result), out)
    return out


def conform(sut: str = "reference", **options: Any) -> ConformRun:
    """``twin conform`` in process: the suite (or ``features=``) against ``sut``, in simulated time."""
    from twin.conformance.runner import ConformOptions, run_conformance
    from twin.suts import load_sut, simulate

    return run_conformance(ConformOptions(load_sut(sut), simulate, **options))
