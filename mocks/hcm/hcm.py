"""HCM: staff, shift schedules, time punches, timecards and biweekly payroll, with the HCM's rules.

Sans-IO. The time clock (``schedule``, ``clock_in``, ``clock_out``) is what EHR scheduling and the
staff use directly - no interface is involved; ``run_payroll`` is the payroll department's run;
``handle(request, now)`` is the REST API an integration reads:

- ``GET /org-units``: the HCM's org units (its own codes, ``ORG-0142``);
- ``GET /timecards`` with ``{"work_date": "2026-01-05"}``: the timecards of that work date and
  whether the date is complete (every shift scheduled on it clocked out);
- ``GET /payroll/runs``: every payroll run with its register by org unit.

Rules: paid time is the punched time rounded to the nearest quarter hour; a shift's gross pay is
paid hours x the employee's hourly rate, rounded half up to the cent (``shift_pay``); a shift
belongs to the work date it was scheduled to start on; a payroll run pays every timecard of its
period exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from mocks.queries import iso_day
from twin.domain.exchange import TargetRequest, TargetResponse
from twin.domain.model import Cents, Employee, paid_quarter_hours, shift_pay


@dataclass(frozen=True, slots=True)
class OrgUnit:
    code: str
    name: str
    hospital: str


@dataclass(slots=True)
class ScheduledShift:
    shift_id: str
    employee: str
    org_unit: str
    work_date: str  # ISO date the shift starts on
    starts_at: float
    ends_at: float
    clock_in: float | None = None
    clock_out: float | None = None


@dataclass(frozen=True, slots=True)
class Timecard:
    """One worked shift, as payroll pays it."""

    timecard_id: str
    shift_id: str
    employee: str
    org_unit: str
    work_date: str
    clock_in: float
    clock_out: float
    quarter_hours: int
    rate: Cents
    amount: Cents

    @property
    def hours(self) -> float:
        return self.quarter_hours / 4

    def document(self) -> dict[str, Any]:
        return {
            "timecard_id": self.timecard_id,
            "employee": self.employee,
            "org_unit": self.org_unit,
            "work_date": self.work_date,
            "hours": self.hours,
            "paid_minutes": self.quarter_hours * 15,
            "rate": self.rate,
            "amount": self.amount,
        }


@dataclass(frozen=True, slots=True)
class RegisterLine:
    """The payroll register of one org unit in one run: what payroll costed there."""

    org_unit: str
    hours: float
    gross: Cents
    employees: int


@dataclass(frozen=True, slots=True)
class PayrollRun:
    run_id: str
    period_start: str
    period_end: str
    run_at: float
    register: tuple[RegisterLine, ...]
    gross_by_employee: tuple[tuple[str, Cents], ...]

    @property
    def gross(self) -> Cents:
        return sum(line.gross for line in self.register)

    def document(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "period_start": self.period_start,
            "period_end": self.period_end,
            "run_at": self.run_at,
            "gross": self.gross,
            "register": [
                {"org_unit": r.org_unit, "hours": r.hours, "gross": r.gross, "employees": r.employees}
                for r in self.register
            ],
        }


class Hcm:
    """HCM state (employees, org units, schedules, punches, timecards, payroll runs) and rules."""

    def __init__(self, employees: Iterable[Employee], org_units: Iterable[OrgUnit]) -> None:
        self.employees = {e.employee_id: e for e in employees}
        self.org_units = {unit.code: unit for unit in org_units}
        self.shifts: dict[str, ScheduledShift] = {}
        self.punches: list[tuple[float, str, str]] = []  # (when, employee, "in" | "out")
        self.timecards: list[Timecard] = []
        self.payroll_runs: list[PayrollRun] = []
        self._by_date: dict[str, list[Timecard]] = {}
        self._open: dict[str, int] = {}  # work date -> shifts scheduled and not yet clocked out
        self._paid: set[str] = set()  # timecard ids paid by a run

    # -- the time clock -------------------------------------------------------------------------
    def schedule(self, employee: str, org_unit: str, work_date: str, starts_at: float, ends_at: float) -> str:
        """Put an employee on a shift (EHR scheduling's roster lands here); returns the shift id."""
        if employee not in self.employees:
            raise ValueError(f"unknown employee {employee!r}")
        if org_unit not in self.org_units:
            raise ValueError(f"unknown org unit {org_unit!r}")
        shift_id = f"SH{len(self.shifts) + 1:08d}"
        self.shifts[shift_id] = ScheduledShift(shift_id, employee, org_unit, work_date, starts_at, ends_at)
        self._open[work_date] = self._open.get(work_date, 0) + 1
        return shift_id

    def clock_in(self, shift_id: str, now: float) -> None:
        shift = self.shifts[shift_id]
        if shift.clock_in is not None:
            raise ValueError(f"shift {shift_id} is already clocked in")
        shift.clock_in = now
        self.punches.append((now, shift.employee, "in"))

    def clock_out(self, shift_id: str, now: float) -> Timecard:
        """The employee punches out: the shift becomes a timecard, paid by the HCM's rules."""
        shift = self.shifts[shift_id]
        if shift.clock_in is None or shift.clock_out is not None:
            raise ValueError(f"shift {shift_id} is not clocked in")
        shift.clock_out = now
        self.punches.append((now, shift.employee, "out"))
        rate = self.employees[shift.employee].hourly_rate
        quarters = paid_quarter_hours(now - shift.clock_in)
        card = Timecard(
            f"TC{len(self.timecards) + 1:08d}",
            shift_id,
            shift.employee,
            shift.org_unit,
            shift.work_date,
            shift.clock_in,
            now,
            quarters,
            rate,
            shift_pay(quarters / 4, rate),
        )
        self.timecards.append(card)
        self._by_date.setdefault(shift.work_date, []).append(card)
        self._open[shift.work_date] -= 1
        return card

    def unpaid(self) -> int:
        """Shifts not yet paid: scheduled, worked or clocked out but not in any payroll run."""
        return len(self.shifts) - len(self._paid)

    # -- payroll --------------------------------------------------------------------------------
    def run_payroll(self, period_start: date, period_end: date, now: float) -> PayrollRun:
        """Pay every timecard of the period not paid yet: gross per employee, register per org unit."""
        first, last = period_start.isoformat(), period_end.isoformat()
        cards = [c for c in self.timecards if first <= c.work_date <= last and c.timecard_id not in self._paid]
        by_employee: dict[str, Cents] = {}
        by_unit: dict[str, tuple[int, Cents, set[str]]] = {}
        for card in cards:
            self._paid.add(card.timecard_id)
            by_employee[card.employee] = by_employee.get(card.employee, 0) + card.amount
            quarters, gross, people = by_unit.get(card.org_unit, (0, 0, set()))
            people.add(card.employee)
            by_unit[card.org_unit] = (quarters + card.quarter_hours, gross + card.amount, people)
        run = PayrollRun(
            f"PR{len(self.payroll_runs) + 1:04d}",
            first,
            last,
            now,
            tuple(
                RegisterLine(unit, q / 4, gross, len(people)) for unit, (q, gross, people) in sorted(by_unit.items())
            ),
            tuple(sorted(by_employee.items())),
        )
        self.payroll_runs.append(run)
        return run

    # -- the API ----------------------------------------------------------------------------------
    def handle(self, request: TargetRequest, now: float) -> TargetResponse:
        if request.method != "GET":
            return TargetResponse(405, {"errors": [f"{request.method} {request.path}: the HCM API is read-only"]})
        if request.path == "/timecards":
            return self._timecards(request.body)
        if request.path == "/payroll/runs":
            return TargetResponse(200, {"runs": [run.document() for run in self.payroll_runs]})
        if request.path == "/org-units":
            units = [{"org_unit": u.code, "name": u.name, "hospital": u.hospital} for u in self.org_units.values()]
            return TargetResponse(200, {"org_units": units})
        return TargetResponse(404, {"errors": [f"no such operation: {request.method} {request.path}"]})

    def _timecards(self, query: dict[str, Any]) -> TargetResponse:
        work_date = query.get("work_date")
        day = iso_day(work_date)  # the one spelling the shifts are kept under: another would find none
        if day is None:
            return TargetResponse(422, {"errors": [f"work_date {work_date!r} is not an ISO date (YYYY-MM-DD)"]})
        open_shifts = self._open.get(day, 0)
        return TargetResponse(
            200,
            {
                "work_date": day,
                "complete": open_shifts == 0,
                "open_shifts": open_shifts,
                "timecards": [card.document() for card in self._by_date.get(day, [])],
            },
        )
