"""Calibration: the twin's operating statistics beside published reference ranges.

An architect comparing integration designs on the twin needs to trust that the simulated network
behaves like a real one: stays as long, beds as full, operating rooms as busy, a revenue cycle
and a cost structure of the usual shape. ``twin run --calibration`` prints each statistic of the
run beside a published range with its source. The ranges are deliberately wide: they describe
US community hospitals in general, and the twin's default network is a generic one.

Statistics come from the truth ledger (what happened) and, for the revenue cycle and the cost
structure, from the ERP (what finance sees), so the DNFB figure reflects the integration under
test: a batch design shows more days of revenue waiting to be billed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from twin.domain.accounts import OTHER_EXPENSE, SALARIES, SUPPLY_EXPENSE
from twin.domain.events import CaseCompleted, ChargesPosted, PatientAdmitted, PatientDischarged
from twin.observe.view import RunView

DAY = 1440.0


@dataclass(frozen=True, slots=True)
class Reference:
    """A published range for one statistic."""

    statistic: str
    unit: str
    low: float
    high: float
    source: str


REFERENCES: tuple[Reference, ...] = (
    Reference(
        "average length of stay",
        "days",
        4.5,
        5.6,
        "AHRQ HCUP Statistical Brief #166 (mean 4.6 days, 2011); AHA Hospital Statistics (5.4-5.5 days, 2009-2017)",
    ),
    Reference(
        "bed occupancy",
        "%",
        60.0,
        85.0,
        "AHA Hospital Statistics / NCHS Health, United States (US community hospitals ~62-75%)",
    ),
    Reference(
        "OR cases per room per weekday",
        "cases",
        2.0,
        4.0,
        "OR utilization benchmarks, e.g. Macario, Anesthesiology 2006 (2-4 elective cases per OR per day)",
    ),
    Reference(
        "DNFB days",
        "days of gross revenue",
        1.0,
        7.0,
        "HFMA MAP Keys, discharged-not-final-billed days (best practice under ~4-5 days)",
    ),
    Reference(
        "supply share of operating expense",
        "%",
        10.0,
        18.0,
        "AHA Costs of Caring; AHRMM supply-chain benchmarks (~10-18% incl. implants)",
    ),
    Reference(
        "labor share of operating expense",
        "%",
        45.0,
        60.0,
        "HFMA/Truven ACTION OI (46-49% of operating cost, 2007-2012); AHA (~50-60%)",
    ),
)


@dataclass(frozen=True, slots=True)
class Calibrated:
    reference: Reference
    value: float | None
    note: str

    @property
    def in_range(self) -> bool | None:
        if self.value is None:
            return None
        return self.reference.low <= self.value <= self.reference.high

    def as_dict(self) -> dict[str, Any]:
        return {
            "statistic": self.reference.statistic,
            "unit": self.reference.unit,
            "value": None if self.value is None else round(self.value, 3),
            "range": [self.reference.low, self.reference.high],
            "in_range": self.in_range,
            "source": self.reference.source,
            "note": self.note,
        }


def calibrate(view: RunView) -> list[Calibrated]:
    """Every statistic of ``REFERENCES`` measured on a finished run."""
    workload = view.scenario.days * DAY
    window = _steady_window(workload)
    admitted: dict[str, float] = {}
    cases = 0
    for fact in view.truth:
        if isinstance(fact, PatientAdmitted):
            admitted[fact.visit] = fact.at
        elif isinstance(fact, CaseCompleted):
            cases += 1
    dnfb = Dnfb(view)
    discharged = dnfb.discharged
    stays = [(admitted[v], discharged[v]) for v in discharged if v in admitted]
    arrivals = [(start, out) for start, out in stays if start > 0]  # the starting census came mid-stay
    values: dict[str, tuple[float | None, str]] = {}
    values["average length of stay"] = (
        sum(out - start for start, out in arrivals) / len(arrivals) / DAY if arrivals else None,
        f"{len(arrivals)} discharges of patients admitted during the run",
    )
    beds = sum(h.beds for h in view.network.hospitals)
    occupied = sum(max(0.0, min(out, window[1]) - max(start, window[0])) for start, out in stays)
    values["bed occupancy"] = (
        100 * occupied / (beds * (window[1] - window[0])) if beds and window[1] > window[0] else None,
        f"days {window[0] / DAY:g}-{window[1] / DAY:g}, occupied bed time over staffed bed time",
    )
    room_days = sum(h.or_rooms for h in view.network.hospitals) * _weekdays(view, workload)
    values["OR cases per room per weekday"] = (cases / room_days if room_days else None, f"{cases} cases")
    # the discharged-not-billed pool fills for a few days after the start (the census was in house)
    values["DNFB days"] = _dnfb_days(view, (max(window[0], workload / 2), workload), dnfb)
    values.update(_expense_shares(view))
    return [Calibrated(ref, *values.get(ref.statistic, (None, "not measured"))) for ref in REFERENCES]


def _steady_window(workload: float) -> tuple[float, float]:
    """After the first day (the starting census settles into the arrival pattern), to the end."""
    return (min(DAY, workload / 2), workload)


def _weekdays(view: RunView, workload: float) -> int:
    days = int(workload // DAY)
    return sum(1 for d in range(days) if (view.timebase.start_weekday + d) % 7 < 5)


class Dnfb:
    """Discharged, not final billed - as the ERP shows it: the gross charges of encounters discharged
    by a moment whose receivable the ERP had not posted by then. The one definition the calibration
    (DNFB days) and the design comparison (DNFB at the end of the workload) both measure with."""

    def __init__(self, view: RunView) -> None:
        self.discharged: dict[str, float] = {}
        self.charges: dict[str, list[tuple[float, int]]] = {}
        for fact in view.truth:
            if isinstance(fact, PatientDischarged):
                self.discharged[fact.visit] = fact.at
            elif isinstance(fact, ChargesPosted):
                self.charges.setdefault(fact.visit, []).extend((fact.at, line.amount) for line in fact.lines)
        self.billed: dict[str, float] = {}  # visit -> when the ERP first posted its receivable
        for item in view.erp.finance.ar_items:
            self.billed.setdefault(item.invoice, item.posted_at)

    def at(self, moment: float) -> tuple[int, list[str]]:
        """(gross charges posted by ``moment``, the encounters) discharged and not billed at ``moment``."""
        waiting = sorted(
            visit
            for visit, out in self.discharged.items()
            if out <= moment and self.billed.get(visit, math.inf) > moment
        )
        amount = sum(a for visit in waiting for at, a in self.charges.get(visit, ()) if at <= moment)
        return amount, waiting

    def gross(self, until: float) -> int:
        """Every charge posted by ``until``, net of credits."""
        return sum(amount for lines in self.charges.values() for at, amount in lines if at <= until)


def _dnfb_days(view: RunView, window: tuple[float, float], dnfb: Dnfb) -> tuple[float | None, str]:
    """Mean discharged-not-final-billed amount at the window's midnights over the average daily
    gross revenue of the workload; "final billed" is when the ERP posted the receivable."""
    workload = view.scenario.days * DAY
    daily = dnfb.gross(workload) / (workload / DAY) if workload else 0.0
    midnights = [m * DAY for m in range(1, int(workload // DAY) + 1) if window[0] <= m * DAY <= window[1]]
    if not midnights or daily <= 0:
        return None, "no midnight in the measured window"
    amounts = [dnfb.at(midnight)[0] for midnight in midnights]
    return sum(amounts) / len(amounts) / daily, f"{len(midnights)} midnights, receivables as posted in the ERP"


def _expense_shares(view: RunView) -> dict[str, tuple[float | None, str]]:
    """Shares of the ERP's operating expense accounts: supplies (5200), labor (6000), other (7000)."""
    totals = {SUPPLY_EXPENSE: 0, SALARIES: 0, OTHER_EXPENSE: 0}
    for journal in view.erp.finance.journals:
        for line in journal.lines:
            if line.account in totals:
                totals[line.account] += line.debit - line.credit
    expense = sum(totals.values())
    if expense <= 0:
        return {}
    note = "of the ERP's operating expense (supplies, labor, the daily accrual of everything else)"
    supply_note = (
        note + "; the twin draws only OR supplies (implants, consumables) through the ERP - floor, lab and "
        "pharmacy supplies sit in the accrual - so this share lands at or just below the range's low end"
    )
    labor_note = note + "; labor is direct care (nursing units, ancillaries) paid hours x rates from the HCM"
    return {
        "supply share of operating expense": (100 * totals[SUPPLY_EXPENSE] / expense, supply_note),
        "labor share of operating expense": (100 * totals[SALARIES] / expense, labor_note),
    }
