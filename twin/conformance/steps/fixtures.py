"""The fixture every step shares: ``conformance``, the scenario under test.

Then steps judge softly (``ScenarioUnderTest.verdict``): a scenario goes on after a failing check so
every check leaves its evidence, and the hooks below fail it after its last step - unless a step
raised something else, which is then the scenario's error.

The fixture belongs to the pytest session the runner started (``twin.conformance.plugin``), which holds
the integration under test, the driver and the run cache; ``twin conform`` (or ``run_conformance``)
starts one.
"""

from __future__ import annotations

from typing import Any

import pytest
from pytest_bdd.parser import Feature, Scenario, Step

from twin.conformance.context import (
    CONTEXT_KEY,
    SESSION_KEY,
    ConformanceFailure,
    ScenarioUnderTest,
)


@pytest.fixture
def conformance(request: pytest.FixtureRequest) -> ScenarioUnderTest:
    """A fresh scenario under test for each conformance scenario."""
    stash = request.config.stash
    if SESSION_KEY not in stash:
        raise RuntimeError(
            "no conformance session: run feature files with `twin conform` (or twin.conformance.runner."
            "run_conformance), which says which integration is under test and which driver runs it"
        )
    scenario = ScenarioUnderTest(stash[SESSION_KEY])
    request.node.stash[CONTEXT_KEY] = scenario
    return scenario


def pytest_bdd_step_error(
    request: pytest.FixtureRequest,
    feature: Feature,
    scenario: Scenario,
    step: Step,
    step_func: Any,
    step_func_args: dict[str, Any],
    exception: Exception,
) -> None:
    """A step raised: the scenario is in error (its deferred failures are not raised over it)."""
    under_test = request.node.stash.get(CONTEXT_KEY, None)
    if under_test is not None and not isinstance(exception, ConformanceFailure):
        under_test.errored = True


@pytest.hookimpl(trylast=True)
def pytest_bdd_after_scenario(request: pytest.FixtureRequest, feature: Feature, scenario: Scenario) -> None:
    """Every step ran: fail the scenario if any Then step found the integration wanting."""
    under_test = request.node.stash.get(CONTEXT_KEY, None)
    if under_test is not None and under_test.failures and not under_test.errored:
        raise under_test.failure()
