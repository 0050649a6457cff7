"""Builds what discharge-to-billing sends: the ERP revenue journal and the FHIR R4 Claim.

Both are derived from one encounter's net charges, so the journal and the claim agree to the cent
by construction; the harness then checks that they also agree with what really happened.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from twin.domain.accounts import PATIENT_BILLING, PATIENT_RECEIVABLES
from twin.domain.events import ChargeLine
from twin.domain.timebase import Timebase
from twin.integration.crosswalk import Crosswalk, revenue_account, revenue_code

CLAIM_NUMBER_SYSTEM = "urn:twin:visit-number"
PAYER_SYSTEM = "urn:twin:clearinghouse-payer"
FACILITY_SYSTEM = "urn:twin:facility"
CHARGEMASTER_SYSTEM = "urn:twin:chargemaster"
ICD10_SYSTEM = "http://hl7.org/fhir/sid/icd-10-cm"
DRG_SYSTEM = "https://www.cms.gov/ms-drg"
REVENUE_SYSTEM = "https://www.nubc.org/CodeSystem/RevenueCodes"
SUBMISSION_SYSTEM = "urn:twin:clearinghouse-submission"  # the clearinghouse's ids of the claims it received
RELATED_CLAIM_SYSTEM = "http://terminology.hl7.org/CodeSystem/related-claim-relationship"


def revenue_by_cost_center(lines: Iterable[ChargeLine], crosswalk: Crosswalk) -> dict[tuple[str, str], int]:
    """Net revenue per (GL account, cost center); raises ``Unmapped`` for an unknown department."""
    totals: dict[tuple[str, str], int] = {}
    for line in lines:
        key = (revenue_account(line.code), crosswalk.cost_center(line.department))
        totals[key] = totals.get(key, 0) + line.amount
    return totals


def journal_body(
    visit: str, hospital: str, customer: str, lines: Iterable[ChargeLine], crosswalk: Crosswalk
) -> dict[str, Any]:
    """A balanced patient-revenue journal: debit receivables, credit revenue per cost center (an
    adjustment's credits reverse: a revenue debit, a receivable credit). No line for an account
    that nets to nothing."""
    revenue = revenue_by_cost_center(lines, crosswalk)
    total = sum(revenue.values())
    journal_lines: list[dict[str, Any]] = []
    if total:
        journal_lines.append(_line(PATIENT_RECEIVABLES, crosswalk.business_office(hospital), total))
    for (account, center), amount in sorted(revenue.items()):
        if amount:
            journal_lines.append(_line(account, center, -amount))
    return {
        "reference": visit,
        "source": PATIENT_BILLING,
        "lines": journal_lines,
        "receivable": {"customer": customer, "invoice": visit, "amount": total},
    }


def _line(account: str, cost_center: str, debit: int) -> dict[str, Any]:
    """A journal line; a negative debit is a credit."""
    return {"account": account, "cost_center": cost_center, "debit": max(debit, 0), "credit": max(-debit, 0)}


MEMBER_SYSTEM = "urn:twin:payer-member-id"


def _coverage(visit: str, member_id: str) -> dict[str, Any]:
    """The visit's Coverage, with the subscriber id the payer knows the patient by (IN1-36)."""
    coverage: dict[str, Any] = {"reference": f"Coverage/{visit}"}
    if member_id:
        coverage["identifier"] = {"system": MEMBER_SYSTEM, "value": member_id}
    return coverage


def claim_type(encounter_type: str) -> str:
    """FHIR claim-type of an encounter's claim: a stay (inpatient, observation) bills on an
    institutional claim; an emergency or outpatient visit on a professional one."""
    return "professional" if encounter_type in ("emergency", "outpatient") else "institutional"


def claim_resource(
    *,
    visit: str,
    hospital: str,
    mrn: str,
    payer_id: str,
    admitted_at: float,
    discharged_at: float,
    principal_dx: str,
    secondary_dx: tuple[str, ...],
    drg: str,
    lines: Iterable[ChargeLine],
    created_at: float,
    timebase: Timebase,
    replaces: str = "",
    claim_type: str = "institutional",
    member_id: str = "",
) -> dict[str, Any]:
    """A FHIR R4 Claim (``claim_type`` institutional or professional) with one item per chargemaster
    code (net of credits) and the DRG, when the visit has one, as the principal diagnosis's package
    code; ``replaces``: the clearinghouse id of the claim this one replaces (``Claim.related``, prior)."""
    grouped: dict[str, list[int]] = {}
    for line in lines:
        amount_quantity = grouped.setdefault(line.code, [0, 0])
        amount_quantity[0] += line.amount
        amount_quantity[1] += line.quantity if line.amount >= 0 else -line.quantity
    items: list[dict[str, Any]] = []
    for code in sorted(grouped):
        amount, quantity = grouped[code]
        if amount == 0:
            continue
        items.append(
            {
                "sequence": len(items) + 1,
                "revenue": {"coding": [{"system": REVENUE_SYSTEM, "code": revenue_code(code)}]},
                "productOrService": {"coding": [{"system": CHARGEMASTER_SYSTEM, "code": code}]},
                "quantity": {"value": max(quantity, 1)},
                "net": {"value": amount / 100, "currency": "USD"},
            }
        )
    total = sum(amount for amount, _ in grouped.values())
    principal: dict[str, Any] = {
        "sequence": 1,
        "diagnosisCodeableConcept": {"coding": [{"system": ICD10_SYSTEM, "code": principal_dx}]},
        "type": [
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/ex-diagnosistype", "code": "principal"}]}
        ],
    }
    if drg:
        principal["packageCode"] = {"coding": [{"system": DRG_SYSTEM, "code": drg}]}
    diagnoses: list[dict[str, Any]] = [principal]
    for sequence, code in enumerate(secondary_dx, start=2):
        diagnoses.append(
            {"sequence": sequence, "diagnosisCodeableConcept": {"coding": [{"system": ICD10_SYSTEM, "code": code}]}}
        )
    claim: dict[str, Any] = {
        "resourceType": "Claim",
        "id": f"claim-{visit}",
        "identifier": [{"system": CLAIM_NUMBER_SYSTEM, "value": visit}],
        "status": "active",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": claim_type}]},
        "use": "claim",
        "patient": {"reference": f"Patient/{mrn}"},
        "billablePeriod": {"start": timebase.iso(admitted_at), "end": timebase.iso(discharged_at)},
        "created": timebase.iso(created_at),
        "insurer": {"identifier": {"system": PAYER_SYSTEM, "value": payer_id}},
        "provider": {"identifier": {"system": FACILITY_SYSTEM, "value": hospital}},
        "priority": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": "normal"}]},
        "insurance": [{"sequence": 1, "focal": True, "coverage": _coverage(visit, member_id)}],
        "diagnosis": diagnoses,
        "item": items,
        "total": {"value": total / 100, "currency": "USD"},
    }
    if replaces:
        claim["related"] = [
            {
                "claim": {"identifier": {"system": SUBMISSION_SYSTEM, "value": replaces}},
                "relationship": {"coding": [{"system": RELATED_CLAIM_SYSTEM, "code": "prior"}]},
            }
        ]
    return claim
