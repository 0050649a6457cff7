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
    assert values["average length of stay"] == pytest.approx((4 * DAY - 60) / DAY)
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
    supply, labor = values["supply share of operating expense"], values["labor share of operating expense"]
    assert supply is not None and labor is not None and 0 < supply < 100 and 0 < labor < 100
    journals = run.view.erp.finance.journals
    totals = {
        a: sum(x.debit - x.credit for j in journals for x in j.lines if x.account == a)
        for a in ("5200", "6000", "7000")
    }
    assert supply == pytest.approx(100 * totals["5200"] / sum(totals.values()))


def test_range_verdicts() -> None:
    reference = REFERENCES[0]
    assert Calibrated(reference, reference.low, "").in_range is True
    assert Calibrated(reference, reference.high + 0.01, "").in_range is False
    assert Calibrated(reference, None, "").in_range is None
    assert all(ref.source and ref.low < ref.high for ref in REFERENCES)
