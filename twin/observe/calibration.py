"""Calibration: the twin's operating statistics beside published reference ranges.

An architect comparing integration designs on the twin needs to trust that the simulated network
behaves like a real one: stays as long, beds as full, operating rooms as busy, a revenue cycle
and a cost structure of the usual shape. ``twin run --calibration`` prints each statistic of the
run beside the published figure it is compared with (``calibration_sources``): a range cited as its
sources give it, never widened to fit - a single figure gets the gap to it, no verdict.

Statistics come from the truth ledger (what happened) and, for the revenue cycle and the cost
structure, from the ERP (what finance sees), so the DNFB figure reflects the integration under
test: a batch design shows more days of revenue waiting to be billed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from twin.domain.accounts import DRUG_EXPENSE, OTHER_EXPENSE, PURCHASED_SERVICES, SALARIES, SUPPLY_EXPENSE
from twin.domain.events import BEDDED, CaseCompleted, ChargesPosted, PatientAdmitted, PatientDischarged
from twin.observe.calibration_sources import REFERENCES, Reference
from twin.observe.view import RunView

DAY = 1440.0


@dataclass(frozen=True, slots=True)
class Calibrated:
    reference: Reference
    value: float | None
    note: str

    @property
    def in_range(self) -> bool | None:
        """Inside the published range; ``None`` with no value, or where a single figure or none is published."""
        if self.value is None:
            return None
        return self.reference.judge(self.value)

    def as_dict(self) -> dict[str, Any]:
        return {
            "statistic": self.reference.statistic,
            "unit": self.reference.unit,
            "value": None if self.value is None else round(self.value, 3),
            "range": [self.reference.low, self.reference.high],
            "published": self.reference.shown(),
            "kind": self.reference.kind,
            "in_range": self.in_range,
            "source": self.reference.source,
            "note": self.note,
        }


def calibrate(view: RunView) -> list[Calibrated]:
    """Every statistic of ``REFERENCES`` measured on a finished run (measured once per run: the
    summary and the design comparison both ask)."""
    rows: list[Calibrated] = _per_view(_CALIBRATED, view, _calibrate)
    return list(rows)


def _calibrate(view: RunView) -> list[Calibrated]:
    workload = view.scenario.days * DAY
    window = _steady_window(workload)
    admitted: dict[str, float] = {}
    types: dict[str, str] = {}
    cases = 0
    for fact in view.truth:
        if isinstance(fact, PatientAdmitted):
            admitted[fact.visit] = fact.at
            types[fact.visit] = fact.encounter_type
        elif isinstance(fact, CaseCompleted):
            cases += 1
    dnfb = Dnfb.of(view)
    discharged = dnfb.discharged
    stays = [(admitted[v], discharged[v]) for v in discharged if v in admitted and types[v] in BEDDED]
    inpatient = [
        (admitted[v], discharged[v])
        for v in discharged
        if v in admitted and types[v] == "inpatient" and admitted[v] > 0  # the starting census came mid-stay
    ]
    values: dict[str, tuple[float | None, str]] = {}
    values["average length of stay (inpatient)"] = (
        sum(out - start for start, out in inpatient) / len(inpatient) / DAY if inpatient else None,
        f"{len(inpatient)} discharges of inpatients admitted during the run",
    )
    beds = sum(h.beds for h in view.network.hospitals)
    occupied = sum(max(0.0, min(out, window[1]) - max(start, window[0])) for start, out in stays)
    values["bed occupancy"] = (
        100 * occupied / (beds * (window[1] - window[0])) if beds and window[1] > window[0] else None,
        f"days {window[0] / DAY:g}-{window[1] / DAY:g}, inpatient and observation bed time over staffed bed time",
    )
    values.update(_encounter_mix(types, admitted))
    values["days from discharge to final bill"] = _days_to_final_bill(dnfb)
    values["clean-claim rate"] = _clean_claims(view)
    room_days = sum(h.or_rooms for h in view.network.hospitals) * _weekdays(view, workload)
    values["OR cases per room per weekday"] = (cases / room_days if room_days else None, f"{cases} cases")
    # the discharged-not-billed pool fills for a few days after the start (the census was in house)
    values["DNFB days"] = _dnfb_days(view, (max(window[0], workload / 2), workload), dnfb)
    values.update(_expense_shares(view))
    return [Calibrated(ref, *values.get(ref.statistic, (None, "not measured"))) for ref in REFERENCES]


def _encounter_mix(types: dict[str, str], admitted: dict[str, float]) -> dict[str, tuple[float | None, str]]:
    """Registrations of each type per inpatient admission, over what was registered during the run."""
    counts: dict[str, int] = {}
    for visit, kind in types.items():
        if admitted[visit] > 0:  # not the starting census
            counts[kind] = counts.get(kind, 0) + 1
    inpatients = counts.get("inpatient", 0)
    if not inpatients:
        return {}
    note = f"{inpatients} inpatient admissions during the run"
    return {
        "emergency visits per inpatient admission": (counts.get("emergency", 0) / inpatients, note),
        "observation stays per inpatient admission": (counts.get("observation", 0) / inpatients, note),
    }


def _days_to_final_bill(dnfb: Dnfb) -> tuple[float | None, str]:
    """Mean days from the discharge to the ERP's receivable (the final bill), over billed encounters."""
    days = [(dnfb.billed[v] - out) / DAY for v, out in dnfb.discharged.items() if v in dnfb.billed]
    if not days:
        return None, "no encounter billed"
    return sum(days) / len(days), f"{len(days)} encounters billed, discharge to receivable posted in the ERP"


