"""Mock systems answer odd input with a 422 that names the field, never a crash or a wrong answer.

Each test plants one defect schemathesis found (or reading the code around it did) against the
mocks' HTTP APIs (``tests/live/test_mock_openapi.py``): a field of another JSON type than the rule
expects (a list where text belongs cannot even be looked up), a number too big for a float, NaN, a
date spelt another way, an element of a FHIR Claim in another shape. Sans-IO: the systems' own
``handle``, as both drivers call it.
"""

from __future__ import annotations

import json
import zlib
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mocks.erp.finance import ErpFinance
from mocks.saas.clearinghouse import CLAIM_DICTIONARY, Clearinghouse, pack, unpack
from mocks.saas.dashboard import Dashboard
from mocks.saas.vendor import VendorPortal
from tests.conftest import small_scenario
from twin.domain.exchange import TargetRequest, TargetResponse
from twin.domain.kpis import KPI_UNITS
from twin.domain.timebase import Timebase
from twin.world import World

CENTERS = ("101-8010", "101-7010")
HUGE = 10**400  # a JSON integer Python reads exactly and no float holds


@pytest.fixture(scope="module")
def world() -> World:
    return World(small_scenario())


def call(system: Any, method: str, path: str, body: Any, now: float = 10.0) -> TargetResponse:
    return system.handle(TargetRequest("test", method, path, body, ""), now)


def refused(response: TargetResponse, field: str) -> None:
    """A 422 whose reasons name ``field``."""
    reasons = response.body.get("errors") or response.body.get("reasons") or []
    assert response.status == 422 and any(field in reason for reason in reasons), response


# -- ERP finance ------------------------------------------------------------------------------------
def journal(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "reference": "V1",
        "source": "patient-billing",
        "lines": [
            {"account": "1200", "cost_center": CENTERS[0], "debit": 1000, "credit": 0},
            {"account": "4100", "cost_center": CENTERS[1], "debit": 0, "credit": 1000},
        ],
        "receivable": {"customer": "CMS-A01", "invoice": "V1", "amount": 1000},
    }
    return {**body, **changes}


def finance() -> ErpFinance:
    return ErpFinance(Timebase(datetime(2026, 1, 5)), CENTERS)


def test_a_valid_journal_still_posts() -> None:
    assert call(finance(), "POST", "/finance/journals", journal()).status == 201


def test_a_journal_line_whose_account_is_a_list_is_refused() -> None:
    lines = [{**journal()["lines"][0], "account": ["1200"]}, journal()["lines"][1]]
    refused(call(finance(), "POST", "/finance/journals", journal(lines=lines)), "unknown account")


def test_a_journal_line_whose_cost_center_is_an_object_is_refused() -> None:
    lines = [journal()["lines"][0], {**journal()["lines"][1], "cost_center": {"code": CENTERS[1]}}]
    refused(call(finance(), "POST", "/finance/journals", journal(lines=lines)), "cost center")


def test_a_journal_whose_source_is_a_list_is_refused() -> None:
    refused(call(finance(), "POST", "/finance/journals", journal(source=["patient-billing"])), "source")


def test_a_receivable_journal_with_a_text_amount_on_its_receivables_line_is_refused() -> None:
    lines = [{**journal()["lines"][0], "debit": "1000"}, journal()["lines"][1]]
    refused(call(finance(), "POST", "/finance/journals", journal(lines=lines)), "line 1: debit and credit")


def test_true_is_no_amount_of_cents() -> None:
    lines = [{**journal()["lines"][0], "debit": True}, {**journal()["lines"][1], "credit": True}]
    ledger = finance()
    refused(call(ledger, "POST", "/finance/journals", journal(lines=lines, receivable=None)), "integer cents")
    assert ledger.journals == []


def test_a_journal_reference_that_is_no_text_is_refused() -> None:
    refused(call(finance(), "POST", "/finance/journals", journal(reference=["V1"])), "reference")


