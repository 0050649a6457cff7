"""Executive reporting: the dashboard's rules, the targets' reporting queries, cycle counts, the KPI
service computing every KPI from canned answers, and the oracle catching every defect planted in a
real run - including one planted in a source target, which the billing flow catches too."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from mocks.ehr.reporting import EhrReporting
from mocks.erp.finance import ErpFinance
from mocks.erp.supply_chain import ErpSupplyChain, ItemMaster, StockPolicy
from mocks.saas.clearinghouse import Clearinghouse
from mocks.saas.dashboard import Dashboard, KpiPublication
from tests.conftest import small_scenario
from twin.domain.events import ChargeLine, ChargesPosted, PatientAdmitted, PatientDischarged, StockCounted
from twin.domain.exchange import TargetRequest, TargetResponse
from twin.domain.model import Patient
from twin.domain.pseudonym import pseudonym
from twin.domain.timebase import Timebase
from twin.integration.reporting import KpiService, ReportingConfig
from twin.observe.checker import FlowResult
from twin.observe.flows import check_all
from twin.observe.kpi import REPORTING, TruthKpi
from twin.observe.kpi_check import judge, kpi_truth
from twin.observe.records import Observed
from twin.sim import RunResult, Twin

TB = Timebase(datetime(2026, 1, 5))
DAY = 1440.0
KPI = {
    "kpi": "dnfb_amount",
    "scope": "H01",
    "period": "2026-01-05",
    "value": 1500,
    "unit": "USD cents",
    "lineage": ["V1"],
    "as_of": 1800.0,
}


def _post(dashboard: Dashboard, body: dict[str, Any], now: float = 1800.0) -> TargetResponse:
    return dashboard.handle(TargetRequest("dashboard", "POST", "/kpis", body, ""), now)


# -- the dashboard --------------------------------------------------------------------------------


def test_dashboard_keeps_a_valid_kpi_and_lists_it() -> None:
    dashboard = Dashboard()
    assert _post(dashboard, KPI).status == 201
    listed = dashboard.handle(TargetRequest("dashboard", "GET", "/kpis", {"kpi": "dnfb_amount"}, ""), 1801.0)
    assert [(k["scope"], k["value"], k["lineage"]) for k in listed.body["kpis"]] == [("H01", 1500.0, ["V1"])]
    assert dashboard.handle(TargetRequest("dashboard", "GET", "/kpis", {"kpi": "stock_outs"}, ""), 0).body == {
        "kpis": []
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kpi": "revenue_per_bed"}, "kpi"),
        ({"value": "1500"}, "value"),
        ({"value": True}, "value"),
        ({"value": float("nan")}, "value"),
        ({"lineage": "V1"}, "lineage"),
        ({"lineage": ["V1", 7]}, "lineage"),
        ({"unit": "USD"}, "unit"),
        ({"period": "05/01/2026"}, "period"),
        ({"scope": ""}, "scope"),
        ({"as_of": None}, "as_of"),
    ],
)
def test_dashboard_refuses_a_broken_kpi_with_the_reason(change: dict[str, Any], field: str) -> None:
    dashboard = Dashboard()
    response = _post(dashboard, {**KPI, **change})
    assert response.status == 422
    assert any(reason.startswith(f"{field}:") for reason in response.body["errors"]), response.body
    assert dashboard.kpis == [] and dashboard.history == []


def test_dashboard_republication_replaces_never_duplicates() -> None:
    dashboard = Dashboard()
    _post(dashboard, KPI)
    retry = _post(dashboard, KPI, 1802.0)  # the transport repeats it: nothing changes
    assert retry.status == 200 and retry.body["status"] == "same" and len(dashboard.history) == 1
    corrected = _post(dashboard, {**KPI, "value": 1700, "lineage": ["V1", "V2"], "as_of": 1900.0}, 1900.0)
    assert corrected.status == 200 and corrected.body == {"id": "KPI00000002", "revision": 2, "status": "replaced"}
    [shown] = dashboard.kpis
    assert (shown.value, shown.lineage, shown.published_at, shown.revision) == (1700.0, ("V1", "V2"), 1900.0, 2)
    older = _post(dashboard, {**KPI, "value": 1, "as_of": 1850.0}, 1950.0)  # a late retry of an older cut
    assert older.status == 409 and dashboard.kpis[0].value == 1700.0
    assert len(dashboard.history) == 2 and len(dashboard.kpis) == 1


# -- the targets' reporting queries and cycle counts ----------------------------------------------


def _supply() -> ErpSupplyChain:
    finance = ErpFinance(TB, ("101-7510", "101-6510"))
    return ErpSupplyChain(
        finance, (ItemMaster("IM-1", "Knee", "V-APEX", 1000),), {("101-7510", "IM-1"): StockPolicy(2, 6)}, {}
    )


def _issue(supply: ErpSupplyChain, ref: str, quantity: int, now: float, case: str = "C1") -> TargetResponse:
    body = {
        "reference": ref,
        "location": "101-7510",
        "item": "IM-1",
        "quantity": quantity,
        "cost_center": "101-6510",
        "case": case,
    }
    return supply.handle(TargetRequest("erp", "POST", "/inventory/issues", body, f"issue:{ref}"), now)


def _get(handler: Any, system: str, path: str, query: dict[str, Any]) -> dict[str, Any]:
    response = handler(TargetRequest(system, "GET", path, query, ""), 5000.0)
    assert response.status == 200, response.body
    return dict(response.body)


def test_erp_records_the_case_and_the_issue_behind_each_stock_out_and_answers_by_window() -> None:
    supply = _supply()
    supply.on_hand[("101-7510", "IM-1")] = 1
    _issue(supply, "V1-001", 1, 10.0)
    _issue(supply, "V1-002", 2, 20.0, case="C2")
    _issue(supply, "V1-003", 1, DAY + 5)
    issues = _get(supply.handle, "erp", "/inventory/issues", {"posted_from": 0.0, "posted_before": DAY})["issues"]
    assert [(i["reference"], i["case"], i["cost"]) for i in issues] == [("V1-001", "C1", 1000), ("V1-002", "C2", 2000)]
    outs = _get(supply.handle, "erp", "/inventory/stock-outs", {"posted_before": DAY})["stock_outs"]
    assert [(o["reference"], o["on_hand"]) for o in outs] == [("V1-002", -2)]
    assert len(_get(supply.handle, "erp", "/inventory/stock-outs", {"posted_from": DAY})["stock_outs"]) == 1


def test_a_cycle_count_keeps_its_variance_and_leaves_on_hand_alone() -> None:
    supply = _supply()
    supply.on_hand[("101-7510", "IM-1")] = 5
    document = supply.record_count("101-7510", "IM-1", 3, 180.0)
    assert (document.count_id, document.system_on_hand, document.variance) == ("CC00000001", 5, -2)
    assert supply.on_hand[("101-7510", "IM-1")] == 5  # variances go to review, not into stock
    counts = _get(supply.handle, "erp", "/inventory/counts", {"posted_from": 0.0, "posted_before": DAY})["counts"]
    assert [(c["count_id"], c["variance"]) for c in counts] == [("CC00000001", -2)]
    with pytest.raises(ValueError, match="not stocked"):
        supply.record_count("101-7510", "IM-UNKNOWN", 1, 181.0)


def test_erp_finance_answers_receivables_journals_and_statistics_by_window() -> None:
    finance = ErpFinance(TB, ("101-6030", "101-8010"))
    lines = [
        {"account": "1200", "cost_center": "101-8010", "debit": 500, "credit": 0},
        {"account": "4000", "cost_center": "101-6030", "debit": 0, "credit": 500},
    ]
    receivable = {"customer": "CMS-A01", "invoice": "V1", "amount": 500}
    body = {"reference": "V1", "source": "patient-billing", "lines": lines, "receivable": receivable}
    finance.handle(TargetRequest("erp", "POST", "/finance/journals", body, "j1"), 100.0)
    labor = [
        {"account": "6000", "cost_center": "101-6030", "debit": 900, "credit": 0},
        {"account": "2200", "cost_center": "101-6030", "debit": 0, "credit": 900},
    ]
    labor_body = {"reference": "101-6030@2026-01-05", "source": "labor-allocation", "lines": labor}
    finance.handle(TargetRequest("erp", "POST", "/finance/journals", labor_body, "j2"), DAY + 120)
    statistic = {"reference": "x", "account": "9100", "cost_center": "101-6030", "day": "2026-01-05", "quantity": 3}
    finance.handle(TargetRequest("erp", "POST", "/finance/statistics", statistic, "s1"), DAY + 120)
    ar = _get(finance.handle, "erp", "/finance/ar-items", {"posted_before": DAY})["ar_items"]
    assert [(i["invoice"], i["amount"], i["posted_at"]) for i in ar] == [("V1", 500, 100.0)]
    assert _get(finance.handle, "erp", "/finance/ar-items", {"posted_from": 100.5})["ar_items"] == []
    journals = _get(finance.handle, "erp", "/finance/journals", {"source": "labor-allocation"})["journals"]
    assert [j["reference"] for j in journals] == ["101-6030@2026-01-05"]
    stats = _get(finance.handle, "erp", "/finance/statistics", {"account": "9100", "day": "2026-01-05"})
    assert [s["quantity"] for s in stats["statistics"]] == [3]


def test_clearinghouse_lists_accepted_claims_with_the_discharge_they_state() -> None:
    clearinghouse = Clearinghouse(("CMS-A01",))
    claim = {
        "resourceType": "Claim",
        "identifier": [{"system": "urn:twin:visit-number", "value": "V1"}],
        "insurer": {"identifier": {"value": "CMS-A01"}},
        "provider": {"identifier": {"value": "H01"}},
        "patient": {"reference": "Patient/M1"},
        "diagnosis": [{"sequence": 1, "diagnosisCodeableConcept": {"coding": [{"code": "I10"}]}}],
        "item": [{"sequence": 1, "net": {"value": 5.0}}],
        "total": {"value": 5.0},
        "billablePeriod": {"start": "2026-01-04T10:00:00+00:00", "end": "2026-01-05T12:00:00+00:00"},
    }
    clearinghouse.handle(TargetRequest("clearinghouse", "POST", "/claims", claim, "c1"), 900.0)
    clearinghouse.handle(TargetRequest("clearinghouse", "POST", "/claims", {**claim, "total": {}}, "c2"), 901.0)
    claims = _get(clearinghouse.handle, "clearinghouse", "/claims", {"received_from": 0.0, "received_before": DAY})
    assert [(c["claim_number"], c["provider"], c["billable_period_end"]) for c in claims["claims"]] == [
        ("V1", "H01", "2026-01-05T12:00:00+00:00")
    ]  # the rejected resubmission is not listed


def test_ehr_extract_lists_a_window_of_discharges_and_refreshes_named_charts() -> None:
    twin = Twin(small_scenario())
    ehr, payer = twin.ehr, twin.network.payers[0]
    npi = twin.network.hospitals[0].providers[0].npi
    for mrn, visit in (("H01M0000001", "H01V0000001"), ("H01M0000002", "H01V0000002")):
        ehr.register_patient(Patient(mrn, "Doe", "Jo", "19700101", "F", payer, "1"), "H01")
        ehr.record(PatientAdmitted(0.0, "H01", visit, mrn, "H01-4M", "001-A", npi, payer.plan_code, "MCR"))
    line = ChargeLine("H01V0000001-001", "300-85025", "H01-LAB", 1, 4500, 10.0)
    ehr.record(ChargesPosted(10.0, "H01", "H01V0000001", (line,)))
    ehr.record(PatientDischarged(600.0, "H01", "H01V0000001", "H01-4M", "01"))
    reporting = EhrReporting(ehr)
    first = _get(reporting.handle, "ehr", "/reporting/discharges", {"discharged_before": DAY})["discharges"]
    assert [(d["visit"], d["discharged_at"], [c["amount"] for c in d["charges"]]) for d in first] == [
        ("H01V0000001", 600.0, [4500])
    ]
    late = ChargeLine("H01V0000001-002", "250-J1885", "H01-PHAR", 1, 2400, DAY + 60)
    ehr.record(ChargesPosted(DAY + 60, "H01", "H01V0000001", (late,)))
    ehr.record(PatientDischarged(DAY + 90, "H01", "H01V0000002", "H01-4M", "01"))
    window = {"discharged_from": DAY, "discharged_before": 2 * DAY}
    assert [d["visit"] for d in _get(reporting.handle, "ehr", "/reporting/discharges", window)["discharges"]] == [
        "H01V0000002"
    ]
    refresh = {**window, "refresh": {"H01V0000001": 1, "H01V0000002": 0, "H01V0000404": 0}}
    again = _get(reporting.handle, "ehr", "/reporting/discharges", refresh)["discharges"]
    assert [(d["visit"], len(d["charges"])) for d in again] == [("H01V0000002", 0), ("H01V0000001", 2)]
    unchanged = {**window, "refresh": {"H01V0000001": 2}}  # the caller has both lines already
    assert [d["visit"] for d in _get(reporting.handle, "ehr", "/reporting/discharges", unchanged)["discharges"]] == [
        "H01V0000002"
    ]
    early = {"discharged_before": 500.0, "refresh": {"H01V0000001": 0}}  # not yet discharged then
    assert _get(reporting.handle, "ehr", "/reporting/discharges", early)["discharges"] == []
    bad = reporting.handle(TargetRequest("ehr", "GET", "/reporting/discharges", {"refresh": ["x"]}, ""), 0)
    assert bad.status == 422 and len(bad.body["errors"]) == 2
    assert reporting.handle(TargetRequest("ehr", "POST", "/reporting/discharges", {}, ""), 0).status == 404


# -- the KPI service, from canned target answers ---------------------------------------------------

CONFIG = ReportingConfig(("H01", "H02"), {"101-7510": "H01", "102-7510": "H02"}, 360.0)
ANSWERS: dict[str, dict[str, Any]] = {
    "discharges": {
        "discharges": [
            {
                "visit": "V1",
                "hospital": "H01",
                "discharged_at": 600.0,
                "charges": [
                    {"txn_id": "V1-1", "amount": 1000, "at": 10.0},
                    {"txn_id": "V1-2", "amount": 70, "at": DAY},
                ],
            },
            {"visit": "V2", "hospital": "H01", "discharged_at": 700.0, "charges": [{"amount": 500, "at": 20.0}]},
            {"visit": "V3", "hospital": "H02", "discharged_at": 800.0, "charges": [{"amount": 300, "at": 30.0}]},
        ]
    },
    "receivables": {"ar_items": [{"invoice": "V2", "amount": 500, "posted_at": 900.0}]},
    "claims": {
        "claims": [
            {
                "claim_number": "V7",
                "provider": "H01",
                "billable_period_end": "2026-01-04T12:00:00+00:00",
                "received_at": 720.0,
            },
            {
                "claim_number": "V8",
                "provider": "H01",
                "billable_period_end": "2026-01-05T00:00:00+00:00",
                "received_at": 1440 * 0.5,
            },
        ]
    },
    "issues": {
        "issues": [
            {"reference": "V5-1", "cost_center": "101-6510", "cost": 900, "case": "C1"},
            {"reference": "V5-2", "cost_center": "101-6510", "cost": 100, "case": "C1"},
            {"reference": "V6-1", "cost_center": "101-6510", "cost": 500, "case": "C2"},
        ]
    },
    "stock_outs": {"stock_outs": [{"location": "101-7510", "reference": "V5-2"}]},
    "counts": {
        "counts": [
            {"count_id": "CC1", "location": "101-7510", "variance": 0},
            {"count_id": "CC2", "location": "101-7510", "variance": -1},
            {"count_id": "CC3", "location": "101-7510", "variance": 0},
        ]
    },
    "labor": {
        "journals": [
            {
                "reference": "101-6030@2026-01-04",
                "lines": [
                    {"account": "6000", "cost_center": "101-6030", "debit": 90000, "credit": 0},
                    {"account": "2200", "cost_center": "101-6030", "debit": 0, "credit": 90000},
                ],
            }
        ]
    },
    "patient_days": {
        "statistics": [
            {"reference": "101-6030@2026-01-04", "cost_center": "101-6030", "day": "2026-01-04", "quantity": 30}
        ]
    },
}


def _service_run(service: KpiService, answers: dict[str, dict[str, Any]], at: float) -> list[TargetRequest]:
    queries = service.on_timer(at).requests
    posts: list[TargetRequest] = []
    for query in queries:
        name = query.correlation.rpartition("/")[2]
        posts += service.on_response(query, TargetResponse(200, answers.get(name, {})), at + 0.01).requests
    return posts


def _by_key(posts: list[TargetRequest]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(p.body["kpi"], p.body["scope"]): p.body for p in posts}


def test_kpi_service_asks_every_source_at_the_publish_hour() -> None:
    service = KpiService(CONFIG, TB)
    assert service.start(0.0).timers == [360.0]
    assert service.on_timer(100.0).requests == []  # another flow's timer
    first = service.on_timer(360.0)
    assert first.requests == [] and first.timers == [360.0 + DAY]  # nothing before the switch-on day
    run = service.on_timer(360.0 + DAY)
    asked = {(r.system, r.path) for r in run.requests}
    assert asked == {
        ("ehr", "/reporting/discharges"),
        ("erp", "/finance/ar-items"),
        ("clearinghouse", "/claims"),
        ("erp", "/inventory/issues"),
        ("erp", "/inventory/stock-outs"),
        ("erp", "/inventory/counts"),
        ("erp", "/finance/journals"),
        ("erp", "/finance/statistics"),
    }
    issues = next(r for r in run.requests if r.path == "/inventory/issues")
    assert issues.body == {"posted_from": 0.0, "posted_before": DAY} and all(r.method == "GET" for r in run.requests)


def test_kpi_service_switched_on_a_moment_before_the_run_reports_no_day_before_it() -> None:
    """Live, the service may be switched on a hair before minute 0 (a timer waking a millisecond early): the day
    before the run is still nobody's to report (it published six KPIs 'with no truth behind them')."""
    service = KpiService(CONFIG, TB)
    service.start(-0.01)  # 0.6 simulated seconds: under a millisecond of wall time at 1440x
    assert service.on_timer(360.0).requests == []


