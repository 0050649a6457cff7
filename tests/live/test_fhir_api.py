"""The EHR's FHIR R4 API on a real uvicorn server (127.0.0.1, a free port), filled from a simulated run.

A client nobody here wrote (fhirpy) reads, searches and pages through it; ETags, conditional
creates (twenty clients at once among them), OperationOutcomes and auth are checked on the wire;
schemathesis fuzzes every operation of its OpenAPI document and must find no answer off it. Where a
check could pass for the wrong reason, the defect is planted and seen caught: a check-then-create
endpoint that yields in between creates twenty, and answers spoiled on the way out are reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter
from collections.abc import Coroutine, Iterator, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import schemathesis
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhirpy import SyncFHIRClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from mocks.ehr.ehr import Ehr
from mocks.ehr.fhir_store import SUPPORTED, FhirStore
from mocks.ehr.fhir_view import MRN_SYSTEM, ehr_resources
from tests.conftest import small_scenario
from twin.live.apps.fhir import FHIR_JSON, fhir_app
from twin.live.auth import AuthServer, Client
from twin.live.serving import Servers
from twin.sim import Twin

CLIENTS = {
    "integration": Client("integration", "s3cret"),
    "patient-reader": Client("patient-reader", "r3ader", ("system/Patient.r",)),
    "patient-searcher": Client("patient-searcher", "s3archer", ("system/Patient.s",)),
}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 12  # per operation and generation mode: ~1,200 requests, well under a minute
PEOPLE = 20  # clients doing the same conditional create at once


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def new_patient(value: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": MRN_SYSTEM, "value": value}],
        "name": [{"family": "Conditional", "given": ["Cora"]}],
        "gender": "female",
    }


class LiveLoop:
    """An event loop on a thread of its own serving apps with ``twin.live.serving.Servers``, so the
    blocking clients (fhirpy, schemathesis) can call them from the test's thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fhir-api", daemon=True)
        self.thread.start()
        self.servers = Servers()

    def run(self, work: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=30)

    def serve(self, name: str, app: Any) -> str:
        return str(self.run(self.servers.start(name, app)))

    def close(self) -> None:
        self.run(self.servers.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


@dataclass
class EhrApi:
    url: str
    store: FhirStore
    auth: AuthServer
    ehr: Ehr
    live: LiveLoop

    def headers(self, client: str = "integration") -> dict[str, str]:
        form = {"grant_type": "client_credentials", "client_id": client, "client_secret": CLIENTS[client].secret}
        token = httpx.post(f"{self.url}/oauth/token", data=form).json()["access_token"]
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def api() -> Iterator[EhrApi]:
    twin = Twin(small_scenario(days=0.5))
    twin.run()
    store = FhirStore()
    store.publish(chain.from_iterable(ehr_resources(twin.ehr, twin.network.hospitals, twin.network.payers).values()),
                  now_iso())  # fmt: skip
    auth = AuthServer("ehr", CLIENTS, lambda: 0.0)
    live = LiveLoop()
    try:
        yield EhrApi(live.serve("ehr-fhir", fhir_app(store, auth, now_iso)), store, auth, twin.ehr, live)
    finally:
        live.close()


def outcome_of(response: httpx.Response, status: int) -> dict[str, Any]:
    """The first issue of an OperationOutcome answered with ``status`` (validated as FHIR R4)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == FHIR_JSON
    OperationOutcome.model_validate(response.json())
    issue: dict[str, Any] = response.json()["issue"][0]
    return issue


# -- a client nobody here wrote -------------------------------------------------------------------------
def test_fhirpy_reads_searches_and_pages_through_the_ehr(api: EhrApi) -> None:
    client = SyncFHIRClient(api.url, authorization=api.headers()["Authorization"])
    ehr = api.ehr
    mrn = sorted(ehr.patients)[3]
    patient = client.reference("Patient", mrn).to_resource()
    assert (patient["name"][0]["family"], patient["meta"]["versionId"]) == (ehr.patients[mrn].family, "1")
    assert client.resources("Patient").search(identifier=f"{MRN_SYSTEM}|{mrn}").get()["id"] == mrn
    assert {e["id"] for e in client.resources("Encounter").search(subject=f"Patient/{mrn}").fetch_all()} == {
        visit for visit, enc in ehr.encounters.items() if enc.mrn == mrn
    }

    visit, chart = max(ehr.encounters.items(), key=lambda item: len(item[1].charges))
    charges = client.resources("ChargeItem").search(context=f"Encounter/{visit}").limit(4)
    assert len(charges.fetch()) == 4 < len(chart.charges)  # a page is what _count asked for
    assert [c["id"] for c in charges.fetch_all()] == [line.txn_id for line in chart.charges]  # every page, in order
    assert charges.count() == len(chart.charges)

    medicare = {v for v, enc in ehr.encounters.items() if enc.plan_code == "MCR-A"}  # now: A08 may have moved it
    covered = client.resources("Coverage").search(payor="Organization/payer-MCR-A").limit(7).fetch_all()
    assert [c["id"] for c in covered] == [v for v in ehr.encounters if v in medicare] and len(medicare) > 14
    everyone = client.resources("Patient").limit(40).fetch_all()
    assert sorted(p["id"] for p in everyone) == sorted(ehr.patients) and len(everyone) > 80  # three pages or more


# -- versions -----------------------------------------------------------------------------------------
def test_if_match_guards_updates_and_old_versions_stay_readable(api: EhrApi) -> None:
    with httpx.Client(base_url=api.url, headers=api.headers()) as http:
        created = http.post("/Patient", json=new_patient("etag-1"), headers={"Content-Type": FHIR_JSON})
        assert (created.status_code, created.headers["etag"]) == (201, 'W/"1"'), created.text
        rid = created.json()["id"]
        assert created.headers["location"] == f"{api.url}/Patient/{rid}/_history/1"
        changed = {**created.json(), "gender": "other"}
        updated = http.put(f"/Patient/{rid}", json=changed, headers={"If-Match": 'W/"1"'})
        assert (updated.status_code, updated.headers["etag"], updated.json()["meta"]["versionId"]) == (
            200,
            'W/"2"',
            "2",
        )
        stale = http.put(f"/Patient/{rid}", json={**changed, "gender": "male"}, headers={"If-Match": 'W/"1"'})
        assert outcome_of(stale, 412)["code"] == "conflict"
        malformed = http.put(f"/Patient/{rid}", json={**changed, "gender": "male"}, headers={"If-Match": "v2"})
        assert outcome_of(malformed, 400)["expression"] == ["If-Match"]
        old = http.get(f"/Patient/{rid}/_history/1")
        assert (old.status_code, old.json()["gender"], old.headers["etag"]) == (200, "female", 'W/"1"')
        assert http.get(f"/Patient/{rid}").json()["gender"] == "other"
        assert [e["resource"]["meta"]["versionId"] for e in http.get(f"/Patient/{rid}/_history").json()["entry"]] == [
            "2", "1"
        ]  # fmt: skip


# -- conditional create -------------------------------------------------------------------------------
def test_conditional_create_writes_only_when_nothing_matches(api: EhrApi) -> None:
    condition = {"If-None-Exist": f"identifier={MRN_SYSTEM}|cc-1"}
    with httpx.Client(base_url=api.url, headers=api.headers()) as http:
        first = http.post("/Patient", json=new_patient("cc-1"), headers=condition)
        assert first.status_code == 201
        again = http.post("/Patient", json={**new_patient("cc-1"), "gender": "other"}, headers=condition)
        assert (again.status_code, again.json()["id"], again.headers["etag"]) == (200, first.json()["id"], 'W/"1"')
        assert http.get(f"/Patient/{first.json()['id']}").json()["meta"]["versionId"] == "1"  # nothing written
        assert http.post("/Patient", json=new_patient("cc-1")).status_code == 201  # unconditional: a second one
        assert outcome_of(http.post("/Patient", json=new_patient("cc-1"), headers=condition), 412)["code"] == (
            "multiple-matches"
        )
        assert outcome_of(http.post("/Patient", json=new_patient("cc-1"), headers={"If-None-Exist": "nick=x"}), 400)


async def everyone_at_once(url: str, headers: dict[str, str], value: str) -> list[httpx.Response]:
    """``PEOPLE`` clients, each on its own connection, send the same conditional create together."""
    body, condition = new_patient(value), {**headers, "If-None-Exist": f"identifier={MRN_SYSTEM}|{value}"}
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(httpx.AsyncClient(base_url=url)) for _ in range(PEOPLE)]
        return list(await asyncio.gather(*(c.post("/Patient", json=body, headers=condition) for c in clients)))


def test_concurrent_conditional_creates_create_one_resource(api: EhrApi) -> None:
    answers = asyncio.run(everyone_at_once(api.url, api.headers(), "race-1"))
    assert Counter(a.status_code for a in answers) == {201: 1, 200: PEOPLE - 1}
    assert {a.json()["id"] for a in answers} == {next(a for a in answers if a.status_code == 201).json()["id"]}
    found = httpx.get(f"{api.url}/Patient", params={"identifier": f"{MRN_SYSTEM}|race-1"}, headers=api.headers())
    assert found.json()["total"] == 1


def racy_app(store: FhirStore) -> FastAPI:
    """A conditional create done wrong: it checks, yields to the loop, then creates - and holds
    every request between the two until all ``PEOPLE`` have checked (so the race is certain when
    they really arrive together; a guard lets them go if they do not)."""
    app = FastAPI()
    checked: list[int] = []
    everyone_checked = asyncio.Event()

    @app.post("/Patient")
    async def create(request: Request) -> JSONResponse:
        body = await request.json()
        condition = parse_qsl(request.headers["if-none-exist"])
        matched = store.search("Patient", condition).body["total"]
        checked.append(1)
        if len(checked) == PEOPLE:
            everyone_checked.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(everyone_checked.wait(), timeout=10)  # a guard, not a synchronisation
        if matched:
            return JSONResponse({}, 200)
        answer = store.create("Patient", body, now_iso())
        return JSONResponse(answer.body, answer.status)

    return app


def test_the_race_is_real_a_check_then_create_that_yields_creates_everyone(api: EhrApi) -> None:
    store = FhirStore()
    url = api.live.serve("racy", racy_app(store))
    answers = asyncio.run(everyone_at_once(url, {}, "race-2"))
    assert Counter(a.status_code for a in answers) == {201: PEOPLE}
    assert store.count("Patient") == PEOPLE


# -- refusals -----------------------------------------------------------------------------------------
def test_refusals_are_operation_outcomes_that_say_what_and_where(api: EhrApi) -> None:
    with httpx.Client(base_url=api.url, headers=api.headers()) as http:
        bad = {**new_patient("bad-1"), "name": [{"family": 5}]}
        assert outcome_of(http.post("/Patient", json=bad), 400)["expression"] == ["Patient.name[0].family"]
        unknown = {**new_patient("bad-2"), "shoeSize": 43}
        assert outcome_of(http.post("/Patient", json=unknown), 400) | {"diagnostics": ""} == {
            "severity": "error", "code": "structure", "diagnostics": "", "expression": ["Patient.shoeSize"]
        }  # fmt: skip
        wrong_type = {**new_patient("bad-3"), "resourceType": "Encounter"}
        assert outcome_of(http.post("/Patient", json=wrong_type), 400)["expression"] == ["resourceType"]
        outcome_of(http.post("/Patient", content=b"{not json", headers={"Content-Type": FHIR_JSON}), 400)
        outcome_of(http.post("/Patient", content=b"<Patient/>", headers={"Content-Type": "application/fhir+xml"}), 415)
        assert outcome_of(http.get("/Patient/no-such-patient"), 404)["code"] == "not-found"
        assert outcome_of(http.get("/Medication/1"), 404)["code"] == "not-supported"
        assert outcome_of(http.get("/Patient", params={"birthdate": "last tuesday"}), 400)["expression"] == [
            "birthdate"
        ]
        strict = http.get("/Patient", params={"nickname": "Bo"}, headers={"Prefer": "handling=strict"})
        assert outcome_of(strict, 400)["expression"] == ["nickname"]
        assert http.get("/Patient", params={"nickname": "Bo", "_count": "1"}).json()["total"] > 80  # lenient


def test_the_documented_example_of_each_type_is_created(api: EhrApi) -> None:
    document = httpx.get(f"{api.url}/openapi.json").json()
    with httpx.Client(base_url=api.url, headers=api.headers()) as http:
        for kind in SUPPORTED:
            example = document["paths"][f"/{kind}"]["post"]["requestBody"]["content"][FHIR_JSON]["example"]
            created = http.post(f"/{kind}", json=example, headers={"Content-Type": FHIR_JSON})
            assert (created.status_code, created.json()["resourceType"]) == (201, kind), created.text


def test_tokens_and_scopes(api: EhrApi) -> None:
    mrn, visit = next(iter(api.ehr.patients)), next(iter(api.ehr.encounters))
    anonymous = httpx.get(f"{api.url}/Patient/{mrn}")
    assert outcome_of(anonymous, 401)["code"] == "login"
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    forged = httpx.get(f"{api.url}/Patient/{mrn}", headers={"Authorization": "Bearer ehr.forged"})
    assert 'error="invalid_token"' in forged.headers["www-authenticate"] and outcome_of(forged, 401)
    reader, searcher = api.headers("patient-reader"), api.headers("patient-searcher")
    assert httpx.get(f"{api.url}/Patient/{mrn}", headers=reader).status_code == 200
    assert httpx.get(f"{api.url}/Patient/{mrn}/_history/1", headers=reader).status_code == 200
    assert httpx.get(f"{api.url}/Patient", params={"_id": mrn}, headers=searcher).json()["total"] == 1
    assert httpx.post(f"{api.url}/Patient/_search", data={"_id": mrn}, headers=searcher).json()["total"] == 1
    for refused in (
        httpx.get(f"{api.url}/Patient", params={"_id": mrn}, headers=reader),  # .r does not search
        httpx.get(f"{api.url}/Patient/{mrn}", headers=searcher),  # .s does not read
        httpx.get(f"{api.url}/Patient/{mrn}/_history/1", headers=searcher),
        httpx.get(f"{api.url}/Encounter/{visit}", headers=reader),  # another type
        httpx.post(f"{api.url}/Patient", json=new_patient("no"), headers=reader),  # .c
        httpx.put(f"{api.url}/Patient/{mrn}", json={"resourceType": "Patient", "id": mrn}, headers=reader),  # .u
    ):
        assert outcome_of(refused, 403)["code"] == "forbidden"
        assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
    metadata = httpx.get(f"{api.url}/metadata")  # the one FHIR route open to all
    CapabilityStatement.model_validate(metadata.json())
    security = metadata.json()["rest"][0]["security"]
    assert security["extension"][0]["extension"][0]["valueUri"] == f"{api.url}/oauth/token"


# -- the OpenAPI document, fuzzed ---------------------------------------------------------------------
def fuzz(url: str, headers: dict[str, str], store: FhirStore, examples: int = EXAMPLES,
         only: str = "") -> tuple[list[str], dict[str, Counter[int]]]:  # fmt: skip
    """Schemathesis against the served OpenAPI document: every operation (or ``only``), positive
    and negative cases, and the read/update paths again with an id that exists. Returns the
    failures and the statuses each operation answered."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    failures: list[str] = []
    statuses: dict[str, Counter[int]] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        if only and operation.label != only:
            continue
        seen = statuses.setdefault(operation.label, Counter())
        strategies = [operation.as_strategy(generation_mode=mode) for mode in GenerationMode]
        kind = operation.path.split("/")[1]
        if "{id}" in operation.path and kind in SUPPORTED:
            rid = _an_id(store, kind)
            fixed = {"id": rid, "vid": "1"} if "{vid}" in operation.path else {"id": rid}
            if operation.method.upper() == "PUT":
                body = {k: v for k, v in (store.current(kind, rid) or {}).items() if k != "meta"}
                strategies.append(operation.as_strategy(path_parameters=fixed, body=body, media_type=FHIR_JSON))
            else:
                strategies.append(operation.as_strategy(path_parameters=fixed))
        for strategy in strategies:
            try:
                _run(strategy, headers, seen, examples)
            except Unsatisfiable:
                pass  # no negative case exists for an operation without parameters
            except (Exception, BaseExceptionGroup) as failure:  # schemathesis reports checks as a group
                found = failure.exceptions if isinstance(failure, BaseExceptionGroup) else (failure,)
                failures.append(f"{operation.label}: {', '.join(type(f).__name__ for f in found)}: {failure}")
    return failures, statuses


def _run(strategy: Any, headers: dict[str, str], seen: Counter[int], examples: int) -> None:
    """Call and check ``examples`` cases of ``strategy`` (deterministic; no shrinking, to bound the time)."""

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=strategy)
    def call(case: Any) -> None:
        seen[case.call_and_validate(headers=headers, checks=CHECKS).status_code] += 1

    call()


