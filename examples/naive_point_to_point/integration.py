"""A deliberately naive point-to-point interface: what the brief calls "isolated interfaces".

It is the integration many networks really run - and the one the conformance suite exists to
catch. It implements the plug-in contract (``twin.domain.contract.Integration``) honestly
enough to work on a good day, and does none of what makes an integration resilient:

- it reads the EHR's HL7 v2 feed with the public reader and answers **AA for everything it can
  parse** (AR with the reader's ERR segment otherwise), before anything downstream happened;
- when coding completes it posts the revenue journal (with its receivable) **and** the claim at
  once, as two independent calls, so the claim may overtake the journal;
- it issues every supply line to ERP inventory the moment the charge message arrives, and when the
  ERP answers that the item is at or below its reorder point it orders up to par - looking at the
  shelf, not at what is already on order, so every issue below the point orders again - and sends
  each PO to the vendor; it relays every vendor invoice to payables as it comes (a copy twice, a
  renamed field as it is);
- it sends **no idempotency keys** and keeps **no record of messages it has seen**: a message the
  EHR delivers twice is processed twice;
- it **does not resequence**: messages are processed in arrival order;
- it has **no retry policy**: a request answered with an error is logged and dropped. Its HTTP
  client, like many, sends a request once more when *no answer at all* came back (a read
  timeout) - which, without idempotency keys, posts twice whenever it was the answer that was lost;
- it keeps **no dead-letter queue** (nothing to replay), raises no exceptions and ignores
  master-data publications: its code mappings are a copy taken when it was installed;
- labor and reporting are nightly jobs (``nightly``): a labor flat file at 02:00 posted as it is,
  and a DNFB report at 06:00 from its own memory of the feed.

Everything is sans-IO and in simulated minutes, like every integration the twin drives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from examples.naive_point_to_point.nightly import NightlyJobs
from twin.domain.accounts import PATIENT_BILLING, PATIENT_RECEIVABLES
from twin.domain.contract import DeadLetter, IntegrationException, Outcome
from twin.domain.events import ChargeLine, ChargesPosted, CodingCompleted, PatientAdmitted, PatientDischarged
from twin.domain.exchange import TRANSPORT_FAILURE, TargetRequest, TargetResponse
from twin.domain.model import SimTime
from twin.domain.timebase import Timebase
from twin.integration.crosswalk import revenue_account
from twin.integration.hl7_reader import Hl7Reader, build_ack


@dataclass(frozen=True, slots=True)
class Mappings:
    """The code tables the interface was installed with (a copy: never updated afterwards)."""

    cost_centers: dict[str, str]  # EHR department -> ERP cost center
    payers: dict[str, str | None]  # EHR plan -> clearinghouse payer (None: self pay)
    business_offices: dict[str, str]  # hospital -> receivables cost center
    items: dict[str, str]  # EHR supply code -> ERP item
    storerooms: dict[str, str]  # EHR storeroom -> ERP inventory location
    org_units: dict[str, str]  # HCM org unit -> ERP cost center


@dataclass(slots=True)
class _Visit:
    hospital: str
    mrn: str = ""
    plan: str = ""
    member: str = ""
    professional: bool = False  # an emergency or outpatient visit: a professional claim
    admitted_at: SimTime = 0.0
    discharged_at: SimTime = 0.0
    lines: list[ChargeLine] = field(default_factory=list)  # as received: a redelivered message adds its lines again


class NaivePointToPoint:
    """The naive interface (see the module docstring for everything it does not do)."""

    def __init__(self, mappings: Mappings, timebase: Timebase) -> None:
        self.mappings = mappings
        self.timebase = timebase
        self.reader = Hl7Reader(timebase)
        self.nightly = NightlyJobs(timebase, mappings.org_units, tuple(sorted(mappings.business_offices)))
        self.visits: dict[str, _Visit] = {}
        self.log: list[str] = []  # where failures go: a log file nobody reads
        # requests already sent a second time after a read timeout, kept alive so their ids stay theirs
        self._resent: dict[int, TargetRequest] = {}

    # -- the contract ----------------------------------------------------------------------------
    def start(self, now: SimTime) -> Outcome:
        return Outcome(timers=self.nightly.first_runs(now))

    def receive_hl7(self, payload: str, now: SimTime) -> Outcome:
        read = self.reader.read(payload)
        stamp = self.timebase.hl7(now)
        if read.rejected is not None:
            self.log.append(f"{now:.1f} rejected: {read.rejected.reason}")
            return Outcome(ack=build_ack(read.header, read.rejected.ack_code, stamp, read.rejected))
        assert read.header is not None and read.event is not None
        outcome = Outcome(ack=build_ack(read.header, "AA", stamp))
        event = read.event
        visit = self.visits.setdefault(event.visit, _Visit(event.hospital))
        remembered = self.nightly.encounters[event.visit]
        remembered.hospital = event.hospital
        if isinstance(event, PatientAdmitted):
            visit.mrn, visit.plan, visit.admitted_at = event.mrn, event.plan_code, event.at
            visit.member, visit.professional = event.member_id, event.encounter_type in ("emergency", "outpatient")
        elif isinstance(event, PatientDischarged):
            visit.discharged_at = event.at
            remembered.discharged_at = event.at
        elif isinstance(event, ChargesPosted):
            visit.lines.extend(event.lines)
            remembered.charges.extend((line.service_at, line.amount) for line in event.lines)
            outcome.requests.extend(self._issue(line) for line in event.lines if line.location)
        elif isinstance(event, CodingCompleted):
            outcome.requests.extend(self._bill(event, visit, now))
            remembered.journal_sent_at = now
        return outcome

    def receive_response(self, request: TargetRequest, response: TargetResponse, now: SimTime) -> Outcome:
        if response.ok:
            return Outcome(requests=self._follow_up(request, response))
        if response.status == TRANSPORT_FAILURE and id(request) not in self._resent:
            again = TargetRequest(request.system, request.method, request.path, request.body, "", request.correlation)
            self._resent[id(again)] = again
            return Outcome(requests=[again])  # the HTTP client's read-timeout retry
        self.log.append(f"{now:.1f} {request.method} {request.path} failed with {response.status}: dropped")
        return Outcome()

    def receive_webhook(self, source: str, body: dict[str, Any], now: SimTime) -> Outcome:
        if source != "vendor" or body.get("type") != "invoice":
            self.log.append(f"{now:.1f} ignored a document from {source}")
            return Outcome()
        invoice = {name: body.get(name) for name in ("vendor_invoice", "po", "quantity", "amount")}
        return Outcome(requests=[TargetRequest("erp", "POST", "/payables/invoices", invoice, "", str(body.get("po")))])

    def on_timer(self, now: SimTime) -> Outcome:
        requests, timers = self.nightly.due(now)
        return Outcome(requests=requests, timers=timers)

    def receive_master_data(self, change: Any, now: SimTime) -> Outcome:
        return Outcome()  # the mappings were copied at installation

    def exceptions(self) -> list[IntegrationException]:
        return []

    def dead_letters(self) -> list[DeadLetter]:
        return []

    def replay(self, message_id: str, now: SimTime, payload: str | None = None) -> Outcome:
        raise KeyError(f"no dead letter with message id {message_id!r}: this interface keeps none")

    def _follow_up(self, request: TargetRequest, response: TargetResponse) -> list[TargetRequest]:
        """What an answer sets off: a reorder below the reorder point, the PO to the vendor, the
        nightly labor file's postings."""
        if request.path == "/inventory/issues":
            position = response.body
            on_hand = int(position.get("on_hand", 0))
            if on_hand > int(position.get("reorder_point", 0)):
                return []
            order = {
                "location": request.body["location"],
                "item": request.body["item"],
                "quantity": int(position.get("par", 0)) - on_hand,  # what is on order already is not looked at
                "reference": request.correlation,
            }
            return [TargetRequest("erp", "POST", "/purchasing/orders", order, "", request.correlation)]
        if request.path == "/purchasing/orders":
            body = response.body
            order = {**request.body, "po": body["po"], "vendor": body["vendor"], "unit_price": body["unit_price"]}
            return [TargetRequest("vendor", "POST", "/orders", order, "", str(body["po"]))]
        if request.path == "/timecards":
            return self.nightly.timecards(response)
        return []

    # -- mapping, point to point -----------------------------------------------------------------
    def _issue(self, line: ChargeLine) -> TargetRequest:
        body = {
            "reference": line.txn_id,
            "location": self.mappings.storerooms.get(line.location, line.location),
            "item": self.mappings.items.get(line.code, line.code),
            "quantity": line.quantity,
            "cost_center": self.mappings.cost_centers.get(line.department, line.department),
            "case": line.case,
        }
        return TargetRequest("erp", "POST", "/inventory/issues", body, "", line.txn_id)

    def _bill(self, coding: CodingCompleted, visit: _Visit, now: SimTime) -> list[TargetRequest]:
        """Journal with receivable and claim, both at once (no waiting for the journal)."""
        payer = self.mappings.payers.get(visit.plan)
        total = sum(line.amount for line in visit.lines)
        revenue: dict[tuple[str, str], int] = {}
        for line in visit.lines:
            account = revenue_account(line.code)
            center = self.mappings.cost_centers.get(line.department, line.department)
            revenue[(account, center)] = revenue.get((account, center), 0) + line.amount
        office = self.mappings.business_offices.get(visit.hospital, visit.hospital)
        lines = [{"account": PATIENT_RECEIVABLES, "cost_center": office, "debit": total, "credit": 0}]
        lines += [
            {"account": account, "cost_center": center, "debit": 0, "credit": amount}
            for (account, center), amount in sorted(revenue.items())
            if amount
        ]
        journal = {
            "reference": coding.visit,
            "source": PATIENT_BILLING,
            "lines": lines,
            "receivable": {"customer": payer or "SELF-PAY", "invoice": coding.visit, "amount": total},
        }
        requests = [TargetRequest("erp", "POST", "/finance/journals", journal, "", coding.visit)]
        if payer is not None:
            claim = self._claim(coding, visit, payer, total, now)
            requests.append(TargetRequest("clearinghouse", "POST", "/claims", claim, "", coding.visit))
        return requests

    def _claim(self, coding: CodingCompleted, visit: _Visit, payer: str, total: int, now: SimTime) -> dict[str, Any]:
        """A FHIR R4 Claim (professional for an emergency or outpatient visit), one item per charge line as received."""
        items: list[dict[str, Any]] = [
            {
                "sequence": number,
                "productOrService": {"coding": [{"system": "urn:twin:chargemaster", "code": line.code}]},
                "quantity": {"value": max(line.quantity, 1)},
                "net": {"value": line.amount / 100, "currency": "USD"},
            }
            for number, line in enumerate(visit.lines, start=1)
        ]
        principal = {
            "sequence": 1,
            "diagnosisCodeableConcept": {
                "coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": coding.principal_dx}]
            },
        }
        if coding.drg:
            principal["packageCode"] = {"coding": [{"system": "https://www.cms.gov/ms-drg", "code": coding.drg}]}
        return {
            "resourceType": "Claim",
            "identifier": [{"system": "urn:twin:visit-number", "value": coding.visit}],
            "status": "active",
            "type": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/claim-type",
                        "code": "professional" if visit.professional else "institutional",
                    }
                ]
            },
            "use": "claim",
            "patient": {"reference": f"Patient/{visit.mrn}"},
            "billablePeriod": {
                "start": self.timebase.iso(visit.admitted_at),
                "end": self.timebase.iso(visit.discharged_at),
            },
            "created": self.timebase.iso(now),
            "insurer": {"identifier": {"system": "urn:twin:clearinghouse-payer", "value": payer}},
            "provider": {"identifier": {"system": "urn:twin:facility", "value": visit.hospital}},
            "priority": {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": "normal"}]
            },
            "insurance": [
                {
                    "sequence": 1,
                    "focal": True,
                    "coverage": {
                        "reference": f"Coverage/{coding.visit}",
                        "identifier": {"system": "urn:twin:payer-member-id", "value": visit.member},
                    },
                }
            ],
            "diagnosis": [principal],
            "item": items,
            "total": {"value": sum(line.amount for line in visit.lines) / 100, "currency": "USD"},
        }
