"""The reference integration: reads the EHR's feed, orchestrates the four flows, acknowledges honestly.

It implements ``twin.domain.contract.Integration``. What it guarantees, and where:

- *idempotency*: on the sender's message control id (MSH-4 + MSH-10) - a redelivered message is
  acknowledged again but never processed twice - and on a key per business document in every
  request to a target, so a response lost after the target committed never posts twice;
- *order per sender*: MSH-13 sequence numbers (``sequencing.Resequencer``), so a reordered feed is
  processed in the order the EHR wrote it;
- *delivery*: every request goes through the ``Outbox`` (ordering per business key, retries with
  backoff and Retry-After, a circuit breaker per endpoint, re-authentication, dead letters);
- *honest acknowledgement*: AA only once a message is durably accepted; a message it cannot read
  gets AE/AR with an ERR segment and is parked, whole, in the dead-letter queue with the reason;
  a document whose shape drifted (a SaaS API renamed a field) is parked the same way.

The switches in ``ResilienceConfig`` exist so the harness can prove that its checks catch what
each guarantee prevents (an integration without idempotency, without retries, without ordering).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

from twin.domain.contract import DeadLetter, FhirOutcome, IntegrationException, Outcome
from twin.domain.events import ChargesPosted, DomainEvent, MappingPublished
from twin.domain.exchange import TargetRequest, TargetResponse
from twin.domain.model import SimTime
from twin.domain.timebase import Timebase
from twin.integration.billing import BillingOrchestrator
from twin.integration.crosswalk import Crosswalk
from twin.integration.fhir_reader import FhirReader, operation_outcome
from twin.integration.hl7_reader import Header, Hl7Reader, build_ack, salvage_visit
from twin.integration.labor import LaborSync
from twin.integration.outbox import Outbox, ReleaseAt
from twin.integration.reporting import KpiService, ReportingConfig
from twin.integration.resilience import CircuitBreaker, RetryPolicy
from twin.integration.sequencing import Resequencer
from twin.integration.supply import SupplyOrchestrator

DEFAULT_POLICIES = {
    # ERP and the claims SaaS: quick retries first, then a slower pattern that rides out a
    # maintenance window without giving up (the breaker holds the rest back meanwhile)
    "erp": RetryPolicy(max_attempts=8, pattern=((1, 0.25), (3, 2.0), (5, 10.0), (7, 30.0))),
    "clearinghouse": RetryPolicy(max_attempts=8, pattern=((1, 0.25), (3, 2.0), (5, 10.0), (7, 30.0))),
}


@dataclass(frozen=True, slots=True)
class ResilienceConfig:
    """Retry policies per destination, the breaker, the resequencer's patience, and the switches."""

    policies: dict[str, RetryPolicy] = field(default_factory=lambda: dict(DEFAULT_POLICIES))
    default_policy: RetryPolicy = field(default_factory=RetryPolicy)
    breaker_window: float = 5.0  # minutes of outcomes the failure rate is taken over
    breaker_failure_rate: float = 0.5
    breaker_min_calls: int = 4
    breaker_open_for: float = 2.0  # minutes before a half-open probe
    gap_wait: float = 2.0  # minutes a message ahead of a sequence gap waits for it
    idempotency: bool = True
    retries: bool = True
    ordering: bool = True
    adjust_late_charges: bool = True  # off: a late charge is only raised as an exception, never billed
    hold_for_dead_letters: bool = True  # off: a bill never waits for a dead letter of its encounter (it adjusts)

    def breaker(self) -> CircuitBreaker:
        return CircuitBreaker(
            window=self.breaker_window,
            failure_rate=self.breaker_failure_rate,
            min_calls=self.breaker_min_calls,
            open_for=self.breaker_open_for,
        )


@dataclass(frozen=True, slots=True)
class ReferenceConfig:
    """What an organisation configures the integration with: clock base, crosswalk, policies."""

    timebase: Timebase
    crosswalk: Crosswalk
    coding_deadline_minutes: float
    labor_sync_minute_of_day: float = 120.0  # the nightly labor sync, local clock (02:00)
    reporting: ReportingConfig = field(default_factory=ReportingConfig)  # the daily KPI service
    resilience: ResilienceConfig = field(default_factory=ResilienceConfig)
    release_at: ReleaseAt | None = None  # batch designs: when a request may leave (None: at once)
    bill_hold_minutes: float = 0.0  # the policy's bill hold after discharge, for charges still to come


