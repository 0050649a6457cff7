"""The EHR's facts as FHIR R4 resources (plain JSON dicts).

The EHR keeps its chart as Python objects; this view renders them as Organization, Patient,
Coverage, Encounter, ChargeItem and Claim, the way a FHIR API or bulk export ($export, NDJSON)
would serve them. Building dicts is cheap; ``fhir.resources`` validates them in the tests and at
the live boundary, not on every simulated event.

What the ADT vocabulary beyond admit/transfer/discharge does to the resources:

- the encounter type is ``Encounter.class`` (v3 ActCode, ``ENCOUNTER_CLASS``): IMP inpatient,
  OBSENC observation, EMER emergency, AMB outpatient;
- a registration entered in error (A11) is an Encounter and Coverage with status
  ``entered-in-error``, and never has a Claim;
- a coverage update (A08) changes the visit's Coverage (``class`` plan, ``payor``) and the payer
  its Claim goes to: the plan current on the chart, not the one the patient registered with;
- a cancelled discharge (A13) makes the Encounter ``in-progress`` again (no ``period.end``, no
  disposition) until the next discharge; a cancelled transfer (A12) is gone from its locations;
- a merge (A40) moves the visit's resources to the surviving MRN, and the merged-away MRN's
  Patient becomes ``active: false`` with a ``link`` of type ``replaced-by`` to the survivor (R4
  Patient.link), so a client holding the old reference finds where the record went. The survivor
  carries no ``replaces`` link back: the EHR records merges on the visit they moved, not on the
  patient, and a survivor's Patient is rendered with any of its visits, so it could only carry
  them if every render looked through every chart. The EHR's merges move one visit per merged MRN
  (the merged MRN's only one), so a merged-away Patient is rendered from that visit's chart.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mocks.ehr.ehr import Ehr, Encounter
from twin.domain.model import Hospital, Payer

CHARGEMASTER_SYSTEM = "urn:twin:chargemaster"
MRN_SYSTEM = "urn:twin:mrn"
VISIT_SYSTEM = "urn:twin:visit-number"
ICD10_SYSTEM = "http://hl7.org/fhir/sid/icd-10-cm"
DRG_SYSTEM = "https://www.cms.gov/ms-drg"
ACT_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
DISCHARGE_DISPOSITION_SYSTEM = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
_DISPOSITION = {"01": "home", "06": "hosp", "03": "snf", "20": "exp"}
# encounter type -> Encounter.class (v3 ActCode: code, display)
ENCOUNTER_CLASS = {
    "inpatient": ("IMP", "inpatient encounter"),
    "observation": ("OBSENC", "observation encounter"),
    "emergency": ("EMER", "emergency"),
    "outpatient": ("AMB", "ambulatory"),
}
SELF_PAY_CLASS = "SP"  # the financial class of self-pay plans (no payer to bill)

JSON = dict[str, Any]


RESOURCE_TYPES = ("Organization", "Patient", "Coverage", "Encounter", "ChargeItem", "Claim")  # what the EHR holds


def ehr_resources(ehr: Ehr, hospitals: tuple[Hospital, ...], payers: tuple[Payer, ...]) -> dict[str, list[JSON]]:
    """Every resource the EHR holds, grouped by resource type, in a stable order."""
    resources: dict[str, list[JSON]] = {kind: [] for kind in RESOURCE_TYPES}
    for kind, resource in ehr_resource_stream(ehr, hospitals, payers):
        resources[kind].append(resource)
    return resources


def ehr_resource_stream(
    ehr: Ehr, hospitals: tuple[Hospital, ...], payers: tuple[Payer, ...]
) -> Iterator[tuple[str, JSON]]:
    """``ehr_resources`` one (type, resource) at a time, each type's in the same order: a writer
    that writes them as they come never holds a month's charge items at once."""
    for h in hospitals:
        yield "Organization", organization(h.code, h.name)
    for p in payers:
        if not p.self_pay:
            yield "Organization", organization(f"payer-{p.plan_code}", p.name, payer=True)
    replaced_by = {merged: enc.mrn for enc in ehr.encounters.values() for merged in enc.merged_mrns}
    for mrn in ehr.patients:
        yield "Patient", patient(ehr, mrn, replaced_by.get(mrn))
    for enc in ehr.encounters.values():
        yield "Coverage", coverage(ehr, enc)
        yield "Encounter", encounter(ehr, enc)
        for item in charge_items(ehr, enc):
            yield "ChargeItem", item
        if _billable(ehr, enc):
            yield "Claim", claim(ehr, enc)


