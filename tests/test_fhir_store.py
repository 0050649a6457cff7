"""The EHR's FHIR store without a socket: versions, conditional writes, search semantics, paging, outcomes.

Search results are compared with sets worked out by hand from a few resources built here, so each
prefix, modifier and reference form has an answer that a wrong implementation would miss.
"""

from __future__ import annotations

from itertools import chain
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient

from mocks.ehr.fhir_store import FhirAnswer, FhirStore, http_date
from mocks.ehr.fhir_view import MRN_SYSTEM, VISIT_SYSTEM, chart_resources, ehr_resources
from tests.conftest import small_scenario
from twin.sim import Twin

T0 = "2026-01-05T00:00:00.000+00:00"
T1 = "2026-01-06T12:00:00.000+00:00"
T2 = "2026-01-07T12:00:00.000+00:00"
BASE = "http://ehr.test/fhir"
JSON = dict[str, Any]


def patient(mrn: str, family: str, given: str = "Ann", birth: str = "1950-03-02", gender: str = "female") -> JSON:
    return {
        "resourceType": "Patient",
        "id": mrn,
        "identifier": [{"system": MRN_SYSTEM, "value": mrn}],
        "name": [{"family": family, "given": [given]}],
        "gender": gender,
        "birthDate": birth,
    }


def encounter(visit: str, mrn: str, start: str, end: str | None = None, hospital: str = "H01") -> JSON:
    period = {"start": start, **({"end": end} if end else {})}
    return {
        "resourceType": "Encounter",
        "id": visit,
        "identifier": [{"system": VISIT_SYSTEM, "value": visit}],
        "status": "finished" if end else "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"reference": f"Patient/{mrn}"},
        "period": period,
        "serviceProvider": {"reference": f"Organization/{hospital}"},
    }


def charge(txn: str, visit: str, mrn: str, code: str, at: str) -> JSON:
    return {
        "resourceType": "ChargeItem",
        "id": txn,
        "status": "billable",
        "code": {"coding": [{"system": "urn:twin:chargemaster", "code": code}]},
        "subject": {"reference": f"Patient/{mrn}"},
        "context": {"reference": f"Encounter/{visit}"},
        "occurrenceDateTime": at,
    }


@pytest.fixture
def store() -> FhirStore:
    s = FhirStore()
    s.publish(
        [
            patient("M1", "Smith", "Ann", "1950-03-02"),
            patient("M2", "Smithers", "Bob", "1950-11-20", "male"),
            patient("M3", "Jones", "Cy", "1987-06-15", "male"),
            encounter("V1", "M1", "2026-01-02T10:00:00+00:00", "2026-01-04T10:00:00+00:00"),
            encounter("V2", "M2", "2026-01-05T08:00:00+00:00", hospital="H02"),
            encounter("V3", "M1", "2026-01-03T06:00:00+00:00", "2026-01-03T18:00:00+00:00"),
            charge("C1", "V1", "M1", "300", "2026-01-03T10:00:00+00:00"),
            charge("C2", "V1", "M1", "450", "2026-01-04T09:00:00+00:00"),
            charge("C3", "V2", "M2", "300", "2026-01-05T09:00:00+00:00"),
        ],
        T0,
    )
    return s


def ids(answer: FhirAnswer) -> list[str]:
    assert answer.status == 200, answer.body
    return [entry["resource"]["id"] for entry in answer.body.get("entry", [])]


def found(store: FhirStore, kind: str, **params: str) -> set[str]:
    """The ids a search finds (strict: a misspelt parameter fails here instead of matching everything)."""
    pairs = [(name.replace("service_provider", "service-provider"), value) for name, value in params.items()]
    return set(ids(store.search(kind, pairs, strict=True)))


def search(store: FhirStore, kind: str, *pairs: tuple[str, str], strict: bool = False) -> FhirAnswer:
    return store.search(kind, list(pairs), BASE, strict)


def issue(answer: FhirAnswer) -> JSON:
    OperationOutcome.model_validate(answer.body)
    first: JSON = answer.body["issue"][0]
    return first