def test_kpi_service_computes_every_kpi_with_its_lineage() -> None:
    service = KpiService(CONFIG, TB)
    service.start(0.0)
    service.on_timer(360.0)
    posts = _service_run(service, ANSWERS, 360.0 + DAY)
    kpis = _by_key(posts)
    assert all(p.system == "dashboard" and p.path == "/kpis" for p in posts)
    assert kpis[("dnfb_amount", "H01")]["value"] == 1000  # V2 billed; V1's charge at midnight is the next day's
    assert kpis[("dnfb_amount", "H01")]["lineage"] == ["V1"]
    assert kpis[("dnfb_amount", "H02")]["lineage"] == ["V3"]
    assert kpis[("days_to_bill", "H01")]["value"] == pytest.approx((1.0 + 0.5) / 2)
    assert kpis[("days_to_bill", "H01")]["lineage"] == ["V7", "V8"]
    assert (kpis[("stock_outs", "H01")]["value"], kpis[("stock_outs", "H01")]["lineage"]) == (1, ["V5-2"])
    assert (kpis[("stock_outs", "H02")]["value"], kpis[("stock_outs", "H02")]["lineage"]) == (0, [])
    assert kpis[("stock_accuracy", "H01")]["value"] == pytest.approx(2 / 3)
    assert ("stock_accuracy", "H02") not in kpis  # no counts: nothing to average
    assert kpis[("supply_cost_per_case", "101-6510")]["value"] == 750.0
    assert kpis[("supply_cost_per_case", "101-6510")]["lineage"] == ["C1", "C2"]
    labor = kpis[("labor_cost_per_patient_day", "101-6030")]
    assert (labor["period"], labor["value"], labor["lineage"]) == ("2026-01-04", 3000.0, ["101-6030@2026-01-04"])
    assert {p.body["period"] for p in posts} == {"2026-01-05", "2026-01-04"}
    assert all(p.body["unit"] and p.body["as_of"] == 360.0 + DAY + 0.01 for p in posts)


