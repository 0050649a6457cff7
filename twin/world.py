"""The world of one run, shared by both drivers: network, mock systems, truth and workflows on a SimPy clock.

What happens in a hospital network does not depend on how its systems are wired: patients are
admitted and discharged, cases use supplies, shifts clock out, the vendor ships, the data steward
and the support team work the integration's queues. ``World`` builds all of that from a scenario -
the network's master data, the mock systems (``twin.systems``), the truth ledger and the
workflows - on one ``SimClock``. A driver supplies the two things that differ between the clocks:

- the *wire* (``Wire``): how the EHR's messages, a vendor's documents and governance's
  publications reach the integration - in process after a simulated hop (``twin.sim``), or over
  MLLP and HTTP (``twin.live``);
- the *desk* (``Desk``): what the steward and the support team see of the integration and do with
  it - its exceptions, its dead letters, a replay - the integration object itself in a simulated
  run, its admin API in a live one.

Both drivers then hand the judge the same ``RunView`` (``view``). Nothing here knows which clock
drives the SimPy environment: the simulated driver runs it as fast as it can, the live one steps it
on the wall clock.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from typing import Any, Protocol

import simpy
from faker import Faker

from mocks.ehr.ehr import OutboundMessage
from twin.catalog import SERVICE_LINES
from twin.domain.contract import DeadLetter, IntegrationException, Outcome, RunContext
from twin.domain.events import DomainEvent, Fact, GoodsShipped, MappingPublished, PatientDischarged
from twin.domain.exchange import MessageRecord, TargetRequest, TargetResponse
from twin.domain.model import Patient, SimTime
from twin.domain.office_hours import OfficeHours
from twin.domain.streams import RandomStreams
from twin.domain.timebase import Timebase
from twin.faults import FaultPlan
from twin.governance import published_at_go_live
from twin.network import Network, build_network
from twin.observe.truth import TruthLedger
from twin.observe.view import FaultsSeen, IntegrationSeen, RunView
from twin.scenario import Scenario
from twin.systems import Systems, build_systems
from twin.workflows.accruals import post_daily_accruals
from twin.workflows.billing_office import BillingOffice
from twin.workflows.clock import SETTLE_GRACE, SimClock
from twin.workflows.cycle_count import CycleCount
from twin.workflows.operations import SupportTeam
from twin.workflows.patient_flow import MINUTES_PER_DAY, PatientFlow
from twin.workflows.perioperative import Perioperative
from twin.workflows.receiving import ReceivingDock
from twin.workflows.staffing import Staffing, run_payroll
from twin.workflows.stewardship import DataSteward

QUIET_POINT = 3 * 60  # 03:00: no surgery, inventory snapshots are compared with the truth


class Wire(Protocol):
    """How the world's systems reach the integration under test (a driver's transport)."""

    def send_hl7(self, message: OutboundMessage) -> None:
        """The EHR publishes ``message`` on its hospital's channel."""
        ...

    def push_document(self, source: str, body: dict[str, Any]) -> None:
        """A SaaS system (the vendor) pushes a document to the integration."""
        ...

    def publish(self, change: MappingPublished) -> None:
        """Reference-data governance publishes a crosswalk entry to the integration."""
        ...


class Desk(Protocol):
    """What people around the integration see of it and do with it: the contract's queues."""

    def exceptions(self) -> list[IntegrationException]: ...

    def dead_letters(self) -> list[DeadLetter]: ...

    def replay(self, message_id: str, now: SimTime, payload: str | None = None) -> Outcome: ...


def run_context(scenario: Scenario, network: Network | None = None, streams: RandomStreams | None = None) -> RunContext:
    """What an integration factory gets for a run of ``scenario`` (the same in every process of a live
    stack: the network and the random streams are functions of the scenario)."""
    network = network if network is not None else build_network(scenario)
    streams = streams if streams is not None else RandomStreams(scenario.seed)
    return RunContext(published_at_go_live(network), scenario, Timebase(scenario.start), streams)


def exception_queues(desk: object) -> Callable[[], Sequence[Sequence[IntegrationException]]] | None:
    """The desk's ``exception_queues`` (the lists ``exceptions`` joins, read only where they grew),
    unless its class changes ``exceptions`` further down than it defines ``exception_queues``: a
    subclass that adds to what ``exceptions`` shows and forgot the queues is read through
    ``exceptions``, every exception seen, rather than through lists that miss its own."""
    queues = getattr(desk, "exception_queues", None)
    if queues is None or "exceptions" in getattr(desk, "__dict__", {}):
        return None
    mro = type(desk).__mro__

    def defined_at(name: str) -> int:
        return next((depth for depth, cls in enumerate(mro) if name in vars(cls)), len(mro))

    return queues if defined_at("exception_queues") <= defined_at("exceptions") else None  # type: ignore[no-any-return]


