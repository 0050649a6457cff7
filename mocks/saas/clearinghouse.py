"""The claims clearinghouse (SaaS): receives FHIR R4 Claims, scrubs them, accepts or rejects.

Sans-IO: ``handle(request, now)``. The scrubber applies the edits clearinghouses apply before a
claim reaches a payer: a known payer, a patient, a principal diagnosis, at least one line, lines
that add up to the total, and a billable period. A rejection carries every reason, so the
integration can route it to a work queue instead of guessing.

A claim that corrects one already accepted - a charge found after the encounter was billed - is
sent as a replacement: ``Claim.related`` names the prior claim (its clearinghouse id, relationship
``prior``), as the UB-04's frequency code 7 does on paper. The clearinghouse accepts it only for an
accepted, not yet replaced claim of the same claim number, and keeps the prior one as replaced.

``GET /claims`` (body as query: ``received_from`` inclusive, ``received_before`` exclusive,
simulated minutes) lists the original claims accepted in that window (not their replacements)
with what a revenue-cycle report needs: the claim number (visit), provider, payer, total, the
billable period's end (the discharge, as the claim states it) and when the clearinghouse received it.
"""

from __future__ import annotations

import json
import zlib
from bisect import bisect_left
from dataclasses import dataclass
from typing import Any

from mocks.queries import answer_query, window_bounds
from mocks.replies import Replies
from twin.domain.exchange import TargetRequest, TargetResponse, canonical_json

CLAIM_NUMBER_SYSTEM = "urn:twin:visit-number"
SUBMISSION_SYSTEM = "urn:twin:clearinghouse-submission"  # how a replacement names the claim it replaces
RELATED_CLAIM_SYSTEM = "http://terminology.hl7.org/CodeSystem/related-claim-relationship"
# What a claim's text repeats - its keys, code systems and the shape of a line - as zlib's preset
# dictionary: a kept claim then compresses to about an eighth of its text (any JSON still round-trips;
# the dictionary only makes it smaller). Changing it changes nothing but the sizes.
CLAIM_DICTIONARY = (
    b'{"billablePeriod":{"end":"","start":""},"created":"","diagnosis":[{"diagnosisCodeableConcept":{"coding":'
    b'[{"code":"","system":"http://hl7.org/fhir/sid/icd-10-cm"}]},"packageCode":{"coding":[{"code":"","system":'
    b'"https://www.cms.gov/ms-drg"}]},"sequence":1,"type":[{"coding":[{"code":"principal","system":'
    b'"http://terminology.hl7.org/CodeSystem/ex-diagnosistype"}]}]}],"id":"claim-","identifier":[{"system":'
    b'"urn:twin:visit-number","value":""}],"insurance":[{"coverage":{"identifier":{"system":'
    b'"urn:twin:payer-member-id","value":""},"reference":"Coverage/"},"focal":true,"sequence":1}],"insurer":'
    b'{"identifier":{"system":"urn:twin:clearinghouse-payer","value":""}},"related":[{"claim":{"identifier":'
    b'{"system":"urn:twin:clearinghouse-submission","value":""}},"relationship":{"coding":[{"code":"prior",'
    b'"system":"http://terminology.hl7.org/CodeSystem/related-claim-relationship"}]}}],"patient":{"reference":'
    b'"Patient/"},"priority":{"coding":[{"code":"normal","system":"http://terminology.hl7.org/CodeSystem/'
    b'processpriority"}]},"provider":{"identifier":{"system":"urn:twin:facility","value":""}},"resourceType":'
    b'"Claim","status":"active","total":{"currency":"USD","value":.0},"type":{"coding":[{"code":"institutional",'
    b'"system":"http://terminology.hl7.org/CodeSystem/claim-type"}]},"use":"claim"},"item":[{"net":{"currency":'
    b'"USD","value":.0},"productOrService":{"coding":[{"code":"","system":"urn:twin:chargemaster"}]},"quantity":'
    b'{"value":1},"revenue":{"coding":[{"code":"0","system":"https://www.nubc.org/CodeSystem/RevenueCodes"}]},'
    b'"sequence":'
)


def pack(text: str) -> bytes:
    """A claim's JSON text as kept: zlib, fastest level, with the claim dictionary."""
    packer = zlib.compressobj(1, zdict=CLAIM_DICTIONARY)
    return packer.compress(text.encode()) + packer.flush()


def unpack(packed: bytes) -> str:
    """The claim's JSON text back, exactly as received."""
    unpacker = zlib.decompressobj(zdict=CLAIM_DICTIONARY)
    return (unpacker.decompress(packed) + unpacker.flush()).decode()


