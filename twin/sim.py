"""The simulated driver: SimPy clock, in-process delivery, deterministic for a seed.

It wires the network, workflows, EHR, integration under test and target systems together and
moves messages between them with a seeded transport latency. Delivery from each hospital's EHR
is ordered stop-and-wait, as over one MLLP connection: the next message leaves when the previous
one is acknowledged. Everything the core decides is decided by the sans-IO objects; this module
only decides *when* things arrive.
"""

from __future__ import annotations

import gc
import random
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple

import simpy
from faker import Faker
from simpy.core import StopSimulation

from mocks.ehr.ehr import Ehr, OutboundMessage
from mocks.erp.erp import Erp
from mocks.saas.clearinghouse import Clearinghouse
from mocks.saas.vendor import VendorPortal
from twin.catalog import SERVICE_LINES
from twin.domain.events import DomainEvent, Fact, MappingPublished
from twin.domain.exchange import TargetRequest, TargetResponse
from twin.domain.model import Patient
from twin.domain.timebase import Timebase
from twin.faults import FaultPlan
from twin.integration.contract import Integration, Outcome
from twin.network import Network, build_network, inventory_location
from twin.observe.checker import FlowResult
from twin.observe.truth import TruthLedger
from twin.reference_factory import reference_integration
from twin.scenario import Scenario
from twin.sim_faults import FaultInjector
from twin.systems import Systems, build_systems
from twin.workflows.accruals import post_daily_accruals
from twin.workflows.cycle_count import CycleCount
from twin.workflows.patient_flow import MINUTES_PER_DAY, PatientFlow
from twin.workflows.perioperative import Perioperative
from twin.workflows.receiving import ReceivingDock
from twin.workflows.staffing import Staffing, run_payroll
from twin.workflows.stewardship import DataSteward

QUIET_POINT = 3 * 60  # 03:00: no surgery, inventory snapshots are compared with the truth
SETTLE_GRACE = 26 * 60  # minutes daemons keep firing once the workflows are done: each daily schedule runs again

Progress = Callable[[float, float], None]  # (simulated minutes done, minutes in the workload)
IntegrationFactory = Callable[["Twin"], Integration]
__all__ = ["IntegrationFactory", "RunResult", "Twin", "reference_integration", "run"]


class MessageRecord(NamedTuple):
    """One completed exchange across a boundary, written once, flat (Ciw's data record).

    ``hl7``: an EHR message sent, delivered to the integration and acknowledged (``outcome`` is
    the ACK code); ``request``: an integration request sent, handled by a target and answered
    (``outcome`` is the HTTP status).
    """

    seq: int
    record_type: str  # "hl7" | "request"
    sent_at: float
    delivered_at: float
    answered_at: float
    source: str
    destination: str
    message_type: str
    message_id: str
    key: str  # business key (visit number); pseudonymised whenever written out
    outcome: str
    size: int


@dataclass(slots=True)
class RunResult:
    scenario: Scenario
    twin: Twin
    flows: list[FlowResult]
    horizon: float
    wall_seconds: float
    sim_events: int

    @property
    def in_sync(self) -> bool:
        return all(flow.in_sync for flow in self.flows)


@dataclass(slots=True)
class _Channel:
    """Ordered stop-and-wait delivery from one hospital's EHR to the integration."""

    hospital: str
    queue: deque[tuple[float, OutboundMessage]] = field(default_factory=deque)
    busy: bool = False  # a delivery is scheduled
    free_at: float = 0.0  # when the last ACK reaches the EHR: the next send waits for it
    source: str = ""  # "ehr/H01", as the channel's records name their source
    # The SimPy callback that delivers the head of this channel: made once, on the first send, and
    # reused for every delivery (one closure per channel, not one per message).
    arrive: Callable[[simpy.Event], None] | None = None

    def __post_init__(self) -> None:
        self.source = f"ehr/{self.hospital}"