# -- versions ----------------------------------------------------------------------------------------
def test_publish_writes_a_version_only_when_the_content_changes(store: FhirStore) -> None:
    assert store.publish([patient("M1", "Smith", "Ann", "1950-03-02")], T1) == []
    assert store.read("Patient", "M1").headers["ETag"] == 'W/"1"'
    assert store.publish([patient("M1", "Smith-Lee", "Ann", "1950-03-02")], T1) == ["Patient/M1/_history/2"]
    answer = store.read("Patient", "M1")
    assert answer.body["meta"] == {"versionId": "2", "lastUpdated": T1}
    assert answer.headers == {"ETag": 'W/"2"', "Last-Modified": "Tue, 06 Jan 2026 12:00:00 GMT"}
    assert store.vread("Patient", "M1", "1").body["name"][0]["family"] == "Smith"
    assert store.vread("Patient", "M1", "3").status == 404
    history = store.history("Patient", "M1", BASE)
    assert [e["resource"]["meta"]["versionId"] for e in history.body["entry"]] == ["2", "1"]
    Bundle.model_validate(history.body)


def test_chart_resources_render_a_visit_as_ehr_resources_renders_the_chart() -> None:
    """Every visit's chart, the patients merged into its patient with it (A40) included: a merged-away
    MRN is a Patient of its own, inactive and replaced by the survivor, which is what a FHIR client
    holding the old reference follows (R4 Patient.link)."""
    twin = Twin(small_scenario(days=0.5))
    twin.run()
    everything = ehr_resources(twin.ehr, twin.network.hospitals, twin.network.payers)
    expected = {
        (r["resourceType"], r["id"]): r for kind, rs in everything.items() if kind != "Organization" for r in rs
    }
    charted = {(r["resourceType"], r["id"]): r for v in twin.ehr.encounters for r in chart_resources(twin.ehr, v)}
    assert charted == expected
    assert any(kind == "Claim" for kind, _ in charted) and any(kind == "ChargeItem" for kind, _ in charted)
    survivor_of = {merged: enc.mrn for enc in twin.ehr.encounters.values() for merged in enc.merged_mrns}
    assert survivor_of and set(survivor_of.values()).isdisjoint(survivor_of)
    for mrn in twin.ehr.patients:
        resource = charted["Patient", mrn]
        Patient.model_validate(resource)
        if mrn in survivor_of:
            link = [{"other": {"reference": f"Patient/{survivor_of[mrn]}"}, "type": "replaced-by"}]
            assert (resource["active"], resource["link"]) == (False, link)
        else:
            assert resource["active"] is True and "link" not in resource
    store = FhirStore()
    store.publish(chain.from_iterable(everything.values()), T0)
    assert all(store.publish(chart_resources(twin.ehr, v), T1) == [] for v in twin.ehr.encounters)


def test_http_date() -> None:
    assert http_date("2026-01-05T23:30:00-02:00") == "Tue, 06 Jan 2026 01:30:00 GMT"
    assert http_date("not a date") == ""


# -- create ------------------------------------------------------------------------------------------
def test_create_assigns_the_id_and_version_1(store: FhirStore) -> None:
    answer = store.create("Patient", patient("chosen-by-client", "New"), T1, base=BASE)
    assert answer.status == 201
    rid = answer.body["id"]
    assert rid != "chosen-by-client" and store.read("Patient", "chosen-by-client").status == 404
    assert answer.headers["Location"] == f"{BASE}/Patient/{rid}/_history/1"
    assert answer.headers["ETag"] == 'W/"1"'
    assert store.read("Patient", rid).body["name"] == [{"family": "New", "given": ["Ann"]}]


def test_create_refuses_what_is_not_a_valid_resource_of_the_type(store: FhirStore) -> None:
    bad = patient("x", "Smith")
    bad["name"][0]["family"] = 5
    answer = store.create("Patient", bad, T1)
    assert answer.status == 400
    assert issue(answer)["expression"] == ["Patient.name[0].family"]
    bad = {**patient("x", "Smith"), "favouriteColour": "blue"}
    assert issue(store.create("Patient", bad, T1)) | {"diagnostics": ""} == {
        "severity": "error", "code": "structure", "diagnostics": "", "expression": ["Patient.favouriteColour"]
    }  # fmt: skip
    assert issue(store.create("Encounter", {"resourceType": "Encounter", "status": "planned"}, T1))["expression"] == [
        "Encounter.class"
    ]
    assert issue(store.create("Patient", encounter("V9", "M1", T0), T1))["expression"] == ["resourceType"]
    assert store.create("Patient", ["not", "an", "object"], T1).status == 400
    assert store.create("Basic", {"resourceType": "Basic"}, T1).status == 404
    assert store.count("Patient") == 3