def _clean_claims(view: RunView) -> tuple[float | None, str]:
    """Claims the clearinghouse accepted on their first submission, of every encounter's first claim."""
    first: dict[str, bool] = {}
    for submission in view.clearinghouse.submissions:
        if not submission.replaces:
            first.setdefault(submission.claim_number, submission.accepted)
    if not first:
        return None, "no claim submitted"
    accepted = sum(first.values())
    return 100 * accepted / len(first), f"{accepted} of {len(first)} first claims accepted as submitted"


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

    @classmethod
    def of(cls, view: RunView) -> Dnfb:
        """The ledger of ``view``, gathered once per run (and again if the run went on)."""
        return _per_view(_DNFB, view, cls)

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
    """Shares of the ERP's operating expense: supplies (5200) and drugs (5300) as the storeroom and
    the pharmacy issued them, labor as the AHA counts it (salaries paid through the HCM, 6000, and
    the accrued purchased services and professional fees, 6500), everything else accrued (7000)."""
    accounts = (SUPPLY_EXPENSE, DRUG_EXPENSE, SALARIES, PURCHASED_SERVICES, OTHER_EXPENSE)
    totals = dict.fromkeys(accounts, 0)
    for journal in view.erp.finance.journals:
        for line in journal.lines:
            if line.account in totals:
                totals[line.account] += line.debit - line.credit
    expense = sum(totals.values())
    if expense <= 0:
        return {}
    note = "of the ERP's operating expense"
    issued = note + ": every unit the ERP issued, at standard cost ({})"
    labor = totals[SALARIES] + totals[PURCHASED_SERVICES]
    return {
        "supply share of operating expense": (
            100 * totals[SUPPLY_EXPENSE] / expense,
            issued.format("OR cases' supplies and implants, the nursing units' floor stock"),
        ),
        "drug share of operating expense": (
            100 * totals[DRUG_EXPENSE] / expense,
            issued.format("the pharmacy's dispenses to inpatients and emergency visits"),
        ),
        "labor share of operating expense": (
            100 * labor / expense,
            f"{note}: salaries paid through the HCM ({100 * totals[SALARIES] / expense:.1f}%) and purchased "
            f"services and professional fees accrued ({100 * totals[PURCHASED_SERVICES] / expense:.1f}%)",
        ),
    }


_Stamp = tuple[int, int, int]
_Measured = TypeVar("_Measured")


def _per_view(
    cache: WeakKeyDictionary[RunView, tuple[_Stamp, _Measured]],
    view: RunView,
    measure: Callable[[RunView], _Measured],
) -> _Measured:
    """``measure(view)``, taken once per run view (views compare by identity) and again only if the
    run went on since: its truth and its ledger only grow, so their lengths tell."""
    finance = view.erp.finance
    stamp = (len(view.truth), len(finance.journals), len(finance.ar_items))
    known = cache.get(view)
    if known is None or known[0] != stamp:
        known = cache[view] = (stamp, measure(view))
    return known[1]


_CALIBRATED: WeakKeyDictionary[RunView, tuple[_Stamp, list[Calibrated]]] = WeakKeyDictionary()
_DNFB: WeakKeyDictionary[RunView, tuple[_Stamp, Dnfb]] = WeakKeyDictionary()