def test_kpi_service_keeps_dnfb_across_days_from_what_changed() -> None:
    service = KpiService(CONFIG, TB)
    service.start(0.0)
    service.on_timer(360.0)
    _service_run(service, ANSWERS, 360.0 + DAY)
    nothing_new = {"discharges": {"discharges": []}, "receivables": {"ar_items": []}}
    kpis = _by_key(_service_run(service, nothing_new, 360.0 + 2 * DAY))
    assert (kpis[("dnfb_amount", "H01")]["value"], kpis[("dnfb_amount", "H01")]["period"]) == (1070, "2026-01-06")
    billed = {"receivables": {"ar_items": [{"invoice": "V1"}]}}
    kpis = _by_key(_service_run(service, billed, 360.0 + 3 * DAY))
    assert (kpis[("dnfb_amount", "H01")]["value"], kpis[("dnfb_amount", "H01")]["lineage"]) == (0, [])
    assert kpis[("dnfb_amount", "H02")]["lineage"] == ["V3"]
    ehr = next(r for r in service.on_timer(360.0 + 4 * DAY).requests if r.system == "ehr")
    # the day's discharges, and a refresh of the charts still unbilled (late charges)
    assert ehr.body == {"discharged_before": 4 * DAY, "discharged_from": 3 * DAY, "refresh": {"V3": 1}}


