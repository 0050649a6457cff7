"""Calibration: each statistic measured from planted facts, and the range verdicts."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any

import pytest

from tests.conftest import run_small
from twin.domain.events import CaseCompleted, ChargeLine, ChargesPosted, PatientAdmitted, PatientDischarged
from twin.observe.calibration import REFERENCES, Calibrated, calibrate
from twin.observe.truth import TruthLedger

DAY = 1440.0


def _stay(truth: TruthLedger, visit: str, start: float, end: float, amount: int = 0) -> None:
    truth.append(PatientAdmitted(start, "H01", visit, "M", "U", "B", "N", "MCR-A", "MCR"))
    if amount:
        truth.append(ChargesPosted(start, "H01", visit, (ChargeLine(f"{visit}-1", "C", "D", 1, amount, start),)))
    truth.append(PatientDischarged(end, "H01", visit, "U", "01"))


def _by_name(rows: list[Calibrated]) -> dict[str, float | None]:
    return {row.reference.statistic: row.value for row in rows}


@pytest.fixture(scope="module")
def run() -> Any:
    return run_small(days=4)


def test_statistics_follow_the_planted_facts(run: Any) -> None:
    view = run.view
    beds = sum(h.beds for h in view.network.hospitals)
    truth = TruthLedger()
    # two stays from the first hour to day 4, in house over the whole measured window (days 1-4);
    # a third, of the starting census (admitted at 0), does not count towards the length of stay
    _stay(truth, "V1", 60.0, 4 * DAY, amount=400_000)
    _stay(truth, "V2", 60.0, 4 * DAY)
    _stay(truth, "V0", 0.0, 30.0)
    rooms = sum(h.or_rooms for h in view.network.hospitals)
    for number in range(rooms * 3):
        truth.append(CaseCompleted(DAY, "H01", "V1", f"C{number}", "TKA", "ortho", "R1", DAY - 60))
    values = _by_name(calibrate(dataclasses.replace(view, truth=truth)))
    assert values["average length of stay (inpatient)"] == pytest.approx((4 * DAY - 60) / DAY)
    assert values["bed occupancy"] == pytest.approx(100 * 2 / beds)
    weekdays = 4  # the default scenario starts on a Monday; four days of workload
    assert values["OR cases per room per weekday"] == pytest.approx(rooms * 3 / (rooms * weekdays))


def test_dnfb_days_counts_discharged_encounters_the_erp_has_not_billed(run: Any) -> None:
    truth = TruthLedger()
    _stay(truth, "V1", 0.0, 1.5 * DAY, amount=100_000)  # discharged, never billed: DNFB at every midnight after
    _stay(truth, "V2", 0.0, 0.5 * DAY, amount=300_000)  # discharged and billed at once below
    finance = SimpleNamespace(ar_items=[SimpleNamespace(invoice="V2", posted_at=0.5 * DAY)], journals=[])
    planted = dataclasses.replace(run.view, truth=truth, erp=SimpleNamespace(finance=finance))
    values = _by_name(calibrate(planted))
    daily_gross = 400_000 / 4
    assert values["DNFB days"] == pytest.approx(100_000 / daily_gross)


def test_expense_shares_come_from_the_erp_ledger(run: Any) -> None:
    values = _by_name(calibrate(run.view))
    supply, drugs = values["supply share of operating expense"], values["drug share of operating expense"]
    labor = values["labor share of operating expense"]
    journals = run.view.erp.finance.journals
    totals = {
        a: sum(x.debit - x.credit for j in journals for x in j.lines if x.account == a)
        for a in ("5200", "5300", "6000", "6500", "7000")
    }
    assert all(totals.values()), totals  # supplies, drugs, salaries, purchased services, the rest: all booked
    expense = sum(totals.values())
    assert supply == pytest.approx(100 * totals["5200"] / expense)
    assert drugs == pytest.approx(100 * totals["5300"] / expense)
    assert labor == pytest.approx(100 * (totals["6000"] + totals["6500"]) / expense)
    # supplies and drugs are what the ERP issued (no accrual books them), each issue at standard cost
    issues = run.view.erp.supply.issues
    assert {i.item[:3] for i in issues} >= {"RX-", "SU-", "IM-"}
    assert sum(i.cost for i in issues) == totals["5200"] + totals["5300"]


def test_range_verdicts() -> None:
    reference = REFERENCES[0]
    assert reference.low is not None and reference.high is not None
    assert Calibrated(reference, reference.low, "").in_range is True
    assert Calibrated(reference, reference.high + 0.01, "").in_range is False
    assert Calibrated(reference, None, "").in_range is None
    below = next(ref for ref in REFERENCES if ref.kind == "below")
    assert below.high is not None
    assert Calibrated(below, below.high - 0.01, "").in_range is True
    assert Calibrated(below, below.high, "").in_range is False  # "less than five days"
    for ref in REFERENCES:  # a single figure or none published is never judged in or out: a point is no range
        assert ref.source
        if ref.kind in ("figure", "none"):
            assert Calibrated(ref, 1.0, "").in_range is None
        elif ref.kind in ("range", "sources"):
            assert ref.low is not None and ref.high is not None and ref.low < ref.high


def test_encounter_mix_days_to_bill_and_clean_claims_follow_the_planted_facts(run: Any) -> None:
    truth = TruthLedger()
    for number in range(4):  # four inpatients, two ED visits and one observation stay, all registered during the run
        _stay(truth, f"I{number}", 60.0, DAY)
    truth.append(PatientAdmitted(60.0, "H01", "E1", "M", "ED", "", "N", "MCR-A", "MCR", "emergency"))
    truth.append(PatientAdmitted(60.0, "H01", "E2", "M", "ED", "", "N", "MCR-A", "MCR", "emergency"))
    truth.append(PatientAdmitted(60.0, "H01", "O1", "M", "U", "B", "N", "MCR-A", "MCR", "observation"))
    billed = [SimpleNamespace(invoice="I0", posted_at=3 * DAY), SimpleNamespace(invoice="I1", posted_at=5 * DAY)]
    finance = SimpleNamespace(ar_items=billed, journals=[])
    claims = [
        SimpleNamespace(claim_number="I0", accepted=True, replaces=""),
        SimpleNamespace(claim_number="I1", accepted=False, replaces=""),
        SimpleNamespace(claim_number="I1", accepted=True, replaces=""),  # resubmitted: not clean
    ]
    planted = dataclasses.replace(
        run.view,
        truth=truth,
        erp=SimpleNamespace(finance=finance),
        clearinghouse=SimpleNamespace(submissions=claims),
    )
    values = _by_name(calibrate(planted))
    assert values["emergency visits per inpatient admission"] == pytest.approx(2 / 4)
    assert values["observation stays per inpatient admission"] == pytest.approx(1 / 4)
    assert values["days from discharge to final bill"] == pytest.approx(((3 - 1) + (5 - 1)) / 2)
    assert values["clean-claim rate"] == pytest.approx(50.0)


def test_a_run_measured_once_is_measured_again_when_it_goes_on() -> None:
    """The calibration and the DNFB ledger are remembered per run view; a view whose truth grew
    since (a run stepped on) must not get the old answer."""
    from twin.observe.calibration import Dnfb

    view = run_small(days=1).view
    first, rows = Dnfb.of(view), calibrate(view)
    assert Dnfb.of(view) is first and calibrate(view)[0] is rows[0]  # remembered
    view.truth.append(PatientDischarged(10.0, "H01", "H01V-PLANTED", "MED", "01"))
    again = Dnfb.of(view)
    assert again is not first and "H01V-PLANTED" in again.discharged and "H01V-PLANTED" not in first.discharged
    assert calibrate(view)[0] is not rows[0]  # measured again