def order_key(request: TargetRequest) -> str | None:
    """Requests about one business key (an encounter, a PO, a labor day) go out one at a time."""
    return f"{request.system}:{request.correlation}" if request.correlation else None


class ReferenceIntegration:
    def __init__(self, config: ReferenceConfig, *, jitter: random.Random | None = None) -> None:
        """``jitter``: the random stream of the retry policy's jitter (the run context's ``outbox``
        stream; a fixed one when none is given, so the integration stays deterministic)."""
        self.config = config
        resilience = config.resilience
        self.reader = Hl7Reader(config.timebase)
        self.fhir_reader = FhirReader(config.timebase)
        self.billing = BillingOrchestrator(
            config.crosswalk,
            config.timebase,
            config.coding_deadline_minutes,
            config.bill_hold_minutes,
            adjust=resilience.adjust_late_charges,
            hold_for_dead_letters=resilience.hold_for_dead_letters,
        )
        self.supply = SupplyOrchestrator(config.crosswalk)
        self.labor = LaborSync(config.crosswalk, config.timebase, config.labor_sync_minute_of_day)
        self.reporting = KpiService(config.reporting, config.timebase)
        self.outbox = Outbox(
            jitter if jitter is not None else random.Random("reference/outbox"),
            policies=resilience.policies,
            default_policy=resilience.default_policy,
            breaker=resilience.breaker,
            key_of=order_key if resilience.ordering else lambda request: None,
            release_at=config.release_at,
            retries=resilience.retries,
            idempotency=resilience.idempotency,
        )
        self.sequencer: Resequencer[tuple[Header, DomainEvent]] = Resequencer(resilience.gap_wait)
        # What was processed, for idempotency: control ids under each sending facility, resource
        # versions under each FHIR resource type. One set per channel, not a pair per message: a
        # month holds millions of ids, and a tuple for each was a third of what they cost.
        self._seen: dict[str, set[str]] = {}
        self._dead: list[DeadLetter] = []
        self.duplicates_ignored = 0

    # -- the contract --------------------------------------------------------------------------
    def start(self, now: SimTime) -> Outcome:
        """Switched on: the schedules of scheduled flows begin."""
        outcome = self.labor.start(now)
        outcome.timers.extend(self.reporting.start(now).timers)
        return self._dispatch(outcome, now)

    def receive_hl7(self, payload: str, now: SimTime) -> Outcome:
        read = self.reader.read(payload)
        timestamp = self.config.timebase.hl7(now)
        header = read.header
        if read.rejected is not None:
            message_id = header.control_id if header else ""
            self._dead.append(DeadLetter(message_id, payload, read.rejected.reason, now, history=[(now, "rejected")]))
            visit = salvage_visit(payload)
            if visit is not None:  # its encounter is not billed without it
                self.billing.park(visit)
            outcome = Outcome(ack=build_ack(header, read.rejected.ack_code, timestamp, read.rejected))
            if header is not None and header.sequence.isdigit() and self.config.resilience.ordering:
                for released in self.sequencer.passed(header.sending_facility, int(header.sequence), now):
                    self._process(*released, now, outcome)
            return self._dispatch(outcome, now)
        assert header is not None and read.event is not None
        outcome = Outcome(ack=build_ack(header, "AA", timestamp))
        if header.sequence.isdigit() and self.config.resilience.ordering:
            ready, wake = self.sequencer.offer(header.sending_facility, int(header.sequence), (header, read.event), now)
            for item in ready:
                self._process(*item, now, outcome)
            if wake is not None:
                outcome.timers.append(wake)
        else:
            self._process(header, read.event, now, outcome)
        return self._dispatch(outcome, now)

    def receive_fhir(self, resource: dict[str, Any] | str, now: SimTime) -> FhirOutcome:
        """A FHIR resource from the EHR (a REST create/update, a bulk-export line), parsed or as JSON text.

        Processed like an HL7 message, by the same orchestrators, once per resource version (id +
        ``meta.versionId``, else ``meta.lastUpdated``, else its content): a resend is answered 200
        again but not processed twice. One it cannot read is answered 4xx with an OperationOutcome
        and parked whole, as JSON text, in the dead-letter queue with the reason.
        """
        read = self.fhir_reader.read(resource)
        if read.rejected is not None:
            payload = resource if isinstance(resource, str) else json.dumps(resource, ensure_ascii=False, default=str)
            self._dead.append(DeadLetter(read.message_id, payload, read.rejected.reason, now, channel="fhir"))
            return FhirOutcome(status=read.rejected.status, operation_outcome=operation_outcome(read.rejected))
        assert read.event is not None and read.key is not None
        if not self._first_time(*read.key):
            return FhirOutcome()
        outcome = self._orchestrate(read.event, now)
        dispatched = self._dispatch(outcome, now)
        return FhirOutcome(requests=dispatched.requests, timers=dispatched.timers)

    def receive_response(self, request: TargetRequest, response: TargetResponse, now: SimTime) -> Outcome:
        outcome = Outcome()
        delivered = self.outbox.on_response(request, response, now, outcome)
        if delivered is not None:
            routed = self._route(delivered.request, delivered.response, now)
            self.outbox.submit(routed.requests, now, outcome)
            outcome.timers.extend(routed.timers)
        return outcome

    def receive_webhook(self, source: str, body: dict[str, Any], now: SimTime) -> Outcome:
        problem = (
            self.supply.document_problem(body) if source == "vendor" else f"no route for documents from {source!r}"
        )
        if problem:
            text = json.dumps(body, sort_keys=True)
            self._dead.append(
                DeadLetter(
                    _document_id(body),
                    text,
                    problem,
                    now,
                    channel="document",
                    history=[(now, "rejected")],
                    source=source,
                )
            )
            return Outcome()
        return self._dispatch(self.supply.on_vendor_document(body, now), now)

    def on_timer(self, now: SimTime) -> Outcome:
        outcome = self.billing.on_timer(now)
        for scheduled in (self.labor.on_timer(now), self.reporting.on_timer(now)):
            outcome.requests.extend(scheduled.requests)
            outcome.timers.extend(scheduled.timers)
        for item in self.sequencer.release_due(now):
            self._process(*item, now, outcome)
        wake = self.sequencer.next_due()
        if wake is not None and wake > now:
            outcome.timers.append(wake)
        dispatched = self._dispatch(outcome, now)
        self.outbox.on_timer(now, dispatched)
        return dispatched

    def receive_master_data(self, change: MappingPublished, now: SimTime) -> Outcome:
        """Apply a governed crosswalk entry, then let every flow retry the work parked for it."""
        self.config.crosswalk.publish(change.domain, change.code, change.target)
        outcome = self.billing.on_mapping(change, now)
        for parked in (self.supply.on_mapping(change, now), self.labor.on_mapping(change, now)):
            outcome.requests.extend(parked.requests)
            outcome.timers.extend(parked.timers)
        return self._dispatch(outcome, now)

    def replay(self, message_id: str, now: SimTime, payload: str | None = None) -> Outcome:
        """Process a dead letter again (optionally corrected); it leaves the queue only if it now succeeds.

        Replaying goes through the same idempotency as first delivery, so a message that was in
        fact processed is never processed twice; a replayed HL7 message skips the resequencer (its
        place in the sequence has passed). A dead-lettered request goes out again with a fresh
        retry budget and its idempotency key.
        """
        outcome = Outcome()
        if self.outbox.replay(message_id, now, outcome, payload):
            return outcome
        index = next((i for i, letter in enumerate(self._dead) if letter.message_id == message_id), None)
        if index is None:
            raise KeyError(f"no dead letter with message id {message_id!r}")
        letter = self._dead[index]
        del self._dead[index]
        parked = len(self._dead)
        text = payload if payload is not None else letter.payload
        if letter.channel == "fhir":
            outcome = self.receive_fhir(text, now)
        elif letter.channel == "document":
            outcome = self.receive_webhook(letter.source or "vendor", json.loads(text), now)
        else:
            outcome = self._replay_hl7(text, now)
        if len(self._dead) > parked:  # it failed again: keep the original, count the attempt
            failed = self._dead.pop()
            letter.attempts += 1
            letter.reason = failed.reason
            letter.history.append((now, f"replay failed: {failed.reason}"))
            self._dead.insert(index, letter)
        elif letter.channel == "hl7" and (visit := salvage_visit(letter.payload)) is not None:
            released = self._dispatch(self.billing.unpark(visit, now), now)  # the bill it held may go now
            outcome.requests.extend(released.requests)
            outcome.timers.extend(released.timers)
        return outcome

    def exceptions(self) -> list[IntegrationException]:
        return [*self.billing.raised, *self.supply.raised, *self.labor.raised, *self.reporting.raised]

    def exception_queues(self) -> tuple[list[IntegrationException], ...]:
        """The flows' exception lists themselves, in the order ``exceptions`` joins them. Each only
        grows (an exception is resolved in place, never removed), so a reader that remembers how far
        it read each one (the data steward's rounds) reads only what is new. A subclass that changes
        what ``exceptions`` shows should change this too; if it does not, the world reads it through
        ``exceptions`` (``twin.world.exception_queues``)."""
        return (self.billing.raised, self.supply.raised, self.labor.raised, self.reporting.raised)

    def dead_letters(self) -> list[DeadLetter]:
        return [*self._dead, *self.outbox.dead_letters()]

    def health(self) -> dict[str, int]:
        """Delivery counters for reports: retries, breaker trips, dead letters, resequencing."""
        return {
            **self.outbox.health(),
            "duplicates_ignored": self.duplicates_ignored,
            "held_for_sequence": self.sequencer.held,
            "sequence_gaps_skipped": self.sequencer.gaps_skipped,
            "bills_waiting_for_dead_letters": self.billing.parked(),
        }

    def breakers(self) -> dict[str, str]:
        """The circuit breaker's state per target system (optional, beside ``health``: the live service
        shows it in its metrics)."""
        return {system: breaker.state for system, breaker in sorted(self.outbox.breakers.items())}

    # -- inside --------------------------------------------------------------------------------
    def _process(self, header: Header, event: DomainEvent, now: SimTime, outcome: Outcome) -> None:
        """One readable message, in order: once per control id, through the orchestrators."""
        if not self._first_time(header.sending_facility, header.control_id):
            return
        orchestrated = self._orchestrate(event, now)
        outcome.requests.extend(orchestrated.requests)
        outcome.timers.extend(orchestrated.timers)

    def _first_time(self, channel: str, message_id: str) -> bool:
        """Whether to process the message: yes, unless idempotency is on and its channel has seen
        its id before (a duplicate, counted in ``duplicates_ignored``)."""
        seen = self._seen.get(channel)
        if seen is None:
            seen = self._seen[channel] = set()
        if message_id in seen and self.config.resilience.idempotency:
            self.duplicates_ignored += 1
            return False
        seen.add(message_id)
        return True

    def _orchestrate(self, event: DomainEvent, now: SimTime) -> Outcome:
        outcome = self.billing.apply(event, now)
        if isinstance(event, ChargesPosted):
            self.supply.apply(event, now, outcome)
            self.labor.observe(event, now)
        return outcome

    def _replay_hl7(self, payload: str, now: SimTime) -> Outcome:
        read = self.reader.read(payload)
        timestamp = self.config.timebase.hl7(now)
        if read.rejected is not None:
            message_id = read.header.control_id if read.header else ""
            self._dead.append(DeadLetter(message_id, payload, read.rejected.reason, now))
            return Outcome(ack=build_ack(read.header, read.rejected.ack_code, timestamp, read.rejected))
        assert read.header is not None and read.event is not None
        outcome = Outcome(ack=build_ack(read.header, "AA", timestamp))
        self._process(read.header, read.event, now, outcome)
        return self._dispatch(outcome, now)

    def _route(self, request: TargetRequest, response: TargetResponse, now: SimTime) -> Outcome:
        if self.labor.owns(request):
            return self.labor.on_response(request, response, now)
        if self.reporting.owns(request):
            return self.reporting.on_response(request, response, now)
        if request.path in ("/finance/journals", "/claims"):
            return self.billing.on_response(request, response, now)
        return self.supply.on_response(request, response, now)

    def _dispatch(self, outcome: Outcome, now: SimTime) -> Outcome:
        """The orchestrators' requests go through the outbox; what may leave now leaves."""
        dispatched = Outcome(ack=outcome.ack, timers=list(outcome.timers))
        self.outbox.submit(outcome.requests, now, dispatched)
        return dispatched


def _document_id(body: dict[str, Any]) -> str:
    for name in ("vendor_invoice", "invoice_number", "id", "po"):
        if body.get(name):
            return f"doc:{body[name]}"
    return "doc:" + json.dumps(body, sort_keys=True)[:40]
