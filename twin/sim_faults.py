"""The simulated driver's side of the fault plan: faults applied at the boundaries, on the SimPy clock.

``twin.faults.FaultPlan`` decides (sans-IO); this module only schedules what it decided. Outage
windows are their own processes that open and close the outage. A request's fate is asked when
it leaves: delivered (perhaps later), answered in the target's place, never answered, or
committed with its answer lost; the transport enforces the request timeout (``request.timeout``
or ``operations.request_timeout_seconds``) by answering ``TRANSPORT_FAILURE`` when nothing came
back in time, and drops an answer that comes later. HL7 messages and pushed documents meet the
plan on their way to the integration; the EHR's sender resends a message whose ACK never came
(after ``operations.ack_timeout_minutes``, up to ``operations.max_resends`` times, then moves on).
The support team's dead-letter rounds run here too, as daemons like the steward's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import simpy

from twin.domain.events import DepartmentAliased, MessageCorrupted
from twin.domain.exchange import TRANSPORT_FAILURE, TargetRequest, TargetResponse
from twin.faults import DocumentFate, FaultPlan, Hl7Fate
from twin.faults.plan import INTEGRATION, document_key
from twin.workflows.operations import SupportTeam

if TYPE_CHECKING:
    from mocks.ehr.ehr import OutboundMessage
    from twin.sim import Twin, _Channel

TIMED_OUT = TargetResponse(TRANSPORT_FAILURE, {"error": "timeout"})


@dataclass(slots=True)
class _Attempt:
    """One sending of a request: answered, or given up on by the client, whichever comes first."""

    request: TargetRequest
    sent_at: float
    delivered_at: float | None = None
    answered: bool = False
    timed_out: bool = False


class FaultInjector:
    """Applies ``plan`` at every boundary crossing of ``twin``; counts what the transport did about it."""

    def __init__(self, twin: Twin, plan: FaultPlan) -> None:
        operations = twin.scenario.operations
        self.twin = twin
        self.plan = plan
        self.ack_timeout = operations.ack_timeout_minutes
        self.max_resends = operations.max_resends
        self.default_timeout = operations.request_timeout_seconds / 60  # minutes
        self.max_hop = twin.scenario.transport.latency_ms.max / 60_000
        # timeouts, late_answers_dropped, sender_resends, sender_gave_up, webhook_resends, ...
        self.stats: Counter[str] = Counter()
        self.support = SupportTeam(twin.integration, plan, twin._apply, twin.witness, operations.dlq_review_hours)
        self._fates: dict[int, Hl7Fate] = {}  # id(message) -> its fate, while it waits in its channel
        self._attempts: dict[str, int] = {}  # hospital -> sends of its channel's head so far

    def start(self) -> None:
        """Outage windows open and close as their own processes; the support team starts its rounds."""
        for index in range(len(self.plan.outages.specs)):
            self.twin.env.process(self._outage(index))
        self.twin._daemon(self.support.rounds, self._support_rounds)

    def _outage(self, index: int) -> Generator[simpy.Event, None, None]:
        env, log = self.twin.env, self.plan.outages
        log.update(index, env.now)
        while (change := log.next_change(index, env.now)) is not None:
            yield self.twin.daemon_timeout(change - env.now)  # windows recur for ever: housekeeping
            log.update(index, env.now)

    def _support_rounds(self) -> None:
        self.support.review(self.twin.env.now)
        self.twin._daemon(self.support.rounds, self._support_rounds)

    # -- requests from the integration to targets --------------------------------------------------
    def send(self, request: TargetRequest, sent_at: float) -> None:
        """``request`` leaves for its target now; what becomes of it is the plan's to say."""
        twin = self.twin
        fate = self.plan.request_fate(request, sent_at)
        attempt = _Attempt(request, sent_at)
        arrives = twin._hop() + fate.delay
        timeout = request.timeout or self.default_timeout
        if fate.action == "deliver":
            twin._after(arrives, partial(self._arrive, attempt, True))
            late = arrives + self.max_hop > timeout
        elif fate.action == "lost_response":
            twin._after(arrives, partial(self._arrive, attempt, False))
            late = True
        elif fate.action == "answer":
            assert fate.response is not None
            twin._after(arrives, partial(self._instead, attempt, fate.response, fate.hops))
            late = arrives + (self.max_hop if fate.hops > 1 else 0.0) > timeout
        else:  # hang: the target never sees it
            late = True
        if late:  # the answer may not come in time: the client's timeout is armed
            twin._after(timeout, partial(self._expire, attempt))

    def _arrive(self, attempt: _Attempt, answer: bool) -> None:
        twin = self.twin
        response = twin.handle(attempt.request)  # the target commits, whatever becomes of its answer
        attempt.delivered_at = twin.env.now
        if answer:
            twin._after(twin._hop(), partial(self._answer, attempt, response))
        else:
            self.stats["answers_lost"] += 1

    def _instead(self, attempt: _Attempt, response: TargetResponse, hops: int) -> None:
        attempt.delivered_at = self.twin.env.now
        if hops > 1:
            self.twin._after(self.twin._hop(), partial(self._answer, attempt, response))
        else:
            self._answer(attempt, response)

    def _answer(self, attempt: _Attempt, response: TargetResponse) -> None:
        if attempt.timed_out:
            self.stats["late_answers_dropped"] += 1
            return
        attempt.answered = True
        now = self.twin.env.now
        if response.ok:
            self.plan.answered_ok(attempt.request.system, attempt.request.idempotency_key, now)
        delivered = attempt.delivered_at if attempt.delivered_at is not None else now
        self.twin._responded(attempt.request, response, attempt.sent_at, delivered)

    def _expire(self, attempt: _Attempt) -> None:
        if attempt.answered:
            return
        attempt.timed_out = True
        self.stats["timeouts"] += 1
        now = self.twin.env.now
        delivered = attempt.delivered_at if attempt.delivered_at is not None else now
        self.twin._responded(attempt.request, TIMED_OUT, attempt.sent_at, delivered)

    # -- HL7 from the EHR's channels -----------------------------------------------------------------
    def deliver(self, channel: _Channel) -> None:
        """The head of ``channel`` reaches the integration's door (the faulty twin of ``Twin._deliver``)."""
        twin = self.twin
        env = twin.env
        now = env.now
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
            env.timeout(delay).callbacks.append(arrive)
            return
        hospital = channel.hospital
        self.plan.outages.tried(INTEGRATION, message.control_id)
        if self.plan.outages.down(INTEGRATION) is not None:  # nobody answers: no ACK comes back
            self.plan.counter.hit("outage", INTEGRATION)
            sent = self._attempts[hospital] = self._attempts.get(hospital, 0) + 1
            if sent <= self.max_resends:
                self.stats["sender_resends"] += 1
                env.timeout(self.ack_timeout).callbacks.append(arrive)
                return
            self.stats["sender_gave_up"] += 1
            queue.popleft()
            self._fates.pop(id(message), None)
            self._attempts.pop(hospital, None)
            twin.next_message(channel, now)
            return
        queue.popleft()
        self._fates.pop(id(message), None)
        self._attempts.pop(hospital, None)
        acked_at = twin.hand_over(channel, queued_at, message, fate.payload)
        self.plan.answered_ok(INTEGRATION, message.control_id, acked_at)
        if fate.duplicate_after is not None:
            copy = message._replace(payload=fate.payload)
            self._fates[id(copy)] = Hl7Fate(fate.payload)  # a copy travels as it is
            twin._after(fate.duplicate_after, partial(self._enqueue, channel, copy))
        twin.next_message(channel, acked_at)

    def _decide(self, message: OutboundMessage, now: float, *, can_reorder: bool) -> Hl7Fate:
        fate = self.plan.hl7_fate(
            message.control_id, message.message_type, message.visit, message.payload, now, can_reorder=can_reorder
        )
        self._fates[id(message)] = fate
        spoiled = fate.corruption
        if spoiled is not None:
            self.twin.witness(
                MessageCorrupted(
                    now,
                    spoiled.key,
                    "hl7",
                    message.visit,
                    message.message_type,
                    spoiled.variant,
                    spoiled.lines,
                    spoiled.visit_readable,
                )
            )
        for alias in fate.aliases:
            self.twin.witness(DepartmentAliased(now, message.visit, alias.txn_id, alias.department, alias.alias))
        return fate

    def _enqueue(self, channel: _Channel, message: OutboundMessage) -> None:
        """A message joins its channel (a duplicate copy): as ``Twin.happen`` queues the EHR's own."""
        env = self.twin.env
        now = env.now
        channel.queue.append((now, message))
        if not channel.busy and channel.arrive is not None:
            channel.busy = True
            env.timeout(max(now, channel.free_at) - now + self.twin._hop()).callbacks.append(channel.arrive)

    # -- documents pushed by SaaS systems ------------------------------------------------------------
    def push(self, source: str, body: dict[str, Any]) -> None:
        """A document ``source`` pushes reaches the integration's door."""
        now = self.twin.env.now
        fate = self.plan.document_fate(source, body, now)
        key = document_key(source, body)
        spoiled = fate.corruption
        if spoiled is not None:
            self.twin.witness(
                MessageCorrupted(
                    now, spoiled.key, "document", spoiled.business_key, spoiled.message_type, "schema_drift"
                )
            )
        self.plan.outages.tried(INTEGRATION, key)
        self.twin._after(fate.delay, partial(self._document_arrives, source, key, fate, 0))

    def _document_arrives(self, source: str, key: str, fate: DocumentFate, resends: int) -> None:
        twin = self.twin
        if self.plan.outages.down(INTEGRATION) is not None:  # the push fails: the SaaS retries later
            self.plan.counter.hit("outage", INTEGRATION)
            if resends < self.max_resends:
                self.stats["webhook_resends"] += 1
                twin._after(self.ack_timeout, partial(self._document_arrives, source, key, fate, resends + 1))
            else:
                self.stats["webhooks_given_up"] += 1
            return
        twin.receive_document(source, fate.body)
        self.plan.answered_ok(INTEGRATION, key, twin.env.now)
        if fate.duplicate_after is not None:
            copy = DocumentFate(fate.body)
            twin._after(fate.duplicate_after, partial(self._document_arrives, source, key, copy, 0))

    def report(self, horizon: float) -> dict[str, Any]:
        """What the transport and the support team did about the faults, as of ``horizon``."""
        letters = self.twin.integration.dead_letters()
        now = horizon
        return {
            "transport": {name: self.stats[name] for name in sorted(self.stats)},
            "operator_replays": {
                "repaired": sum(1 for r in self.support.replays if r.repaired),
                "as_is": sum(1 for r in self.support.replays if not r.repaired),
                "left_in_queue": len(self.support.left),
            },
            "dead_letters_at_end": len(letters),
            "oldest_dead_letter_hours": round(max((now - d.received_at for d in letters), default=0.0) / 60, 4),
        }