def chart_resources(ehr: Ehr, visit: str) -> list[JSON]:
    """One encounter's resources as ``ehr_resources`` renders them (patient, the patients merged
    into it with this visit, coverage, encounter, charge items, and the claim once coded and
    discharged, unless self-pay or cancelled): what an event on the visit may have changed, for
    the live FHIR store to publish after it."""
    enc = ehr.encounters[visit]
    resources = [patient(ehr, enc.mrn), *(patient(ehr, merged, enc.mrn) for merged in enc.merged_mrns)]
    resources += [coverage(ehr, enc), encounter(ehr, enc), *charge_items(ehr, enc)]
    if _billable(ehr, enc):
        resources.append(claim(ehr, enc))
    return resources


def _billable(ehr: Ehr, enc: Encounter) -> bool:
    """Whether the EHR has a claim for the visit: coded, discharged, not cancelled, a payer to bill."""
    return enc.coding is not None and enc.discharged_at is not None and not enc.cancelled and not plan(ehr, enc)[2]


def plan(ehr: Ehr, enc: Encounter) -> tuple[str, str, bool]:
    """The plan the visit is under now (an A08 may have changed it): code, name, self-pay."""
    registered = ehr.patients[enc.mrn].payer
    if not enc.plan_code or enc.plan_code == registered.plan_code:
        return registered.plan_code, registered.name, registered.self_pay
    name = ehr._plan_names.get(enc.plan_code, enc.plan_code)
    return enc.plan_code, name, enc.financial_class == SELF_PAY_CLASS


def organization(identifier: str, name: str, payer: bool = False) -> JSON:
    kind = "pay" if payer else "prov"
    return {
        "resourceType": "Organization",
        "id": identifier,
        "active": True,
        "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type", "code": kind}]}],
        "name": name,
    }


def patient(ehr: Ehr, mrn: str, replaced_by: str | None = None) -> JSON:
    """The patient's record; ``replaced_by``: the MRN it was merged into (A40), which it then points to."""
    p = ehr.patients[mrn]
    resource: JSON = {
        "resourceType": "Patient",
        "id": mrn,
        "identifier": [{"system": MRN_SYSTEM, "value": mrn}],
        "active": replaced_by is None,
        "name": [{"family": p.family, "given": [p.given]}],
        "gender": "female" if p.sex == "F" else "male",
        "birthDate": f"{p.birth_date[:4]}-{p.birth_date[4:6]}-{p.birth_date[6:8]}",
    }
    if replaced_by is not None:
        resource["link"] = [{"other": {"reference": f"Patient/{replaced_by}"}, "type": "replaced-by"}]
    return resource


def coverage(ehr: Ehr, enc: Encounter) -> JSON:
    """The visit's coverage: the plan it is under now."""
    plan_code, plan_name, self_pay = plan(ehr, enc)
    resource: JSON = {
        "resourceType": "Coverage",
        "id": enc.visit,
        "status": "entered-in-error" if enc.cancelled else "active",
        "beneficiary": {"reference": f"Patient/{enc.mrn}"},
        "subscriberId": ehr.patients[enc.mrn].member_id,
        "payor": [
            {"reference": f"Patient/{enc.mrn}"} if self_pay else {"reference": f"Organization/payer-{plan_code}"}
        ],
        "class": [
            {
                "type": {
                    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/coverage-class", "code": "plan"}]
                },
                "value": plan_code,
                "name": plan_name,
            }
        ],
    }
    return resource


