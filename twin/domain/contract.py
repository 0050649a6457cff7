"""The plug-in contract between the harness and an integration under test.

An integration receives source messages (HL7 v2 ER7 text from the EHR, JSON documents that SaaS
systems push) and the responses to requests it sent, and gets a call when a timer it asked for fires. It answers with an
``Outcome``: the acknowledgement for the source, requests for target systems and timers. It
exposes its exceptions and dead letters, and that - with what the targets hold and the ACKs the
sources got - is all the harness judges it by. Nothing here does IO or reads a clock: ``now``
is always passed in, so the simulated and the live driver run the same object.

An integration is made by a *factory* (``IntegrationFactory``) that gets a small ``RunContext``:
the reference data the network's governance had published at go-live, the scenario (its
policies), the run's timebase and its random streams - never a driver, never a target's
internals. The reference integration is made this way too (``twin.reference_factory``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from twin.domain.events import MappingPublished
from twin.domain.exchange import TargetRequest, TargetResponse
from twin.domain.model import SimTime
from twin.domain.streams import RandomStreams
from twin.domain.timebase import Timebase


@dataclass(slots=True)
class Outcome:
    """What an integration wants done after one input."""

    ack: str | None = None  # HL7 ACK to return to the sender
    requests: list[TargetRequest] = field(default_factory=list)
    timers: list[SimTime] = field(default_factory=list)  # absolute times to call ``on_timer``


@dataclass(slots=True)
class FhirOutcome(Outcome):
    """An ``Outcome`` for a FHIR resource: what a FHIR endpoint answers instead of an HL7 ACK.

    ``status`` is the HTTP status (200 processed or already processed, 4xx rejected); a rejection
    carries the OperationOutcome saying what is wrong and where (FHIRPath), as FHIR servers do.
    """

    status: int = 200
    operation_outcome: dict[str, Any] | None = None


@dataclass(slots=True)
class IntegrationException:
    """Work the integration could not complete on its own, with the reason, for a person to act on."""

    flow: str
    key: str  # business key, e.g. the encounter's visit number
    reason_code: str  # machine-readable, e.g. "coding_overdue"
    reason: str
    raised_at: SimTime
    resolved_at: SimTime | None = None
    domain: str = ""  # master-data problems: the code set a steward must fix ("item", "department", ...)
    code: str = ""  # ... and the source code that has no (valid) mapping


@dataclass(slots=True)
class DeadLetter:
    """A message the integration could not process, kept whole with why, to be replayed once fixed."""

    message_id: str
    payload: str
    reason: str
    received_at: SimTime
    attempts: int = 1
    channel: str = "hl7"  # how it came in, so a replay goes back the same way: "hl7" | "fhir" | "request" | "document"
    history: list[tuple[SimTime, str]] = field(default_factory=list)  # every attempt: when, and what happened
    source: str = ""  # who pushed it ("vendor"), for a document: a replay goes back through the same door


class Integration(Protocol):
    """What every integration under test implements (the reference one and a user's own)."""

    def start(self, now: SimTime) -> Outcome:
        """The integration is switched on: it answers with the timers of its schedules."""
        ...

    def receive_hl7(self, payload: str, now: SimTime) -> Outcome: ...

    def receive_response(self, request: TargetRequest, response: TargetResponse, now: SimTime) -> Outcome: ...

    def receive_webhook(self, source: str, body: dict[str, Any], now: SimTime) -> Outcome:
        """A document a SaaS system pushes (e.g. a vendor invoice); the HTTP response is implicit."""
        ...

    def on_timer(self, now: SimTime) -> Outcome: ...

    def receive_master_data(self, change: MappingPublished, now: SimTime) -> Outcome:
        """Reference-data governance published a crosswalk entry; work parked for it may go on."""
        ...

    def exceptions(self) -> list[IntegrationException]: ...

    def dead_letters(self) -> list[DeadLetter]: ...

    def replay(self, message_id: str, now: SimTime, payload: str | None = None) -> Outcome:
        """Process a dead letter again, as it was or as corrected (``payload``); exactly once."""
        ...


@dataclass(frozen=True, slots=True)
class HospitalReference:
    """One hospital of the network as an integration is configured with it."""

    code: str  # the EHR's sending facility (MSH-4)
    hl7_version: str  # what its EHR interface speaks
    joins_at: SimTime  # minutes: 0 for the founding hospitals, later for one the network acquires
    business_office: str  # the ERP cost center that carries its patient receivables
    inventory_location: str  # the ERP inventory location of its central storeroom
    storeroom: str  # the EHR's code for that storeroom (FT1-16 of supply lines)
    pharmacy_location: str = ""  # the ERP inventory location of its pharmacy's stock (drugs)


@dataclass(frozen=True, slots=True)
class ReferenceData:
    """The governed crosswalk as reference-data governance had published it at go-live.

    Code sets differ between systems on purpose; these tables say how they translate when the run
    starts. A hospital acquired later is onboarded by publications (``receive_master_data``), not
    here; items the ERP lacks and cost centers finance retires later are not known yet either.
    The tables are the integration's own copies: change them as governance publishes.
    """

    hospitals: tuple[HospitalReference, ...]
    departments: Mapping[str, str]  # EHR department -> ERP cost center
    payers: Mapping[str, str | None]  # EHR insurance plan -> clearinghouse payer id (None: self pay)
    business_offices: Mapping[str, str]  # hospital -> receivables cost center ("facility" code set)
    items: Mapping[str, str]  # EHR supply code -> ERP item number
    locations: Mapping[str, str]  # EHR storeroom -> ERP inventory location
    org_units: Mapping[str, str]  # HCM org unit -> ERP cost center


@dataclass(frozen=True, slots=True)
class RunContext:
    """What an integration factory gets for one run: reference data, policies, clock base, randomness.

    ``scenario`` is the validated scenario (``twin.scenario.Scenario``): the integration reads its
    policies there (``billing.coding_deadline_hours``, ``labor.sync_hour``, ``integration.design``,
    ...). Random draws an integration makes (retry jitter) come from ``stream(name)``, derived from
    the scenario's seed, so the same scenario and seed give the same run.
    """

    reference: ReferenceData
    scenario: Any
    timebase: Timebase
    streams: RandomStreams

    def stream(self, name: str) -> random.Random:
        """The integration's own random stream called ``name`` (e.g. ``"outbox"``)."""
        return self.streams.stream(name)


IntegrationFactory = Callable[[RunContext], Integration]
"""Makes the integration under test for one run (``twin run --sut package.module:factory``)."""


@dataclass(frozen=True, slots=True)
class Sut:
    """An integration under test: its factory and the name every report shows it by."""

    name: str
    factory: IntegrationFactory