def test_kpi_service_raises_an_exception_instead_of_publishing_from_missing_sources() -> None:
    service = KpiService(CONFIG, TB)
    service.start(0.0)
    service.on_timer(360.0)
    queries = service.on_timer(360.0 + DAY).requests
    posts = []
    for query in queries:
        status = 503 if query.path == "/claims" else 200
        posts += service.on_response(query, TargetResponse(status, {}), 1900.0).requests
    assert posts == []
    assert [e.reason_code for e in service.raised] == ["source_unavailable"]
    refused = TargetRequest("dashboard", "POST", "/kpis", {}, "dnfb_amount/H01/2026-01-05", "kpi:2026-01-05/publish")
    service.on_response(refused, TargetResponse(422, {"errors": ["kpi: unknown"]}), 1901.0)
    assert service.raised[-1].reason_code == "dashboard_rejected"


# -- the comparator on hand-made values ----------------------------------------------------------


@dataclasses.dataclass
class _Truth:
    values: dict[str, TruthKpi]
    known: dict[str, set[str]]
    lag: float = 60.0


def _judge(lineage: list[str], value: float, at: float = 1800.5) -> list[str]:
    truth = TruthKpi("dnfb_amount", "H01", "2026-01-05", [1800.0])
    truth.add("V1", 100, 100, required=True)
    truth.add("V2", 50, 50, required=False)  # racing: its bill landed around midnight
    fake = _Truth({truth.key: truth}, {"visit": {"V1", "V2", "V3"}})
    shown = Observed("dashboard.kpi", truth.key, {"value": value, "lineage": lineage}, at, "KPI1")
    result = judge(fake, [shown], 5000.0)  # type: ignore[arg-type]
    return [d.kind for d in result.differences]