def test_conditional_create_writes_only_when_nothing_matches(store: FhirStore) -> None:
    new = patient("x", "Newman")
    new["identifier"] = [{"system": MRN_SYSTEM, "value": "M9"}]
    condition = [("identifier", f"{MRN_SYSTEM}|M9")]
    first = store.create("Patient", new, T1, condition)
    assert first.status == 201
    again = store.create("Patient", {**new, "gender": "other"}, T2, condition)
    assert (again.status, again.body["id"], again.headers["ETag"]) == (200, first.body["id"], 'W/"1"')
    assert store.current("Patient", first.body["id"]) == first.body and store.count("Patient") == 4
    several = store.create("Patient", new, T2, [("family", "Smith")])  # Smith and Smithers
    assert (several.status, issue(several)["code"]) == (412, "multiple-matches")
    for refused in ([], [("_count", "1")], [("nickname", "Bo")], [("birthdate", "yesterday")]):
        assert store.create("Patient", new, T2, refused).status == 400, refused
    assert store.count("Patient") == 4


# -- update ------------------------------------------------------------------------------------------
def test_update_with_if_match(store: FhirStore) -> None:
    changed = patient("M3", "Jones-Ortiz", "Cy", "1987-06-15", "male")
    answer = store.update("Patient", "M3", changed, T1, 'W/"1"')
    assert (answer.status, answer.headers["ETag"]) == (200, 'W/"2"')
    stale = store.update("Patient", "M3", patient("M3", "Jones"), T2, 'W/"1"')
    assert (stale.status, issue(stale)["code"]) == (412, "conflict")
    for malformed in ("1", 'W/"one"', "W/1", 'W/"0"', '"2", "3"'):
        assert store.update("Patient", "M3", changed, T2, malformed).status == 400, malformed
    assert store.update("Patient", "M3", changed, T2, '"2"').headers["ETag"] == 'W/"2"'  # same content: no version
    assert store.update("Patient", "M3", changed, T2).status == 200
    assert len(store.versions("Patient", "M3")) == 2
    assert store.vread("Patient", "M3", "1").body["name"][0]["family"] == "Jones"


def test_update_refuses_an_id_that_is_not_the_urls_and_creates_with_the_clients_id(store: FhirStore) -> None:
    assert issue(store.update("Patient", "M3", patient("M1", "Jones"), T1))["expression"] == ["Patient.id"]
    assert store.update("Patient", "M3", {k: v for k, v in patient("M3", "J").items() if k != "id"}, T1).status == 400
    assert store.update("Patient", "bad id!", patient("bad id!", "J"), T1).status == 400
    assert store.update("Patient", "M7", patient("M7", "Seven"), T1, 'W/"1"').status == 412  # nothing to match
    created = store.update("Patient", "M7", patient("M7", "Seven"), T1, base=BASE)
    assert (created.status, created.headers["Location"]) == (201, f"{BASE}/Patient/M7/_history/1")


# -- search ------------------------------------------------------------------------------------------
def test_token_search(store: FhirStore) -> None:
    assert found(store, "Patient", identifier=f"{MRN_SYSTEM}|M2") == {"M2"}
    assert found(store, "Patient", identifier="M2") == {"M2"}
    assert found(store, "Patient", identifier="|M2") == set()  # "no system": the MRN has one
    assert found(store, "Patient", identifier=f"{MRN_SYSTEM}|") == {"M1", "M2", "M3"}
    assert found(store, "Patient", identifier="urn:other|M2") == set()
    assert found(store, "Patient", gender="male") == {"M2", "M3"}
    assert found(store, "Patient", _id="M1,M3") == {"M1", "M3"}
    assert set(ids(search(store, "Patient", ("gender:not", "male")))) == {"M1"}
    assert found(store, "Encounter", status="in-progress") == {"V2"}
    assert found(store, "Encounter", **{"class": "IMP"}) == {"V1", "V2", "V3"}
    assert found(store, "ChargeItem", code="urn:twin:chargemaster|300") == {"C1", "C3"}


