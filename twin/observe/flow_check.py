"""How one flow is judged (``FlowCheck``), and the two flows whose records other oracles read too.

The KPI oracle derives days to bill and stock accuracy from the very records the billing and
supply checks expect, held for outages exactly as those checks hold them. It reads them through
``BILLING_CHECK.due`` and ``SUPPLY_CHECK.due``, so the allowed lags and the targets no outage
delays are written once, here; this module is apart from the registry (``twin.observe.flows``)
because the registry holds the reporting check, which imports the KPI oracle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from twin.observe.checker import FlowResult, check_flow
from twin.observe.expectations import BILLING, BILLING_TARGETS, billing_expectations
from twin.observe.fault_truth import shift_for_outages
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

    def due(self, view: RunView) -> Sequence[Expected]:
        """The flow's expectations as its check judges them: what a system could not receive while
        it was down is due when it came back (``shift_for_outages``, with this flow's allowed lag and
        unshifted targets). The KPI oracle reads the billing and supply records through here too, so
        a view's answer is remembered (until its truth grows) and the outages are applied once."""
        if not view.outages:
            return self.expected(view)
        answers = _HELD.setdefault(view, {})
        known = answers.get(self.name)
        if known is None or known[0] != len(view.truth):
            expected = self.expected(view)
            held = tuple(shift_for_outages(expected, view.outages, self.unshifted, self.allowed_lag(view)))
            known = answers[self.name] = (len(view.truth), held)
        return known[1]

    def check(self, view: RunView, horizon: float) -> FlowResult:
        if self.judge is not None:
            return self.judge(view, horizon)
        return check_flow(
            self.name,
            self.due(view),
            self.observed(view),
            allowed_lag=self.allowed_lag(view),
            horizon=horizon,
            targets=self.targets,
            cut=not view.settled,
            tolerance=view.clock_tolerance,
        )


# view -> flow -> (the truth's length, the flow's records held for the view's outages); a tuple:
# the check and the KPI oracle share it
_HELD: WeakKeyDictionary[RunView, dict[str, tuple[int, tuple[Expected, ...]]]] = WeakKeyDictionary()


def billing_expected(view: RunView) -> Sequence[Expected]:
    """The billing check's records before outages hold them: the master-data check reads from them
    when each bill was due (an alias on a held bill must be raised by then)."""
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
    billing_expected,
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
