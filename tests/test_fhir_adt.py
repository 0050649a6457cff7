"""The EHR's FHIR view of the ADT vocabulary beyond admit/transfer/discharge: the encounter class of
each encounter type, a cancelled registration (A11), a coverage update (A08), a cancelled discharge
(A13) and a merge (A40) - on one chart built here, rendered as FHIR R4 (and valid as such), served by
the FHIR store, and read back by the integration's FHIR reader where it reads them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from mocks.ehr.ehr import Ehr
from mocks.ehr.fhir_store import FhirStore
from mocks.ehr.fhir_view import chart_resources, ehr_resources
from tests.conftest import small_scenario
from twin.domain.events import (
    AdmissionCancelled,
    CodingCompleted,
    DischargeCancelled,
    PatientAdmitted,
    PatientDischarged,
    PatientsMerged,
    PatientUpdated,
)
from twin.domain.model import Patient
from twin.domain.timebase import Timebase
from twin.integration.fhir_reader import FhirReader
from twin.sim import Twin

JSON = dict[str, Any]
TB = Timebase(datetime(2026, 1, 5))
T0 = "2026-01-05T00:00:00+00:00"
LOCATION = {"inpatient": "H01-4M", "observation": "H01-4M", "emergency": "H01-EMER", "outpatient": "H01-IMAG"}


class Chart:
    """A fresh EHR of the small scenario's network, and the visits recorded on it here."""

    def __init__(self) -> None:
        twin = Twin(small_scenario())
        self.ehr: Ehr = twin.ehr
        self.network = twin.network
        self.payers = {p.plan_code: p for p in twin.network.payers}
        self.npi = twin.network.hospitals[0].providers[0].npi

    def patient(self, mrn: str, plan: str = "MCR-A") -> str:
        self.ehr.register_patient(Patient(mrn, "Doe", "Jo", "19700101", "F", self.payers[plan], "M-1"), "H01")
        return mrn

    def admit(self, visit: str, mrn: str, encounter_type: str = "inpatient", at: float = 0.0) -> None:
        payer = self.ehr.patients[mrn].payer
        location, bed = LOCATION[encounter_type], "001-A" if encounter_type in ("inpatient", "observation") else ""
        self.ehr.record(
            PatientAdmitted(at, "H01", visit, mrn, location, bed, self.npi, payer.plan_code, payer.financial_class,
                            encounter_type)
        )  # fmt: skip

    def discharge(self, visit: str, at: float) -> None:
        self.ehr.record(PatientDischarged(at, "H01", visit, self.ehr.encounters[visit].unit, "01"))

    def code(self, visit: str, at: float) -> None:
        self.ehr.record(CodingCompleted(at, "H01", visit, "I10", (), "", False))

    def resources(self, visit: str) -> dict[tuple[str, str], JSON]:
        """The visit's chart as FHIR, each resource validated against its R4B model."""
        resources = {(r["resourceType"], r["id"]): r for r in chart_resources(self.ehr, visit)}
        for (kind, _), resource in resources.items():
            get_fhir_model_class(kind).model_validate(resource)
        return resources


def test_each_encounter_type_is_its_encounter_class_and_reads_back() -> None:
    chart, reader = Chart(), FhirReader(TB)
    classes = {}
    for n, encounter_type in enumerate(("inpatient", "observation", "emergency", "outpatient"), start=1):
        visit = f"H01V000000{n}"
        chart.admit(visit, chart.patient(f"H01M000000{n}"), encounter_type)
        resource = chart.resources(visit)["Encounter", visit]
        classes[encounter_type] = resource["class"]["code"]
        event = reader.read(resource).event
        assert isinstance(event, PatientAdmitted) and event.encounter_type == encounter_type
    assert classes == {"inpatient": "IMP", "observation": "OBSENC", "emergency": "EMER", "outpatient": "AMB"}


def test_a_cancelled_registration_is_entered_in_error_and_never_claims() -> None:
    chart = Chart()
    chart.admit("H01V0000001", chart.patient("H01M0000001"), "emergency")
    chart.ehr.record(AdmissionCancelled(30.0, "H01", "H01V0000001"))
    chart.discharge("H01V0000001", 60.0)  # whatever the chart holds afterwards, the visit never happened
    chart.code("H01V0000001", 90.0)
    resources = chart.resources("H01V0000001")
    assert resources["Encounter", "H01V0000001"]["status"] == "entered-in-error"
    assert resources["Coverage", "H01V0000001"]["status"] == "entered-in-error"
    assert not any(kind == "Claim" for kind, _ in resources)
    read = FhirReader(TB).read(resources["Encounter", "H01V0000001"])
    assert read.event == AdmissionCancelled(0.0, "H01", "H01V0000001")  # no meta: at the registration voided


