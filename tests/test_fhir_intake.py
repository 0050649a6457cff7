"""FHIR intake: the EHR's own FHIR reads into the events its HL7 gives; bad resources get a 4xx
OperationOutcome naming the element and land in the DLQ; replay processes a corrected one once."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from typing import Any

import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome

from mocks.ehr.fhir_view import (
    CHARGEMASTER_SYSTEM,
    DISCHARGE_DISPOSITION_SYSTEM,
    MRN_SYSTEM,
    VISIT_SYSTEM,
    charge_items,
    encounter,
)
from tests.conftest import small_scenario
from twin.domain.contract import FhirOutcome
from twin.domain.events import (
    ENCOUNTER_TYPES,
    AdmissionCancelled,
    ChargeLine,
    ChargesPosted,
    DomainEvent,
    PatientAdmitted,
    PatientDischarged,
)
from twin.domain.timebase import Timebase
from twin.integration.crosswalk import Crosswalk
from twin.integration.fhir_reader import FhirReader
from twin.integration.hl7_reader import Hl7Reader
from twin.integration.reference import ReferenceConfig, ReferenceIntegration
from twin.sim import Twin
from twin.systems import build_systems

TB = Timebase(datetime(2026, 1, 5))
# What the EHR's FHIR view does not write (see fhir_reader's docstring): read as "" from FHIR.
NOT_IN_THE_VIEW = {"admission": ("bed", "plan_code", "financial_class", "member_id"), "line": ("location", "case")}


# -- round trip -----------------------------------------------------------------------------------
Pair = tuple[DomainEvent, list[Any]]  # the HL7 path's event, the FHIR path's reads of the same fact


@pytest.fixture(scope="module")
def both_paths() -> list[Pair]:
    """Every admission (of every encounter type), discharge, cancelled registration and charge of a
    small run, as the same EHR publishes it both ways.

    The run's facts are replayed into a fresh EHR; after each one the HL7 message it sends is read by
    the HL7 reader, and the FHIR resources it then serves for that fact (the Encounter as it stands,
    the ChargeItems of the charge lines) are read by the FHIR reader. A cancelled registration's
    Encounter is stamped ``meta.lastUpdated`` as the live FHIR store stamps it: when it was published.
    """
    twin = Twin(small_scenario())
    twin.run()
    ehr = build_systems(twin.network, twin.scenario, twin.timebase).ehr
    home = {enc.mrn: enc.hospital for enc in twin.ehr.encounters.values()}
    for mrn, patient in twin.ehr.patients.items():
        ehr.register_patient(patient, home.get(mrn, "H01"))
    hl7, fhir = Hl7Reader(twin.timebase), FhirReader(twin.timebase)
    pairs: list[Pair] = []
    for fact in twin.truth:
        if not isinstance(fact, DomainEvent.__args__):  # type: ignore[attr-defined]
            continue
        messages = ehr.record(fact)
        if not isinstance(fact, PatientAdmitted | PatientDischarged | ChargesPosted | AdmissionCancelled):
            continue
        (message,) = messages
        read = hl7.read(message.payload)
        assert read.event is not None, read.rejected
        enc = ehr.encounters[fact.visit]
        if isinstance(fact, ChargesPosted):
            txns = {line.txn_id for line in fact.lines}
            resources = [item for item in charge_items(ehr, enc) if item["id"] in txns]
        elif isinstance(fact, AdmissionCancelled):
            resources = [{**encounter(ehr, enc), "meta": {"lastUpdated": twin.timebase.iso(fact.at)}}]
        else:
            resources = [encounter(ehr, enc)]
        pairs.append((read.event, [fhir.read(resource) for resource in resources]))
    return pairs


def test_the_ehrs_fhir_reads_into_the_events_its_hl7_gives(both_paths: list[Pair]) -> None:
    admitted = discharged = cancelled = lines = credits = supplies = 0
    encounter_types: set[str] = set()
    for hl7_event, reads in both_paths:
        assert all(read.rejected is None for read in reads), [read.rejected for read in reads]
        events = [read.event for read in reads]
        if isinstance(hl7_event, PatientAdmitted):
            assert events == [hl7_event._replace(**dict.fromkeys(NOT_IN_THE_VIEW["admission"], ""))]
            admitted += 1
            encounter_types.add(hl7_event.encounter_type)
        elif isinstance(hl7_event, PatientDischarged):
            assert events == [hl7_event]
            discharged += 1
        elif isinstance(hl7_event, AdmissionCancelled):
            assert events == [hl7_event]
            cancelled += 1
        else:
            assert isinstance(hl7_event, ChargesPosted)
            by_txn = {line.txn_id: line for line in hl7_event.lines}
            assert len(events) == len(by_txn)
            for event in events:
                assert isinstance(event, ChargesPosted)
                (line,) = event.lines
                assert (event.hospital, event.visit, event.at) == (hl7_event.hospital, hl7_event.visit, line.service_at)
                expected = by_txn[line.txn_id]
                assert line == expected._replace(**dict.fromkeys(NOT_IN_THE_VIEW["line"], ""))
                lines += 1
                credits += expected.reverses is not None
                supplies += bool(expected.location)
    assert admitted > 50 and discharged > 50 and lines > 1000 and credits > 0 and supplies > 0
    assert cancelled > 0 and encounter_types == set(ENCOUNTER_TYPES)


@pytest.mark.parametrize(
    ("encounter_class", "encounter_type"),
    [
        ({"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OBSENC"}, "observation"),
        ({"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "EMER"}, "emergency"),
        ({"code": "AMB"}, "outpatient"),  # no system: the code read as v3 ActCode
        ({"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "VR"}, "inpatient"),  # unknown
        ({"system": "urn:local:classes", "code": "EMER"}, "inpatient"),  # another system's EMER
    ],
)
def test_the_encounter_class_is_the_encounter_type(encounter_class: dict[str, str], encounter_type: str) -> None:
    event = FhirReader(TB).read(_with(_encounter(), "class", encounter_class)).event
    assert isinstance(event, PatientAdmitted) and event.encounter_type == encounter_type


def test_an_encounter_entered_in_error_is_a_cancelled_registration() -> None:
    """Cancelled when the server recorded it so (``meta.lastUpdated``); without meta (the view's
    own output), at the registration it voids. Billing never bills the visit."""
    voided = _with(_encounter(), "status", "entered-in-error")
    stamped = _with(voided, "meta", {"lastUpdated": TB.iso(45)})
    reader = FhirReader(TB)
    assert reader.read(stamped).event == AdmissionCancelled(45.0, "H01", "V1")
    assert reader.read(_without(voided, "location")).event == AdmissionCancelled(0.0, "H01", "V1")
    integration = _integration()
    assert integration.receive_fhir(_encounter(), 0.0).status == 200
    assert integration.receive_fhir(stamped, 45.0).status == 200
    assert integration.billing.accounts["V1"].status == "cancelled"
    assert integration.dead_letters() == []


def test_elements_the_view_does_not_write_are_read_when_present() -> None:
    """A fuller EHR writes ChargeItem.costCenter and enteredDate: they become the department and the
    posting time, so such a charge posts revenue like its HL7 twin."""
    item = _charge()
    item["costCenter"] = {"identifier": {"value": "H01-LAB"}}
    item["enteredDate"] = TB.iso(90)
    event = FhirReader(TB).read(item).event
    assert isinstance(event, ChargesPosted)
    assert (event.lines[0].department, event.at, event.lines[0].service_at) == ("H01-LAB", 90.0, 60.0)


# -- resources to feed the integration ------------------------------------------------------------
def _integration() -> ReferenceIntegration:
    crosswalk = Crosswalk(
        departments={"H01-LAB": "101-7010"}, payers={"MCR-A": "CMS-A01"}, business_offices={"H01": "101-8010"}
    )
    return ReferenceIntegration(ReferenceConfig(TB, crosswalk, 120 * 60.0))


def _encounter(status: str = "in-progress") -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": "V1",
        "identifier": [{"system": VISIT_SYSTEM, "value": "V1"}],
        "status": status,
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"reference": "Patient/M1"},
        "participant": [{"individual": {"identifier": {"system": "http://hl7.org/fhir/sid/us-npi", "value": "9"}}}],
        "period": {"start": TB.iso(0)},
        "location": [{"location": {"display": "H01-3M"}, "status": "active", "period": {"start": TB.iso(0)}}],
        "serviceProvider": {"reference": "Organization/H01"},
    }
    if status == "finished":
        resource["period"]["end"] = TB.iso(2000)
        resource["hospitalization"] = {
            "dischargeDisposition": {"coding": [{"system": DISCHARGE_DISPOSITION_SYSTEM, "code": "home"}]}
        }
    return resource


def _charge() -> dict[str, Any]:
    return {
        "resourceType": "ChargeItem",
        "id": "V1-001",
        "status": "billable",
        "code": {"coding": [{"system": CHARGEMASTER_SYSTEM, "code": "300-85025", "display": "CBC"}]},
        "subject": {"reference": "Patient/M1"},
        "context": {"reference": "Encounter/V1"},
        "occurrenceDateTime": TB.iso(60),
        "quantity": {"value": 1},
        "priceOverride": {"value": 45.0, "currency": "USD"},
        "performingOrganization": {"reference": "Organization/H01"},
    }


def test_an_admission_and_a_discharge_reach_billing() -> None:
    integration = _integration()
    assert integration.receive_fhir(_encounter(), 0.0).status == 200
    discharged = integration.receive_fhir(_encounter("finished"), 2000.0)
    assert discharged.status == 200 and discharged.timers == [2000.0 + 120 * 60]  # the coding deadline
    account = integration.billing.accounts["V1"]
    assert (account.mrn, account.admitted_at, account.discharged_at, account.status) == (
        "M1",
        0.0,
        2000.0,
        "discharged",
    )
    assert integration.dead_letters() == []


def test_mrn_from_an_identifier_and_subject_as_a_logical_reference() -> None:
    resource = _encounter()
    resource["subject"] = {"identifier": {"system": MRN_SYSTEM, "value": "M7"}}
    event = FhirReader(TB).read(resource).event
    assert isinstance(event, PatientAdmitted) and event.mrn == "M7"


def _without(resource: dict[str, Any], *path: str) -> dict[str, Any]:
    changed = copy.deepcopy(resource)
    target = changed
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return changed


def _with(resource: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    return {**copy.deepcopy(resource), key: value}


@pytest.mark.parametrize(
    ("resource", "status", "code", "expression"),
    [
        (_with(_encounter(), "period", {"start": "yesterday"}), 400, "value", "Encounter.period.start"),
        (_without(_encounter(), "status"), 400, "required", "Encounter.status"),
        (_with(_encounter(), "colour", "blue"), 400, "structure", "Encounter.colour"),
        (_with(_charge(), "quantity", {"value": "one"}), 400, "value", "ChargeItem.quantity.value"),
        (_with(_encounter(), "status", "planned"), 422, "not-supported", "Encounter.status"),
        (_without(_encounter(), "serviceProvider"), 422, "required", "Encounter.serviceProvider"),
        (_without(_encounter("finished"), "period", "end"), 422, "required", "Encounter.period.end"),
        (_with(_encounter(), "location", []), 422, "required", "Encounter.location"),
        (
            _with(_charge(), "code", {"coding": [{"system": "urn:other", "code": "x"}]}),
            422,
            "code-invalid",
            "ChargeItem.code",
        ),
        (
            _with(_charge(), "priceOverride", {"value": 45.005, "currency": "USD"}),
            422,
            "value",
            "ChargeItem.priceOverride.value",
        ),
        (_with(_charge(), "context", {"reference": "Patient/M1"}), 422, "value", "ChargeItem.context"),
        (
            _with(_charge(), "modifierExtension", [{"url": "urn:x", "valueBoolean": True}]),
            422,
            "not-supported",
            "ChargeItem.modifierExtension",
        ),
        ({"resourceType": "Patient", "id": "M1", "name": [{"family": "Zyxwvut"}]}, 422, "not-supported", "Patient"),
        ({"id": "x"}, 400, "required", "resourceType"),
    ],
)
def test_an_unreadable_resource_is_a_4xx_operation_outcome_and_a_dead_letter(
    resource: dict[str, Any], status: int, code: str, expression: str
) -> None:
    integration = _integration()
    outcome = integration.receive_fhir(resource, 5.0)
    assert outcome.status == status and not outcome.requests
    assert outcome.operation_outcome is not None
    OperationOutcome.model_validate(outcome.operation_outcome)  # it is itself valid FHIR R4
    issues = outcome.operation_outcome["issue"]
    assert any(i["code"] == code and i.get("expression") == [expression] for i in issues), issues
    assert all(i["severity"] == "error" and i["diagnostics"] for i in issues)
    (letter,) = integration.dead_letters()
    assert letter.channel == "fhir" and expression in letter.reason
    assert json.loads(letter.payload) == resource  # kept whole
    assert "Zyxwvut" not in json.dumps(outcome.operation_outcome)  # never echoes a value: it may be a name


@pytest.mark.parametrize("text", ["", "{", "null", "[]", '"Encounter"', '{"resourceType": 5}', "\ud800"])
def test_what_is_not_a_resource_is_a_400(text: str) -> None:
    integration = _integration()
    outcome = integration.receive_fhir(text, 5.0)
    assert outcome.status == 400 and outcome.operation_outcome is not None
    OperationOutcome.model_validate(outcome.operation_outcome)
    assert [letter.payload for letter in integration.dead_letters()] == [text]


def test_a_corrected_resource_replays_and_is_processed_once() -> None:
    integration = _integration()
    broken = _with(_encounter("finished"), "period", {"start": TB.iso(0), "end": "tomorrow"})
    assert integration.receive_fhir(broken, 2000.0).status == 400
    (letter,) = integration.dead_letters()
    again = integration.replay(letter.message_id, 2001.0)  # unchanged: still broken, still parked
    assert isinstance(again, FhirOutcome) and again.status == 400 and again.timers == []
    assert [(d.message_id, d.attempts) for d in integration.dead_letters()] == [("Encounter/V1", 2)]
    fixed = integration.replay("Encounter/V1", 2002.0, payload=json.dumps(_encounter("finished")))
    assert fixed.timers == [2000.0 + 120 * 60]  # processed: the discharge set its coding deadline
    assert integration.dead_letters() == []
    assert integration.billing.accounts["V1"].discharged_at == 2000.0
    resent = integration.receive_fhir(_encounter("finished"), 2003.0)
    assert resent.status == 200 and resent.timers == [] and integration.duplicates_ignored == 1
    with pytest.raises(KeyError):
        integration.replay("Encounter/V1", 2004.0)


def test_idempotency_is_per_resource_version() -> None:
    integration = _integration()
    versioned = _with(_charge(), "meta", {"versionId": "1"})
    integration.receive_fhir(versioned, 60.0)
    integration.receive_fhir(versioned, 61.0)
    assert integration.duplicates_ignored == 1
    integration.receive_fhir(_with(versioned, "meta", {"versionId": "2"}), 62.0)  # a new version: processed
    integration.receive_fhir(_with(_charge(), "meta", {"lastUpdated": TB.iso(63)}), 63.0)
    assert integration.duplicates_ignored == 1
    line: ChargeLine = integration.billing.accounts["V1"].charges["V1-001"]
    assert (line.amount, line.quantity, line.service_at) == (4500, 1, 60.0)


def test_charges_from_fhir_and_hl7_meet_in_one_account() -> None:
    """The same orchestrators: a credit read from FHIR reverses a charge read from FHIR, and billing
    validates them together."""
    integration = _integration()
    integration.receive_fhir(_charge(), 60.0)
    credit = {**_charge(), "id": "V1-002", "priceOverride": {"value": -45.0, "currency": "USD"}}
    credit["partOf"] = [{"reference": "ChargeItem/V1-001"}]
    assert integration.receive_fhir(credit, 70.0).status == 200
    charges = integration.billing.accounts["V1"].charges
    assert charges["V1-002"].reverses == "V1-001" and charges["V1-002"].amount == -4500
