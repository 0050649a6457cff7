"""Staffing of one hospital and the network's payroll calendar, as SimPy processes.

Half an hour before each shift (06:30 and 18:30) the EHR scheduling module staffs every nursing
unit from its census (``PatientFlow.in_house``, read only) and the scenario's nurse ratios, plus
nursing assistants, and - on day shifts - the ancillary departments from the hospital's census.
It picks the rested staff of the unit's roster who have worked the fewest shifts, and puts them
on the HCM's schedule. Staff then punch the HCM's own time clock, a few seeded minutes early or
late; each completed shift is a ``ShiftWorked`` fact in the truth ledger. Units keep being
staffed after the workload ends while patients are still in house.

Payroll runs every pay period (``LaborSpec``) in the HCM until every shift has been paid.
Times are minutes; paid time and pay follow ``twin.domain.model`` (quarter hours, whole cents).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Generator, Sequence

import simpy

from mocks.hcm.hcm import Hcm
from twin.domain.events import Fact, ShiftScheduled, ShiftWorked
from twin.domain.model import Department, Employee, Hospital, paid_quarter_hours
from twin.domain.timebase import Timebase
from twin.scenario import Scenario
from twin.workflows.patient_flow import MINUTES_PER_DAY, PatientFlow
from twin.workforce import (
    AIDE_JOB,
    ANCILLARY_SHIFT,
    ANCILLARY_STAFFING,
    NURSE_JOB,
    NURSING_SHIFTS,
    PATIENTS_PER_AIDE,
    pay_period,
    payroll_run_at,
)

HUDDLE_LEAD = 30  # minutes before a shift starts that its staffing is decided
MIN_REST = 10 * 60  # minutes off between two shifts of one person
CLOCK_IN_JITTER = (-10, 4)  # whole minutes around the shift start
CLOCK_OUT_JITTER = (-5, 20)  # whole minutes around the shift end


class Staffing:
    """EHR scheduling and the time clock of one hospital."""

    def __init__(
        self,
        env: simpy.Environment,
        hospital: Hospital,
        scenario: Scenario,
        flow: PatientFlow,
        roster: Sequence[Employee],
        hcm: Hcm,
        timebase: Timebase,
        rng: random.Random,
        witness: Callable[[Fact], None],
        start_minute_of_day: float,
    ) -> None:
        self.env = env
        self.hospital = hospital
        self.flow = flow
        self.hcm = hcm
        self.timebase = timebase
        self.rng = rng
        self.witness = witness
        self.offset = start_minute_of_day
        self.workload = scenario.days * MINUTES_PER_DAY
        self.ratios: dict[str, int] = scenario.labor.patients_per_nurse.model_dump()
        self.pools: dict[tuple[str, str], list[Employee]] = {}
        for employee in roster:
            if employee.hospital == hospital.code:
                self.pools.setdefault((employee.org_unit, employee.job_code), []).append(employee)
        self.ancillaries = [d for d in hospital.departments if d.kind in ANCILLARY_STAFFING]
        self.busy: set[str] = set()
        self.rested_at: dict[str, float] = {}  # employee -> when they may start again
        self.worked: Counter[str] = Counter()
        self.shifts = 0
        self.done = False

    def start(self) -> None:
        self.env.process(self.staff_shifts())

    def staff_shifts(self) -> Generator[simpy.Event, None, None]:
        """A huddle before every shift, for as long as the workload runs or patients are in house."""
        starts = sorted(start for start, _ in NURSING_SHIFTS)
        clock = (self.env.now + self.offset) % MINUTES_PER_DAY
        waits = [(start - HUDDLE_LEAD - clock) % MINUTES_PER_DAY for start in starts]
        yield self.env.timeout(min(waits))
        while self.env.now < self.workload or self.flow.in_house:
            self.huddle(self.env.now + HUDDLE_LEAD)
            clock = (self.env.now + self.offset) % MINUTES_PER_DAY
            waits = [(start - HUDDLE_LEAD - clock) % MINUTES_PER_DAY or MINUTES_PER_DAY for start in starts]
            yield self.env.timeout(min(waits))
        self.done = True

    def huddle(self, shift_start: float) -> None:
        """Decide who works the shift starting at ``shift_start`` and put them on the schedule."""
        clock = round((shift_start + self.offset) % MINUTES_PER_DAY)
        length = dict(NURSING_SHIFTS)[clock]
        census = Counter(stay.unit.code for stay in self.flow.in_house.values())
        for unit in self.hospital.units:
            patients = census[unit.code]
            nurses = math.ceil(patients / self.ratios[unit.kind])
            aides = math.ceil(patients / PATIENTS_PER_AIDE)
            self._assign(unit.department, NURSE_JOB, nurses, shift_start, length)
            self._assign(unit.department, AIDE_JOB, aides, shift_start, length)
        in_house = len(self.flow.in_house)
        if clock == ANCILLARY_SHIFT[0] and in_house:
            for department in self.ancillaries:
                job, patients_per_tech = ANCILLARY_STAFFING[department.kind]
                needed = math.ceil(in_house / patients_per_tech)
                self._assign(department, job, needed, shift_start, ANCILLARY_SHIFT[1])

    def _assign(self, department: Department, job: str, needed: int, start: float, length: float) -> None:
        if needed <= 0:
            return
        pool = self.pools.get((department.org_unit, job), [])
        rested = [e for e in pool if e.employee_id not in self.busy and self.rested_at.get(e.employee_id, 0) <= start]
        # Fewest shifts so far first, then whoever has rested longest: fair and deterministic.
        rested.sort(key=lambda e: (self.worked[e.employee_id], self.rested_at.get(e.employee_id, -1.0)))
        work_date = self.timebase.day(start).isoformat()
        for employee in rested[:needed]:
            shift_id = self.hcm.schedule(employee.employee_id, department.org_unit, work_date, start, start + length)
            self.witness(ShiftScheduled(self.env.now, self.hospital.code, employee.employee_id, department.org_unit,
                                        work_date))  # fmt: skip
            self.busy.add(employee.employee_id)
            self.env.process(self.work(employee, department, shift_id, work_date, start, length))

    def work(
        self, employee: Employee, department: Department, shift_id: str, work_date: str, start: float, length: float
    ) -> Generator[simpy.Event, None, None]:
        """One person's shift: punch in, work, punch out; the completed shift is a fact."""
        clock_in = start + self.rng.randint(*CLOCK_IN_JITTER)
        clock_out = start + length + self.rng.randint(*CLOCK_OUT_JITTER)
        yield self.env.timeout(max(0.0, clock_in - self.env.now))
        self.hcm.clock_in(shift_id, self.env.now)
        yield self.env.timeout(clock_out - self.env.now)
        self.hcm.clock_out(shift_id, self.env.now)
        self.busy.discard(employee.employee_id)
        self.rested_at[employee.employee_id] = self.env.now + MIN_REST
        self.worked[employee.employee_id] += 1
        self.shifts += 1
        self.witness(
            ShiftWorked(
                at=self.env.now,
                hospital=self.hospital.code,
                employee=employee.employee_id,
                ehr_department=department.ehr_code,
                org_unit=department.org_unit,
                work_date=work_date,
                hours=paid_quarter_hours(clock_out - clock_in) / 4,
                rate=employee.hourly_rate,
            )
        )


def run_payroll(
    env: simpy.Environment, scenario: Scenario, hcm: Hcm, staffing: Sequence[Staffing]
) -> Generator[simpy.Event, None, None]:
    """The payroll calendar: a run after every pay period, until every shift worked is paid."""
    period = 0
    while True:
        yield env.timeout(max(0.0, payroll_run_at(scenario, period) - env.now))
        first, last = pay_period(scenario, period)
        hcm.run_payroll(first, last, env.now)
        period += 1
        if all(s.done for s in staffing) and not hcm.unpaid():
            return
