"""The run view: everything the judge may read of a finished run, as a driver hands it over.

The judge - the flow checks, the reports, the conformance steps, the design comparison - reads a
run only through this view, never through a driver: the simulated driver (``twin.sim``) and the
live one build the same view, so one judge serves both. It holds

- what the world did and what the scenario requires: the scenario, the network's master data,
  the timebase and the truth ledger (``TruthLedger``: facts written by the workflows, never by
  the integration under test);
- what each target system holds at the end (the mock systems' state: ERP, clearinghouse, vendor
  portal, HCM, dashboard, EHR), and the ERP's on-hand as read at the nightly quiet points;
- what crossed the wire (``MessageRecord`` per exchange, the HL7 traffic with its ACKs when
  kept, counts per message and request type);
- what the integration exposes through the contract (its exceptions, its dead letters, its
  optional ``health()`` figures), as they stood when the run had settled;
- the faults the scenario injected and what the transport and the support team did about them.

The mock systems are the judge's to read, not to change: nothing here calls a handler.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mocks.ehr.ehr import Ehr
from mocks.erp.erp import Erp
from mocks.hcm.hcm import Hcm
from mocks.saas.clearinghouse import Clearinghouse
from mocks.saas.dashboard import Dashboard
from mocks.saas.vendor import VendorPortal
from twin.domain.contract import DeadLetter, IntegrationException
from twin.domain.exchange import MessageRecord
from twin.domain.support import SupportAction
from twin.domain.timebase import Timebase
from twin.faults import OutageWindow
from twin.network import Network
from twin.observe.checker import FlowResult
from twin.observe.truth import TruthLedger
from twin.scenario import Scenario

Snapshot = tuple[float, dict[tuple[str, str], int]]  # (when, ERP on-hand per (location, item))


@dataclass(frozen=True, slots=True)
class IntegrationSeen:
    """The integration under test as the contract exposes it, once the run had settled."""

    name: str  # "reference", or the ``--sut`` that made it
    exceptions: tuple[IntegrationException, ...]
    dead_letters: tuple[DeadLetter, ...]
    health: Mapping[str, int] | None = None  # the optional ``health()`` figures


@dataclass(frozen=True, slots=True)
class FaultsSeen:
    """What the scenario's faults did in the run: the plan's report, the transport's counters, the
    support team's log and the outage windows (known in advance: a function of the scenario)."""

    plan: Mapping[str, Any]  # ``FaultPlan.report``: injected per kind, outage occurrences, tokens, aliases
    transport: Mapping[str, int]  # timeouts, late answers dropped, sender resends, ...
    support: tuple[SupportAction, ...]
    review_hours: float  # the support team's rounds


@dataclass(frozen=True, slots=True, eq=False, repr=False, weakref_slot=True)  # one view per run: identity
class RunView:
    """A finished run, read-only, for the judge (see the module docstring)."""

    def __repr__(self) -> str:
        scenario = self.scenario
        return f"RunView({scenario.name!r}, seed {scenario.seed}, {self.integration.name}, horizon {self.horizon:.1f})"

    scenario: Scenario
    network: Network
    timebase: Timebase
    truth: TruthLedger
    erp: Erp
    clearinghouse: Clearinghouse
    vendor: VendorPortal
    hcm: Hcm
    dashboard: Dashboard
    ehr: Ehr
    integration: IntegrationSeen
    records: Sequence[MessageRecord]
    traffic: Mapping[str, Sequence[str]]
    counts: Mapping[tuple[str, str], int]
    snapshots: Sequence[Snapshot]
    horizon: float  # when the run had settled (simulated minutes)
    outages: tuple[OutageWindow, ...] = ()
    faults: FaultsSeen | None = None  # None: the scenario injects no fault
    # False: the run was ended at ``horizon`` before the world settled (a live run, a day after its
    # workload): records not due by then are pending, not lost (``twin.observe.checker.check_flow``)
    settled: bool = True
    # Minutes added to every allowed lag: what the clock the run was timed on cannot resolve. 0 in
    # simulated time; a live run's wall-clock jitter times its speed (``LiveOptions.jitter_seconds``).
    clock_tolerance: float = 0.0

    @property
    def exceptions(self) -> tuple[IntegrationException, ...]:
        return self.integration.exceptions

    @property
    def dead_letters(self) -> tuple[DeadLetter, ...]:
        return self.integration.dead_letters


@dataclass(slots=True)
class RunResult:
    """A driver's answer: the run view, every flow's verdict, and what the run cost."""

    view: RunView
    flows: list[FlowResult]
    wall_seconds: float = 0.0
    sim_events: int = 0
    # wall seconds per phase of the run ("simulate", "settle", "judge"): where the time went
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def scenario(self) -> Scenario:
        return self.view.scenario

    @property
    def horizon(self) -> float:
        return self.view.horizon

    @property
    def judged(self) -> bool:
        """Whether there was anything to judge: some target had to hold some record. Nothing happening
        is never a pass."""
        return any(flow.expected for flow in self.flows)

    @property
    def in_sync(self) -> bool:
        return self.judged and all(flow.in_sync for flow in self.flows)