@dataclass(frozen=True, slots=True)
class ClaimSubmission:
    submission_id: str
    claim_number: str  # the encounter's visit number, from Claim.identifier
    payer_id: str
    total: int  # cents
    principal_dx: str
    drg: str
    line_count: int
    received_at: float
    accepted: bool
    reasons: tuple[str, ...]
    # The claim as it came in, as canonical FHIR JSON text (compact, keys sorted: what a run's
    # fhir/Claim.submitted.ndjson holds, written as it is), kept compressed (``pack``). A month's
    # run keeps a hundred thousand claims: as nested dicts they were the largest thing in memory (a
    # line item is six dicts); as text, 3 kB each, still the largest single thing; packed, about 0.36 kB.
    packed: bytes
    replaces: str = ""  # the submission this one replaces ("" for an original claim)
    patient: str = ""  # the MRN of Claim.patient (Patient/<mrn>)
    claim_type: str = ""  # Claim.type: institutional or professional
    period_end: str = ""  # Claim.billablePeriod.end: the discharge the claim bills
    member_id: str = ""  # the subscriber id on Claim.insurance[0].coverage.identifier
    provider: str = ""  # Claim.provider's identifier: the facility

    @property
    def document(self) -> str:
        """The claim as received, canonical JSON text (unpacked on each call)."""
        return unpack(self.packed)

    @property
    def claim(self) -> dict[str, Any]:
        """The claim resource as received (parsed again on each call: keep it if you need it twice)."""
        parsed: dict[str, Any] = json.loads(self.document)
        return parsed


class Clearinghouse:
    def __init__(self, payer_ids: tuple[str, ...]):
        self.payer_ids = set(payer_ids)
        # The payers' eligibility files: the member ids they cover. A claim naming a member id not on
        # them is rejected at the payer's front end (a 277CA rejection), as a mistyped id is.
        self.members: set[str] = set()
        self.submissions: list[ClaimSubmission] = []
        self.replaced_by: dict[str, str] = {}  # submission id -> the accepted submission that replaced it
        self._replies = Replies()
        self._by_id: dict[str, ClaimSubmission] = {}

    @property
    def accepted(self) -> list[ClaimSubmission]:
        return [s for s in self.submissions if s.accepted]

    def accepted_between(self, start: float | None, end: float | None) -> list[ClaimSubmission]:
        """Accepted claims received in ``[start, end)`` (``None``: open); submissions are kept in
        the order received, so this is a binary search."""
        low = 0 if start is None else bisect_left(self.submissions, start, key=_received_at)
        high = len(self.submissions) if end is None else bisect_left(self.submissions, end, key=_received_at)
        return [s for s in self.submissions[low:high] if s.accepted and not s.replaces]

    def _claims_report(self, query: dict[str, Any]) -> dict[str, Any]:
        start, end = window_bounds(query, "received_from", "received_before")
        claims = [
            {
                "submission_id": s.submission_id,
                "claim_number": s.claim_number,
                "provider": s.provider,
                "payer": s.payer_id,
                "total": s.total,
                "billable_period_end": s.period_end,
                "received_at": s.received_at,
            }
            for s in self.accepted_between(start, end)
        ]
        return {"claims": claims}

    def handle(self, request: TargetRequest, now: float) -> TargetResponse:
        if request.method == "GET" and request.path == "/claims":
            return answer_query(lambda: self._claims_report(request.body))
        if request.method != "POST" or request.path != "/claims":
            return TargetResponse(404, {"errors": [f"no such operation: {request.method} {request.path}"]})
        replied = self._replies.get(request.idempotency_key)
        if replied is not None:
            return replied
        claim = request.body
        try:  # what a clearinghouse receives is JSON text: a body that has none is no claim at all
            document = canonical_json(claim)
        except (TypeError, ValueError) as error:
            return TargetResponse(400, {"errors": [f"the claim is not JSON: {error}"]})
        reasons = scrub(claim, self.payer_ids)
        member = member_id(claim)
        if member and self.members and member not in self.members:
            reasons.append(f"payer front end: subscriber id {member!r} not found (eligibility)")
        replaces = _prior(claim)
        if replaces:
            reasons += self._replacement_problems(claim, replaces)
        submission = ClaimSubmission(
            submission_id=f"CH{len(self.submissions) + 1:08d}",
            claim_number=_claim_number(claim),
            payer_id=_payer_id(claim),
            total=_cents(_dict(claim.get("total")).get("value")) or 0,
            principal_dx=_principal_dx(claim),
            drg=_drg(claim),
            line_count=len(_list(claim.get("item"))),
            received_at=now,
            accepted=not reasons,
            reasons=tuple(reasons),
            packed=pack(document),
            replaces=replaces,
            patient=str(_dict(claim.get("patient")).get("reference", "")).removeprefix("Patient/"),
            claim_type=_first_code(claim.get("type")),
            member_id=member,
            period_end=str(_dict(claim.get("billablePeriod")).get("end", "")),
            provider=str(_dict(_dict(claim.get("provider")).get("identifier")).get("value", "")),
        )
        self.submissions.append(submission)
        self._by_id[submission.submission_id] = submission
        if submission.accepted and replaces:
            self.replaced_by[replaces] = submission.submission_id
        if reasons:
            response = TargetResponse(422, {"id": submission.submission_id, "status": "rejected", "reasons": reasons})
        else:
            response = TargetResponse(201, {"id": submission.submission_id, "status": "accepted"})
        if request.idempotency_key:
            self._replies.keep(request.idempotency_key, response)
        return response

    def _replacement_problems(self, claim: dict[str, Any], prior_id: str) -> list[str]:
        prior = self._by_id.get(prior_id)
        if prior is None or not prior.accepted:
            return [f"replaces {prior_id!r}, which is no accepted claim"]
        if prior.claim_number != _claim_number(claim):
            return [f"replaces {prior_id!r}, a claim of another encounter"]
        if prior_id in self.replaced_by:
            return [f"replaces {prior_id!r}, which was replaced already by {self.replaced_by[prior_id]}"]
        return []


