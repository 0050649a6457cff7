"""The simulated transport: every boundary crossing of a run, on the SimPy clock, with a seeded latency.

What the sans-IO core decides stays decided by it; the transport only decides *when* things
arrive. Delivery from each hospital's EHR is ordered stop-and-wait, as over one MLLP connection:
the next message leaves when the previous one is acknowledged (``Channel``). A request from the
integration takes one hop to its target and one back with the answer; a pushed document (a vendor
invoice) and a governance publication one hop to the integration. Every completed exchange is a
``MessageRecord``; the HL7 traffic and its ACKs are kept when asked for (``keep_traffic``).

This is the clean path. ``twin.sim.fault_transport`` overrides its crossings with the fault
plan's decisions; the driver (``twin.sim.driver``) wires both to the world.
"""

from __future__ import annotations

import math
import random
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from sys import intern
from typing import Any

from mocks.ehr.ehr import OutboundMessage
from twin.domain.contract import Integration, Outcome
from twin.domain.events import MappingPublished
from twin.domain.exchange import TargetRequest, TargetResponse
from twin.domain.record_log import RecordLog
from twin.workflows.clock import SimClock

Handler = Callable[[TargetRequest, float], TargetResponse]


@dataclass(slots=True)
class Channel:
    """Ordered stop-and-wait delivery from one hospital's EHR to the integration."""

    hospital: str
    queue: deque[tuple[float, OutboundMessage]] = field(default_factory=deque)
    busy: bool = False  # a delivery is scheduled
    free_at: float = 0.0  # when the last ACK reaches the EHR: the next send waits for it
    source: str = ""  # "ehr/H01", as the channel's records name their source
    # The call that delivers the head of this channel: made once, on the first send, and reused
    # for every delivery (one callable per channel, not one per message).
    arrive: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        self.source = f"ehr/{self.hospital}"


