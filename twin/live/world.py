"""The world on the wall clock: the SimPy model stepped in real time, its systems served over HTTP and MLLP.

``LiveWorld`` is the same world a simulated run has (``twin.world.World``: network, mock systems,
truth ledger, workflows); what differs is the clock and the wire. The SimPy environment is stepped
as the wall clock reaches each event's moment (at the run's ``speed``), so the EHR publishes its
messages when they fall due, the vendor ships when its lead time is over, HCM closes timecards, the
steward works the exception queue. The mock systems are served by FastAPI on loopback, each on its
own port with its authorization server in front (``twin.live.apps``), behind a door that applies the
scenario's faults (``twin.live.door``); the EHR's messages leave over MLLP (``twin.live.mllp_sender``);
documents and publications go to the integration's HTTP API, and the steward and the support team
work its queues through it (``twin.live.integration_link``).

When the workload is over the world settles as a simulated one does (every daily schedule once
more), waits for what is still on the wire, closes its doors and hands the judge the same
``RunView`` a simulated run does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import chain
from typing import Any

import httpx
from simpy.core import StopSimulation

from mocks.ehr.ehr import OutboundMessage
from mocks.ehr.fhir_store import FhirStore
from mocks.ehr.fhir_view import chart_resources, ehr_resources
from twin.domain.contract import Outcome
from twin.domain.events import DomainEvent, MappingPublished
from twin.domain.exchange import TargetRequest, TargetResponse
from twin.live.apps.common import system_app
from twin.live.apps.fhir import fhir_app
from twin.live.apps.systems import APIS
from twin.live.auth import AuthServer, Client
from twin.live.clock import LiveClock, Segment
from twin.live.door import Door
from twin.live.feed import Feed, FeedSender
from twin.live.integration_link import DeskDown, Pusher, RemoteDesk
from twin.live.mllp_sender import MllpSender, SenderStats
from twin.live.records import WireLog
from twin.live.serving import Servers
from twin.observe.flows import check_all
from twin.observe.view import RunResult, RunView
from twin.scenario import Scenario
from twin.world import World, seen, settle_grace

log = logging.getLogger("twin.live.world")

INTEGRATION_CLIENT = "twin-integration"
FHIR_PATH = "/fhir"  # the EHR's FHIR base, under its server
WARP_AFTER_SECONDS = 0.05  # idle waits shorter than this are waited out, not jumped
Progress = Callable[[float, float], None]


LOAD_CLIENT = "twin-load"  # the OAuth2 client of a load's HTTP users


@dataclass(frozen=True, slots=True)
class Ingress:
    """Where the integration under test listens: its MLLP address and its HTTP API."""

    mllp_host: str
    mllp_port: int
    api: str  # base URL: webhooks, master data, exceptions, dead letters, status

    @classmethod
    def parse(cls, mllp: str, api: str) -> Ingress:
        """``mllp://host:port`` and ``http://host:port`` -> an ``Ingress`` (ValueError says what is wrong)."""
        address = mllp.removeprefix("mllp://")
        host, colon, port = address.rpartition(":")
        if not colon or not host or not port.isdigit():
            raise ValueError(f"--ingress {mllp!r} must be mllp://HOST:PORT")
        if not api.startswith(("http://", "https://")):
            raise ValueError(f"the integration's API {api!r} must be an http(s) URL")
        return cls(host, int(port), api.rstrip("/"))


class LiveWire:
    """The world's wire in a live run: HL7 over each hospital's MLLP channel, the rest over HTTP."""

    def __init__(self, senders: dict[str, MllpSender], pusher: Pusher, wake: Callable[[], None],
                 feed: Feed | None = None) -> None:  # fmt: skip
        self.senders = senders
        self.pusher = pusher
        self.wake = wake
        self.feed = feed

    def send_hl7(self, message: OutboundMessage) -> None:
        self.senders[message.hospital].send(message)

    def push_document(self, source: str, body: dict[str, Any]) -> None:
        self.pusher.push_document(source, body)
        if self.feed is not None:  # kept for the load's replays, as it was pushed
            self.feed.keep(source, body)

    def publish(self, change: MappingPublished) -> None:
        self.pusher.publish(change)


