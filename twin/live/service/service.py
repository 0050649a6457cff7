"""The integration service: a sans-IO integration run as a real, crash-safe network service.

One process: the integration under test (the reference one by default, any ``--sut`` factory) hosted
by ``Host`` on the wall clock, its inputs journaled in one SQLite file; an MLLP listener for the
EHR's HL7 v2; an HTTP API for pushed documents (webhooks), governance publications, the
exception and dead-letter queues (list; replay one, by filter, all), health and Prometheus
metrics; delivery workers posting to the target systems. Kill it at any moment, start it again on
the same file, and it carries on where its last commit left it (``Host.recover``).

Run it with ``python -m twin.live.service CONFIG.json`` (``twin serve`` does); ``ServiceConfig`` says
what the file holds. It prints one JSON line when it is ready: its MLLP and HTTP addresses.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twin.domain.contract import DeadLetter, IntegrationException
from twin.domain.exchange import TargetRequest, TargetResponse
from twin.live.clock import LiveClock, Segment
from twin.live.http_wire import Credentials
from twin.live.service.delivery import Delivery
from twin.live.service.host import Failure, Host
from twin.live.service.metrics import ServiceMetrics
from twin.live.service.mllp_listener import MllpListener
from twin.live.service.store import Store
from twin.live.serving import LOOPBACK, Servers, bind, port_of

log = logging.getLogger("twin.live.service")
CLOCK = "clock_segments"  # meta: the jumps of the run's clock after its first segment


@dataclass(slots=True)
class ServiceConfig:
    """What a service process is started with (a JSON file; ``twin serve`` writes it)."""

    scenario: dict[str, Any]  # the scenario, validated again here (``Scenario.model_validate``)
    epoch: float  # the run's clock (``LiveClock``)
    speed: float
    db: str  # the SQLite file
    targets: dict[str, str]  # system -> base URL
    sut: str = "reference"
    client_id: str = "twin-reference-integration"
    client_secret: str = ""
    host: str = LOOPBACK
    mllp_port: int = 0
    http_port: int = 0
    timeout_floor_seconds: float = 0.1  # a request waits at least this long (wall) for its answer
    log_file: str = ""

    @classmethod
    def read(cls, path: str | Path) -> ServiceConfig:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"{path}: unknown setting(s) {', '.join(unknown)}; expected {', '.join(sorted(names))}")
        return cls(**data)

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(dataclasses.asdict(self), indent=1), encoding="utf-8")


@dataclass(slots=True)
class Addresses:
    mllp: str
    http: str
    replayed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class IntegrationService:
    """The integration under test as a service (see the module docstring)."""

    def __init__(self, config: ServiceConfig) -> None:
        from twin.scenario import Scenario
        from twin.suts import load_sut
        from twin.world import run_context

        self.config = config
        scenario = Scenario.model_validate(config.scenario)
        sut = load_sut(config.sut)
        context = run_context(scenario)
        self.name = sut.name
        self.clock = LiveClock(config.epoch, config.speed)
        self.store = Store(config.db)
        for segment in json.loads(self.store.meta(CLOCK) or "[]"):  # jumps the run made before a restart
            self.clock.add(Segment(*segment))
        self.host = Host(lambda: sut.factory(context), self.store, self.clock)
        self.metrics = ServiceMetrics(self.state)
        self.delivery = Delivery(
            config.targets,
            self.clock,
            self._answered,
            self.host.leased,
            credentials=Credentials(config.client_id, config.client_secret),
            default_timeout_minutes=scenario.operations.request_timeout_seconds / 60,
            timeout_floor_seconds=config.timeout_floor_seconds,
            latency=self.metrics.delivery_latency,
        )
        self.host.release = self.delivery.send
        self.listener = MllpListener(self.take_hl7, self.metrics.ack_latency.observe)
        self.servers = Servers()
        self.started = time.time()
        self._starting: asyncio.Task[None] | None = None

    # -- running ---------------------------------------------------------------------------------
    async def start(self) -> Addresses:
        """Recover from the journal, then open the doors; returns where they are."""
        from twin.live.service.api import service_api

        self.host.replayed = self.host.recover()
        await self.host.flush()
        if self.host.replayed == 0:  # a fresh file: the integration is switched on at the run's minute 0
            self._starting = asyncio.get_running_loop().create_task(self._switch_on())
        sock = bind(self.config.host, self.config.mllp_port)
        await self.listener.start(sock)
        http = await self.servers.start("integration", service_api(self), self.config.host, self.config.http_port)
        mllp = f"mllp://{self.config.host}:{port_of(sock)}"
        log.info("integration service %s ready: %s, %s (%d inputs replayed)", self.name, mllp, http, self.host.replayed)
        return Addresses(mllp, http, self.host.replayed)

    async def _switch_on(self) -> None:
        # The loop's timers may wake a millisecond before the wall clock says minute 0, which at
        # 1440x is most of a simulated second: switched on then, the integration's first day was the
        # day before the run, and its 06:00 KPI run reported a day nobody lived.
        while (wait := self.clock.seconds_until(0.0)) > 0:
            await asyncio.sleep(wait)
        await self.host.take("start", {})

    async def stop(self) -> None:
        await self.listener.stop()
        await self.servers.stop()
        await self.host.close()
        await self.delivery.close()
        self.store.close()

    # -- inputs ----------------------------------------------------------------------------------
    async def take_hl7(self, text: str, sender: str, problem: str = "") -> str | None:
        """An MLLP message: its ACK once committed (a resend gets the first answer again). One whose
        bytes cannot be read as declared (``problem``) never reaches the integration: it is kept with
        the service's dead letters and answered AR."""
        if sender and sender in self.host.answers:
            return self.host.answers[sender]
        if problem:
            outcome = await self.host.take("unreadable", {"payload": text, "reason": problem}, answer_key=sender)
        else:
            outcome = await self.host.take("hl7", {"payload": text}, answer_key=sender)
        return outcome.ack

    async def take_document(self, source: str, body: dict[str, Any], key: str) -> None:
        """A pushed document (a vendor invoice), committed before the sender hears 202; the same
        ``Idempotency-Key`` again is taken once."""
        answer_key = f"{source}|{key}" if key else ""
        if answer_key and answer_key in self.host.answers:
            return
        await self.host.take("webhook", {"source": source, "body": body}, answer_key, answer="accepted")

    async def take_master_data(self, change: dict[str, Any]) -> None:
        await self.host.take("master", change)

    async def replay(self, message_id: str, payload: str | None) -> bool:
        """Replay one dead letter (the integration's, or an input it failed on); ``False``: none such."""
        failed = next((f for f in self.host.failures if f.letter().message_id == message_id), None)
        if failed is not None:
            self.host.failures.remove(failed)
            data = dict(failed.data)
            if payload is not None and failed.kind == "hl7":
                data["payload"] = payload
            await self.host.take(failed.kind, data)
            return True
        if not any(letter.message_id == message_id for letter in self.host.core.dead_letters()):
            return False
        await self.host.take("replay", {"message_id": message_id, "payload": payload})
        return True

    async def jump(self, minute: float, speed: float | None = None) -> Segment:
        """The world moves the run's clock forward to ``minute`` (everything is idle), perhaps at
        another speed: kept on disk, timers looked at again."""
        segment = self.clock.jump(minute, speed=speed)
        await self.host.keep(CLOCK, json.dumps([dataclasses.astuple(s) for s in self.clock.segments[1:]]))
        self.host.clock_changed()
        return segment

    def _answered(self, seq: int, response: TargetResponse) -> None:
        self.host.answered(seq, response)

    # -- what it shows -----------------------------------------------------------------------------
    def exceptions(self) -> list[IntegrationException]:
        return self.host.core.exceptions()

    def dead_letters(self) -> list[DeadLetter]:
        return [*self.host.core.dead_letters(), *(failure.letter() for failure in self.host.failures)]

    def failures(self) -> list[Failure]:
        return list(self.host.failures)

    def breakers(self) -> dict[str, str]:
        breakers = getattr(self.host.core, "breakers", None)
        return dict(breakers()) if callable(breakers) else {}

    def state(self) -> dict[str, Any]:
        """Queue figures for health, status and metrics."""
        sent = self.host.sent_at
        oldest = min(sent.values(), default=None)
        return {
            "outbox_depth": len(self.host.in_flight),
            "oldest_age_seconds": 0.0 if oldest is None else max(0.0, time.time() - oldest),
            "dead_letters": len(self.dead_letters()),
            "inputs": self.host.inputs,
            "breakers": self.breakers(),
        }

    def status(self) -> dict[str, Any]:
        """Whether the service is idle: nothing in flight, the next timer (for a driver waiting to judge)."""
        health = getattr(self.host.core, "health", None)
        timers = self.host.pending_timers()
        return {
            "sut": self.name,
            "now": self.clock.now(),
            "in_flight": len(self.host.in_flight),
            "next_timer": timers[0] if timers else None,
            "inputs": self.host.inputs,
            "replayed": self.host.replayed,
            "journal": self.host.journal_seq,
            "health": dict(health()) if callable(health) else None,
        }


def request_label(request: TargetRequest) -> str:
    return f"{request.system} {request.method} {request.path}"