def test_racing_members_may_be_in_or_out_but_nothing_else_may() -> None:
    assert _judge(["V1"], 100) == []
    assert _judge(["V1", "V2"], 150) == []
    assert _judge(["V1", "V2"], 100) == ["wrong_value"]  # value not the truth over that lineage
    assert _judge(["V2"], 50) == ["wrong_value"]  # a required member is missing
    assert _judge(["V1", "V3"], 100) == ["wrong_value"]  # V3 is no member
    assert _judge(["V1", "V9"], 100) == ["wrong_value"]  # V9 never happened
    assert _judge(["V1", "V1"], 100) == ["wrong_value"]
    assert _judge(["V1"], 100, at=1800 + 61) == ["stale"]
    assert _judge(["V1"], 100, at=1700) == ["out_of_order"]


# -- a real run: in sync, and every planted defect caught -----------------------------------------


@pytest.fixture(scope="module")
def run() -> RunResult:
    result = Twin(small_scenario(days=3)).run()
    assert result.in_sync, [d for f in result.flows for d in f.differences[:3]]
    shown = {p.kpi for p in result.view.dashboard.kpis}
    assert shown == {
        "dnfb_amount",
        "days_to_bill",
        "stock_outs",
        "stock_accuracy",
        "supply_cost_per_case",
        "labor_cost_per_patient_day",
    }, shown
    return result