def _prior(claim: dict[str, Any]) -> str:
    """The clearinghouse id of the claim this one replaces (``Claim.related``, relationship prior)."""
    for related in _list(claim.get("related")):
        if not isinstance(related, dict):
            continue
        codes = [c.get("code") for c in _list(_dict(related.get("relationship")).get("coding")) if isinstance(c, dict)]
        identifier = _dict(_dict(related.get("claim")).get("identifier"))
        if "prior" in codes and identifier.get("system") == SUBMISSION_SYSTEM and identifier.get("value"):
            return str(identifier["value"])
    return ""


def scrub(claim: dict[str, Any], payer_ids: set[str]) -> list[str]:
    """Every edit the claim fails, in words a billing analyst understands."""
    if claim.get("resourceType") != "Claim":
        return ["not a FHIR Claim resource"]
    reasons: list[str] = []
    if not _claim_number(claim):
        reasons.append("claim has no visit-number identifier")
    payer = _payer_id(claim)
    if payer not in payer_ids:
        reasons.append(f"unknown payer {payer!r}")
    if not _dict(claim.get("patient")).get("reference"):
        reasons.append("claim has no patient")
    if not _principal_dx(claim):
        reasons.append("claim has no principal diagnosis (diagnosis sequence 1)")
    items = claim.get("item") or []
    if not isinstance(items, list):
        reasons.append(f"item: expected a list of service lines, got {items!r}")
        items = []
    elif not items:
        reasons.append("claim has no service lines")
    line_total = 0
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            reasons.append(f"item[{index}]: expected a service line (an object), got {item!r}")
            continue
        net = _dict(item.get("net")).get("value")
        cents = _cents(net)
        if net is None:
            reasons.append(f"line {item.get('sequence')}: no net amount")
        elif cents is None:
            reasons.append(f"line {item.get('sequence')}: net amount {net!r} is not a number")
        else:
            line_total += cents
    total = _dict(claim.get("total")).get("value")
    if total is None:
        reasons.append("claim has no total")
    elif _cents(total) is None:
        reasons.append(f"total {total!r} is not a number")
    elif _cents(total) != line_total:
        reasons.append(f"total {total} does not equal the sum of the lines {line_total / 100:.2f}")
    period = _dict(claim.get("billablePeriod"))
    if not period.get("start") or not period.get("end"):
        reasons.append("claim has no billable period")
    return reasons


def _received_at(submission: ClaimSubmission) -> float:
    return submission.received_at


def _cents(value: Any) -> int | None:
    """A FHIR decimal (a JSON number) in cents; ``None`` when it is none: text, ``true``, NaN, infinite."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return round(float(value) * 100)
    except (ValueError, OverflowError):
        return None


# A claim is whatever JSON the submitter sent: its readers take an element of another shape than
# FHIR's (a string where an object belongs) as absent, and the scrubber's reasons say what is missing.
def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _claim_number(claim: dict[str, Any]) -> str:
    for ident in _list(claim.get("identifier")):
        if isinstance(ident, dict) and ident.get("system") == CLAIM_NUMBER_SYSTEM:
            return str(ident.get("value", ""))
    return ""


def member_id(claim: dict[str, Any]) -> str:
    """The subscriber id the claim names: ``insurance[0].coverage.identifier.value`` ("" for none)."""
    insurance = _list(claim.get("insurance"))
    coverage = _dict(_dict(insurance[0] if insurance else {}).get("coverage"))
    return str(_dict(coverage.get("identifier")).get("value", ""))


def _first_code(concept: Any) -> str:
    """The first code of a CodeableConcept ("" when there is none)."""
    codings = _list(_dict(concept).get("coding")) or [{}]
    return str(_dict(codings[0]).get("code", ""))


def _payer_id(claim: dict[str, Any]) -> str:
    return str(_dict(_dict(claim.get("insurer")).get("identifier")).get("value", ""))


def _principal_dx(claim: dict[str, Any]) -> str:
    return _principal_code(claim, "diagnosisCodeableConcept")


def _drg(claim: dict[str, Any]) -> str:
    """The MS-DRG, carried as the principal diagnosis's package code (FHIR R4 Claim)."""
    return _principal_code(claim, "packageCode")


def _principal_code(claim: dict[str, Any], element: str) -> str:
    """The first code of ``element`` of the principal diagnosis (sequence 1)."""
    for dx in _list(claim.get("diagnosis")):
        if isinstance(dx, dict) and dx.get("sequence") == 1:
            codings = _list(_dict(dx.get(element)).get("coding")) or [{}]
            return str(_dict(codings[0]).get("code", ""))
    return ""