def test_string_search(store: FhirStore) -> None:
    assert found(store, "Patient", family="smith") == {"M1", "M2"}
    assert set(ids(search(store, "Patient", ("family:exact", "Smith")))) == {"M1"}
    assert set(ids(search(store, "Patient", ("family:exact", "smith")))) == set()
    assert set(ids(search(store, "Patient", ("name:contains", "ther")))) == {"M2"}
    assert found(store, "Patient", given="b") == {"M2"}
    assert set(ids(search(store, "Patient", ("family", "Smith"), ("given", "Ann")))) == {"M1"}  # AND
    assert set(ids(search(store, "Patient", ("family", "Jones,Smithers")))) == {"M2", "M3"}  # OR


def test_date_search_with_prefixes(store: FhirStore) -> None:
    assert found(store, "Patient", birthdate="1950") == {"M1", "M2"}
    assert found(store, "Patient", birthdate="1950-03") == {"M1"}
    assert found(store, "Patient", birthdate="ge1950-03-03") == {"M2", "M3"}
    assert found(store, "Patient", birthdate="lt1950-03-02") == set()
    assert found(store, "Patient", birthdate="le1950-03-02") == {"M1"}
    # V1 2026-01-02T10:00..2026-01-04T10:00, V2 from 2026-01-05T08:00 (open), V3 2026-01-03T06:00..18:00
    day = "2026-01-03"
    expected = {
        "eq": {"V3"}, "ne": {"V1", "V2"}, "gt": {"V1", "V2"}, "ge": {"V1", "V2", "V3"}, "lt": {"V1"},
        "le": {"V1", "V3"}, "sa": {"V2"}, "eb": set(), "ap": {"V1", "V3"},
    }  # fmt: skip
    for prefix, visits in expected.items():
        assert found(store, "Encounter", date=prefix + day) == visits, prefix
    assert found(store, "Encounter", date="ge2026-01-04T10:00:01+00:00") == {"V2"}
    # a stay that ends within the day searched is not "ge" it, one that starts within it not "le" it (R4 3.1.1.5.1)
    assert found(store, "Encounter", date="ge2026-01-04") == {"V2"}
    assert found(store, "Encounter", date="le2026-01-02") == set()
    assert found(store, "Encounter", date="ap2026-01-02") == {"V1"}
    assert found(store, "Encounter", date="ge2026-01-04T10:59:59+01:00") == {"V1", "V2"}  # 09:59:59 UTC
    assert found(store, "Encounter", date="ge2026-01-04T10:59:59+00:00") == {"V2"}
    assert found(store, "ChargeItem", occurrence="2026-01-03") == {"C1"}
    assert set(ids(search(store, "Encounter", ("date", "ge2026-01-02"), ("date", "le2026-01-04")))) == {"V1", "V3"}
    for bad in ("2026-13-01", "yesterday", "gt", "2026-01-03T25:00"):
        answer = search(store, "Encounter", ("date", bad))
        assert (answer.status, issue(answer)["expression"]) == (400, ["date"]), bad


def test_reference_search(store: FhirStore) -> None:
    for value in ("Patient/M1", "M1", "http://elsewhere/fhir/Patient/M1", "Patient/M1/_history/1"):
        assert found(store, "Encounter", patient=value) == {"V1", "V3"}, value
    assert set(ids(search(store, "Encounter", ("subject:Patient", "M1")))) == {"V1", "V3"}
    assert search(store, "Encounter", ("subject:Encounter", "M1")).status == 400
    assert found(store, "Encounter", patient="Encounter/M1") == set()
    assert found(store, "ChargeItem", context="Encounter/V1") == {"C1", "C2"}
    assert found(store, "Encounter", service_provider="Organization/H02") == {"V2"}
    assert set(ids(search(store, "Encounter", ("patient:missing", "false")))) == {"V1", "V2", "V3"}


def test_last_updated_and_sort(store: FhirStore) -> None:
    store.publish([patient("M2", "Smithers", "Robert", "1950-11-20", "male")], T2)
    assert found(store, "Patient", _lastUpdated=f"gt{T1}") == {"M2"}
    assert found(store, "Patient", _lastUpdated="2026-01-05") == {"M1", "M3"}
    assert ids(search(store, "Patient")) == ["M1", "M2", "M3"]  # the order they arrived in
    assert ids(search(store, "Patient", ("_sort", "-_id"))) == ["M3", "M2", "M1"]
    assert ids(search(store, "Patient", ("_sort", "-_lastUpdated,_id"))) == ["M2", "M1", "M3"]


