"""The flows the harness judges, each as one check: expectations from the truth, observations
from the targets, compared by the synchronization checker.

A flow registers here once (name, the targets it owns, how to derive both sides); the driver,
the reports and the conformance suite iterate over ``FLOW_CHECKS`` and never name a flow
themselves, so adding a workflow never means editing them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from twin.observe.checker import FlowResult, check_flow
from twin.observe.expectations import BILLING, BILLING_TARGETS, billing_expectations
from twin.observe.fault_truth import outage_windows, shift_for_outages
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
from twin.observe.supply_expectations import INVOICE, ON_HAND, SUPPLY, SUPPLY_TARGETS, supply_expectations
from twin.observe.targets import observe_billing, observe_supply

if TYPE_CHECKING:
    from twin.sim import Twin


@dataclass(frozen=True, slots=True)
class FlowCheck:
    """How one flow is judged. ``allowed_lag`` reads the scenario; the two sides read the run."""

    name: str
    targets: tuple[str, ...]
    allowed_lag: Callable[[Twin], float]
    expected: Callable[[Twin], Sequence[Expected]]
    observed: Callable[[Twin], Sequence[Observed]]
    # A flow whose records carry more than flat values (a KPI's lineage) judges them itself.
    judge: Callable[[Twin, float], FlowResult] | None = None
    # Targets an outage cannot delay: state read at fixed instants, records a system makes itself.
    unshifted: tuple[str, ...] = ()

    def check(self, twin: Twin, horizon: float) -> FlowResult:
        if self.judge is not None:
            return self.judge(twin, horizon)
        expected = self.expected(twin)
        plan = getattr(twin, "fault_plan", None)
        if plan is not None:  # what a system could not receive while down is due when it came back
            windows = plan.outage_windows(horizon)
            expected = shift_for_outages(expected, windows, self.unshifted, self.allowed_lag(twin))
        return check_flow(
            self.name,
            expected,
            self.observed(twin),
            allowed_lag=self.allowed_lag(twin),
            horizon=horizon,
            targets=self.targets,
        )


def _billing_expected(twin: Twin) -> Sequence[Expected]:
    billing = twin.scenario.billing
    return billing_expectations(
        twin.truth,
        twin.network,
        coding_deadline=billing.coding_deadline_hours * 60,
        allowed_lag=billing.allowed_lag_minutes,
        outages=outage_windows(twin),
    )


BILLING_CHECK = FlowCheck(
    BILLING,
    BILLING_TARGETS,
    lambda twin: twin.scenario.billing.allowed_lag_minutes,
    _billing_expected,
    lambda twin: observe_billing(twin.erp.finance, twin.clearinghouse, twin.integration.exceptions()),
)

SUPPLY_CHECK = FlowCheck(
    SUPPLY,
    SUPPLY_TARGETS,
    lambda twin: twin.scenario.supply.allowed_lag_minutes,
    lambda twin: supply_expectations(
        twin.truth, twin.network, twin.erp.supply, twin.snapshots, twin.scenario, outage_windows(twin)
    ),
    lambda twin: observe_supply(twin.erp.supply, twin.snapshots, twin.integration.exceptions()),
    unshifted=(ON_HAND, INVOICE),
)


def _labor_bites(twin: Twin) -> dict[tuple[str, str], float]:
    """When the nightly labor sync first hit a retired cost center (a master-data problem too)."""
    bites = labor_bites(twin.truth, twin.network, twin.scenario, twin.timebase)
    return {("retired", center): at for center, at in bites.items()}


MASTER_DATA_CHECK = FlowCheck(
    MASTER_DATA,
    MASTER_DATA_TARGETS,
    lambda twin: twin.scenario.governance.allowed_lag_hours * 60,
    lambda twin: master_data_expectations(twin.truth, twin.network, _labor_bites(twin)),
    lambda twin: observe_master_data(twin.network, twin.integration.exceptions()),
)

LABOR_CHECK = FlowCheck(
    LABOR,
    LABOR_TARGETS,
    lambda twin: twin.scenario.labor.allowed_lag_minutes,
    lambda twin: labor_expectations(twin.truth, twin.network, twin.scenario, twin.timebase),
    lambda twin: observe_labor(twin.erp.finance, twin.systems.hcm, twin.integration.exceptions()),
    unshifted=(PAYROLL_REGISTER,),
)

REPORTING_CHECK = FlowCheck(
    REPORTING,
    REPORTING_TARGETS,
    lambda twin: twin.scenario.reporting.allowed_lag_minutes,
    kpi_expectations,
    lambda twin: observe_dashboard(twin.systems.dashboard),
    judge=check_reporting,
)

FLOW_CHECKS: tuple[FlowCheck, ...] = (BILLING_CHECK, SUPPLY_CHECK, MASTER_DATA_CHECK, LABOR_CHECK, REPORTING_CHECK)


def check_all(twin: Twin, horizon: float, checks: Sequence[FlowCheck] = FLOW_CHECKS) -> list[FlowResult]:
    """Every registered flow's verdict, in registration order."""
    return [check.check(twin, horizon) for check in checks]


def flow_check(name: str) -> FlowCheck:
    for check in FLOW_CHECKS:
        if check.name == name:
            return check
    raise KeyError(f"no flow named {name!r}; flows: {', '.join(c.name for c in FLOW_CHECKS)}")