class Twin:
    """One simulated run: network, workload, EHR, integration under test and targets on one clock."""

    def __init__(
        self,
        scenario: Scenario,
        integration: IntegrationFactory = reference_integration,
        *,
        keep_traffic: bool = True,
    ) -> None:
        self.scenario: Scenario = scenario
        self.env = simpy.Environment()
        self.network: Network = build_network(scenario)
        self.timebase: Timebase = Timebase(scenario.start)
        self.truth: TruthLedger = TruthLedger()
        self.systems: Systems = build_systems(self.network, scenario, self.timebase)
        self.ehr: Ehr = self.systems.ehr
        self.erp: Erp = self.systems.erp
        self.clearinghouse: Clearinghouse = self.systems.clearinghouse
        self.vendor: VendorPortal = self.systems.vendor
        self.targets = self.systems.targets
        self.snapshots: list[tuple[float, dict[tuple[str, str], int]]] = []  # ERP on-hand at quiet points
        self.integration: Integration = integration(self)
        self.keep_traffic = keep_traffic
        self.traffic: dict[str, list[str]] = {}
        self.records: list[MessageRecord] = []
        self.counts: Counter[tuple[str, str]] = Counter()
        self._latency_rng = random.Random(f"{scenario.seed}/transport")
        self._latency = (scenario.transport.latency_ms.min / 60_000, scenario.transport.latency_ms.max / 60_000)
        self._channels = {h.code: _Channel(h.code) for h in self.network.hospitals}
        self._daemons: set[simpy.Event] = set()
        # Faults are data applied at the boundaries (twin/faults, twin/sim_faults); without any,
        # every crossing takes the clean path below and a run is what it was before faults existed.
        self.fault_plan: FaultPlan | None = FaultPlan.from_scenario(scenario) if scenario.faults else None
        self.faults: FaultInjector | None = None if self.fault_plan is None else FaultInjector(self, self.fault_plan)
        self._deliver_head: Callable[[_Channel], None] = self._deliver
        if self.faults is not None and self.faults.plan.touches_hl7:
            self._deliver_head = self.faults.deliver
        self._quiet_since: float | None = None  # when only daemons were left (see ``_daemon``)
        fake = Faker("en_US")
        fake.seed_instance(scenario.seed + 1)
        start = scenario.start
        self.patient_flows = [
            PatientFlow(
                self.env,
                hospital,
                scenario,
                self.network.payers_of(hospital),
                self.network.chargemaster,
                random.Random(f"{scenario.seed}/flow/{hospital.code}"),
                fake,
                self.happen,
                self.register,
                start_minute_of_day=start.hour * 60 + start.minute,
                start_weekday=start.weekday(),
            )
            for hospital in self.network.hospitals
        ]
        shares = {kind: share for kind, _name, _cc, share in SERVICE_LINES}
        self.surgery = [
            Perioperative(
                self.env,
                flow.hospital,
                scenario,
                flow,
                self.network.case_types,
                shares,
                self.network.supply_items,
                random.Random(f"{scenario.seed}/or/{flow.hospital.code}"),
                self.witness,
                start_minute_of_day=start.hour * 60 + start.minute,
                start_weekday=start.weekday(),
            )
            for flow in self.patient_flows
        ]
        self.dock = ReceivingDock(
            self.env,
            scenario.supply,
            random.Random(f"{scenario.seed}/dock"),
            self.erp.supply.receive,
            self.witness,
            {inventory_location(h): h.code for h in self.network.hospitals},
        )
        self.cycle_count = CycleCount(
            self.env,
            self.network,
            scenario,
            self.erp.supply,
            self.truth.since,
            self.witness,
            start_minute_of_day=start.hour * 60 + start.minute,
        )
        self.steward = DataSteward(
            self.env,
            self.network,
            scenario,
            self.erp,
            self.integration.exceptions,
            self.publish_master_data,
            self.witness,
            random.Random(f"{scenario.seed}/steward"),
            aliases=None if self.fault_plan is None else self.fault_plan.aliases,
        )
        self.hcm = self.systems.hcm
        roster = tuple(self.hcm.employees.values())
        self.staffing = [
            Staffing(
                self.env,
                flow.hospital,
                scenario,
                flow,
                roster,
                self.hcm,
                self.timebase,
                random.Random(f"{scenario.seed}/staffing/{flow.hospital.code}"),
                self.witness,
                start_minute_of_day=start.hour * 60 + start.minute,
            )
            for flow in self.patient_flows
        ]

    # -- what workflows call ------------------------------------------------------------------
    def register(self, patient: Patient, hospital: str) -> None:
        self.ehr.register_patient(patient, hospital)

    def witness(self, fact: Fact) -> None:
        """A fact no interface publishes (a case ended, goods were counted in): truth only."""
        self.truth.append(fact)

    def publish_master_data(self, change: MappingPublished) -> None:
        """Governance published a crosswalk entry: truth records it, the integration receives it."""
        self.truth.append(change)
        self.counts[("master data", change.domain)] += 1
        self._after(self._hop(), lambda: self._apply(self.integration.receive_master_data(change, self.env.now)))

    def _steward_rounds(self) -> None:
        self.steward.review()
        self._daemon(self.steward.rounds, self._steward_rounds)

    def happen(self, event: DomainEvent) -> None:
        """A fact happened: record it as truth, let the EHR record it and publish its messages."""
        self.truth.append(event)
        now = self.env.now
        for message in self.ehr.record(event):
            channel = self._channels[message.hospital]
            channel.queue.append((now, message))
            if not channel.busy:
                channel.busy = True
                if channel.arrive is None:  # bound to this channel now: the loop moves on to others
                    channel.arrive = lambda _event, channel=channel, deliver=self._deliver_head: deliver(channel)
                self.env.timeout(max(now, channel.free_at) - now + self._hop()).callbacks.append(channel.arrive)

    # -- delivery ------------------------------------------------------------------------------
    def _after(self, delay: float, action: Callable[[], None]) -> None:
        event = self.env.timeout(delay)
        event.callbacks.append(lambda _event: action())

    def _daemon(self, delay: float, action: Callable[[], None]) -> None:
        """Schedule periodic housekeeping (an integration's timers, the steward's rounds).

        Such work repeats for ever, so it must not keep the run alive. The first time a daemon
        finds nothing but other daemons scheduled, the workflows are done and the run drains:
        daemons keep firing for ``SETTLE_GRACE`` more (every daily schedule runs once more, so
        the last night's sync still happens), then the run stops; the horizon is that moment.
        """
        self.daemon_timeout(delay).callbacks.append(lambda _event: action())

    def daemon_timeout(self, delay: float) -> simpy.Event:
        """A timeout that is housekeeping (see ``_daemon``): a process that repeats for ever, such
        as an outage window opening and closing every night, yields these."""
        event = self.env.timeout(delay)
        self._daemons.add(event)

        def fire(_event: simpy.Event) -> None:
            self._daemons.discard(event)
            now = self.env.now
            if self._quiet_since is None and self._only_daemons_left():
                self._quiet_since = now
            if self._quiet_since is not None and now > self._quiet_since + SETTLE_GRACE:
                raise StopSimulation(None)

        event.callbacks.append(fire)
        return event

    def _only_daemons_left(self) -> bool:
        # SimPy keeps its schedule in ``Environment._queue`` (a heap of (time, priority, id,
        # event)); it has no public way to ask whether anything but housekeeping is pending.
        daemons = self._daemons
        return all(entry[3] in daemons for entry in self.env._queue)

    def _hop(self) -> float:
        low, high = self._latency
        return low + (high - low) * self._latency_rng.random()  # Random.uniform's formula, one call less

    def _deliver(self, channel: _Channel) -> None:
        """The head of the channel reaches the integration; its ACK travels back one hop later."""
        queued_at, message = channel.queue.popleft()
        self.next_message(channel, self.hand_over(channel, queued_at, message, message.payload))

    def hand_over(self, channel: _Channel, queued_at: float, message: OutboundMessage, payload: str) -> float:
        """``payload`` (the message as it arrives, perhaps spoiled by a fault) is handed to the
        integration and recorded; the answer is when its ACK reaches the sender."""
        now = self.env.now
        outcome = self.integration.receive_hl7(payload, now)
        ack = outcome.ack or ""
        acked_at = now + self._hop()
        self.counts[("hl7", message.message_type)] += 1
        self.records.append(
            MessageRecord(
                len(self.records) + 1,
                "hl7",
                queued_at,
                now,
                acked_at,
                channel.source,
                "integration",
                message.message_type,
                message.control_id,
                message.visit,
                _ack_code(ack),
                len(payload),
            )
        )
        if self.keep_traffic:
            self.traffic.setdefault(message.message_type, []).append(payload)
            if ack:
                self.traffic.setdefault("ACK", []).append(ack)
        if outcome.requests or outcome.timers:
            self._apply(outcome)
        return acked_at

    def next_message(self, channel: _Channel, acked_at: float) -> None:
        """Stop-and-wait: the next message leaves when the last ACK arrives, so no event is needed
        for the ACK itself, only for the next delivery."""
        now = self.env.now
        if channel.queue:
            assert channel.arrive is not None  # made with the channel's first send
            self.env.timeout(acked_at - now + self._hop()).callbacks.append(channel.arrive)
        else:
            channel.busy = False
            channel.free_at = acked_at

    def _apply(self, outcome: Outcome) -> None:
        for request in outcome.requests:
            sent_at = self.env.now
            if self.faults is not None:  # the plan decides what becomes of it at the boundary
                self.faults.send(request, sent_at)
                continue
            self._after(self._hop(), partial(self._at_target, request, sent_at))
        for moment in outcome.timers:
            self._daemon(max(0.0, moment - self.env.now), lambda: self._apply(self.integration.on_timer(self.env.now)))

    def _at_target(self, request: TargetRequest, sent_at: float) -> None:
        response = self.handle(request)
        delivered_at = self.env.now
        self._after(self._hop(), lambda: self._responded(request, response, sent_at, delivered_at))

    def handle(self, request: TargetRequest) -> TargetResponse:
        """The target handles a request that reached it (a vendor's confirmed order ships later)."""
        response = self.targets[request.system](request, self.env.now)
        if request.system == "vendor" and response.ok:
            self._after(max(0.0, float(response.body["ship_at"]) - self.env.now), self._vendor_ships)
        return response

    def _responded(self, request: TargetRequest, response: TargetResponse, sent_at: float, delivered_at: float) -> None:
        operation = f"{request.method} {request.path}"
        self.counts[("request", operation)] += 1
        self.records.append(
            MessageRecord(
                len(self.records) + 1,
                "request",
                sent_at,
                delivered_at,
                self.env.now,
                "integration",
                request.system,
                operation,
                request.idempotency_key,
                request.correlation,
                str(response.status),
                0,
            )
        )
        self._apply(self.integration.receive_response(request, response, self.env.now))

    def _vendor_ships(self) -> None:
        """The vendor's shipping run: goods go to the dock, invoices to the integration."""
        for shipment, invoice in self.vendor.ship_due(self.env.now):
            self.dock.ship(shipment.po, shipment.item, shipment.location, shipment.quantity)
            document = invoice.document()
            self._after(self._hop(), partial(self._webhook, "vendor", document))

    def _webhook(self, source: str, body: dict[str, Any]) -> None:
        if self.faults is not None:
            self.faults.push(source, body)
            return
        self.receive_document(source, body)

    def receive_document(self, source: str, body: dict[str, Any]) -> None:
        """A pushed document (as it arrives) reaches the integration."""
        self.counts[("webhook", f"{source} {body.get('type', '')}")] += 1
        self._apply(self.integration.receive_webhook(source, body, self.env.now))

    def _quiet_points(self, workload: float) -> Any:
        """Snapshot ERP on-hand every night at 03:00, when no case is running."""
        clock = self.scenario.start.hour * 60 + self.scenario.start.minute
        yield self.env.timeout((QUIET_POINT - clock) % MINUTES_PER_DAY or MINUTES_PER_DAY)
        while self.env.now <= workload:
            self.snapshots.append((self.env.now, dict(self.erp.supply.on_hand)))
            yield self.env.timeout(MINUTES_PER_DAY)

    # -- running -------------------------------------------------------------------------------
    def run(self, progress: Progress | None = None) -> RunResult:
        """Run the workload for the scenario's days, then let in-flight work settle, then check."""
        started = time.perf_counter()
        for flow, schedule, staffing in zip(self.patient_flows, self.surgery, self.staffing, strict=True):
            self.env.process(self._join(flow.hospital.joins_at, (flow, schedule, staffing)))
        self.env.process(run_payroll(self.env, self.scenario, self.hcm, self.staffing))
        workload = self.scenario.days * MINUTES_PER_DAY
        self._apply(self.integration.start(self.env.now))
        self.steward.start()
        clock = self.scenario.start.hour * 60 + self.scenario.start.minute
        self.env.process(post_daily_accruals(self.env, self.erp.finance, self.network, self.scenario, clock))
        self._daemon(self.steward.rounds, self._steward_rounds)
        if self.faults is not None:
            self.faults.start()  # outage windows as their own processes, the support team's DLQ rounds
        self.env.process(self._quiet_points(workload))
        self.cycle_count.start(workload)
        if progress is not None:
            self.env.process(self._report_progress(progress, workload))
        # A run keeps millions of small objects alive (truth, records, charts) and makes almost no
        # cyclic garbage (reference counting frees the rest): the cyclic collector would rescan the
        # whole heap again and again for nothing. It is off for the run and back on afterwards.
        collecting = gc.isenabled()
        gc.disable()
        try:
            self.env.run(until=workload)
            self.env.run()  # settle: stays end, coding completes, the integration catches up
            horizon = self.env.now
            if self._quiet_since is not None:
                horizon = min(horizon, self._quiet_since + SETTLE_GRACE)
            self.snapshots.append((horizon, dict(self.erp.supply.on_hand)))
            flows = self.check(horizon)
            wall = time.perf_counter() - started
        finally:
            if collecting:
                gc.enable()
        if progress is not None:
            progress(workload, workload)
        return RunResult(self.scenario, self, flows, horizon, wall, len(self.records))

    def _join(self, at: float, workflows: tuple[PatientFlow, Perioperative, Staffing]) -> Any:
        """A hospital's workflows start when it joins the network (at once, for the founding ones)."""
        if at > 0:
            yield self.env.timeout(at)
        for workflow in workflows:
            workflow.start()

    def _report_progress(self, progress: Progress, workload: float) -> Any:
        step = 60.0
        while self.env.now < workload:
            progress(self.env.now, workload)
            yield self.env.timeout(min(step, workload - self.env.now))

    def check(self, horizon: float) -> list[FlowResult]:
        """Every flow's verdict: expectations from the truth against what the targets hold."""
        from twin.observe.flows import check_all

        return check_all(self, horizon)


def _ack_code(ack: str) -> str:
    start = ack.find("MSA|")
    return ack[start + 4 : start + 6] if start >= 0 else "none"


def run(
    scenario: Scenario,
    *,
    progress: Progress | None = None,
    keep_traffic: bool = True,
    integration: IntegrationFactory = reference_integration,
) -> RunResult:
    """Run ``scenario`` through ``integration`` in simulated time and check the targets."""
    return Twin(scenario, integration, keep_traffic=keep_traffic).run(progress)
