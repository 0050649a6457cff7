"""Labor cost allocation: the HCM's rules, the nightly sync with its validation and parking, the
oracle's governance rule, and the checker catching every defect planted in a real run."""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest

from mocks.erp.finance import ErpFinance
from mocks.hcm.hcm import Hcm, OrgUnit
from tests.conftest import run_small, small_scenario
from twin.domain.contract import Outcome
from twin.domain.events import ChargeLine, ChargesPosted, CostCenterRetired, MappingPublished, ShiftWorked
from twin.domain.exchange import TargetRequest, TargetResponse
from twin.domain.model import Employee, paid_quarter_hours, shift_pay
from twin.domain.timebase import Timebase
from twin.integration.crosswalk import Crosswalk
from twin.integration.reference import ReferenceConfig, ReferenceIntegration
from twin.network import build_network
from twin.observe.checker import FlowResult
from twin.observe.flows import check_all
from twin.observe.labor_expectations import (
    COST_PER_PATIENT_DAY,
    LABOR_EXCEPTION,
    LABOR_JOURNAL,
    LABOR_MINUTES,
    PATIENT_DAYS,
    PAYROLL_REGISTER,
    labor_bites,
    labor_expectations,
)
from twin.observe.truth import TruthLedger
from twin.sim import RunResult

TB = Timebase(datetime(2026, 1, 5))
ICU, RESP = "ORG-0141", "ORG-0149"
STAFF = (
    Employee("E1", "Doe", "Ann", "RN", "H01", ICU, 5_000),
    Employee("E2", "Roe", "Bea", "RN", "H01", ICU, 4_102),
    Employee("E3", "Poe", "Cal", "RRT", "H01", RESP, 3_900),
)


def _hcm() -> Hcm:
    return Hcm(STAFF, (OrgUnit(ICU, "Intensive Care Nursing", "H01"), OrgUnit(RESP, "Respiratory Care", "H01")))


def _work(hcm: Hcm, employee: str, unit: str, work_date: str, clock_in: float, clock_out: float) -> None:
    shift = hcm.schedule(employee, unit, work_date, clock_in, clock_out)
    hcm.clock_in(shift, clock_in)
    hcm.clock_out(shift, clock_out)


def _get(hcm: Hcm, path: str, body: dict[str, object] | None = None, method: str = "GET") -> TargetResponse:
    return hcm.handle(TargetRequest("hcm", method, path, body or {}, ""), 0.0)


# -- the HCM's rules ------------------------------------------------------------------------------


def test_paid_time_rounds_to_quarter_hours_and_pay_rounds_once_per_shift() -> None:
    assert paid_quarter_hours(727) == 48  # 12 h 07 min -> 12 h
    assert paid_quarter_hours(727.5) == 49  # half a quarter rounds up
    assert shift_pay(0.25, 4_102) == 1_026  # 1025.5 cents -> 1026
    assert shift_pay(12.25, 5_000) == 61_250


def test_timecards_query_answers_a_work_date_and_whether_it_is_complete() -> None:
    hcm = _hcm()
    _work(hcm, "E1", ICU, "2026-01-05", 410, 1_145)  # 12 h 15 min
    night = hcm.schedule("E2", ICU, "2026-01-05", 1_140, 1_860)
    hcm.clock_in(night, 1_131)
    open_day = _get(hcm, "/timecards", {"work_date": "2026-01-05"})
    assert open_day.status == 200 and open_day.body["complete"] is False and open_day.body["open_shifts"] == 1
    assert [card["amount"] for card in open_day.body["timecards"]] == [61_250]
    hcm.clock_out(night, 1_867)  # 12 h 16 min -> 12.25 h
    closed = _get(hcm, "/timecards", {"work_date": "2026-01-05"}).body
    assert closed["complete"] is True
    assert [(c["employee"], c["hours"], c["paid_minutes"], c["amount"]) for c in closed["timecards"]] == [
        ("E1", 12.25, 735, 61_250),
        ("E2", 12.25, 735, shift_pay(12.25, 4_102)),
    ]
    assert _get(hcm, "/timecards", {"work_date": "2026-01-06"}).body == {
        "work_date": "2026-01-06",
        "complete": True,
        "open_shifts": 0,
        "timecards": [],
    }
    assert _get(hcm, "/timecards", {"work_date": "Jan 5"}).status == 422
    assert _get(hcm, "/timecards", {}, method="POST").status == 405
    assert _get(hcm, "/nope").status == 404
    assert {u["org_unit"] for u in _get(hcm, "/org-units").body["org_units"]} == {ICU, RESP}