class LiveWorld(World):
    """The world of one live run (see the module docstring)."""

    def __init__(
        self,
        scenario: Scenario,
        clock: LiveClock,
        *,
        name: str = "reference",
        keep_traffic: bool = False,
        warp: bool = False,
        settle_speed: float | None = None,
        ack_floor_seconds: float = 0.5,
        client_id: str = INTEGRATION_CLIENT,
        client_secret: str | None = None,
        jitter_seconds: float = 1.0,
        feed: Feed | None = None,
    ) -> None:
        super().__init__(scenario)
        self.live = clock
        self.jitter_seconds = jitter_seconds  # wall time the judge forgives on every allowed lag
        self.feed = feed  # under load: the HL7 feed is carried by load users (``twin.live.feed``)
        self.warp = warp  # jump the clock over idle time (needs the service's POST /clock)
        self.settle_speed = settle_speed  # the speed once the workload is over (needs POST /clock too)
        self.speed_due: float | None = None
        self.ack_floor = ack_floor_seconds
        self.jumps = 0
        self.warped_minutes = 0.0
        self.name = name
        self.wire_log = WireLog(keep_traffic)
        self.client_id = client_id
        self.client_secret = client_secret or secrets.token_urlsafe(24)
        self.clients = {client_id: Client(client_id, self.client_secret)}  # the integration under test
        if feed is not None:  # the load's readers: clinicians, ERP clients, reporting - reads and searches only
            self.clients[LOAD_CLIENT] = Client(LOAD_CLIENT, secrets.token_urlsafe(24), ("system/*.rs",))
        self.servers = Servers()
        self.urls: dict[str, str] = {}
        self.auth: dict[str, AuthServer] = {}
        self.senders: dict[str, MllpSender] = {}
        self.sender_stats = SenderStats()
        self.delivered: dict[str, float] = {}  # spoiled message -> when it reached the integration
        self._wake = asyncio.Event()
        self.pusher: Pusher | None = None
        self.desk: RemoteDesk | None = None
        self.settled = False
        self.final: dict[str, Any] | None = None  # the run's summary once judged (GET /check?final=true)
        self.over = asyncio.Event()  # set when ``final`` is
        self.fhir: FhirStore | None = None  # the EHR's FHIR store, once served
        self._control = httpx.AsyncClient(timeout=5.0)  # the service's /status and /clock

    # -- the mock systems as servers ----------------------------------------------------------------
    async def serve(self, host: str = "127.0.0.1", port_base: int | None = None) -> dict[str, str]:
        """Serve every mock system on its own port - free ones, or ``port_base`` and the next ones in
        ``APIS`` order (an external integration is configured with them) - returns system -> base URL."""
        for index, (system, api) in enumerate(APIS.items()):
            revocation = self.fault_plan.revocation(system) if self.fault_plan is not None else None
            auth = AuthServer(
                system,
                self.clients,
                self.live.now,
                revoked_at=revocation[0] if revocation else None,
                on_revoked=revocation[1] if revocation else None,
            )
            self.auth[system] = auth
            app = system_app(api, self.systems.targets[system], auth, self.live.now, self._handled)
            if system == "ehr":  # the EHR's FHIR R4 API beside its reporting extract, on the same server
                self.fhir = FhirStore()
                chart = ehr_resources(self.systems.ehr, self.network.hospitals, self.network.payers)
                self.fhir.publish(chain.from_iterable(chart.values()), self._now_iso())
                app.mount(FHIR_PATH, fhir_app(self.fhir, auth, self._now_iso))
            door = Door(app, system, self.live, self.wire_log, self.fault_plan)  # type: ignore[arg-type]
            port = 0 if port_base is None else port_base + index
            self.urls[system] = await self.servers.start(system, door, host, port)
        return dict(self.urls)

    def _now_iso(self) -> str:
        return self.timebase.iso(self.live.now())

    def happen(self, event: DomainEvent) -> None:
        """As in any run; and the EHR's FHIR API shows the chart as it now stands."""
        super().happen(event)
        if self.fhir is not None:
            self.fhir.publish(chart_resources(self.systems.ehr, event.visit), self._now_iso())

    def _handled(self, request: TargetRequest, response: TargetResponse) -> None:
        self.handled(request, response)
        self.wake()

    def wake(self) -> None:
        """Something was scheduled from outside the world's loop: look at the clock again."""
        self._wake.set()

    # -- the integration under test -------------------------------------------------------------
    def connect(self, ingress: Ingress) -> None:
        """Wire the world to the integration under test and build the workflows around it."""
        operations = self.scenario.operations
        feed = {} if self.feed is None else {"feed": self.feed}
        channel = MllpSender if self.feed is None else FeedSender
        for hospital in self.network.hospitals:
            self.senders[hospital.code] = channel(
                hospital.code, ingress.mllp_host, ingress.mllp_port, self.live, self.wire_log,
                ack_timeout_minutes=operations.ack_timeout_minutes, max_resends=operations.max_resends,
                plan=self.fault_plan, witness=self.witness, delivered=self.delivered, stats=self.sender_stats,
                ack_floor_seconds=self.ack_floor, **feed,
            )  # fmt: skip
        self.pusher = Pusher(
            ingress.api, self.live, self.wire_log,
            ack_timeout_minutes=operations.ack_timeout_minutes, max_resends=operations.max_resends,
            plan=self.fault_plan, witness=self.witness, delivered=self.delivered, floor_seconds=self.ack_floor,
        )  # fmt: skip
        self.desk = RemoteDesk(ingress.api)
        self.wire = LiveWire(self.senders, self.pusher, self.wake, self.feed)
        self.build_support(self.desk, _nothing, self.delivered)
        self.build_workflows(self.desk)

    def _steward_rounds(self) -> None:
        with contextlib.suppress(DeskDown):  # the integration cannot be reached: the next round
            self.steward.review()
        self.clock.every(self.steward.rounds, self._steward_rounds)

    def _support_rounds(self) -> None:
        assert self.support is not None
        try:
            self.support.review(self.clock.now)
        except DeskDown as error:
            log.warning("support round skipped: %s", error)
        self.clock.every(self.support.rounds, self._support_rounds)

    # -- running --------------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event | None = None, progress: Progress | None = None,
                  drain_seconds: float = 60.0) -> float:  # fmt: skip
        """Step the world on the wall clock through the workload and its settling; returns the horizon
        (earlier if ``stop`` is set: an interrupted run is judged as it stands)."""
        stop = stop or asyncio.Event()
        self.start(lambda: None)  # the integration service switched itself on when it started
        workload = self.workload
        await self._step(workload, stop, progress)
        cut = workload
        if not stop.is_set():
            if self.settle_speed is not None and self.settle_speed != self.live.speed:
                self.speed_due = self.settle_speed  # no admissions any more: the tail may run faster
            # Every daily schedule runs once more (the simulated run's settle grace); then the run is
            # cut: stays still in progress would take weeks of wall time to end.
            cut = workload + settle_grace(self.scenario)
            self.settled = await self._step(cut, stop, progress)
            if not self.settled:
                await self._until(cut, stop)
        horizon = self.clock.horizon() if self.settled else min(cut, self.live.now())
        await self.drained(drain_seconds)
        self.snapshots.append((horizon, dict(self.erp.supply.on_hand)))
        return horizon

    async def _step(self, until: float | None, stop: asyncio.Event, progress: Progress | None) -> bool:
        """Process the world's events as the wall clock reaches them, until ``until`` (simulated
        minutes) or until the world has settled (``until`` None: returns True)."""
        clock, live = self.clock, self.live
        steps = 0
        last_report = 0.0
        while not stop.is_set():
            at = clock.peek()
            if until is not None and at > until:
                return False
            wait = live.seconds_until(at) if at != math.inf else 0.25
            if self.speed_due is not None and at != math.inf and await self._warp(at, self.speed_due):
                self.speed_due = None
                continue
            if wait > WARP_AFTER_SECONDS and self.warp and at != math.inf and await self._warp(at):
                continue
            if wait > 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):  # warping, look again soon: the integration may be done
                    await asyncio.wait_for(self._wake.wait(), min(wait, 0.02 if self.warp else 0.25))
                continue
            if self.feed is not None and self.feed.go_live and at > 0:
                self.feed.go_live = False  # past the first instant: what the EHR sends now is load
            try:
                clock.step()
            except StopSimulation:
                return True
            steps += 1
            if steps % 20 == 0:
                await asyncio.sleep(0)  # the servers, the senders and the pushes run between steps
            if progress is not None and time.monotonic() - last_report > 0.5:
                last_report = time.monotonic()
                progress(min(float(clock.now), self.workload), self.workload)
        return False

    async def _warp(self, at: float, speed: float | None = None) -> bool:
        """Jump the clock to the next event (the world's at ``at``, or the integration's next timer)
        when nothing is happening anywhere, perhaps changing its ``speed`` too; ``False`` when
        something is happening, or the service cannot say."""
        if self.desk is None or not all(s.idle for s in self.senders.values()):
            return False
        if self.pusher is not None and not self.pusher.idle:
            return False
        try:
            status = (await self._control.get(self.desk.base + "/status")).json()
            if int(status.get("in_flight", 1)) != 0:
                return False
            timer = status.get("next_timer")
            target = at if timer is None else min(at, float(timer))
            now = self.live.now()
            if speed is None and target - now < self.live.minutes(WARP_AFTER_SECONDS):
                return False
            if speed is not None:
                target = now if not self.warp else max(now, target)
            answer = await self._control.post(self.desk.base + "/clock", json={"minute": target, "speed": speed})
            answer.raise_for_status()
            segment = answer.json()
        except (httpx.HTTPError, ValueError, TypeError):
            return False
        self.live.add(Segment(float(segment["wall"]), float(segment["minute"]), float(segment["speed"])))
        self.jumps += 1
        self.warped_minutes += float(segment["minute"]) - now
        return True

    async def _until(self, minute: float, stop: asyncio.Event) -> None:
        """Let the wall clock reach ``minute`` (jumping there when everything is idle)."""
        while not stop.is_set() and self.live.now() < minute:
            if self.warp and await self._warp(minute):
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), min(self.live.seconds_until(minute), 0.05))

    async def drained(self, seconds: float) -> bool:
        """Wait (at most ``seconds``) until nothing is on the wire and the integration is idle."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            quiet = all(s.idle for s in self.senders.values()) and (self.pusher is None or self.pusher.idle)
            if quiet and await self._integration_idle():
                return True
            await asyncio.sleep(0.1)
        busy = {s.source: len(s.queue) + s.copies_due for s in self.senders.values() if not s.idle}
        pushing = self.pusher is not None and not self.pusher.idle
        log.warning("the wire had not drained after %.0f s: messages still queued %s%s", seconds, busy or "nowhere",
                    ", webhooks still pushed" if pushing else "")  # fmt: skip
        return False

    async def _integration_idle(self) -> bool:
        if self.desk is None:
            return True
        try:
            status = (await self._control.get(self.desk.base + "/status")).json()
        except (httpx.HTTPError, ValueError):
            return True  # an external integration without /status: the wire is all we can see
        return int(status.get("in_flight", 0)) == 0

    # -- judging ----------------------------------------------------------------------------------------
    def judge(self, horizon: float, started: float) -> RunResult:
        """Every flow's verdict on the run as it stands (after ``close_doors``)."""
        view = self.view_at(horizon)
        return RunResult(view, check_all(view), time.perf_counter() - started, len(self.wire_log.records))

    def view_at(self, horizon: float) -> RunView:
        exceptions, letters, health = [], [], None
        if self.desk is not None:
            with contextlib.suppress(DeskDown):
                exceptions, letters = self.desk.exceptions(), self.desk.dead_letters()
            with contextlib.suppress(httpx.HTTPError, ValueError):
                health = self.desk.client.get(self.desk.base + "/status").json().get("health")
        stats = dict(self.sender_stats.counts)
        if self.pusher is not None:
            stats.update(webhook_resends=self.pusher.resends, webhooks_given_up=self.pusher.gave_up)
        wire = self.wire_log
        integration = seen(self.name, exceptions, letters, health)
        return self.view(
            horizon, integration, wire.records, wire.traffic, wire.counts, stats,
            settled=self.settled, clock_tolerance=self.clock_tolerance(),
        )  # fmt: skip

    def clock_tolerance(self) -> float:
        """Simulated minutes the judge adds to every allowed lag: ``jitter_seconds`` of wall time (a
        busy machine's scheduling, the network stack) at the fastest speed the clock ran. At 1440x one
        wall second is 24 minutes, so a tight timeliness SLO is judged at a lower speed."""
        return self.jitter_seconds * max(segment.speed for segment in self.live.segments) / 60

    async def close_doors(self) -> None:
        """Stop the senders, the pushes and the systems' servers: the targets' state is final. The
        control endpoint stays up until the stack stops, to hand out the final verdict."""
        await self._control.aclose()
        for sender in self.senders.values():
            await sender.stop()
        if self.pusher is not None:
            await self.pusher.close()
        await self.servers.stop(keep=("control",))

    def publish(self, summary: dict[str, Any]) -> None:
        """The run's final summary, for whoever waits on ``GET /check?final=true`` (``twin load --target``)."""
        self.final = summary
        self.over.set()

    def hurry(self) -> None:
        """The rest of the run at the integration's pace: the clock jumps over idle time (our service
        only: warping needs its timers), as after a ``twin load`` on its own stack."""
        self.warp = True

    def close(self) -> None:
        if self.desk is not None:
            self.desk.close()


def _nothing(_outcome: Outcome) -> None:
    """A replay's outcome is the integration's to carry out, in its own process."""
