"""The simulated driver: the world, the integration under test and the targets on one SimPy clock.

It builds one run from a scenario - the network's master data, the mock systems, the truth
ledger, the workflows that make things happen (patients, surgery, staffing, receiving, counting,
governance, support) and the transport between the systems - hands the integration factory a
``RunContext`` (never itself), runs the workload, lets in-flight work settle, and hands the judge
a ``RunView`` of the finished run. Deterministic for the scenario and seed: every random stream
comes from ``RandomStreams``.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Generator
from typing import Any

import simpy
from faker import Faker

from twin.catalog import SERVICE_LINES
from twin.domain.contract import Integration, IntegrationFactory, RunContext
from twin.domain.events import DomainEvent, Fact, MappingPublished
from twin.domain.exchange import TargetRequest, TargetResponse
from twin.domain.model import Patient
from twin.domain.streams import RandomStreams
from twin.domain.timebase import Timebase
from twin.faults import FaultPlan
from twin.governance import published_at_go_live
from twin.network import Network, build_network, inventory_location
from twin.observe.checker import FlowResult
from twin.observe.flows import check_all
from twin.observe.truth import TruthLedger
from twin.observe.view import FaultsSeen, IntegrationSeen, RunResult, RunView
from twin.reference_factory import REFERENCE, reference_integration
from twin.scenario import Scenario
from twin.sim.clock import SETTLE_GRACE, SimClock
from twin.sim.fault_transport import FaultTransport
from twin.sim.transport import Transport
from twin.systems import Systems, build_systems
from twin.workflows.accruals import post_daily_accruals
from twin.workflows.cycle_count import CycleCount
from twin.workflows.operations import SupportTeam
from twin.workflows.patient_flow import MINUTES_PER_DAY, PatientFlow
from twin.workflows.perioperative import Perioperative
from twin.workflows.receiving import ReceivingDock
from twin.workflows.staffing import Staffing, run_payroll
from twin.workflows.stewardship import DataSteward

QUIET_POINT = 3 * 60  # 03:00: no surgery, inventory snapshots are compared with the truth

Progress = Callable[[float, float], None]  # (simulated minutes done, minutes in the workload)


class Twin:
    """One simulated run: network, workload, EHR, integration under test and targets on one clock."""

    def __init__(
        self,
        scenario: Scenario,
        integration: IntegrationFactory = reference_integration,
        *,
        keep_traffic: bool = True,
        name: str | None = None,
    ) -> None:
        self.scenario: Scenario = scenario
        self.name = name or (REFERENCE if integration is reference_integration else _factory_name(integration))
        self.streams = RandomStreams(scenario.seed)
        # the run settles once the world is done and every round (the support team's too) came once more
        self.clock = SimClock(max(SETTLE_GRACE, scenario.operations.dlq_review_hours * 60 + 60))
        self.network: Network = build_network(scenario)
        self.timebase: Timebase = Timebase(scenario.start)
        self.truth: TruthLedger = TruthLedger()
        self.systems: Systems = build_systems(self.network, scenario, self.timebase)
        self.ehr, self.erp, self.hcm = self.systems.ehr, self.systems.erp, self.systems.hcm
        self.clearinghouse, self.vendor = self.systems.clearinghouse, self.systems.vendor
        self.snapshots: list[tuple[float, dict[tuple[str, str], int]]] = []  # ERP on-hand at quiet points
        self.context = RunContext(published_at_go_live(self.network), scenario, self.timebase, self.streams)
        self.integration: Integration = integration(self.context)
        # Faults are data applied at the boundaries (twin/faults); without any, every crossing takes
        # the clean path and a run is what it was before faults existed.
        self.fault_plan: FaultPlan | None = FaultPlan.from_scenario(scenario) if scenario.faults else None
        hospitals = [h.code for h in self.network.hospitals]
        latency = (scenario.transport.latency_ms.min, scenario.transport.latency_ms.max)
        transport_rng = self.streams.stream("transport")
        self.transport: Transport
        if self.fault_plan is None:
            self.transport = Transport(
                self.clock, self.integration, self.systems.targets, hospitals, latency, transport_rng,
                keep_traffic=keep_traffic,
            )  # fmt: skip
        else:
            self.transport = FaultTransport(
                self.clock, self.integration, self.systems.targets, hospitals, latency, transport_rng,
                self.fault_plan, scenario.operations, self.witness, keep_traffic=keep_traffic,
            )  # fmt: skip
        self.transport.on_handled = self._handled
        self.support: SupportTeam | None = None
        if self.fault_plan is not None:
            assert isinstance(self.transport, FaultTransport)
            self.support = SupportTeam(
                self.integration,
                self.fault_plan,
                self.transport.apply,
                self.witness,
                scenario.operations.dlq_review_hours,
                self.transport.spoiled_delivered,
            )
        self._build_workflows()

    def _build_workflows(self) -> None:
        scenario, clock, streams = self.scenario, self.clock, self.streams
        fake = Faker("en_US")
        fake.seed_instance(streams.faker_seed("patients"))
        start_clock, start_weekday = self.timebase.start_clock, self.timebase.start_weekday
        self.patient_flows = [
            PatientFlow(
                clock,
                hospital,
                scenario,
                self.network.payers_of(hospital),
                self.network.chargemaster,
                streams.stream("flow", hospital.code),
                fake,
                self.happen,
                self.register,
                start_minute_of_day=start_clock,
                start_weekday=start_weekday,
                coder_rng=streams.stream(hospital.code, "coder-charges"),
            )
            for hospital in self.network.hospitals
        ]
        shares = {kind: share for kind, _name, _cc, share in SERVICE_LINES}
        self.surgery = [
            Perioperative(
                clock,
                flow.hospital,
                scenario,
                flow,
                self.network.case_types,
                shares,
                self.network.supply_items,
                streams.stream("or", flow.hospital.code),
                self.witness,
                start_minute_of_day=start_clock,
                start_weekday=start_weekday,
            )
            for flow in self.patient_flows
        ]
        self.dock = ReceivingDock(
            clock,
            scenario.supply,
            streams.stream("dock"),
            self.erp.supply.receive,
            self.witness,
            {inventory_location(h): h.code for h in self.network.hospitals},
        )
        self.cycle_count = CycleCount(
            clock,
            self.network,
            scenario,
            self.erp.supply,
            self.truth.since,
            self.witness,
            start_minute_of_day=start_clock,
        )
        self.steward = DataSteward(
            clock,
            self.network,
            scenario,
            self.erp,
            self.integration.exceptions,
            self.publish_master_data,
            self.witness,
            streams.stream("steward"),
            aliases=None if self.fault_plan is None else self.fault_plan.aliases,
        )
        roster = tuple(self.systems.hcm.employees.values())
        self.staffing = [
            Staffing(
                clock,
                flow.hospital,
                scenario,
                flow,
                roster,
                self.systems.hcm,
                self.timebase,
                streams.stream("staffing", flow.hospital.code),
                self.witness,
                start_minute_of_day=start_clock,
            )
            for flow in self.patient_flows
        ]

    # -- what workflows call ------------------------------------------------------------------
    def register(self, patient: Patient, hospital: str) -> None:
        self.systems.ehr.register_patient(patient, hospital)

    def witness(self, fact: Fact) -> None:
        """A fact no interface publishes (a case ended, goods were counted in): truth only."""
        self.truth.append(fact)

    def happen(self, event: DomainEvent) -> None:
        """A fact happened: record it as truth, let the EHR record it and publish its messages."""
        self.truth.append(event)
        send = self.transport.send_hl7
        for message in self.systems.ehr.record(event):
            send(message)

    def publish_master_data(self, change: MappingPublished) -> None:
        """Governance published a crosswalk entry: truth records it, the integration receives it."""
        self.truth.append(change)
        self.transport.publish(change)

    def _handled(self, request: TargetRequest, response: TargetResponse) -> None:
        """A vendor that confirmed an order ships it when its lead time is over."""
        if request.system == "vendor" and response.ok:
            self.clock.after(max(0.0, float(response.body["ship_at"]) - self.clock.now), self._vendor_ships)

    def _vendor_ships(self) -> None:
        """The vendor's shipping run: goods go to the dock, invoices to the integration."""
        for shipment, invoice in self.systems.vendor.ship_due(self.clock.now):
            self.dock.ship(shipment.po, shipment.item, shipment.location, shipment.quantity)
            self.transport.push_document("vendor", invoice.document())

    def _steward_rounds(self) -> None:
        self.steward.review()
        self.clock.every(self.steward.rounds, self._steward_rounds)

    def _support_rounds(self) -> None:
        assert self.support is not None
        self.support.review(self.clock.now)
        self.clock.every(self.support.rounds, self._support_rounds)

    def _quiet_points(self, workload: float) -> Generator[simpy.Event, None, None]:
        """Snapshot ERP on-hand every night at 03:00, when no case is running."""
        clock = self.clock
        yield clock.timeout((QUIET_POINT - self.timebase.start_clock) % MINUTES_PER_DAY or MINUTES_PER_DAY)
        while clock.now <= workload:
            self.snapshots.append((clock.now, dict(self.erp.supply.on_hand)))
            yield clock.timeout(MINUTES_PER_DAY)

    # -- running -------------------------------------------------------------------------------
    def run(self, progress: Progress | None = None) -> RunResult:
        """Run the workload for the scenario's days, then let in-flight work settle, then check."""
        started = time.perf_counter()
        clock = self.clock
        for flow, schedule, staffing in zip(self.patient_flows, self.surgery, self.staffing, strict=True):
            clock.process(self._join(flow.hospital.joins_at, (flow, schedule, staffing)))
        clock.process(run_payroll(clock, self.scenario, self.systems.hcm, self.staffing))
        workload = self.scenario.days * MINUTES_PER_DAY
        self.transport.apply(self.integration.start(clock.now))
        self.steward.start()
        clock.process(
            post_daily_accruals(clock, self.erp.finance, self.network, self.scenario, self.timebase.start_clock)
        )
        clock.every(self.steward.rounds, self._steward_rounds)
        if isinstance(self.transport, FaultTransport):
            self.transport.start()  # outage windows as their own processes
        if self.support is not None:
            clock.every(self.support.rounds, self._support_rounds)
        clock.process(self._quiet_points(workload))
        self.cycle_count.start(workload)
        if progress is not None:
            clock.process(self._report_progress(progress, workload))
        # A run keeps millions of small objects alive (truth, records, charts) and makes almost no
        # cyclic garbage (reference counting frees the rest): the cyclic collector would rescan the
        # whole heap again and again for nothing. It is off for the run and back on afterwards.
        collecting = gc.isenabled()
        gc.disable()
        try:
            clock.run(until=workload)
            clock.run()  # settle: stays end, coding completes, the integration catches up
            horizon = clock.horizon()
            self.snapshots.append((horizon, dict(self.erp.supply.on_hand)))
            view = self.view(horizon)
            flows = check_all(view)
            wall = time.perf_counter() - started
        finally:
            if collecting:
                gc.enable()
        if progress is not None:
            progress(workload, workload)
        return RunResult(view, flows, wall, len(self.transport.records))

    def view(self, horizon: float) -> RunView:
        """The finished run as the judge reads it (``twin.observe.view``)."""
        health = getattr(self.integration, "health", None)
        figures = health() if callable(health) else None
        faults = None
        if self.fault_plan is not None:
            stats = self.transport.stats if isinstance(self.transport, FaultTransport) else {}
            faults = FaultsSeen(
                self.fault_plan.report(horizon),
                {name: stats[name] for name in sorted(stats)},
                tuple(self.support.log) if self.support is not None else (),
                self.scenario.operations.dlq_review_hours,
            )
        systems = self.systems
        return RunView(
            scenario=self.scenario,
            network=self.network,
            timebase=self.timebase,
            truth=self.truth,
            erp=systems.erp,
            clearinghouse=systems.clearinghouse,
            vendor=systems.vendor,
            hcm=systems.hcm,
            dashboard=systems.dashboard,
            ehr=systems.ehr,
            integration=IntegrationSeen(
                self.name,
                tuple(self.integration.exceptions()),
                tuple(self.integration.dead_letters()),
                None if figures is None else dict(figures),
            ),
            records=self.transport.records,
            traffic=self.transport.traffic,
            counts=self.transport.counts,
            snapshots=self.snapshots,
            horizon=horizon,
            outages=() if self.fault_plan is None else tuple(self.fault_plan.outage_windows(horizon)),
            faults=faults,
        )

    def _join(self, at: float, workflows: tuple[PatientFlow, Perioperative, Staffing]) -> Any:
        """A hospital's workflows start when it joins the network (at once, for the founding ones)."""
        if at > 0:
            yield self.clock.timeout(at)
        for workflow in workflows:
            workflow.start()

    def _report_progress(self, progress: Progress, workload: float) -> Generator[simpy.Event, None, None]:
        step = 60.0
        while self.clock.now < workload:
            progress(self.clock.now, workload)
            yield self.clock.timeout(min(step, workload - self.clock.now))

    def check(self, horizon: float) -> list[FlowResult]:
        """Every flow's verdict on the run as it stands at ``horizon`` (tests judge mid-run states)."""
        return check_all(self.view(horizon))


def _factory_name(factory: IntegrationFactory) -> str:
    module = getattr(factory, "__module__", "") or ""
    name = getattr(factory, "__qualname__", "") or getattr(factory, "__name__", "") or type(factory).__name__
    return f"{module}:{name}" if module else name


def run(
    scenario: Scenario,
    *,
    progress: Progress | None = None,
    keep_traffic: bool = True,
    integration: IntegrationFactory = reference_integration,
    name: str | None = None,
) -> RunResult:
    """Run ``scenario`` through ``integration`` in simulated time and check the targets."""
    return Twin(scenario, integration, keep_traffic=keep_traffic, name=name).run(progress)