def test_payroll_pays_hours_times_rate_once_per_timecard() -> None:
    hcm = _hcm()
    _work(hcm, "E1", ICU, "2026-01-05", 420, 1_140)
    _work(hcm, "E1", ICU, "2026-01-07", 3_300, 4_020)
    _work(hcm, "E3", RESP, "2026-01-06", 1_860, 2_370)  # 8.5 h
    _work(hcm, "E2", ICU, "2026-01-19", 20_580, 21_300)  # next period
    run = hcm.run_payroll(date(2026, 1, 5), date(2026, 1, 18), 22_000)
    assert dict(run.gross_by_employee) == {"E1": 2 * 12 * 5_000, "E3": shift_pay(8.5, 3_900)}
    assert [(r.org_unit, r.hours, r.gross, r.employees) for r in run.register] == [
        (ICU, 24.0, 120_000, 1),
        (RESP, 8.5, 33_150, 1),
    ]
    assert hcm.run_payroll(date(2026, 1, 5), date(2026, 1, 18), 22_001).register == ()  # paid once
    assert hcm.unpaid() == 1
    runs = _get(hcm, "/payroll/runs").body["runs"]
    assert [r["gross"] for r in runs] == [153_150, 0]


# -- the nightly sync -----------------------------------------------------------------------------


class _Network:
    """A tiny in-process driver for the labor flow: delivers its requests to the HCM and the ERP and
    answers back (other flows' requests are not delivered: this test is about labor alone)."""

    def __init__(self) -> None:
        self.hcm = _hcm()
        self.erp = ErpFinance(TB, ("101-6010", "101-7050"))
        crosswalk = Crosswalk(departments={"H01-ICU": "101-6010"}, org_units={ICU: "101-6010", RESP: "101-7050"})
        self.integration = ReferenceIntegration(ReferenceConfig(TB, crosswalk, 120 * 60.0))
        self.requests: list[TargetRequest] = []
        self.timers: list[float] = []

    def apply(self, outcome: Outcome, now: float) -> None:
        queue = deque(outcome.requests)
        self.timers.extend(outcome.timers)
        while queue:
            request = queue.popleft()
            if not self.integration.labor.owns(request):
                continue
            self.requests.append(request)
            target = self.hcm.handle if request.system == "hcm" else self.erp.handle
            answer = self.integration.receive_response(request, target(request, now), now)
            queue.extend(answer.requests)
            self.timers.extend(answer.timers)

    def labor_journals(self) -> dict[str, int]:
        return {
            j.reference: sum(line.debit for line in j.lines if line.account == "6000")
            for j in self.erp.journals
            if j.source == "labor-allocation"
        }


def _room_and_board(at: float) -> ChargesPosted:
    line = ChargeLine("V1-001", "200-RB-ICU", "H01-ICU", 1, 520_000, at)
    return ChargesPosted(at, "H01", "V1", (line,))


