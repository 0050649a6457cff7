"""Master data of a hospital network: the nouns that workflows, mocks and the integration share.

Every system in a real network codes the same thing differently, so each entity carries the
code each system uses for it (``ehr_code`` vs ``cost_center``). Amounts are integer cents and
times are simulated minutes (``SimTime``) everywhere, to keep arithmetic exact and replayable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SimTime = float
"""Simulated time in minutes since the scenario's start."""

Cents = int
"""Money in integer cents: journals must balance exactly, which floats cannot promise."""


@dataclass(frozen=True, slots=True)
class Department:
    """A clinical or ancillary department: the EHR knows its code, the ERP its cost center and
    the HCM its org unit (``ORG-0142``) - three codes for one department, as in real networks."""

    ehr_code: str
    name: str
    cost_center: str
    kind: str  # "nursing" | "ancillary"
    org_unit: str = ""  # HCM org unit code; "" where the network has no staff in the HCM for it


@dataclass(frozen=True, slots=True)
class Unit:
    """An inpatient unit with beds, run by a nursing department."""

    code: str
    name: str
    kind: str  # "icu" | "medsurg" | "telemetry" | "maternity"
    beds: int
    department: Department
    daily_rate: Cents


@dataclass(frozen=True, slots=True)
class Provider:
    """An attending physician (NPI-like id, synthetic name)."""

    npi: str
    family: str
    given: str


@dataclass(frozen=True, slots=True)
class Payer:
    """A payer as the EHR registers it; ``clearinghouse_id`` is how the claims SaaS knows it."""

    plan_code: str
    name: str
    financial_class: str  # "MCR" | "MCD" | "COM" | "SP"
    clearinghouse_id: str | None  # None for self-pay: no claim is ever sent

    @property
    def self_pay(self) -> bool:
        return self.clearinghouse_id is None


@dataclass(frozen=True, slots=True)
class ChargeCode:
    """A chargemaster line: what the EHR charges for a service and which department performs it."""

    code: str
    description: str
    revenue_code: str
    price: Cents
    department_kind: str  # which ancillary department performs it: "lab" | "imaging" | ...


@dataclass(frozen=True, slots=True)
class Hospital:
    """One facility of the network with its units, departments and staff."""

    code: str
    name: str
    units: tuple[Unit, ...]
    departments: tuple[Department, ...]
    providers: tuple[Provider, ...]
    or_rooms: int = 0
    storeroom: str = ""  # the EHR's code for the OR supply storeroom (FT1-16 of supply lines)
    joins_at: float = 0.0  # minutes: an acquired hospital joins the network (and its feed) mid-run
    hl7_version: str = "2.5.1"  # what its EHR interface speaks
    payers: tuple[Payer, ...] = ()  # its own insurance plan codes (empty: the network's)

    def department(self, kind: str) -> Department:
        """The department of ``kind`` (an ancillary kind such as ``"lab"``)."""
        for dept in self.departments:
            if dept.kind == kind:
                return dept
        raise KeyError(f"{self.code} has no {kind} department")

    @property
    def beds(self) -> int:
        return sum(unit.beds for unit in self.units)


@dataclass(frozen=True, slots=True)
class Patient:
    """A synthetic patient. Name and MRN never appear in logs or reports, only pseudonyms."""

    mrn: str
    family: str
    given: str
    birth_date: str  # YYYYMMDD
    sex: str  # "F" | "M"
    payer: Payer
    member_id: str


@dataclass(frozen=True, slots=True)
class Vendor:
    """A supplier as the vendor-management SaaS knows it."""

    vendor_id: str
    name: str
    lead_time_days: float


@dataclass(frozen=True, slots=True)
class SupplyItem:
    """A stocked supply: the EHR documents ``ehr_code`` (also its chargemaster code), the ERP stocks
    ``erp_item``. Every kind is charged to the patient and costed to the cost center that used it
    (the case's service line, the pharmacy, the nursing unit)."""

    ehr_code: str
    erp_item: str
    description: str
    kind: str  # "implant" | "consumable" (the OR's) | "drug" (the pharmacy's) | "floor" (nursing units')
    unit_cost: Cents
    price: Cents
    vendor: str


@dataclass(frozen=True, slots=True)
class SupplyUse:
    """How much of an item a case type uses: ``quantity`` drawn uniformly, used with ``probability``."""

    item: str  # ehr_code
    min_quantity: int
    max_quantity: int
    probability: float = 1.0


@dataclass(frozen=True, slots=True)
class CaseType:
    """A kind of surgical case with its service line, duration, stay and supply profile."""

    code: str
    name: str
    service_line: str  # department kind of the perioperative service line, e.g. "ortho"
    unit_kind: str  # where the patient recovers
    duration_minutes: float  # median
    los_days: float  # median post-operative stay
    drg: str
    principal_dx: str
    supplies: tuple[SupplyUse, ...]


@dataclass(frozen=True, slots=True)
class Employee:
    """A member of staff as the HCM knows them (synthetic name; never printed in reports)."""

    employee_id: str
    family: str
    given: str
    job_code: str
    hospital: str
    org_unit: str  # home org unit: every shift is worked and costed there
    hourly_rate: Cents


def paid_quarter_hours(minutes_worked: float) -> int:
    """Paid time of one shift in quarter hours: punched time rounded to the nearest quarter hour
    (half up), the usual time-clock rule. Punches are whole minutes, so the result is exact."""
    return math.floor(minutes_worked / 15 + 0.5)


def shift_pay(hours: float, hourly_rate: Cents) -> Cents:
    """Gross pay of one shift: paid hours (exact quarter hours) x hourly rate, rounded half up to
    the cent. The one place labor cost is rounded: payroll, integration and oracle all sum these."""
    return (round(hours * 4) * hourly_rate + 2) // 4