def test_coverage_and_the_claim_follow_an_insurance_update() -> None:
    chart = Chart()
    mrn = chart.patient("H01M0000001", "MCR-A")
    chart.admit("H01V0000001", mrn)
    chart.ehr.record(PatientUpdated(100.0, "H01", "H01V0000001", mrn, "COM-BLU", "COM"))
    chart.discharge("H01V0000001", 2000.0)
    chart.code("H01V0000001", 3000.0)
    resources = chart.resources("H01V0000001")
    coverage = resources["Coverage", "H01V0000001"]
    assert coverage["payor"] == [{"reference": "Organization/payer-COM-BLU"}]
    assert (coverage["class"][0]["value"], coverage["class"][0]["name"]) == ("COM-BLU", "Blue Plan PPO")
    assert resources["Claim", "ehr-H01V0000001"]["insurer"] == {"reference": "Organization/payer-COM-BLU"}
    # moved to self-pay: the patient pays, and there is no claim
    other = chart.patient("H01M0000002", "COM-AET")
    chart.admit("H01V0000002", other)
    chart.ehr.record(PatientUpdated(100.0, "H01", "H01V0000002", other, "SP", "SP"))
    chart.discharge("H01V0000002", 2000.0)
    chart.code("H01V0000002", 3000.0)
    resources = chart.resources("H01V0000002")
    assert resources["Coverage", "H01V0000002"]["payor"] == [{"reference": f"Patient/{other}"}]
    assert not any(kind == "Claim" for kind, _ in resources)
    everything = ehr_resources(chart.ehr, chart.network.hospitals, chart.network.payers)
    organizations = {r["id"] for r in everything["Organization"]}
    assert "payer-COM-BLU" in organizations  # what the coverage and the claim refer to is there


def test_a_cancelled_discharge_reopens_the_encounter_until_the_next_discharge() -> None:
    chart, store, reader = Chart(), FhirStore(), FhirReader(TB)
    chart.admit("H01V0000001", chart.patient("H01M0000001"))
    chart.discharge("H01V0000001", 2000.0)
    store.publish(chart_resources(chart.ehr, "H01V0000001"), TB.iso(2000.0))
    chart.ehr.record(DischargeCancelled(2060.0, "H01", "H01V0000001", "H01-4M", "001-A"))
    store.publish(chart_resources(chart.ehr, "H01V0000001"), TB.iso(2060.0))
    reopened = chart.resources("H01V0000001")["Encounter", "H01V0000001"]
    assert reopened["status"] == "in-progress" and "end" not in reopened["period"]
    assert "hospitalization" not in reopened and reopened["location"][-1]["status"] == "active"
    chart.discharge("H01V0000001", 2500.0)
    store.publish(chart_resources(chart.ehr, "H01V0000001"), TB.iso(2500.0))
    versions = store.versions("Encounter", "H01V0000001")
    assert [(v["status"], v["period"].get("end")) for v in versions] == [
        ("finished", TB.iso(2000.0)),
        ("in-progress", None),
        ("finished", TB.iso(2500.0)),
    ]
    event = reader.read(versions[-1]).event
    assert isinstance(event, PatientDischarged) and event.at == 2500.0


def test_a_merged_away_patient_is_inactive_and_replaced_by_the_survivor() -> None:
    chart, store = Chart(), FhirStore()
    duplicate = chart.patient("H01M0000001")
    chart.admit("H01V0000001", duplicate)
    chart.discharge("H01V0000001", 2000.0)
    store.publish(chart_resources(chart.ehr, "H01V0000001"), TB.iso(2000.0))
    survivor = chart.patient("H01M9000001")
    chart.ehr.record(PatientsMerged(2100.0, "H01", "H01V0000001", survivor, duplicate))
    written = store.publish(chart_resources(chart.ehr, "H01V0000001"), TB.iso(2100.0))
    assert f"Patient/{duplicate}/_history/2" in written and f"Patient/{survivor}/_history/1" in written
    resources = chart.resources("H01V0000001")
    assert resources["Patient", duplicate]["active"] is False
    assert resources["Patient", duplicate]["link"] == [
        {"other": {"reference": f"Patient/{survivor}"}, "type": "replaced-by"}
    ]
    assert resources["Patient", survivor]["active"] is True and "link" not in resources["Patient", survivor]
    assert resources["Encounter", "H01V0000001"]["subject"] == {"reference": f"Patient/{survivor}"}
    assert resources["Coverage", "H01V0000001"]["beneficiary"] == {"reference": f"Patient/{survivor}"}

    def found(kind: str, *pairs: tuple[str, str]) -> set[str]:
        answer = store.search(kind, list(pairs), strict=True)
        return {entry["resource"]["id"] for entry in answer.body.get("entry", [])}

    assert found("Patient", ("active", "false")) == {duplicate}
    assert found("Patient", ("link", f"Patient/{survivor}")) == {duplicate}
    assert found("Encounter", ("patient", survivor)) == {"H01V0000001"}
    assert found("Encounter", ("patient", duplicate)) == set()