def test_nightly_sync_posts_balanced_journals_and_parks_a_retired_cost_center_until_remapped() -> None:
    net = _Network()
    integration = net.integration
    net.apply(integration.start(0.0), 0.0)
    assert 120.0 in net.timers  # 02:00
    _work(net.hcm, "E1", ICU, "2026-01-05", 415, 1_152)  # 12 h 17 min -> 12.25 h
    _work(net.hcm, "E2", ICU, "2026-01-05", 1_133, 1_862)  # the night shift, into the next morning
    _work(net.hcm, "E3", RESP, "2026-01-05", 418, 930)  # 8 h 32 min -> 8.5 h
    integration.labor.observe(_room_and_board(0.0), 1.0)
    integration.labor.observe(_room_and_board(1_200.0), 1_201.0)  # discharged the same day: one more day
    net.erp.retire_cost_center("101-7050", "101-7055")
    net.apply(integration.on_timer(120.0), 120.0)  # nothing is a whole day old yet
    assert net.requests == [] and 1_560.0 in net.timers
    net.apply(integration.on_timer(1_560.0), 1_560.0)
    assert 3_000.0 in net.timers  # every night
    icu_pay = shift_pay(12.25, 5_000) + shift_pay(12.25, 4_102)
    assert net.labor_journals() == {"101-6010@2026-01-05": icu_pay}
    journal = net.erp.journals[0]
    assert sum(line.debit for line in journal.lines) == sum(line.credit for line in journal.lines) == icu_pay
    assert {(line.account, line.cost_center) for line in journal.lines} == {("6000", "101-6010"), ("2200", "101-6010")}
    stats = {(s.account, s.cost_center, s.day.isoformat()): s.quantity for s in net.erp.statistics}
    assert stats == {("9200", "101-6010", "2026-01-05"): 2 * 735, ("9100", "101-6010", "2026-01-05"): 2}
    [parked] = [e for e in integration.exceptions() if e.flow == "labor_cost"]
    assert (parked.key, parked.reason_code, parked.domain, parked.code) == (
        "ORG-0149@2026-01-05",
        "retired_cost_center",
        "org unit",
        RESP,
    )
    assert parked.resolved_at is None
    unrelated = MappingPublished(2_000.0, "department", "H01-LAB", "101-7010")
    net.apply(integration.receive_master_data(unrelated, 2_000.0), 2_000.0)
    assert len(net.labor_journals()) == 1
    remap = MappingPublished(2_100.0, "org unit", RESP, "101-7055")
    net.apply(integration.receive_master_data(remap, 2_100.0), 2_100.0)
    net.apply(integration.receive_master_data(remap, 2_200.0), 2_200.0)  # published again: nothing twice
    assert net.labor_journals() == {"101-6010@2026-01-05": icu_pay, "101-7055@2026-01-05": shift_pay(8.5, 3_900)}
    assert parked.resolved_at == 2_100.0
    net.apply(integration.on_timer(3_000.0), 3_000.0)  # the next night: 2026-01-06 had no shifts
    assert len(net.labor_journals()) == 2
    assert [e.reason_code for e in integration.exceptions() if e.flow == "labor_cost"] == ["retired_cost_center"]


def test_an_open_shift_keeps_its_work_date_for_the_next_night() -> None:
    net = _Network()
    net.apply(net.integration.start(0.0), 0.0)
    _work(net.hcm, "E1", ICU, "2026-01-05", 415, 1_152)
    night = net.hcm.schedule("E2", ICU, "2026-01-05", 1_140, 1_860)
    net.hcm.clock_in(night, 1_133)
    net.apply(net.integration.on_timer(1_560.0), 1_560.0)
    assert net.labor_journals() == {}
    net.hcm.clock_out(night, 1_862)
    net.apply(net.integration.on_timer(3_000.0), 3_000.0)
    assert net.labor_journals() == {"101-6010@2026-01-05": shift_pay(12.25, 5_000) + shift_pay(12.25, 4_102)}


def test_an_org_unit_without_mapping_is_an_exception_naming_it() -> None:
    net = _Network()
    net.integration.config.crosswalk.org_units.pop(RESP)
    net.apply(net.integration.start(0.0), 0.0)
    _work(net.hcm, "E3", RESP, "2026-01-05", 418, 930)
    net.apply(net.integration.on_timer(1_560.0), 1_560.0)
    [unmapped] = [e for e in net.integration.exceptions() if e.flow == "labor_cost"]
    assert (unmapped.reason_code, unmapped.domain, unmapped.code) == ("unmapped_org_unit", "org unit", RESP)
    assert net.labor_journals() == {}
    fix = MappingPublished(1_600.0, "org unit", RESP, "101-7050")
    net.apply(net.integration.receive_master_data(fix, 1_600.0), 1_600.0)
    assert net.labor_journals() == {"101-7050@2026-01-05": shift_pay(8.5, 3_900)}
    assert unmapped.resolved_at == 1_600.0


# -- the oracle's governance rule, with planted facts ---------------------------------------------


def _shift(work_date: str, unit: str, at: float, hours: float = 12.0, rate: int = 5_000) -> ShiftWorked:
    return ShiftWorked(at, "H01", "E1", "H01-X", unit, work_date, hours, rate)


