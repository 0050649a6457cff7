"""The simulated transport under the scenario's faults: every crossing asks the fault plan first.

``twin.faults.FaultPlan`` decides (sans-IO); this transport only schedules what it decided, on the
SimPy clock. Outage windows open and close as their own processes. A request's fate is asked
when it leaves: delivered (perhaps later), answered in the target's place, never answered, or
committed with its answer lost; the transport enforces the request timeout (``request.timeout``
or ``operations.request_timeout_seconds``) by answering ``TRANSPORT_FAILURE`` when nothing came
back in time, and drops an answer that comes later. HL7 messages and pushed documents meet the
plan on their way to the integration; the EHR's sender resends a message whose ACK never came
(after ``operations.ack_timeout_minutes``, up to ``operations.max_resends`` times, then moves on).
A fault that spoils a message is a fact for the truth ledger (``MessageCorrupted``), as is a
department alias the plan invents (``DepartmentAliased``).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from mocks.ehr.ehr import OutboundMessage
from twin.domain.contract import Integration
from twin.domain.events import Fact
from twin.domain.exchange import TRANSPORT_FAILURE, TargetRequest, TargetResponse
from twin.faults import DocumentFate, FaultPlan, Hl7Fate
from twin.faults.plan import INTEGRATION, document_facts, document_key, hl7_facts
from twin.scenario import OperationsSpec
from twin.sim.transport import Channel, Handler, Transport
from twin.workflows.clock import SimClock

TIMED_OUT = TargetResponse(TRANSPORT_FAILURE, {"error": "timeout"})


@dataclass(slots=True)
class _Attempt:
    """One sending of a request: answered, or given up on by the client, whichever comes first."""

    request: TargetRequest
    sent_at: float
    delivered_at: float | None = None
    answered: bool = False
    timed_out: bool = False


class FaultTransport(Transport):
    """``Transport`` with ``plan`` applied at every boundary crossing; counts what it did about it."""

    def __init__(
        self,
        clock: SimClock,
        integration: Integration,
        targets: dict[str, Handler],
        hospitals: list[str],
        latency_ms: tuple[float, float],
        rng: random.Random,
        plan: FaultPlan,
        operations: OperationsSpec,
        witness: Callable[[Fact], None],
        *,
        keep_traffic: bool = True,
    ) -> None:
        super().__init__(clock, integration, targets, hospitals, latency_ms, rng, keep_traffic=keep_traffic)
        self.plan = plan
        self.witness = witness
        self.ack_timeout = operations.ack_timeout_minutes
        self.max_resends = operations.max_resends
        self.default_timeout = operations.request_timeout_seconds / 60  # minutes
        # timeouts, late_answers_dropped, sender_resends, sender_gave_up, webhook_resends, ...
        self.stats: Counter[str] = Counter()
        self.spoiled_delivered: dict[str, float] = {}  # spoiled message -> when it reached the integration
        self._fates: dict[int, Hl7Fate] = {}  # id(message) -> its fate, while it waits in its channel
        self._attempts: dict[str, int] = {}  # hospital -> sends of its channel's head so far

    # -- requests from the integration to targets --------------------------------------------------
    def send_request(self, request: TargetRequest, sent_at: float) -> None:
        """``request`` leaves for its target now; what becomes of it is the plan's to say."""
        fate = self.plan.request_fate(request, sent_at)
        attempt = _Attempt(request, sent_at)
        arrives = self.hop() + fate.delay
        timeout = request.timeout or self.default_timeout
        if fate.action == "deliver":
            self.clock.after(arrives, partial(self._arrive, attempt, True))
            late = arrives + self.max_hop > timeout
        elif fate.action == "lost_response":
            self.clock.after(arrives, partial(self._arrive, attempt, False))
            late = True
        elif fate.action == "answer":
            assert fate.response is not None
            self.clock.after(arrives, partial(self._instead, attempt, fate.response, fate.hops))
            late = arrives + (self.max_hop if fate.hops > 1 else 0.0) > timeout
        else:  # hang: the target never sees it
            late = True
        if late:  # the answer may not come in time: the client's timeout is armed
            self.clock.after(timeout, partial(self._expire, attempt))

    def _arrive(self, attempt: _Attempt, answer: bool) -> None:
        response = self.handle(attempt.request)  # the target commits, whatever becomes of its answer
        attempt.delivered_at = self.clock.now
        if answer:
            self.clock.after(self.hop(), partial(self._answer, attempt, response))
        else:
            self.stats["answers_lost"] += 1

    def _instead(self, attempt: _Attempt, response: TargetResponse, hops: int) -> None:
        attempt.delivered_at = self.clock.now
        if hops > 1:
            self.clock.after(self.hop(), partial(self._answer, attempt, response))
        else:
            self._answer(attempt, response)

    def _answer(self, attempt: _Attempt, response: TargetResponse) -> None:
        if attempt.timed_out:
            self.stats["late_answers_dropped"] += 1
            return
        attempt.answered = True
        now = self.clock.now
        if response.ok:
            self.plan.answered_ok(attempt.request.system, attempt.request.idempotency_key, now)
        delivered = attempt.delivered_at if attempt.delivered_at is not None else now
        self.responded(attempt.request, response, attempt.sent_at, delivered)

    def _expire(self, attempt: _Attempt) -> None:
        if attempt.answered:
            return
        attempt.timed_out = True
        self.stats["timeouts"] += 1
        now = self.clock.now
        delivered = attempt.delivered_at if attempt.delivered_at is not None else now
        self.responded(attempt.request, TIMED_OUT, attempt.sent_at, delivered)

    # -- HL7 from the EHR's channels -----------------------------------------------------------------
    def deliver(self, channel: Channel) -> None:
        """The head of ``channel`` reaches the integration's door (the faulty twin of ``Transport.deliver``)."""
        if not self.plan.touches_hl7:  # the clean path, as fast as without faults
            super().deliver(channel)
            return
        clock = self.clock
        now = clock.now
        queue = channel.queue
        arrive = channel.arrive
        assert arrive is not None  # made with the channel's first send
        queued_at, message = queue[0]
        fate = self._fates.get(id(message))
        if fate is None:
            fate = self._decide(message, now, can_reorder=len(queue) > 1)
            if fate.reorder:  # the next message overtakes this one
                queue[0], queue[1] = queue[1], queue[0]
                queued_at, message = queue[0]
                fate = self._fates.get(id(message)) or self._decide(message, now, can_reorder=False)
        if fate.delay > 0:  # latency on the way in: it arrives later, the channel waits
            delay, fate.delay = fate.delay, 0.0
            clock.after(delay, arrive)
            return
        hospital = channel.hospital
        self.plan.outages.tried(INTEGRATION, message.control_id)
        if self.plan.outages.down(INTEGRATION) is not None:  # nobody answers: no ACK comes back
            self.plan.counter.hit("outage", INTEGRATION, event=self.plan.outages.window_of(INTEGRATION))
            sent = self._attempts[hospital] = self._attempts.get(hospital, 0) + 1
            if sent <= self.max_resends:
                self.stats["sender_resends"] += 1
                clock.after(self.ack_timeout, arrive)
                return
            self.stats["sender_gave_up"] += 1
            queue.popleft()
            self._fates.pop(id(message), None)
            self._attempts.pop(hospital, None)
            self.next_message(channel, now)
            return
        queue.popleft()
        self._fates.pop(id(message), None)
        self._attempts.pop(hospital, None)
        if fate.corruption is not None:
            self.spoiled_delivered.setdefault(fate.corruption.key, now)
        acked_at = self.hand_over(channel, queued_at, message, fate.payload)
        self.plan.answered_ok(INTEGRATION, message.control_id, acked_at)
        if fate.duplicate_after is not None:
            copy = message._replace(payload=fate.payload)
            self._fates[id(copy)] = Hl7Fate(fate.payload)  # a copy travels as it is
            clock.after(fate.duplicate_after, partial(self.enqueue, channel, copy))
        self.next_message(channel, acked_at)

    def _decide(self, message: OutboundMessage, now: float, *, can_reorder: bool) -> Hl7Fate:
        fate = self.plan.hl7_fate(
            message.control_id, message.message_type, message.visit, message.payload, now, can_reorder=can_reorder
        )
        self._fates[id(message)] = fate
        for fact in hl7_facts(fate, message.visit, message.message_type, now):
            self.witness(fact)
        return fate

    # -- documents pushed by SaaS systems ------------------------------------------------------------
    def arrive_document(self, source: str, body: dict[str, Any]) -> None:
        """A document ``source`` pushes reaches the integration's door."""
        now = self.clock.now
        fate = self.plan.document_fate(source, body, now)
        key = document_key(source, body)
        for fact in document_facts(fate, now):
            self.witness(fact)
        self.plan.outages.tried(INTEGRATION, key)
        self.clock.after(fate.delay, partial(self._document_arrives, source, key, fate, 0))

    def _document_arrives(self, source: str, key: str, fate: DocumentFate, resends: int) -> None:
        if self.plan.outages.down(INTEGRATION) is not None:  # the push fails: the SaaS retries later
            self.plan.counter.hit("outage", INTEGRATION, event=self.plan.outages.window_of(INTEGRATION))
            if resends < self.max_resends:
                self.stats["webhook_resends"] += 1
                self.clock.after(self.ack_timeout, partial(self._document_arrives, source, key, fate, resends + 1))
            else:
                self.stats["webhooks_given_up"] += 1
            return
        if fate.corruption is not None:
            self.spoiled_delivered.setdefault(fate.corruption.key, self.clock.now)
        self.receive_document(source, fate.body)
        self.plan.answered_ok(INTEGRATION, key, self.clock.now)
        if fate.duplicate_after is not None:
            copy = DocumentFate(fate.body)
            self.clock.after(fate.duplicate_after, partial(self._document_arrives, source, key, copy, 0))