def encounter(ehr: Ehr, enc: Encounter) -> JSON:
    tb = ehr.timebase
    period: JSON = {"start": tb.iso(enc.admitted_at)}
    if enc.discharged_at is not None:
        period["end"] = tb.iso(enc.discharged_at)
    locations = []
    for index, (at, unit) in enumerate(enc.unit_history):
        until = enc.unit_history[index + 1][0] if index + 1 < len(enc.unit_history) else enc.discharged_at
        loc_period: JSON = {"start": tb.iso(at)}
        if until is not None:
            loc_period["end"] = tb.iso(until)
        locations.append(
            {
                "location": {"display": unit},
                "status": "completed" if until is not None else "active",
                "period": loc_period,
            }
        )
    status = "finished" if enc.discharged_at is not None else "in-progress"
    if enc.cancelled:  # the registration was entered in error (A11): the visit never happened
        status = "entered-in-error"
    class_code, class_display = ENCOUNTER_CLASS[enc.encounter_type]
    resource: JSON = {
        "resourceType": "Encounter",
        "id": enc.visit,
        "identifier": [{"system": VISIT_SYSTEM, "value": enc.visit}],
        "status": status,
        "class": {"system": ACT_CODE_SYSTEM, "code": class_code, "display": class_display},
        "subject": {"reference": f"Patient/{enc.mrn}"},
        "participant": [
            {"individual": {"identifier": {"system": "http://hl7.org/fhir/sid/us-npi", "value": enc.attending}}}
        ],
        "period": period,
        "location": locations,
        "serviceProvider": {"reference": f"Organization/{enc.hospital}"},
    }
    if enc.discharged_at is not None:
        code = _DISPOSITION.get(enc.disposition, "oth")
        resource["hospitalization"] = {
            "dischargeDisposition": {"coding": [{"system": DISCHARGE_DISPOSITION_SYSTEM, "code": code}]}
        }
    if enc.coding is not None:
        resource["diagnosis"] = [
            {"condition": {"display": code}, "rank": rank}
            for rank, code in enumerate((enc.coding.principal_dx, *enc.coding.secondary_dx), start=1)
        ]
    return resource


DEPARTMENT_SYSTEM = "urn:twin:ehr-department"  # the EHR's own department codes (performing department)


def charge_items(ehr: Ehr, enc: Encounter) -> list[JSON]:
    tb = ehr.timebase
    items = []
    for line in enc.charges:
        item: JSON = {
            "resourceType": "ChargeItem",
            "id": line.txn_id,
            "status": "billable",
            "code": {
                "coding": [
                    {"system": CHARGEMASTER_SYSTEM, "code": line.code, "display": ehr.charge_description(line.code)}
                ]
            },
            "subject": {"reference": f"Patient/{enc.mrn}"},
            "context": {"reference": f"Encounter/{enc.visit}"},
            "occurrenceDateTime": tb.iso(line.service_at),
            "quantity": {"value": line.quantity},
            "priceOverride": {"value": line.amount / 100, "currency": "USD"},
            "performingOrganization": {"reference": f"Organization/{enc.hospital}"},
            "costCenter": {"identifier": {"system": DEPARTMENT_SYSTEM, "value": line.department}},
            "account": [{"display": enc.visit}],
        }
        if line.reverses:
            item["partOf"] = [{"reference": f"ChargeItem/{line.reverses}"}]
            item["overrideReason"] = "credit reversing a charge posted in error"
        items.append(item)
    return items


def claim(ehr: Ehr, enc: Encounter) -> JSON:
    """The EHR's billing-ready claim for a coded encounter (what patient accounting would drop), to
    the payer of the plan the visit is under now."""
    tb = ehr.timebase
    plan_code = plan(ehr, enc)[0]
    coding = enc.coding
    assert coding is not None and enc.discharged_at is not None
    total = sum(line.amount for line in enc.charges)
    return {
        "resourceType": "Claim",
        "id": f"ehr-{enc.visit}",
        "identifier": [{"system": VISIT_SYSTEM, "value": enc.visit}],
        "status": "active",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "institutional"}]},
        "use": "claim",
        "patient": {"reference": f"Patient/{enc.mrn}"},
        "billablePeriod": {"start": tb.iso(enc.admitted_at), "end": tb.iso(enc.discharged_at)},
        "created": tb.iso(coding.at),
        "insurer": {"reference": f"Organization/payer-{plan_code}"},
        "provider": {"reference": f"Organization/{enc.hospital}"},
        "priority": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": "normal"}]},
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": f"Coverage/{enc.visit}"}}],
        "diagnosis": [
            {"sequence": rank, "diagnosisCodeableConcept": {"coding": [{"system": ICD10_SYSTEM, "code": code}]}}
            for rank, code in enumerate((coding.principal_dx, *coding.secondary_dx), start=1)
        ],
        "item": [
            {
                "sequence": n,
                "productOrService": {"coding": [{"system": CHARGEMASTER_SYSTEM, "code": line.code}]},
                "quantity": {"value": line.quantity},
                "net": {"value": line.amount / 100, "currency": "USD"},
            }
            for n, line in enumerate(enc.charges, start=1)
        ],
        "total": {"value": total / 100, "currency": "USD"},
    }