def test_oracle_moves_labor_synced_after_a_retirement_to_the_replacement_once_remapped() -> None:
    scenario = small_scenario(governance={"items_missing_in_erp": 0, "retire_cost_center": None})
    network = build_network(scenario)
    resp = next(d for d in network.hospitals[0].departments if d.kind == "respiratory")
    icu = next(d for d in network.hospitals[0].departments if d.kind == "nursing")
    truth = TruthLedger()
    truth.append(_shift("2026-01-05", resp.org_unit, 900.0))  # synced 2026-01-06 02:00 (t=1560)
    truth.append(_shift("2026-01-06", resp.org_unit, 2_340.0))  # synced 2026-01-07 02:00 (t=3000)
    truth.append(_shift("2026-01-07", resp.org_unit, 3_780.0))  # synced t=4440
    truth.append(_shift("2026-01-07", icu.org_unit, 4_750.0))  # the night shift: 2026-01-07 closes at t=5880
    truth.append(CostCenterRetired(2_000.0, resp.cost_center, "101-7055"))
    truth.append(MappingPublished(4_000.0, "org unit", resp.org_unit, "101-7055"))

    def expected(target: str) -> dict[str, tuple[object, float]]:
        found = labor_expectations(truth, network, scenario, TB)
        return {e.key: (e.value, e.ready_at) for e in found if e.target == target}

    journals = expected(LABOR_JOURNAL)
    assert journals[f"{resp.cost_center}@2026-01-05"] == ({"amount": 60_000, "balanced": True}, 1_560.0)
    assert journals["101-7055@2026-01-06"] == ({"amount": 60_000, "balanced": True}, 4_000.0)  # at the remap
    assert journals["101-7055@2026-01-07"] == ({"amount": 60_000, "balanced": True}, 5_880.0)  # mapped by then
    assert journals[f"{icu.cost_center}@2026-01-07"][1] == 5_880.0
    assert f"{resp.cost_center}@2026-01-06" not in journals
    assert labor_bites(truth, network, scenario, TB) == {resp.cost_center: 3_000.0}  # for the master-data check
    assert expected(LABOR_EXCEPTION) == {
        f"{resp.org_unit}@2026-01-06:retired_cost_center": (
            {"reason_code": "retired_cost_center", "domain": "org unit", "code": resp.org_unit, "resolved": True},
            3_000.0,
        )
    }
    # Without the steward's publication the work stays parked: an open exception, no journal.
    truth = TruthLedger()
    for fact in (_shift("2026-01-06", resp.org_unit, 2_340.0), CostCenterRetired(2_000.0, resp.cost_center, "X")):
        truth.append(fact)
    assert expected(LABOR_JOURNAL) == {}
    assert [value for value, _ready in expected(LABOR_EXCEPTION).values()] == [
        {"reason_code": "retired_cost_center", "domain": "org unit", "code": resp.org_unit, "resolved": False}
    ]


# -- the checker catches what is planted in a real run --------------------------------------------


@pytest.fixture(scope="module")
def real_run() -> RunResult:
    result = run_small()
    labor = _labor(result)
    assert labor.expected > 100 and labor.in_sync, labor.differences[:3]
    return result


@pytest.fixture()
def run(real_run: RunResult) -> Iterator[RunResult]:
    """The module's run, restored after each test plants its defect."""
    finance, hcm = real_run.view.erp.finance, real_run.view.hcm
    journals, statistics, runs = list(finance.journals), list(finance.statistics), list(hcm.payroll_runs)
    exceptions = [(e, e.resolved_at) for e in real_run.view.exceptions]
    yield real_run
    finance.journals[:], finance.statistics[:], hcm.payroll_runs[:] = journals, statistics, runs
    for exception, resolved_at in exceptions:
        exception.resolved_at = resolved_at


def _labor(run: RunResult) -> FlowResult:
    return next(flow for flow in check_all(run.view) if flow.flow == "labor_cost")


def _found(run: RunResult) -> set[tuple[str, str]]:
    return {(d.kind, d.target) for d in _labor(run).differences}


def _journal_index(run: RunResult, nursing: bool) -> int:
    """A labor journal of a nursing cost center and day with patient days (so with a KPI), or of
    an ancillary cost center (no patient days at all)."""
    finance = run.view.erp.finance
    census = {f"{s.cost_center}@{s.day.isoformat()}" for s in finance.statistics if s.account == "9100"}
    centers = {key.partition("@")[0] for key in census}
    for index, journal in enumerate(finance.journals):
        key = f"{journal.lines[0].cost_center}@{journal.reference.rpartition('@')[2]}"
        if journal.source == "labor-allocation" and (
            key in census if nursing else key.partition("@")[0] not in centers
        ):
            return index
    raise AssertionError("the run has no such journal")