def _reporting(run: RunResult) -> FlowResult:
    return next(f for f in check_all(run.view) if f.flow == REPORTING)


@pytest.fixture()
def dashboard(run: RunResult) -> Iterator[Dashboard]:
    """The run's dashboard, restored after a test planted something in it."""
    board = run.view.dashboard
    saved = list(board.kpis)
    yield board
    board.kpis[:] = saved


def _pick(run: RunResult, kpi: str, required: int = 1) -> tuple[int, KpiPublication, TruthKpi]:
    """A due publication of ``kpi`` with at least ``required`` required members."""
    truth = kpi_truth(run.view, run.horizon)
    for index, shown in enumerate(run.view.dashboard.kpis):
        value = truth.values[shown.key]
        if shown.kpi == kpi and not value.optional and len(value.required) >= required:
            return index, shown, value
    raise AssertionError(f"no due {kpi} with {required} required members")


def test_the_flow_is_in_sync_with_its_lag_measured(run: RunResult) -> None:
    flow = _reporting(run)
    assert flow.in_sync and flow.expected > 20 and flow.matched == flow.expected
    assert 0 < flow.percentiles()["p99"] <= run.scenario.reporting.allowed_lag_minutes  # type: ignore[operator]


@pytest.mark.parametrize("kpi", ["dnfb_amount", "days_to_bill", "stock_accuracy", "supply_cost_per_case"])
def test_planted_altered_value_is_wrong_value(run: RunResult, dashboard: Dashboard, kpi: str) -> None:
    index, shown, _ = _pick(run, kpi)
    dashboard.kpis[index] = dataclasses.replace(shown, value=shown.value * 1.01 + 1)
    flow = _reporting(run)
    assert flow.counts["wrong_value"] == 1 and len(flow.differences) == 1
    assert "reported" in flow.differences[0].detail and "truth" in flow.differences[0].detail


