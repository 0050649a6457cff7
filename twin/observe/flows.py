"""The flows the harness judges, each as one check: expectations from the truth, observations
from the targets, compared by the synchronization checker.

A flow registers here once (name, the targets it owns, how to derive both sides); the driver,
the reports and the conformance suite iterate over ``FLOW_CHECKS`` and never name a flow
themselves, so adding a workflow never means editing them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from twin.observe.checker import FlowResult, check_flow
from twin.observe.dead_letter_check import (
    DEAD_LETTER_TARGETS,
    DEAD_LETTERS,
    dead_letter_expectations,
    observe_dead_letters,
)
from twin.observe.dead_letter_check import allowed_lag as dead_letter_lag
from twin.observe.expectations import BILLING, BILLING_TARGETS, JOURNAL, billing_expectations
from twin.observe.fault_truth import shift_for_outages
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
from twin.observe.records import Expected, Observed
from twin.observe.supply_expectations import SUPPLY, SUPPLY_TARGETS, SUPPLY_UNSHIFTED, supply_expectations
from twin.observe.targets import observe_billing, observe_supply
from twin.observe.view import RunView


@dataclass(frozen=True, slots=True)
class FlowCheck:
    """How one flow is judged. ``allowed_lag`` reads the scenario; the two sides read the run."""

    name: str
    targets: tuple[str, ...]
    allowed_lag: Callable[[RunView], float]
    expected: Callable[[RunView], Sequence[Expected]]
    observed: Callable[[RunView], Sequence[Observed]]
    # A flow whose records carry more than flat values (a KPI's lineage) judges them itself.
    judge: Callable[[RunView, float], FlowResult] | None = None
    # Targets an outage cannot delay: state read at fixed instants, records a system makes itself.
    unshifted: tuple[str, ...] = ()

    def check(self, view: RunView, horizon: float) -> FlowResult:
        if self.judge is not None:
            return self.judge(view, horizon)
        expected = self.expected(view)
        if view.outages:  # what a system could not receive while down is due when it came back
            expected = shift_for_outages(expected, view.outages, self.unshifted, self.allowed_lag(view))
        return check_flow(
            self.name,
            expected,
            self.observed(view),
            allowed_lag=self.allowed_lag(view),
            horizon=horizon,
            targets=self.targets,
            cut=not view.settled,
            tolerance=view.clock_tolerance,
        )


def _billing_expected(view: RunView) -> Sequence[Expected]:
    billing = view.scenario.billing
    return billing_expectations(
        view.truth,
        view.network,
        coding_deadline=billing.coding_deadline_hours * 60,
        allowed_lag=billing.allowed_lag_minutes,
        outages=view.outages,
        bill_hold=billing.bill_hold_hours * 60,
        timebase=view.timebase,
    )


BILLING_CHECK = FlowCheck(
    BILLING,
    BILLING_TARGETS,
    lambda view: view.scenario.billing.allowed_lag_minutes,
    _billing_expected,
    lambda view: observe_billing(view.erp.finance, view.clearinghouse, view.exceptions),
)

SUPPLY_CHECK = FlowCheck(
    SUPPLY,
    SUPPLY_TARGETS,
    lambda view: view.scenario.supply.allowed_lag_minutes,
    lambda view: supply_expectations(
        view.truth, view.network, view.scenario, [at for at, _levels in view.snapshots], view.outages
    ),
    lambda view: observe_supply(view.erp.supply, view.vendor, view.snapshots, view.exceptions),
    unshifted=SUPPLY_UNSHIFTED,
)


def _labor_bites(view: RunView) -> dict[tuple[str, str], float]:
    """When the nightly labor sync first hit a retired cost center (a master-data problem too)."""
    bites = labor_bites(view.truth, view.network, view.scenario, view.timebase)
    return {("retired", center): at for center, at in bites.items()}


def _bills(view: RunView) -> dict[str, tuple[float, float | None]]:
    """When each bill was due, and its last late charge if it had some (visit -> (due, settles))."""
    return {e.key: (e.ready_at, e.settles_at) for e in _billing_expected(view) if e.target == JOURNAL}


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