def statistic(**changes: Any) -> dict[str, Any]:
    body = {"reference": "S1", "account": "9100", "cost_center": CENTERS[0], "day": "2026-01-05", "quantity": 3}
    return {**body, **changes}


def test_a_statistic_whose_account_is_a_list_is_refused() -> None:
    ledger = finance()
    assert call(ledger, "POST", "/finance/statistics", statistic()).status == 201
    refused(call(ledger, "POST", "/finance/statistics", statistic(account=["9100"])), "statistical account")


def test_a_statistic_of_true_patient_days_is_refused() -> None:
    refused(call(finance(), "POST", "/finance/statistics", statistic(quantity=True)), "quantity")


@pytest.mark.parametrize("bound", [HUGE, float("nan"), "NaN"])
def test_a_window_bound_no_float_orders_is_refused(bound: Any) -> None:
    refused(call(finance(), "GET", "/finance/journals", {"posted_before": bound}), "posted_before")


# -- ERP supply chain -------------------------------------------------------------------------------
def stocked(world: World) -> tuple[str, str]:
    location, item = sorted(world.erp.supply.policies)[0]
    return location, item


def test_an_issue_at_a_location_that_is_a_list_is_refused(world: World) -> None:
    location, item = stocked(world)
    body = {"reference": "T1", "location": [location], "item": item, "cost_center": CENTERS[0], "quantity": 1}
    refused(call(world.erp, "POST", "/inventory/issues", body), "not stocked at location")


def test_an_order_for_an_item_that_is_an_object_is_refused(world: World) -> None:
    location, item = stocked(world)
    refused(call(world.erp, "POST", "/purchasing/orders", {"location": location, "item": {"code": item},
                                                           "quantity": 5}), "not stocked")  # fmt: skip


@pytest.mark.parametrize(("field", "value"), [("quantity", -1), ("quantity", 0), ("amount", -100), ("po", ["PO1"])])
def test_an_invoice_that_would_pay_negative_cash_or_names_no_po_is_refused(world: World, field: str,
                                                                           value: Any) -> None:  # fmt: skip
    supply = world.erp.supply
    location, item = stocked(world)
    po = call(world.erp, "POST", "/purchasing/orders", {"location": location, "item": item, "quantity": 5}).body["po"]
    price = supply.orders[po].unit_price
    invoice = {"vendor_invoice": "INV-1", "po": po, "quantity": 1, "amount": price}
    payments = len(supply.invoices)
    refused(call(world.erp, "POST", "/payables/invoices", {**invoice, field: value}), field)
    assert len(supply.invoices) == payments  # before the fix: matched, paid, and -1 x price posted to cash


# -- vendor portal ----------------------------------------------------------------------------------
def vendor_order(**changes: Any) -> dict[str, Any]:
    return {"vendor": "V1", "po": "PO1", "item": "I1", "location": "L1", "quantity": 2, "unit_price": 150, **changes}


@pytest.mark.parametrize("price", ["1.50", None, float("inf"), [150], True, -1])
def test_an_order_whose_unit_price_is_no_whole_cents_is_refused(price: Any) -> None:
    portal = VendorPortal({"V1": 2.0})
    refused(call(portal, "POST", "/orders", vendor_order(unit_price=price)), "unit_price")
    assert portal.orders == {}
    assert call(portal, "POST", "/orders", vendor_order()).status == 201


def test_an_order_whose_vendor_is_a_list_is_refused() -> None:
    refused(call(VendorPortal({"V1": 2.0}), "POST", "/orders", vendor_order(vendor=["V1"])), "vendor")


def test_an_order_whose_po_is_no_text_is_refused() -> None:
    refused(call(VendorPortal({"V1": 2.0}), "POST", "/orders", vendor_order(po=17)), "po")


# -- dashboard --------------------------------------------------------------------------------------
def kpi(**changes: Any) -> dict[str, Any]:
    name, unit = next(iter(KPI_UNITS.items()))
    body = {"kpi": name, "unit": unit, "scope": "H01", "period": "2026-01-05", "value": 12.5, "lineage": ["X1"],
            "as_of": 10.0}  # fmt: skip
    return {**body, **changes}