def test_planted_labor_ratio_off_by_a_cent_is_wrong_value(run: RunResult, dashboard: Dashboard) -> None:
    index, shown, _ = _pick(run, "labor_cost_per_patient_day")
    dashboard.kpis[index] = dataclasses.replace(shown, value=shown.value + 0.01)
    assert _reporting(run).counts == {**dict.fromkeys(_reporting(run).counts, 0), "wrong_value": 1}


def test_planted_removed_lineage_id_is_wrong_value_and_named_by_pseudonym(run: RunResult, dashboard: Dashboard) -> None:
    index, shown, value = _pick(run, "dnfb_amount", required=2)
    removed = sorted(value.required)[0]
    dashboard.kpis[index] = dataclasses.replace(shown, lineage=tuple(i for i in shown.lineage if i != removed))
    [difference] = _reporting(run).differences
    assert difference.kind == "wrong_value" and pseudonym(removed) in difference.detail
    assert removed not in difference.detail  # reports never print a visit number


def test_planted_invented_lineage_id_is_wrong_value(run: RunResult, dashboard: Dashboard) -> None:
    index, shown, _ = _pick(run, "stock_accuracy")
    dashboard.kpis[index] = dataclasses.replace(shown, lineage=(*shown.lineage, "CC99999999"))
    [difference] = _reporting(run).differences
    assert difference.kind == "wrong_value" and "never happened" in difference.detail


def test_planted_dropped_publication_is_lost(run: RunResult, dashboard: Dashboard) -> None:
    index, _, _ = _pick(run, "stock_outs", required=0)
    del dashboard.kpis[index]
    assert _reporting(run).counts["lost"] == 1


def test_planted_duplicate_and_invented_publications_are_caught(run: RunResult, dashboard: Dashboard) -> None:
    _, shown, _ = _pick(run, "dnfb_amount")
    dashboard.kpis.append(dataclasses.replace(shown, publication_id="KPI-COPY"))
    dashboard.kpis.append(dataclasses.replace(shown, publication_id="KPI-NEW", scope="H09"))
    counts = _reporting(run).counts
    assert (counts["duplicated"], counts["unexpected"]) == (1, 1)


def test_planted_late_and_early_publications_are_stale_and_out_of_order(run: RunResult, dashboard: Dashboard) -> None:
    index, shown, _ = _pick(run, "days_to_bill")
    dashboard.kpis[index] = dataclasses.replace(shown, published_at=shown.published_at + 120)
    assert _reporting(run).counts["stale"] == 1
    dashboard.kpis[index] = dataclasses.replace(shown, published_at=shown.published_at - 7 * 60)
    assert _reporting(run).counts["out_of_order"] == 1


def test_cycle_counts_are_facts_and_leave_erp_stock_alone(run: RunResult) -> None:
    twin = run.view
    counted = [fact for fact in twin.truth if isinstance(fact, StockCounted)]
    documents = {c.count_id: c for c in twin.erp.supply.counts}
    assert counted and {c.count_id for c in counted} == set(documents)
    assert all(documents[c.count_id].counted == c.physical for c in counted)
    assert all(twin.timebase.at(c.at).hour == 3 for c in counted)
    per_night = run.scenario.reporting.counts_per_night
    # each stock location (the central storeroom, the pharmacy) counts its own few every night
    assert {c.location[-4:] for c in counted} == {"7510", "7030"}
    assert len(counted) == per_night * len({(c.at, c.location) for c in counted})