def settle_grace(scenario: Scenario) -> float:
    """Minutes housekeeping keeps firing once the world is done: every daily schedule runs once more,
    and the support team comes round once more after the last message it may have to repair. (The
    bill hold is the world's: ``happen`` keeps the world busy until each discharge's hold is over.)"""
    return max(SETTLE_GRACE, scenario.operations.dlq_review_hours * 60 + 60)


class World:
    """One run's network, mock systems, truth ledger and workflows (see the module docstring).

    A driver makes the world, connects its wire (``wire``), builds the workflows with its desk
    (``build_workflows``), starts them (``start``) and drives ``clock``.
    """

    wire: Wire

    def __init__(self, scenario: Scenario, clock: SimClock | None = None) -> None:
        self.scenario: Scenario = scenario
        self.streams = RandomStreams(scenario.seed)
        self.clock = clock if clock is not None else SimClock(settle_grace(scenario))
        self._bill_hold = scenario.billing.bill_hold_hours * 60
        self.network: Network = build_network(scenario)
        self.timebase: Timebase = Timebase(scenario.start)
        self.truth: TruthLedger = TruthLedger()
        self.systems: Systems = build_systems(self.network, scenario, self.timebase)
        self.ehr, self.erp, self.hcm = self.systems.ehr, self.systems.erp, self.systems.hcm
        self.clearinghouse, self.vendor = self.systems.clearinghouse, self.systems.vendor
        self.snapshots: list[tuple[float, dict[tuple[str, str], int]]] = []  # ERP on-hand at quiet points
        self.context = run_context(scenario, self.network, self.streams)
        # Faults are data applied at the boundaries (twin/faults) by the driver's wire; without any,
        # every crossing takes the clean path.
        self.fault_plan: FaultPlan | None = FaultPlan.from_scenario(scenario) if scenario.faults else None
        self.support: SupportTeam | None = None

    # -- building ------------------------------------------------------------------------------
    def build_workflows(self, desk: Desk) -> None:
        """The workflows of every hospital, the dock, the counts, the steward and the staffing."""
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
                adt_rng=streams.stream(hospital.code, "adt"),
                visit_rng=streams.stream(hospital.code, "visits"),
                him_rng=streams.stream(hospital.code, "him"),
                floor_rng=streams.stream(hospital.code, "floor"),
            )
            for hospital in self.network.hospitals
        ]
        for flow in self.patient_flows:
            flow.registration.witness = self.witness
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
            self.network.hospital_of_location(),
            OfficeHours.of(self.timebase, scenario.supply.dock_opens_hour, scenario.supply.dock_closes_hour),
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
            desk.exceptions,
            self.publish_master_data,
            self.witness,
            streams.stream("steward"),
            aliases=None if self.fault_plan is None else self.fault_plan.aliases,
            hours=None if scenario.governance.steward_on_call else self.patient_flows[0].office_hours,
            queues=exception_queues(desk),
        )
        revenue = scenario.revenue_cycle
        beds = sum(h.beds for h in self.network.hospitals)
        self.billing_office = BillingOffice(
            clock,
            max(1, round(beds * revenue.billers_per_100_beds / 100)),
            revenue,
            self.patient_flows[0].office_hours,
            self.systems.ehr,
            self.happen,
            streams.stream("billers"),
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

    def build_support(
        self, desk: Desk, apply: Callable[[Outcome], None], delivered: Mapping[str, SimTime] | None
    ) -> None:
        """The support team that repairs what the fault plan spoiled (only when there are faults)."""
        if self.fault_plan is not None:
            self.support = SupportTeam(
                desk,  # type: ignore[arg-type]  # the team needs the contract's queues only
                self.fault_plan,
                apply,
                self.witness,
                self.scenario.operations.dlq_review_hours,
                delivered,
            )

    # -- what workflows call ------------------------------------------------------------------
    def register(self, patient: Patient, hospital: str) -> None:
        self.systems.ehr.register_patient(patient, hospital)
        self.systems.clearinghouse.members.add(patient.member_id)  # the payer knows its member

    def witness(self, fact: Fact) -> None:
        """A fact no interface publishes (a case ended, goods were counted in): truth only."""
        self.truth.append(fact)

    def happen(self, event: DomainEvent) -> None:
        """A fact happened: record it as truth, let the EHR record it and publish its messages. A
        discharge keeps the world busy until its bill hold is over: the bill waiting for it is the
        world's work (charges still to come), not an integration's housekeeping."""
        self.truth.append(event)
        if isinstance(event, PatientDischarged) and self._bill_hold:
            self.clock.timeout(self._bill_hold)
        send = self.wire.send_hl7
        for message in self.systems.ehr.record(event):
            send(message)

    def publish_master_data(self, change: MappingPublished) -> None:
        """Governance published a crosswalk entry: truth records it, the integration receives it."""
        self.truth.append(change)
        self.wire.publish(change)

    def handled(self, request: TargetRequest, response: TargetResponse) -> None:
        """What a target's answer sets off in the world: a vendor that confirmed an order ships it
        when its lead time is over; a claim the payer's front end rejected lands on the billers'
        worklist."""
        if request.system == "vendor" and response.ok and "ship_at" in response.body:
            self.clock.after(max(0.0, float(response.body["ship_at"]) - self.clock.now), self._vendor_ships)
        elif request.system == "clearinghouse" and response.status == 422:
            self.billing_office.rejected(request.body, response.body)

    def _vendor_ships(self) -> None:
        """The vendor's shipping run: goods go to the dock, invoices to the integration."""
        for shipment, invoice in self.systems.vendor.ship_due(self.clock.now):
            self.truth.append(
                GoodsShipped(
                    self.clock.now, invoice.vendor, shipment.po, shipment.location, shipment.item, shipment.quantity
                )
            )
            self.dock.ship(shipment.po, shipment.item, shipment.location, shipment.quantity)
            self.wire.push_document("vendor", invoice.document())

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

    def _outage(self, index: int) -> Generator[simpy.Event, None, None]:
        """One outage spec's windows open and close (housekeeping: they recur for ever)."""
        assert self.fault_plan is not None
        clock, log = self.clock, self.fault_plan.outages
        log.update(index, clock.now)
        while (change := log.next_change(index, clock.now)) is not None:
            yield clock.housekeeping(change - clock.now)
            log.update(index, clock.now)

    def _join(self, at: float, workflows: tuple[PatientFlow, Perioperative, Staffing]) -> Any:
        """A hospital's workflows start when it joins the network (at once, for the founding ones)."""
        if at > 0:
            yield self.clock.timeout(at)
        for workflow in workflows:
            workflow.start()

    # -- starting ------------------------------------------------------------------------------
    @property
    def workload(self) -> float:
        """Minutes of patient activity: the scenario's days."""
        return self.scenario.days * MINUTES_PER_DAY

    def start(self, integration_started: Callable[[], None]) -> None:
        """Start every workflow and round on the clock; ``integration_started`` switches the
        integration on at the right moment (after the payroll process, before the steward)."""
        clock = self.clock
        for flow, schedule, staffing in zip(self.patient_flows, self.surgery, self.staffing, strict=True):
            clock.process(self._join(flow.hospital.joins_at, (flow, schedule, staffing)))
        clock.process(run_payroll(clock, self.scenario, self.systems.hcm, self.staffing))
        integration_started()
        self.steward.start()
        clock.process(
            post_daily_accruals(clock, self.erp.finance, self.network, self.scenario, self.timebase.start_clock)
        )
        clock.every(self.steward.rounds, self._steward_rounds)
        if self.fault_plan is not None:
            for index in range(len(self.fault_plan.outages.specs)):
                clock.process(self._outage(index))  # outage windows as their own processes
        if self.support is not None:
            clock.every(self.support.rounds, self._support_rounds)
        clock.process(self._quiet_points(self.workload))
        self.cycle_count.start(self.workload)

    # -- handing over ----------------------------------------------------------------------------
    def view(
        self,
        horizon: float,
        integration: IntegrationSeen,
        records: Sequence[MessageRecord],
        traffic: dict[str, list[str]],
        counts: Mapping[tuple[str, str], int],
        transport_stats: Mapping[str, int] | None = None,
        *,
        settled: bool = True,
        clock_tolerance: float = 0.0,
    ) -> RunView:
        """The run as the judge reads it (``twin.observe.view``), with the driver's wire records."""
        faults = None
        if self.fault_plan is not None:
            stats = transport_stats or {}
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
            integration=integration,
            records=records,
            traffic=traffic,
            counts=counts,  # type: ignore[arg-type]
            snapshots=self.snapshots,
            horizon=horizon,
            outages=() if self.fault_plan is None else tuple(self.fault_plan.outage_windows(horizon)),
            faults=faults,
            settled=settled,
            clock_tolerance=clock_tolerance,
        )


def seen(name: str, exceptions: Iterable[IntegrationException], dead_letters: Iterable[DeadLetter],
         health: Mapping[str, int] | None) -> IntegrationSeen:  # fmt: skip
    """The integration as the contract exposed it when the run had settled."""
    return IntegrationSeen(name, tuple(exceptions), tuple(dead_letters), None if health is None else dict(health))