def test_a_kpi_value_beyond_any_float_is_refused() -> None:
    refused(call(Dashboard(), "POST", "/kpis", kpi(value=HUGE)), "value")
    refused(call(Dashboard(), "POST", "/kpis", kpi(as_of=-HUGE)), "as_of")


def test_a_kpi_named_by_a_list_is_refused() -> None:
    refused(call(Dashboard(), "POST", "/kpis", kpi(kpi=["dnfb_amount"])), "kpi")


@pytest.mark.parametrize("period", ["20260105", "2026-W02-1", 20260105])
def test_a_period_spelt_otherwise_is_refused_not_shown_as_a_second_tile(period: Any) -> None:
    board = Dashboard()
    assert call(board, "POST", "/kpis", kpi()).status == 201
    refused(call(board, "POST", "/kpis", kpi(period=period, as_of=20.0)), "period")
    assert len(board.kpis) == 1


# -- HCM --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("work_date", ["20260105", "2026-W02-1", 20260105])
def test_a_work_date_spelt_otherwise_is_refused_not_answered_complete_and_empty(world: World,
                                                                                work_date: Any) -> None:  # fmt: skip
    refused(call(world.hcm, "GET", "/timecards", {"work_date": work_date}), "work_date")
    assert call(world.hcm, "GET", "/timecards", {"work_date": "2026-01-05"}).status == 200


# -- clearinghouse ----------------------------------------------------------------------------------
def claim(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Claim",
        "identifier": [{"system": "urn:twin:visit-number", "value": "V1"}],
        "patient": {"reference": "Patient/M1"},
        "insurer": {"identifier": {"value": "CMS-A01"}},
        "provider": {"identifier": {"value": "H01"}},
        "billablePeriod": {"start": "2026-01-05T00:00:00+00:00", "end": "2026-01-07T00:00:00+00:00"},
        "diagnosis": [{"sequence": 1, "diagnosisCodeableConcept": {"coding": [{"code": "I50.9"}]},
                       "packageCode": {"coding": [{"code": "291"}]}}],
        "item": [{"sequence": 1, "net": {"value": 10.5}}, {"sequence": 2, "net": {"value": 4.5}}],
        "total": {"value": 15.0},
    }  # fmt: skip
    return {**body, **changes}


@pytest.mark.parametrize(
    ("element", "value", "reason"),
    [
        ("patient", "Patient/M1", "no patient"),
        ("identifier", "V1", "visit-number"),
        ("insurer", ["CMS-A01"], "unknown payer"),
        ("diagnosis", ["I50.9"], "principal diagnosis"),
        ("diagnosis", [{"sequence": 1, "diagnosisCodeableConcept": {"coding": "I50.9"}}], "principal diagnosis"),
        ("item", {"sequence": 1, "net": {"value": 15.0}}, "item: expected a list"),
        ("item", ["line one", {"sequence": 2, "net": {"value": 15.0}}], "item[0]"),
        ("item", [{"sequence": 1, "net": 15.0}], "line 1: no net amount"),
        ("total", 15.0, "no total"),
        ("billablePeriod", "2026-01-05/2026-01-07", "billable period"),
    ],
)
def test_a_claim_element_of_another_shape_is_a_rejection_naming_it(element: str, value: Any, reason: str) -> None:
    house = Clearinghouse(("CMS-A01",))
    refused(call(house, "POST", "/claims", claim(**{element: value})), reason)
    assert house.submissions[-1].accepted is False


def test_a_replacement_whose_related_elements_are_of_another_shape_is_no_replacement() -> None:
    house = Clearinghouse(("CMS-A01",))
    for related in (7, [{"relationship": "prior", "claim": "CH00000001"}], [{"claim": {"identifier": "CH1"}}]):
        assert call(house, "POST", "/claims", claim(related=related)).status == 201
    assert house.replaced_by == {}


