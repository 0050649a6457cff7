"""Every mock system's REST API on a real uvicorn server (127.0.0.1), fuzzed against its OpenAPI document.

The mock systems (ERP, HCM, clearinghouse, vendor portal, dashboard, EHR reporting extract) are
served by one thin router (``twin.live.apps.common``) over sans-IO business code (``mocks/``), with
the master data and the postings of a short simulated run. Schemathesis sends each operation
positive and negative data - and a body the system accepts, built from the run's master data, so
the success answers are checked too - and must find no server error and no answer off the
document (status, content type, body schema, documented headers). The refusals must be useful on
their own: no token is a 401 with a challenge, a token without the route's scope a 403, both
problem details.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import small_scenario
from tests.live.openapi_checks import fuzz, succeeded
from tests.live.test_fhir_api import LiveLoop
from twin.domain.accounts import CASH, OTHER_EXPENSE, PATIENT_DAYS
from twin.domain.exchange import TargetRequest, TargetResponse
from twin.domain.kpis import KPI_UNITS
from twin.live.apps.common import Handler, system_app
from twin.live.apps.systems import APIS, VENDOR_ORDER
from twin.live.auth import AuthServer, Client
from twin.live.http_wire import PROBLEM_JSON
from twin.sim import Twin

CLIENTS = {
    "fuzzer": Client("fuzzer", "fuzz3r"),
    "outsider": Client("outsider", "0uts1der", ("system/Nothing.cruds",)),  # valid token, no route's scope
}
EXAMPLES = 20  # per operation and generation mode: ~2,000 requests in about half a minute


@dataclass
class Served:
    """The six systems' apps, served from one loop, with the run that filled them."""

    urls: dict[str, str]
    twin: Twin
    live: LiveLoop

    def headers(self, system: str, client: str = "fuzzer") -> dict[str, str]:
        form = {"grant_type": "client_credentials", "client_id": client, "client_secret": CLIENTS[client].secret}
        answer = httpx.post(f"{self.urls[system]}/oauth/token", data=form)
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    twin = Twin(small_scenario(days=0.5))
    twin.run()
    now = twin.clock.now
    live = LiveLoop()
    try:
        urls = {}
        for system, api in APIS.items():
            auth = AuthServer(system, CLIENTS, lambda: now)
            urls[system] = live.serve(system, system_app(api, twin.systems.targets[system], auth, lambda: now))
        yield Served(urls, twin, live)
    finally:
        live.close()


def accepted_bodies(twin: Twin) -> dict[str, dict[str, Any]]:
    """For each command, a body the system takes, from the run's master data (keyed by operation label)."""
    erp = twin.systems.erp
    center = sorted(erp.finance.cost_centers - erp.finance.inactive_cost_centers)[0]
    location, item = sorted(erp.supply.policies)[0]
    order = next(iter(erp.supply.orders.values()))
    vendor = next(iter(twin.systems.vendor.lead_time_days))
    kpi, unit = next(iter(KPI_UNITS.items()))
    claim = twin.systems.clearinghouse.accepted[0].claim
    return {
        "POST /finance/journals": {
            "reference": "FUZZ-1",
            "source": "adjustment",
            "lines": [
                {"account": CASH, "cost_center": center, "debit": 100},
                {"account": OTHER_EXPENSE, "cost_center": center, "credit": 100},
            ],
        },
        "POST /finance/statistics": {
            "reference": "FUZZ-1",
            "account": PATIENT_DAYS,
            "cost_center": center,
            "day": "2026-01-05",
            "quantity": 3,
        },  # fmt: skip
        "POST /inventory/issues": {
            "reference": "FUZZ-1",
            "location": location,
            "item": item,
            "cost_center": center,
            "quantity": 1,
        },  # fmt: skip
        "POST /purchasing/orders": {"reference": "FUZZ-1", "location": location, "item": item, "quantity": 5},
        "POST /payables/invoices": {
            "vendor_invoice": "FUZZ-INV-1",
            "po": order.po,
            "quantity": 1,
            "amount": order.unit_price,
        },  # fmt: skip
        "POST /claims": claim,
        "POST /orders": {
            "vendor": vendor,
            "po": "FUZZ-PO-1",
            "item": item,
            "location": location,
            "quantity": 2,
            "unit_price": 150,
        },  # fmt: skip
        "POST /kpis": {
            "kpi": kpi,
            "unit": unit,
            "scope": "FUZZ",
            "period": "2026-01-05",
            "value": 12.5,
            "lineage": ["FUZZ-1"],
            "as_of": 10.0,
        },  # fmt: skip
        "POST /reporting/discharges/_search": {"discharged_before": 1e9},
    }


def operations(system: str) -> set[str]:
    """The labels of every operation the system's document must show: each command, each query (and
    its ``_search`` form), the token endpoint and the liveness probe."""
    labels = {"POST /oauth/token", "GET /health"}
    for route in APIS[system].routes:
        labels |= (
            {f"POST {route.path}"} if route.method == "POST" else {f"GET {route.path}", f"POST {route.path}/_search"}
        )
    return labels


def with_accepted_bodies(twin: Twin) -> Callable[[Any], list[Any]]:
    """Beside the generated cases: a token request that is granted, and each command with a body the
    system takes, so the success answers are checked too, not only the refusals."""
    bodies = accepted_bodies(twin)

    def accepted(operation: Any) -> list[Any]:
        if operation.label == "POST /oauth/token":
            form = {
                "grant_type": "client_credentials",
                "client_id": "fuzzer",
                "client_secret": CLIENTS["fuzzer"].secret,
            }
            return [operation.as_strategy(body=form, media_type="application/x-www-form-urlencoded")]
        body = bodies.get(operation.label)
        return [] if body is None else [operation.as_strategy(body=body, media_type="application/json")]

    return accepted


