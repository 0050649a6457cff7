"""The network's workforce: who works in which department, in which job, at what hourly rate.

Reference data first (job codes with their rate ranges, how many patients one aide or one
ancillary technician covers, the shift pattern), then the roster built from the scenario's seed
with its own random generator and its own Faker, so adding staff never shifts the draws of the
patient workload. Nursing units and ancillary departments have staff; the HCM knows each
department by its org unit code, and governance publishes the org unit -> cost center crosswalk.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

from faker import Faker

from twin.domain.model import Department, Employee, Hospital
from twin.domain.streams import RandomStreams
from twin.domain.timebase import Timebase
from twin.network import Network
from twin.scenario import Scenario

# Job code -> (title, lowest and highest hourly rate in cents).
JOBS: dict[str, tuple[str, int, int]] = {
    "RN": ("Registered Nurse", 4_100, 6_300),
    "CNA": ("Certified Nursing Assistant", 1_800, 2_500),
    "MLT": ("Medical Laboratory Technologist", 3_200, 4_600),
    "RTR": ("Radiologic Technologist", 3_300, 4_700),
    "RPH": ("Pharmacist", 6_200, 8_100),
    "PT": ("Physical Therapist", 4_300, 5_900),
    "RRT": ("Respiratory Therapist", 3_300, 4_600),
}
NURSE_JOB, AIDE_JOB = "RN", "CNA"
PATIENTS_PER_AIDE = 10  # nursing assistants per shift: one per this many patients on the unit
# Ancillary department kind -> (job code, patients in house one technician covers on a day shift).
ANCILLARY_STAFFING: dict[str, tuple[str, int]] = {
    "lab": ("MLT", 25),
    "imaging": ("RTR", 40),
    "pharmacy": ("RPH", 35),
    "therapy": ("PT", 20),
    "respiratory": ("RRT", 30),
}
# Shifts: (local start, minutes). Nursing units run two 12 h shifts; ancillaries a day shift.
NURSING_SHIFTS: tuple[tuple[int, int], ...] = ((7 * 60, 12 * 60), (19 * 60, 12 * 60))
ANCILLARY_SHIFT: tuple[int, int] = (7 * 60, 8 * 60 + 30)
# Staff on the roster per person needed on a full unit's shift: a nurse works about three
# 12 h shifts a week, a unit needs 14 a week, plus a reserve for leave and census peaks.
ROSTER_DEPTH_NURSING = 14 / 3 * 1.25
ROSTER_DEPTH_ANCILLARY = 7 / 4 * 1.25
NAME_POOL = 160  # Faker draws this many given and family names once; staff combine them (Faker is slow)


def staffed_departments(hospital: Hospital) -> list[Department]:
    """The departments with staff in the HCM: nursing units and ancillary departments."""
    return [d for d in hospital.departments if d.kind == "nursing" or d.kind in ANCILLARY_STAFFING]


def org_unit_crosswalk(network: Network) -> dict[str, str]:
    """HCM org unit -> ERP cost center, as reference-data governance publishes it."""
    return {d.org_unit: d.cost_center for h in network.hospitals for d in h.departments if d.org_unit}


def build_roster(network: Network, scenario: Scenario) -> tuple[Employee, ...]:
    """Every employee of the network, deterministic for scenario and seed."""
    streams = RandomStreams(scenario.seed)
    rng = streams.stream("workforce")
    fake = Faker("en_US")
    fake.seed_instance(streams.faker_seed("workforce"))
    families = [fake.last_name() for _ in range(NAME_POOL)]
    givens = [fake.first_name() for _ in range(NAME_POOL)]
    ratios = scenario.labor.patients_per_nurse.model_dump()
    roster: list[Employee] = []
    for hospital in network.hospitals:
        number = int(hospital.code[1:])
        headcount: list[tuple[Department, str, int]] = []
        for unit in hospital.units:
            full = unit.beds
            headcount.append((unit.department, NURSE_JOB, math.ceil(full / ratios[unit.kind] * ROSTER_DEPTH_NURSING)))
            headcount.append((unit.department, AIDE_JOB, math.ceil(full / PATIENTS_PER_AIDE * ROSTER_DEPTH_NURSING)))
        for department in hospital.departments:
            if department.kind in ANCILLARY_STAFFING:
                job, patients = ANCILLARY_STAFFING[department.kind]
                needed = math.ceil(hospital.beds / patients)
                headcount.append((department, job, math.ceil(needed * ROSTER_DEPTH_ANCILLARY) + 1))
        for department, job, count in headcount:
            _title, low, high = JOBS[job]
            for _ in range(count):
                roster.append(
                    Employee(
                        employee_id=f"E{number:02d}{len(roster) + 1:06d}",
                        family=rng.choice(families),
                        given=rng.choice(givens),
                        job_code=job,
                        hospital=hospital.code,
                        org_unit=department.org_unit,
                        hourly_rate=rng.randint(low, high),
                    )
                )
    return tuple(roster)


def pay_period(scenario: Scenario, index: int) -> tuple[date, date]:
    """First and last work date of the ``index``-th pay period (periods run from the start date)."""
    first = scenario.start.date() + timedelta(days=index * scenario.labor.pay_period_days)
    return first, first + timedelta(days=scenario.labor.pay_period_days - 1)


def payroll_run_at(scenario: Scenario, index: int) -> float:
    """Simulated minute of the ``index``-th payroll run: the payroll hour, some days after the period.

    Processing payroll a couple of days after the period (timecards approved, exceptions worked)
    also means the final run comes after the nightly sync of the last work date, so a run lasts
    until that sync has posted it.
    """
    day = (index + 1) * scenario.labor.pay_period_days + scenario.labor.payroll_delay_days - 1
    return day * 1440 + scenario.labor.payroll_hour * 60 - Timebase(scenario.start).start_clock


def pay_period_of(scenario: Scenario, work_date: str) -> int:
    """Index of the pay period a work date belongs to."""
    return (date.fromisoformat(work_date) - scenario.start.date()).days // scenario.labor.pay_period_days