def _an_id(store: FhirStore, kind: str) -> str:
    page = store.search(kind, [("_count", "1")])
    rid: str = page.body["entry"][0]["resource"]["id"]
    return rid


def test_schemathesis_finds_no_answer_off_the_openapi_document(api: EhrApi) -> None:
    failures, statuses = fuzz(api.url, api.headers(), api.store)
    assert failures == []
    operations = len(SUPPORTED) * 7 + 3  # per type: search, _search, read, history, vread, create, update
    assert len(statuses) == operations
    reached = {label for label, seen in statuses.items() if any(200 <= status < 300 for status in seen)}
    for kind in SUPPORTED:  # the fuzzing reached the success answers, so their schemas were checked too
        for label in (f"GET /{kind}", f"POST /{kind}/_search", f"GET /{kind}/{{id}}", f"PUT /{kind}/{{id}}"):
            assert label in reached, (label, statuses[label])
    assert "POST /Patient" in reached and "POST /Organization" in reached


class Spoiled:
    """ASGI middleware that spoils the app's answer as the request's ``X-Plant`` header says: an
    undocumented status, a content type off the document, a body off its schema, a server error."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        plant = dict(scope.get("headers", [])).get(b"x-plant", b"").decode()
        if scope["type"] != "http" or not plant:
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def spoil(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            status = {"status": 418, "crash": 500}.get(plant, start["status"])
            body = b'{"resourceType": "Patient"}' if plant == "schema" else b"".join(chunks)
            media = b"text/plain" if plant == "type" else FHIR_JSON.encode()
            headers = [(k, v) for k, v in start["headers"] if k.lower() not in (b"content-type", b"content-length")]
            headers += [(b"content-type", media), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, spoil)


@pytest.mark.parametrize(
    ("plant", "caught"),
    [
        ("status", "UndefinedStatusCode"),
        ("type", "UndefinedContentType"),
        ("schema", "JsonSchemaError"),
        ("crash", "ServerError"),
    ],
)
def test_schemathesis_reports_answers_off_the_document(api: EhrApi, plant: str, caught: str) -> None:
    url = api.live.serve(f"spoiled-{plant}", Spoiled(fhir_app(api.store, api.auth, now_iso)))
    failures, _ = fuzz(url, {**api.headers(), "X-Plant": plant}, api.store, examples=3, only="GET /Patient/{id}")
    assert failures and all(caught in failure for failure in failures), failures