# -- the oracle is independent of the integration: a divergence planted in a source target ---------


def test_a_receivable_the_erp_lost_is_caught_by_billing_and_by_the_dnfb_kpi() -> None:
    twin = Twin(small_scenario(days=3))
    finance = twin.erp.finance
    original = finance._post
    lost: list[str] = []

    def lossy(body: dict[str, Any], now: float) -> TargetResponse:
        response = original(body, now)
        if not lost and body.get("receivable"):
            lost.append(finance.ar_items.pop().invoice)  # the journal posts, the receivable vanishes
        return response

    finance._post = lossy  # type: ignore[method-assign]
    result = twin.run()
    [visit] = lost
    flows = {flow.flow: flow for flow in result.flows}
    assert [(d.kind, d.key) for d in flows["discharge_billing"].differences] == [("lost", visit)]
    dnfb = flows[REPORTING].differences
    assert dnfb and {d.kind for d in dnfb} == {"wrong_value"}
    assert all(d.key.startswith("dnfb_amount/") and pseudonym(visit) in d.detail for d in dnfb)
    assert all("not members of this value" in d.detail for d in dnfb)


def test_the_report_shows_the_flow_without_patient_identifiers(run: RunResult, dashboard: Dashboard) -> None:
    import io
    import json

    from rich.console import Console

    from twin.observe.report import build_summary, print_summary

    index, shown, value = _pick(run, "dnfb_amount", required=2)
    removed = sorted(value.required)[0]
    lineage = tuple(i for i in shown.lineage if i != removed)
    dashboard.kpis[index] = dataclasses.replace(shown, lineage=lineage)  # one difference to list
    run.flows[:] = check_all(run.view)
    try:
        summary = build_summary(run)
    finally:
        dashboard.kpis[index] = shown
        run.flows[:] = check_all(run.view)
    reporting = summary["reporting"]
    assert reporting["kpis_shown"] == len(dashboard.kpis) and sum(reporting["by_kpi"].values()) == len(dashboard.kpis)
    assert {row["kpi"] for row in reporting["last_period"]} >= {"dnfb_amount", "stock_outs"}
    assert summary["flows"][REPORTING]["differences"]["wrong_value"] == 1
    [listed] = [d for d in summary["differences"] if d["flow"] == REPORTING]
    assert listed["key"] == shown.key  # a KPI key names no patient: printed as it is
    text = json.dumps(summary)
    out = io.StringIO()
    print_summary(summary, Console(file=out, width=100), show_kpis=True)
    assert "dashboard vs truth" in out.getvalue()
    brief = io.StringIO()
    print_summary(summary, Console(file=brief, width=200))
    assert ": dashboard vs truth" not in brief.getvalue() and "twin run --kpis shows them" in brief.getvalue()
    visits = {f.visit for f in run.view.truth if isinstance(f, PatientAdmitted)}
    assert not any(visit in text or visit in out.getvalue() for visit in visits)
    assert pseudonym(removed) in listed["detail"]


def test_the_clock_tolerance_widens_what_a_live_run_may_report(run: RunResult, dashboard: Dashboard) -> None:
    """Live, a bill lands up to the clock's tolerance after its allowed lag: days to bill may be that
    much longer; a minute beyond is still wrong."""
    index, shown, value = _pick(run, "days_to_bill")
    lineage = set(shown.lineage)
    _, high = value.bounds(lineage) or (0.0, 0.0)
    tolerance = 60.0
    live = dataclasses.replace(run.view, clock_tolerance=tolerance)

    def kinds(view: object, reported: float) -> list[str]:
        dashboard.kpis[index] = dataclasses.replace(shown, value=reported)
        flow = next(f for f in check_all(view) if f.flow == REPORTING)  # type: ignore[arg-type]
        return [d.kind for d in flow.differences if d.key == shown.key]

    late = high + (tolerance / 2) * len(lineage) / 1440 / len(lineage)  # each member half a tolerance late
    assert kinds(run.view, late) == ["wrong_value"]  # simulated: no tolerance, too long
    assert kinds(live, late) == []
    assert kinds(live, high + (tolerance + 1) / 1440) == ["wrong_value"]