def test_the_run_checks_every_target_of_the_flow(real_run: RunResult) -> None:
    labor = _labor(real_run)
    assert labor.matched == labor.expected and not labor.pending
    assert real_run.view.hcm.payroll_runs and any(
        e.flow == "labor_cost" and e.resolved_at is not None for e in real_run.view.exceptions
    ), "the retirement of the default governance must reach the labor flow"


def test_planted_lost_journal_is_lost(run: RunResult) -> None:
    del run.view.erp.finance.journals[_journal_index(run, nursing=False)]
    assert _found(run) == {("lost", LABOR_JOURNAL)}


def test_planted_double_posting_is_duplicated(run: RunResult) -> None:
    journals = run.view.erp.finance.journals
    original = journals[_journal_index(run, nursing=False)]
    journals.append(dataclasses.replace(original, journal_id="JE-COPY", posted_at=original.posted_at + 0.01))
    assert _found(run) == {("duplicated", LABOR_JOURNAL)}
    assert _labor(run).counts["duplicated"] == 1


def test_planted_wrong_amount_is_wrong_value_and_spoils_the_kpi(run: RunResult) -> None:
    journals = run.view.erp.finance.journals
    index = _journal_index(run, nursing=True)
    lines = tuple(
        dataclasses.replace(line, debit=line.debit + 100 if line.debit else 0) for line in journals[index].lines
    )
    journals[index] = dataclasses.replace(journals[index], lines=lines)
    assert _found(run) == {("wrong_value", LABOR_JOURNAL), ("wrong_value", COST_PER_PATIENT_DAY)}
    [journal] = [d for d in _labor(run).differences if d.target == LABOR_JOURNAL]
    assert "balanced: expected True, found False" in journal.detail and "amount" in journal.detail


def test_planted_late_posting_is_stale(run: RunResult) -> None:
    journals = run.view.erp.finance.journals
    index = _journal_index(run, nursing=False)
    journals[index] = dataclasses.replace(journals[index], posted_at=journals[index].posted_at + 61)
    assert _found(run) == {("stale", LABOR_JOURNAL)}


def test_planted_wrong_statistics_are_wrong_values(run: RunResult) -> None:
    statistics = run.view.erp.finance.statistics
    days = next(i for i, s in enumerate(statistics) if s.account == "9100")
    statistics[days] = dataclasses.replace(statistics[days], quantity=statistics[days].quantity + 1)
    minutes = next(i for i, s in enumerate(statistics) if s.account == "9200")
    statistics[minutes] = dataclasses.replace(statistics[minutes], quantity=statistics[minutes].quantity - 15)
    assert _found(run) == {
        ("wrong_value", PATIENT_DAYS),
        ("wrong_value", COST_PER_PATIENT_DAY),
        ("wrong_value", LABOR_MINUTES),
    }


def test_planted_payroll_register_error_is_wrong_value(run: RunResult) -> None:
    runs = run.view.hcm.payroll_runs
    first = runs[0]
    register = (dataclasses.replace(first.register[0], gross=first.register[0].gross - 1), *first.register[1:])
    runs[0] = dataclasses.replace(first, register=register)
    assert _found(run) == {("wrong_value", PAYROLL_REGISTER)}


def test_planted_unresolved_exception_and_invented_posting_are_caught(run: RunResult) -> None:
    [parked] = [e for e in run.view.exceptions if e.flow == "labor_cost"]
    parked.resolved_at = None
    journals = run.view.erp.finance.journals
    original = journals[_journal_index(run, nursing=False)]
    journals.append(dataclasses.replace(original, journal_id="JE-X", reference="101-7010@2025-12-31"))
    assert _found(run) == {("wrong_value", LABOR_EXCEPTION), ("unexpected", LABOR_JOURNAL)}


def test_reports_never_show_staff(real_run: RunResult, tmp_path: Path) -> None:
    from twin.observe.report import build_summary, write_outputs

    summary = build_summary(real_run)
    assert summary["postings"]["labor_journals"] > 0 and summary["postings"]["payroll_runs"] >= 1
    write_outputs(real_run, summary, tmp_path)
    written = (tmp_path / "summary.json").read_text() + (tmp_path / "records" / "messages.csv").read_text()
    staff = real_run.view.hcm.employees.values()
    leaked = [e.employee_id for e in staff if e.employee_id in written or f"{e.given} {e.family}" in written]
    assert not leaked, leaked[:5]
