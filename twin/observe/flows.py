"""The flows the harness judges, each as one check: expectations from the truth, observations
from the targets, compared by the synchronization checker.

A flow registers here once (name, the targets it owns, how to derive both sides); the driver,
the reports and the conformance suite iterate over ``FLOW_CHECKS`` and never name a flow
themselves, so adding a workflow never means editing them.
"""

from __future__ import annotations

from collections.abc import Sequence

from twin.observe.checker import FlowResult
from twin.observe.dead_letter_check import (
    DEAD_LETTER_TARGETS,
    DEAD_LETTERS,
    dead_letter_expectations,
    observe_dead_letters,
)
from twin.observe.dead_letter_check import allowed_lag as dead_letter_lag
from twin.observe.expectations import JOURNAL
from twin.observe.flow_check import BILLING_CHECK, SUPPLY_CHECK, FlowCheck, billing_expected
from twin.observe.kpi import REPORTING, REPORTING_TARGETS
from twin.observe.kpi_check import check_reporting, kpi_expectations, observe_dashboard
from twin.observe.labor_expectations import (
    LABOR,
    LABOR_TARGETS,
    PAYROLL_REGISTER,
    labor_bites,
    labor_expectations,
    observe_labor,
)
from twin.observe.master_data import (
    MASTER_DATA,
    MASTER_DATA_TARGETS,
    master_data_expectations,
    observe_master_data,
)
from twin.observe.view import RunView

__all__ = ["BILLING_CHECK", "FLOW_CHECKS", "SUPPLY_CHECK", "FlowCheck", "check_all", "flow_check"]


def _labor_bites(view: RunView) -> dict[tuple[str, str], float]:
    """When the nightly labor sync first hit a retired cost center (a master-data problem too)."""
    bites = labor_bites(view.truth, view.network, view.scenario, view.timebase)
    return {("retired", center): at for center, at in bites.items()}


def _bills(view: RunView) -> dict[str, tuple[float, float | None]]:
    """When each bill was due, and its last late charge if it had some (visit -> (due, settles))."""
    return {e.key: (e.ready_at, e.settles_at) for e in billing_expected(view) if e.target == JOURNAL}


MASTER_DATA_CHECK = FlowCheck(
    MASTER_DATA,
    MASTER_DATA_TARGETS,
    lambda view: view.scenario.governance.allowed_lag_hours * 60,
    lambda view: master_data_expectations(
        view.truth,
        view.network,
        _labor_bites(view),
        _bills(view),
        cut=None if view.settled else view.horizon,
        lag=view.scenario.governance.allowed_lag_hours * 60 + view.clock_tolerance,
    ),
    lambda view: observe_master_data(view.network, view.exceptions),
)

LABOR_CHECK = FlowCheck(
    LABOR,
    LABOR_TARGETS,
    lambda view: view.scenario.labor.allowed_lag_minutes,
    lambda view: labor_expectations(view.truth, view.network, view.scenario, view.timebase),
    lambda view: observe_labor(view.erp.finance, view.hcm, view.exceptions),
    unshifted=(PAYROLL_REGISTER,),
)

REPORTING_CHECK = FlowCheck(
    REPORTING,
    REPORTING_TARGETS,
    lambda view: view.scenario.reporting.allowed_lag_minutes,
    kpi_expectations,
    lambda view: observe_dashboard(view.dashboard),
    judge=check_reporting,
)

DEAD_LETTER_CHECK = FlowCheck(
    DEAD_LETTERS,
    DEAD_LETTER_TARGETS,
    dead_letter_lag,
    dead_letter_expectations,
    observe_dead_letters,
)

FLOW_CHECKS: tuple[FlowCheck, ...] = (
    BILLING_CHECK,
    SUPPLY_CHECK,
    MASTER_DATA_CHECK,
    LABOR_CHECK,
    REPORTING_CHECK,
    DEAD_LETTER_CHECK,
)


def check_all(view: RunView, checks: Sequence[FlowCheck] = FLOW_CHECKS) -> list[FlowResult]:
    """Every registered flow's verdict on a finished run, in registration order."""
    return [check.check(view, view.horizon) for check in checks]


def flow_check(name: str) -> FlowCheck:
    for check in FLOW_CHECKS:
        if check.name == name:
            return check
    raise KeyError(f"no flow named {name!r}; flows: {', '.join(c.name for c in FLOW_CHECKS)}")