@pytest.mark.parametrize("amount", ["1e400", "abc", "15.00", True])
def test_a_claim_amount_that_is_no_finite_number_is_rejected_not_taken_as_zero(amount: str | bool) -> None:
    house = Clearinghouse(("CMS-A01",))
    value = json.loads(amount) if amount == "1e400" else amount  # JSON's 1e400 is an infinite float
    refused(call(house, "POST", "/claims", claim(total={"value": value})), "total")
    lines = [{"sequence": 1, "net": {"value": value}}]
    refused(call(house, "POST", "/claims", claim(item=lines, total={"value": 0})), "line 1: net amount")
    assert house.accepted == []


def test_an_accepted_claim_with_an_odd_provider_leaves_the_claims_report_answering() -> None:
    house = Clearinghouse(("CMS-A01",))
    assert call(house, "POST", "/claims", claim(provider="H01")).status == 201
    report = call(house, "GET", "/claims", {})
    assert report.status == 200 and report.body["claims"][0]["provider"] == ""


def test_the_clearinghouse_keeps_the_claim_as_it_came_and_refuses_a_body_that_is_no_json() -> None:
    house = Clearinghouse(("CMS-A01",))
    sent = claim(
        total={"value": 15.0}, item=[{"sequence": 1, "net": {"value": 10.5}}, {"sequence": 2, "net": {"value": 4.5}}]
    )
    assert call(house, "POST", "/claims", sent).status == 201
    kept = house.submissions[-1].claim
    assert kept == sent  # every element as sent
    assert house.submissions[-1].document == json.dumps(sent, sort_keys=True, separators=(",", ":"))
    assert kept is not house.submissions[-1].claim  # read back whole each time: nobody edits the record
    answer = call(house, "POST", "/claims", claim(item={1, 2}))
    assert answer.status == 400 and "not JSON" in answer.body["errors"][0]
    assert len(house.submissions) == 1


@given(st.text())
def test_a_kept_claim_text_comes_back_exactly_as_it_went_in(text: str) -> None:
    """Claims are kept packed: any text - not only the twin's claims, and not only ASCII - unpacks
    to itself, and packing is a function of the text alone (a run's outputs stay the same)."""
    assert unpack(pack(text)) == text
    assert pack(text) == pack(text)


def test_a_claim_is_kept_in_a_fraction_of_its_text() -> None:
    """The preset dictionary is what makes a claim small: the same claim packed without it is
    larger (the test fails if the dictionary stops matching what claims repeat)."""
    house = Clearinghouse(("CMS-A01",))
    lines = [{"sequence": n, "net": {"value": 10.0, "currency": "USD"}} for n in range(1, 9)]
    assert call(house, "POST", "/claims", claim(item=lines, total={"value": 80.0})).status == 201
    kept = house.submissions[-1]
    text = kept.document.encode()
    assert len(kept.packed) < len(zlib.compress(text, 1)) < len(text)
    assert CLAIM_DICTIONARY.count(b'"system":') >= 10  # keys and code systems, no claim's values


# -- EHR reporting extract --------------------------------------------------------------------------
def test_the_discharge_window_reads_numeric_text_as_its_query_string_carries_it(world: World) -> None:
    reporting = world.systems.targets["ehr"]
    text = reporting(TargetRequest("ehr", "GET", "/reporting/discharges", {"discharged_before": "1e9"}, ""), 0.0)
    number = reporting(TargetRequest("ehr", "GET", "/reporting/discharges", {"discharged_before": 1e9}, ""), 0.0)
    assert (text.status, text.body) == (200, number.body)


@pytest.mark.parametrize("query", [{}, {"discharged_before": HUGE}, {"discharged_before": float("nan")},
                                   {"discharged_before": 10.0, "discharged_from": "soon"}])  # fmt: skip
def test_a_discharge_window_without_a_usable_end_is_refused(world: World, query: dict[str, Any]) -> None:
    reporting = world.systems.targets["ehr"]
    field = "discharged_from" if "discharged_from" in query else "discharged_before"
    refused(reporting(TargetRequest("ehr", "GET", "/reporting/discharges", query, ""), 0.0), field)
