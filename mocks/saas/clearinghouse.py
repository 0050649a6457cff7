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

from bisect import bisect_left
from dataclasses import dataclass
from typing import Any

from mocks.queries import answer_query, window_bounds
from twin.domain.exchange import TargetRequest, TargetResponse

CLAIM_NUMBER_SYSTEM = "urn:twin:visit-number"
SUBMISSION_SYSTEM = "urn:twin:clearinghouse-submission"  # how a replacement names the claim it replaces
RELATED_CLAIM_SYSTEM = "http://terminology.hl7.org/CodeSystem/related-claim-relationship"


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
    claim: dict[str, Any]
    replaces: str = ""  # the submission this one replaces ("" for an original claim)


class Clearinghouse:
    def __init__(self, payer_ids: tuple[str, ...]):
        self.payer_ids = set(payer_ids)
        self.submissions: list[ClaimSubmission] = []
        self.replaced_by: dict[str, str] = {}  # submission id -> the accepted submission that replaced it
        self._replies: dict[str, TargetResponse] = {}
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
                "provider": str(((s.claim.get("provider") or {}).get("identifier") or {}).get("value", "")),
                "payer": s.payer_id,
                "total": s.total,
                "billable_period_end": str((s.claim.get("billablePeriod") or {}).get("end", "")),
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
        if request.idempotency_key and request.idempotency_key in self._replies:
            return self._replies[request.idempotency_key]
        claim = request.body
        reasons = scrub(claim, self.payer_ids)
        replaces = _prior(claim)
        if replaces:
            reasons += self._replacement_problems(claim, replaces)
        submission = ClaimSubmission(
            submission_id=f"CH{len(self.submissions) + 1:08d}",
            claim_number=_claim_number(claim),
            payer_id=_payer_id(claim),
            total=_cents(claim.get("total", {}).get("value")) if isinstance(claim.get("total"), dict) else 0,
            principal_dx=_principal_dx(claim),
            drg=_drg(claim),
            line_count=len(claim.get("item", []) or []),
            received_at=now,
            accepted=not reasons,
            reasons=tuple(reasons),
            claim=claim,
            replaces=replaces,
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
            self._replies[request.idempotency_key] = response
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
    for related in claim.get("related") or []:
        if not isinstance(related, dict):
            continue
        codes = [
            c.get("code") for c in ((related.get("relationship") or {}).get("coding") or []) if isinstance(c, dict)
        ]
        identifier = (related.get("claim") or {}).get("identifier") or {}
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
    if not (claim.get("patient") or {}).get("reference"):
        reasons.append("claim has no patient")
    if not _principal_dx(claim):
        reasons.append("claim has no principal diagnosis (diagnosis sequence 1)")
    items = claim.get("item") or []
    if not items:
        reasons.append("claim has no service lines")
    line_total = 0
    for item in items:
        net = (item.get("net") or {}).get("value")
        if net is None:
            reasons.append(f"line {item.get('sequence')}: no net amount")
        else:
            line_total += _cents(net)
    total = (claim.get("total") or {}).get("value")
    if total is None:
        reasons.append("claim has no total")
    elif _cents(total) != line_total:
        reasons.append(f"total {total} does not equal the sum of the lines {line_total / 100:.2f}")
    period = claim.get("billablePeriod") or {}
    if not period.get("start") or not period.get("end"):
        reasons.append("claim has no billable period")
    return reasons


def _received_at(submission: ClaimSubmission) -> float:
    return submission.received_at


def _cents(value: Any) -> int:
    try:
        return round(float(value) * 100)
    except (TypeError, ValueError):
        return 0


def _claim_number(claim: dict[str, Any]) -> str:
    for ident in claim.get("identifier") or []:
        if ident.get("system") == CLAIM_NUMBER_SYSTEM:
            return str(ident.get("value", ""))
    return ""


def _payer_id(claim: dict[str, Any]) -> str:
    return str(((claim.get("insurer") or {}).get("identifier") or {}).get("value", ""))


def _principal_dx(claim: dict[str, Any]) -> str:
    for dx in claim.get("diagnosis") or []:
        if dx.get("sequence") == 1:
            codings = (dx.get("diagnosisCodeableConcept") or {}).get("coding") or [{}]
            return str(codings[0].get("code", ""))
    return ""


def _drg(claim: dict[str, Any]) -> str:
    """The MS-DRG, carried as the principal diagnosis's package code (FHIR R4 Claim)."""
    for dx in claim.get("diagnosis") or []:
        if dx.get("sequence") == 1:
            codings = (dx.get("packageCode") or {}).get("coding") or [{}]
            return str(codings[0].get("code", ""))
    return ""
