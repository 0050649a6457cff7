"""The reference integration: reads the EHR's feed, orchestrates billing, acknowledges honestly.

It implements ``twin.integration.contract.Integration``. Idempotency is on the sender's message
control id (MSH-4 + MSH-10): a redelivered message is acknowledged again but never processed
twice, and every request it sends to a target carries an idempotency key per business document.
A message it cannot read is acknowledged AE/AR with an ERR segment and parked, whole, in the
dead-letter queue with the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from twin.domain.events import ChargesPosted, MappingPublished
from twin.domain.exchange import TargetRequest, TargetResponse
from twin.domain.model import SimTime
from twin.domain.timebase import Timebase
from twin.integration.billing import BillingOrchestrator
from twin.integration.contract import DeadLetter, FhirOutcome, IntegrationException, Outcome
from twin.integration.crosswalk import Crosswalk
from twin.integration.fhir_reader import FhirReader, operation_outcome
from twin.integration.hl7_reader import Hl7Reader, build_ack
from twin.integration.labor import LaborSync
from twin.integration.reporting import KpiService, ReportingConfig
from twin.integration.supply import SupplyOrchestrator


@dataclass(frozen=True, slots=True)
class ReferenceConfig:
    """What an organisation configures the integration with: clock base, crosswalk, policies."""

    timebase: Timebase
    crosswalk: Crosswalk
    coding_deadline_minutes: float
    labor_sync_minute_of_day: float = 120.0  # the nightly labor sync, local clock (02:00)
    reporting: ReportingConfig = field(default_factory=ReportingConfig)  # the daily KPI service


class ReferenceIntegration:
    def __init__(self, config: ReferenceConfig) -> None:
        self.config = config
        self.reader = Hl7Reader(config.timebase)
        self.fhir_reader = FhirReader(config.timebase)
        self.billing = BillingOrchestrator(config.crosswalk, config.timebase, config.coding_deadline_minutes)
        self.supply = SupplyOrchestrator(config.crosswalk)
        self.labor = LaborSync(config.crosswalk, config.timebase, config.labor_sync_minute_of_day)
        self.reporting = KpiService(config.reporting, config.timebase)
        self._seen: set[tuple[str, str]] = set()
        self._dead: list[DeadLetter] = []
        self.duplicates_ignored = 0

    def start(self, now: SimTime) -> Outcome:
        """Switched on: the schedules of scheduled flows begin."""
        outcome = self.labor.start(now)
        outcome.timers.extend(self.reporting.start(now).timers)
        return outcome

    def receive_master_data(self, change: MappingPublished, now: SimTime) -> Outcome:
        """Apply a governed crosswalk entry, then let every flow retry the work parked for it."""
        self.config.crosswalk.publish(change.domain, change.code, change.target)
        outcome = self.billing.on_mapping(change, now)
        supply = self.supply.on_mapping(change, now)
        outcome.requests.extend(supply.requests)
        outcome.timers.extend(supply.timers)
        labor = self.labor.on_mapping(change, now)
        outcome.requests.extend(labor.requests)
        outcome.timers.extend(labor.timers)
        return outcome

    def receive_hl7(self, payload: str, now: SimTime) -> Outcome:
        read = self.reader.read(payload)
        timestamp = self.config.timebase.hl7(now)
        if read.rejected is not None:
            message_id = read.header.control_id if read.header else ""
            self._dead.append(DeadLetter(message_id, payload, read.rejected.reason, now))
            return Outcome(ack=build_ack(read.header, read.rejected.ack_code, timestamp, read.rejected))
        header = read.header
        assert header is not None and read.event is not None
        key = (header.sending_facility, header.control_id)
        ack = build_ack(header, "AA", timestamp)
        if key in self._seen:
            self.duplicates_ignored += 1
            return Outcome(ack=ack)
        self._seen.add(key)
        outcome = self.billing.apply(read.event, now)
        if isinstance(read.event, ChargesPosted):
            self.supply.apply(read.event, now, outcome)
            self.labor.observe(read.event, now)
        outcome.ack = ack
        return outcome

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
        if read.key in self._seen:
            self.duplicates_ignored += 1
            return FhirOutcome()
        self._seen.add(read.key)
        # The same steps as ``receive_hl7`` after its reader: keep the two in step.
        outcome = self.billing.apply(read.event, now)
        if isinstance(read.event, ChargesPosted):
            self.supply.apply(read.event, now, outcome)
            self.labor.observe(read.event, now)
        return FhirOutcome(requests=outcome.requests, timers=outcome.timers)

    def receive_response(self, request: TargetRequest, response: TargetResponse, now: SimTime) -> Outcome:
        if self.labor.owns(request):
            return self.labor.on_response(request, response, now)
        if self.reporting.owns(request):
            return self.reporting.on_response(request, response, now)
        if request.path in ("/finance/journals", "/claims"):
            return self.billing.on_response(request, response, now)
        return self.supply.on_response(request, response, now)

    def receive_webhook(self, source: str, body: dict[str, Any], now: SimTime) -> Outcome:
        if source == "vendor":
            return self.supply.on_vendor_document(body, now)
        self._dead.append(
            DeadLetter(
                str(body.get("id", "")),
                json.dumps(body, sort_keys=True),
                f"no route for documents from {source!r}",
                now,
            )
        )
        return Outcome()

    def on_timer(self, now: SimTime) -> Outcome:
        outcome = self.billing.on_timer(now)
        labor = self.labor.on_timer(now)
        outcome.requests.extend(labor.requests)
        outcome.timers.extend(labor.timers)
        reporting = self.reporting.on_timer(now)
        outcome.requests.extend(reporting.requests)
        outcome.timers.extend(reporting.timers)
        return outcome

    def replay(self, message_id: str, now: SimTime, payload: str | None = None) -> Outcome:
        """Process a dead letter again (optionally corrected); it leaves the queue only if it now succeeds.

        Replaying goes through the same idempotency as first delivery, so a message that was in
        fact processed is never processed twice.
        """
        index = next((i for i, letter in enumerate(self._dead) if letter.message_id == message_id), None)
        if index is None:
            raise KeyError(f"no dead letter with message id {message_id!r}")
        letter = self._dead[index]
        del self._dead[index]
        parked = len(self._dead)
        text = payload if payload is not None else letter.payload
        outcome = self.receive_fhir(text, now) if letter.channel == "fhir" else self.receive_hl7(text, now)
        if len(self._dead) > parked:  # it failed again: keep the original, count the attempt
            failed = self._dead.pop()
            letter.attempts += 1
            letter.reason = failed.reason
            self._dead.insert(index, letter)
        return outcome

    def exceptions(self) -> list[IntegrationException]:
        return [*self.billing.raised, *self.supply.raised, *self.labor.raised, *self.reporting.raised]

    def dead_letters(self) -> list[DeadLetter]:
        return list(self._dead)