def test_unknown_parameters_are_ignored_or_refused_when_strict(store: FhirStore) -> None:
    answer = search(store, "Patient", ("family", "Smith"), ("nickname", "Bo"), ("_sort", "birthdate"))
    assert set(ids(answer)) == {"M1", "M2"}
    assert answer.body["link"] == [{"relation": "self", "url": f"{BASE}/Patient?family=Smith&_count=50"}]
    strict = search(store, "Patient", ("family", "Smith"), ("nickname", "Bo"), strict=True)
    assert (strict.status, issue(strict)["expression"]) == (400, ["nickname"])
    assert search(store, "Patient", ("_sort", "birthdate"), strict=True).status == 400
    modifier = search(store, "Patient", ("family:sounds-like", "Smyth"))  # a modifier is never dropped
    assert (modifier.status, issue(modifier)["expression"]) == (400, ["family:sounds-like"])
    for count in ("-1", "ten", ""):
        assert search(store, "Patient", ("_count", count)).status == 400
    assert search(store, "Basic").status == 404


def test_count_zero_answers_the_total_only(store: FhirStore) -> None:
    answer = search(store, "ChargeItem", ("_count", "0"))
    assert answer.body["total"] == 3 and "entry" not in answer.body


def test_bundles_are_valid_fhir(store: FhirStore) -> None:
    answer = search(store, "Encounter", ("_count", "2"))
    Bundle.model_validate(answer.body)
    entry = answer.body["entry"][0]
    assert entry["fullUrl"] == f"{BASE}/Encounter/V1" and entry["search"] == {"mode": "match"}
    statement = store.capability_statement(BASE, BASE + "/oauth/token", T0)
    CapabilityStatement.model_validate(statement)
    rest = statement["rest"][0]
    assert [r["type"] for r in rest["resource"]] == ["Organization", "Patient", "Coverage", "Encounter",
                                                     "ChargeItem", "Claim"]  # fmt: skip
    assert rest["security"]["extension"][0]["extension"][0]["valueUri"] == BASE + "/oauth/token"


# -- paging ------------------------------------------------------------------------------------------
def follow(store: FhirStore, url: str) -> FhirAnswer:
    parts = urlsplit(url)
    assert url.startswith(BASE)
    return store.search(parts.path.rsplit("/", 1)[1], parse_qsl(parts.query, keep_blank_values=True), BASE)


def link(answer: FhirAnswer, relation: str) -> str | None:
    return next((lk["url"] for lk in answer.body["link"] if lk["relation"] == relation), None)


def test_pages_show_the_state_the_search_saw(store: FhirStore) -> None:
    store.publish([patient(f"P{n}", "Page", birth="2001-01-01") for n in range(7)], T1)
    first = search(store, "Patient", ("family", "page"), ("_count", "3"))
    assert first.body["total"] == 7 and link(first, "previous") is None
    store.publish([patient("P7", "Page"), patient("P0", "Renamed", birth="2001-01-01")], T2)  # meanwhile
    seen, page = ids(first), first
    while (url := link(page, "next")) is not None:
        page = follow(store, url)
        seen += ids(page)
        assert page.body["total"] == 7
    assert seen == [f"P{n}" for n in range(7)]
    assert link(page, "last") == url or link(page, "last") == link(page, "self")
    back = follow(store, str(link(page, "previous")))
    assert ids(back) == ["P3", "P4", "P5"]
    assert follow(store, str(link(back, "first"))).body["entry"][0]["resource"]["name"][0]["family"] == "Page"
    assert set(ids(search(store, "Patient", ("family", "page"), ("_count", "50")))) == {f"P{n}" for n in range(1, 8)}


def test_pages_of_a_dropped_snapshot_are_gone() -> None:
    store = FhirStore(snapshots_kept=1)
    store.publish([patient(f"P{n}", "Page") for n in range(4)], T0)
    old = search(store, "Patient", ("_count", "2"))
    search(store, "Patient", ("_count", "3"))  # a second search: the first one's snapshot is dropped
    gone = follow(store, str(link(old, "next")))
    assert (gone.status, issue(gone)["code"]) == (410, "expired")
    assert search(store, "Patient", ("_getpages", "s99")).status == 410