class Transport:
    """Moves messages, requests, answers and documents between the systems of one run."""

    def __init__(
        self,
        clock: SimClock,
        integration: Integration,
        targets: dict[str, Handler],
        hospitals: list[str],
        latency_ms: tuple[float, float],
        rng: random.Random,
        *,
        keep_traffic: bool = True,
    ) -> None:
        self.clock = clock
        self.integration = integration
        self.targets = targets
        self.keep_traffic = keep_traffic
        self.traffic: dict[str, list[str]] = {}
        self.records = RecordLog()
        self.counts: Counter[tuple[str, str]] = Counter()
        self.channels = {code: Channel(code) for code in hospitals}
        self._rng = rng
        self._low, self._high = latency_ms[0] / 60_000, latency_ms[1] / 60_000
        self.max_hop = self._high
        # What a target's answer sets off in the world (the vendor's shipping run): the driver's to say.
        self.on_handled: Callable[[TargetRequest, TargetResponse], None] = lambda request, response: None

    def hop(self) -> float:
        """One network hop, uniform in the scenario's latency range (minutes)."""
        return self._low + (self._high - self._low) * self._rng.random()  # Random.uniform's formula, one call less

    # -- HL7 from the EHR's channels -------------------------------------------------------------
    def send_hl7(self, message: OutboundMessage) -> None:
        """The EHR publishes ``message`` on its hospital's channel."""
        self.enqueue(self.channels[message.hospital], message)

    def enqueue(self, channel: Channel, message: OutboundMessage) -> None:
        """``message`` joins ``channel``; a delivery is scheduled unless one already is."""
        now = self.clock.now
        channel.queue.append((now, message))
        if not channel.busy:
            channel.busy = True
            if channel.arrive is None:  # bound to this channel now: the loop moves on to others
                channel.arrive = partial(self.deliver, channel)
            self.clock.after(max(now, channel.free_at) - now + self.hop(), channel.arrive)

    def deliver(self, channel: Channel) -> None:
        """The head of the channel reaches the integration; its ACK travels back one hop later."""
        queued_at, message = channel.queue.popleft()
        self.next_message(channel, self.hand_over(channel, queued_at, message, message.payload))

    def hand_over(self, channel: Channel, queued_at: float, message: OutboundMessage, payload: str) -> float:
        """``payload`` (the message as it arrives, perhaps spoiled by a fault) is handed to the
        integration and recorded; the answer is when its ACK reaches the sender."""
        now = self.clock.now
        outcome = self.integration.receive_hl7(payload, now)
        ack = outcome.ack or ""
        acked_at = now + self.hop()
        self.counts[("hl7", message.message_type)] += 1
        self.records.add(
            "hl7",
            queued_at,
            now,
            acked_at,
            channel.source,
            "integration",
            message.message_type,
            message.control_id,
            message.visit,
            ack_code(ack),
            len(payload),
        )
        if self.keep_traffic:
            self.traffic.setdefault(message.message_type, []).append(payload)
            if ack:
                self.traffic.setdefault("ACK", []).append(ack)
        if outcome.requests or outcome.timers:
            self.apply(outcome)
        return acked_at

    def next_message(self, channel: Channel, acked_at: float) -> None:
        """Stop-and-wait: the next message leaves when the last ACK arrives, so no event is needed
        for the ACK itself, only for the next delivery."""
        if channel.queue:
            assert channel.arrive is not None  # made with the channel's first send
            self.clock.after(acked_at - self.clock.now + self.hop(), channel.arrive)
        else:
            channel.busy = False
            channel.free_at = acked_at

    # -- what the integration asks for -----------------------------------------------------------------
    def apply(self, outcome: Outcome) -> None:
        """The integration's requests leave now; its timers are set (as housekeeping)."""
        now = self.clock.now
        for request in outcome.requests:
            self.send_request(request, now)
        for moment in outcome.timers:
            self.clock.every(delay_until(now, moment), self._timer)

    def _timer(self) -> None:
        self.apply(self.integration.on_timer(self.clock.now))

    def send_request(self, request: TargetRequest, sent_at: float) -> None:
        """``request`` leaves for its target: one hop there, one back with the answer."""
        self.clock.after(self.hop(), partial(self._at_target, request, sent_at))

    def _at_target(self, request: TargetRequest, sent_at: float) -> None:
        response = self.handle(request)
        delivered_at = self.clock.now
        self.clock.after(self.hop(), partial(self.responded, request, response, sent_at, delivered_at))

    def handle(self, request: TargetRequest) -> TargetResponse:
        """The target handles a request that reached it (it commits, whatever becomes of its answer)."""
        response = self.targets[request.system](request, self.clock.now)
        self.on_handled(request, response)
        return response

    def responded(self, request: TargetRequest, response: TargetResponse, sent_at: float, delivered_at: float) -> None:
        """The answer reached the integration: recorded, then handed over."""
        operation = intern(f"{request.method} {request.path}")  # a record per request: one string per operation
        self.counts[("request", operation)] += 1
        self.records.add(
            "request",
            sent_at,
            delivered_at,
            self.clock.now,
            "integration",
            request.system,
            operation,
            request.idempotency_key,
            request.correlation,
            status_text(response.status),
            0,
        )
        self.apply(self.integration.receive_response(request, response, self.clock.now))

    # -- documents and publications ------------------------------------------------------------------
    def push_document(self, source: str, body: dict[str, Any]) -> None:
        """A SaaS system pushes a document (a vendor invoice); it reaches the integration one hop later."""
        self.clock.after(self.hop(), partial(self.arrive_document, source, body))

    def arrive_document(self, source: str, body: dict[str, Any]) -> None:
        """A pushed document (as it arrives) reaches the integration."""
        self.receive_document(source, body)

    def receive_document(self, source: str, body: dict[str, Any]) -> None:
        self.counts[("webhook", f"{source} {body.get('type', '')}")] += 1
        self.apply(self.integration.receive_webhook(source, body, self.clock.now))

    def publish(self, change: MappingPublished) -> None:
        """Governance published a crosswalk entry: it reaches the integration one hop later."""
        self.counts[("master data", change.domain)] += 1
        self.clock.after(self.hop(), lambda: self.apply(self.integration.receive_master_data(change, self.clock.now)))


def delay_until(now: float, moment: float) -> float:
    """The delay that makes a timer fire at ``moment``, not one float step before it: ``now + (moment -
    now)`` can round below ``moment``, and a core that asks "is it due?" must find that it is."""
    delay = max(0.0, moment - now)
    while now + delay < moment:
        delay = math.nextafter(delay, math.inf)
    return delay


def ack_code(ack: str) -> str:
    """MSA-1 of an ACK's text ("none" for no ACK at all), one string per code however many
    records carry it."""
    start = ack.find("MSA|")
    return intern(ack[start + 4 : start + 6]) if start >= 0 else "none"


def status_text(status: int) -> str:
    """An HTTP status as a record's outcome, one string per status however many records carry it."""
    return intern(str(status))