@pytest.mark.parametrize("system", sorted(APIS))
def test_schemathesis_finds_no_answer_off_the_openapi_document(served: Served, system: str) -> None:
    extra = with_accepted_bodies(served.twin)
    failures, statuses = fuzz(served.urls[system], served.headers(system), examples=EXAMPLES, extra=extra)
    assert failures == []
    assert set(statuses) == operations(system)
    missed = {label: dict(seen) for label, seen in statuses.items() if label not in succeeded(statuses)}
    assert missed == {}  # every operation answered a success at least once: its schema was checked too


def brittle(handler: Handler) -> Handler:
    """The vendor portal with a defect planted: it crashes on a declared field of another type than
    the document says (as the portal once did on a ``unit_price`` that was no number)."""
    types = {"string": str, "integer": int}

    def handle(request: TargetRequest, now: float) -> TargetResponse:
        for name, schema in VENDOR_ORDER["properties"].items():
            if name in request.body and not isinstance(request.body[name], types[schema["type"]]):
                raise TypeError(f"{name}: {request.body[name]!r}")
        return handler(request, now)

    return handle


def test_schemathesis_carries_mistyped_fields_into_the_mock(served: Served) -> None:
    """The declared bodies carry the fuzzing into the system's own checks: a mock that crashes on a
    mistyped field is a server error schemathesis reports (so the fuzzing above can fail)."""
    auth = AuthServer("vendor", CLIENTS, lambda: 0.0)
    app = system_app(APIS["vendor"], brittle(served.twin.systems.targets["vendor"]), auth, lambda: 0.0)
    url = served.live.serve("brittle-vendor", app)
    form = {"grant_type": "client_credentials", "client_id": "fuzzer", "client_secret": CLIENTS["fuzzer"].secret}
    token = httpx.post(f"{url}/oauth/token", data=form).json()["access_token"]
    failures, _ = fuzz(url, {"Authorization": f"Bearer {token}"}, examples=EXAMPLES)
    assert failures and all(f.startswith("POST /orders: ") and "ServerError" in f for f in failures), failures


def problem_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    document: dict[str, Any] = response.json()
    assert (document["status"], document["type"]) == (status, f"urn:twin:problem:{status}")
    return document


# -- refusals, read by hand ---------------------------------------------------------------------------
def first_call(system: str) -> tuple[str, str]:
    """The method and path of the system's first operation (a command is sent an empty object)."""
    route = APIS[system].routes[0]
    return route.method, route.path


@pytest.mark.parametrize("system", sorted(APIS))
def test_no_token_is_a_401_with_a_challenge(served: Served, system: str) -> None:
    method, path = first_call(system)
    for headers in ({}, {"Authorization": f"Bearer {system}.forged"}):
        answer = httpx.request(method, served.urls[system] + path, json={} if method == "POST" else None,
                               headers=headers)  # fmt: skip
        assert problem_of(answer, 401)["error"] in ("unauthorized", "invalid_token")
        assert answer.headers["www-authenticate"].startswith(f'Bearer realm="{system}"')


@pytest.mark.parametrize("system", sorted(APIS))
def test_a_token_without_the_routes_scope_is_a_403(served: Served, system: str) -> None:
    method, path = first_call(system)
    answer = httpx.request(method, served.urls[system] + path, json={} if method == "POST" else None,
                           headers=served.headers(system, "outsider"))  # fmt: skip
    document = problem_of(answer, 403)
    scope = APIS[system].routes[0].scope
    assert document["error"] == "insufficient_scope" and scope in document["detail"]
    assert f'scope="{scope}"' in answer.headers["www-authenticate"]


def bad_field_calls(twin: Twin) -> dict[str, tuple[str, str, dict[str, Any], str]]:
    """Per system: a call the system takes but for one field of the wrong shape, and that field."""
    bodies = accepted_bodies(twin)
    claim = {**bodies["POST /claims"], "total": {"value": "1e999", "currency": "USD"}}
    return {
        "erp": ("POST", "/finance/statistics", {**bodies["POST /finance/statistics"], "quantity": "3"}, "quantity"),
        "hcm": ("GET", "/timecards", {"work_date": "20260105"}, "work_date"),
        "clearinghouse": ("POST", "/claims", claim, "total"),
        "vendor": ("POST", "/orders", {**bodies["POST /orders"], "unit_price": "1.50"}, "unit_price"),
        "dashboard": ("POST", "/kpis", {**bodies["POST /kpis"], "period": "20260105"}, "period"),
        "ehr": ("GET", "/reporting/discharges", {"discharged_before": "tomorrow"}, "discharged_before"),
    }


@pytest.mark.parametrize("system", sorted(APIS))
def test_a_refusal_names_the_field(served: Served, system: str) -> None:
    method, path, values, field = bad_field_calls(served.twin)[system]
    url, headers = served.urls[system] + path, served.headers(system)
    if method == "GET":
        answer = httpx.get(url, params=values, headers=headers)
    else:
        answer = httpx.post(url, json=values, headers=headers)
    document = problem_of(answer, 422)
    reasons: list[str] = document.get("errors") or document.get("reasons") or []
    assert any(field in reason for reason in reasons) and field in document["detail"], document
