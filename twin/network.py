"""Builds a hospital network (frozen master data) from a scenario, seeded and with Faker names.

Each system codes the same departments differently (EHR ``H01-LAB`` vs ERP cost center
``101-7010``), as in real networks; the crosswalk the integration is configured with is derived
here, from the same master data, the way an organisation's reference-data team would publish it.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from faker import Faker

from twin.catalog import (
    ANCILLARY,
    BUSINESS_OFFICE_CC,
    CASE_TYPES,
    CHARGEMASTER,
    CODES_PER_SERVICE,
    DOSES_PER_DRUG_LINE,
    DRUG_ITEMS,
    EMERGENCY,
    EMERGENCY_ORDERS,
    FLOOR_ITEMS,
    FLOOR_USE,
    LEGACY_DEPARTMENT_CODES,
    LEGACY_PAYERS,
    NURSING_CC,
    OBSERVATION_CHARGE,
    PAYERS,
    ROOM_AND_BOARD,
    SERVICE_LINES,
    SERVICE_MIX,
    STOREROOM_CC,
    SUPPLY_CHARGES,
    SUPPLY_ITEMS,
    UNIT_MIX,
    VENDORS,
)
from twin.domain.model import CaseType, ChargeCode, Department, Hospital, Payer, Provider, SupplyItem, Unit, Vendor
from twin.domain.streams import RandomStreams
from twin.scenario import Scenario


@dataclass(frozen=True, slots=True)
class Retirement:
    """Finance retires ``cost_center`` at ``at`` (minutes) and books its activity to ``replacement``."""

    cost_center: str
    replacement: str
    at: float


@dataclass(frozen=True, slots=True)
class Network:
    """Master data of one simulated network: what every system's codes are built from."""

    hospitals: tuple[Hospital, ...]
    payers: tuple[Payer, ...]
    chargemaster: tuple[ChargeCode, ...]
    vendors: tuple[Vendor, ...] = VENDORS
    supply_items: tuple[SupplyItem, ...] = SUPPLY_ITEMS + DRUG_ITEMS + FLOOR_ITEMS
    case_types: tuple[CaseType, ...] = CASE_TYPES
    missing_items: tuple[str, ...] = ()  # EHR codes of supply items not yet in the ERP item master
    retirement: Retirement | None = None  # a cost center finance retires mid-run

    def hospital(self, code: str) -> Hospital:
        for hospital in self.hospitals:
            if hospital.code == code:
                return hospital
        raise KeyError(code)

    @property
    def cost_centers(self) -> tuple[str, ...]:
        """Every ERP cost center: departments plus each hospital's business office."""
        centers: list[str] = []
        for hospital in self.hospitals:
            centers.extend(dept.cost_center for dept in hospital.departments)
            centers.append(business_office(hospital))
        return tuple(centers)

    def department_crosswalk(self) -> dict[str, str]:
        """EHR department code -> ERP cost center, as reference-data governance publishes it."""
        return {dept.ehr_code: dept.cost_center for h in self.hospitals for dept in h.departments}

    def item_crosswalk(self) -> dict[str, str]:
        """EHR supply code -> ERP item number, as governance knows it (every item)."""
        return {item.ehr_code: item.erp_item for item in self.supply_items}

    def published_item_crosswalk(self) -> dict[str, str]:
        """The item crosswalk as published at the start: items missing in the ERP are not in it yet."""
        return {code: erp for code, erp in self.item_crosswalk().items() if code not in self.missing_items}

    def governed_cost_center(self, department: Department, at: float) -> str:
        """The cost center a department's activity belongs to at ``at``: retirement moves it."""
        retirement = self.retirement
        if retirement is not None and department.cost_center == retirement.cost_center and at >= retirement.at:
            return retirement.replacement
        return department.cost_center

    def location_crosswalk(self) -> dict[str, str]:
        """EHR stock location (a storeroom, a pharmacy) -> ERP inventory location."""
        return {code: location for h in self.hospitals for code, location in stock_locations(h)}

    def hospital_of_location(self) -> dict[str, str]:
        """ERP inventory location -> the hospital that keeps it."""
        return {location: h.code for h in self.hospitals for _code, location in stock_locations(h)}

    def payer_crosswalk(self) -> dict[str, str | None]:
        """EHR plan code -> clearinghouse payer id (``None``: self pay, never claimed), every hospital's."""
        plans = {payer.plan_code: payer.clearinghouse_id for payer in self.payers}
        for hospital in self.hospitals:
            plans.update({payer.plan_code: payer.clearinghouse_id for payer in hospital.payers})
        return plans

    def payers_of(self, hospital: Hospital) -> tuple[Payer, ...]:
        """The insurance plans a hospital's EHR registers patients under."""
        return hospital.payers or self.payers

    def onboarding(self, hospital: Hospital) -> list[tuple[str, str, str]]:
        """The crosswalk entries (code set, code, governed target) that bring a hospital's codes in."""
        entries = [("department", d.ehr_code, d.cost_center) for d in hospital.departments]
        entries += [("org unit", d.org_unit, d.cost_center) for d in hospital.departments if d.org_unit]
        entries += [("insurance plan", p.plan_code, p.clearinghouse_id or "") for p in hospital.payers]
        entries += [("location", code, location) for code, location in stock_locations(hospital)]
        entries.append(("facility", hospital.code, business_office(hospital)))
        return entries


def department_of_kind(hospital: Hospital, kind: str) -> Department:
    """A department by kind: a nursing unit's kind (``"icu"``) names the department running it."""
    for unit in hospital.units:
        if unit.kind == kind:
            return unit.department
    return hospital.department(kind)


def business_office(hospital: Hospital) -> str:
    """The cost center that carries a hospital's patient receivables."""
    return f"{_entity(hospital.code)}-{BUSINESS_OFFICE_CC}"


def inventory_location(hospital: Hospital) -> str:
    """The ERP inventory location (and cost center) of a hospital's OR storeroom."""
    return f"{_entity(hospital.code)}-{STOREROOM_CC}"


def pharmacy_location(hospital: Hospital) -> str:
    """The ERP inventory location of a hospital's pharmacy stock: the pharmacy's cost center."""
    return next((d.cost_center for d in hospital.departments if d.kind == "pharmacy"), "")


def stock_locations(hospital: Hospital) -> list[tuple[str, str]]:
    """(EHR code, ERP inventory location) of each place a hospital keeps stock the ERP issues from:
    the central storeroom (OR supplies and the units' floor stock) and the pharmacy (drugs; the EHR
    names it by the pharmacy's department code, the ERP by its cost center)."""
    locations = [(hospital.storeroom, inventory_location(hospital))] if hospital.storeroom else []
    pharmacy = next((d for d in hospital.departments if d.kind == "pharmacy"), None)
    return locations + ([(pharmacy.ehr_code, pharmacy.cost_center)] if pharmacy else [])


def _entity(hospital_code: str) -> str:
    """ERP legal-entity segment of a hospital: H01 -> 101."""
    return str(100 + int(hospital_code[1:]))


def build_network(scenario: Scenario) -> Network:
    """The scenario's network: same scenario and seed give the same network, field for field."""
    streams = RandomStreams(scenario.seed)
    rng = streams.stream("network")
    fake = Faker("en_US")
    fake.seed_instance(streams.faker_seed("network"))
    hospitals = tuple(_build_hospital(index + 1, scenario, rng, fake) for index in range(scenario.network.hospitals))
    if scenario.acquisition is not None:
        hospitals += (_build_hospital(len(hospitals) + 1, scenario, rng, fake, legacy=True),)
    payers = tuple(Payer(code, name, fin_class, ch_id) for code, name, fin_class, ch_id in PAYERS)
    governance = scenario.governance
    chooser = streams.stream("governance")
    missing = tuple(sorted(item.ehr_code for item in chooser.sample(SUPPLY_ITEMS, governance.items_missing_in_erp)))
    retirement = None
    if governance.retire_cost_center is not None:
        spec = governance.retire_cost_center
        department = department_of_kind(hospitals[spec.hospital - 1], spec.department)
        entity, suffix = department.cost_center.split("-")
        retirement = Retirement(department.cost_center, f"{entity}-{int(suffix) + 5}", spec.day * 1440)
    return Network(
        hospitals=hospitals,
        payers=payers,
        chargemaster=CHARGEMASTER + ROOM_AND_BOARD + (OBSERVATION_CHARGE,) + SUPPLY_CHARGES,
        missing_items=missing,
        retirement=retirement,
    )


def _org_unit(hospital_number: int, index: int) -> str:
    """The HCM's code of a hospital's ``index``-th department (``ORG-0141``, ``ORG-0142``, ...):
    HCM numbers its org tree on its own, so it matches neither the EHR code nor the cost center."""
    return f"ORG-{hospital_number:02d}{41 + index:02d}"


def _build_hospital(number: int, scenario: Scenario, rng: random.Random, fake: Faker, legacy: bool = False) -> Hospital:
    """One hospital; ``legacy``: the acquired one, whose EHR codes departments its own way."""
    code = f"H{number:02d}"
    entity = _entity(code)
    beds = scenario.acquisition.beds if legacy and scenario.acquisition else scenario.network.beds
    beds_total = rng.randint(int(beds.min), int(beds.max))

    def ehr_code(kind: str) -> str:
        return LEGACY_DEPARTMENT_CODES[kind] if legacy else f"{code}-{kind.upper()[:4]}"

    units: list[Unit] = []
    departments: list[Department] = []
    for floor, (kind, name, share, rate) in enumerate(UNIT_MIX, start=2):
        dept = Department(
            ehr_code=ehr_code(kind),
            name=f"{name} Nursing",
            cost_center=f"{entity}-{NURSING_CC[kind]}",
            kind="nursing",
            org_unit=_org_unit(number, len(departments)),
        )
        departments.append(dept)
        units.append(
            Unit(
                code=ehr_code(kind) if legacy else f"{code}-{floor}{kind[0].upper()}",
                name=name,
                kind=kind,
                beds=max(4, round(beds_total * share)),
                department=dept,
                daily_rate=rate,
            )
        )
    for kind, name, suffix in ANCILLARY:
        departments.append(
            Department(
                ehr_code=ehr_code(kind),
                name=name,
                cost_center=f"{entity}-{suffix}",
                kind=kind,
                org_unit=_org_unit(number, len(departments)),
            )
        )
    for kind, name, suffix, _share in SERVICE_LINES:
        departments.append(
            Department(
                ehr_code=ehr_code(kind),
                name=name,
                cost_center=f"{entity}-{suffix}",
                kind=kind,
                org_unit=_org_unit(number, len(departments)),
            )
        )
    departments.append(
        Department(
            ehr_code=ehr_code("storeroom") if legacy else f"{code}-ORSUP",
            name="Central Supply Storeroom",
            cost_center=f"{entity}-{STOREROOM_CC}",
            kind="storeroom",
            org_unit=_org_unit(number, len(departments)),
        )
    )
    kind, name, suffix = EMERGENCY  # last: the other departments keep their org units
    departments.append(
        Department(
            ehr_code=ehr_code(kind),
            name=name,
            cost_center=f"{entity}-{suffix}",
            kind=kind,
            org_unit=_org_unit(number, len(departments)),
        )
    )
    providers = tuple(
        Provider(npi=f"9{number:02d}{index:07d}", family=fake.last_name(), given=fake.first_name())
        for index in range(max(8, beds_total // 10))
    )
    name = f"{fake.city()} {rng.choice(['General Hospital', 'Medical Center', 'Regional Hospital'])}"
    return Hospital(
        code=code,
        name=name,
        units=tuple(units),
        departments=tuple(departments),
        providers=providers,
        or_rooms=max(2, beds_total // 40),
        storeroom=ehr_code("storeroom") if legacy else f"{code}-ORSUP",
        joins_at=scenario.acquisition.day * 1440 if legacy and scenario.acquisition else 0.0,
        hl7_version=scenario.acquisition.hl7_version if legacy and scenario.acquisition else "2.5.1",
        payers=tuple(Payer(*row) for row in LEGACY_PAYERS) if legacy else (),
    )


def stock_policies(network: Network, scenario: Scenario) -> dict[tuple[str, str], tuple[int, int]]:
    """ERP reorder point and par per stock location and item, sized from the expected usage.

    Materials management plans each item's daily demand - the OR's from its case mix, the floor
    stock's and the pharmacy's from a census at ``PLANNED_OCCUPANCY`` (and the emergency visits'
    drug orders) - and sets the reorder point to the demand over the replenishment time (the
    vendor's lead time, the truck, and a weekend the dock is closed) plus safety stock for its
    randomness, and par three days of demand above that.
    """
    lead = {v.vendor_id: v.lead_time_days for v in network.vendors}
    items = {item.ehr_code: item for item in network.supply_items}
    policies: dict[tuple[str, str], tuple[int, int]] = {}
    for hospital in network.hospitals:
        for (location, code), per_day in _planned_demand(network, scenario, hospital).items():
            item = items[code]
            days = lead[item.vendor]
            # lead time plus transit and receiving, plus the weekend: a truck that comes after Friday's
            # dock hours is counted in on Monday, and materials management knows it
            lead_demand = per_day * (days + 1 + DOCK_CLOSED_DAYS)
            safety = 2.5 * math.sqrt(lead_demand)  # use comes at random: cover ~2.5 sigma of that demand
            reorder_point = max(2, math.ceil(lead_demand + safety))
            par = max(reorder_point + 2, math.ceil(reorder_point + per_day * 3))
            policies[(location, item.erp_item)] = (reorder_point, par)
    return policies


PLANNED_OCCUPANCY = 0.8  # the census materials management plans floor stock and drugs for
DOCK_CLOSED_DAYS = 2  # receiving works weekdays (``SupplySpec.dock_*``): no delivery is counted in at weekends


def _planned_demand(network: Network, scenario: Scenario, hospital: Hospital) -> dict[tuple[str, str], float]:
    """Units a day per (ERP location, EHR item code) a hospital is expected to use."""
    workload = scenario.workload
    usage: dict[tuple[str, str], float] = {}

    def add(location: str, code: str, per_day: float) -> None:
        usage[(location, code)] = usage.get((location, code), 0.0) + per_day

    storeroom = inventory_location(hospital)
    per_room = workload.or_cases_per_room_per_day * 5 / 7  # weekday cases, per calendar day
    shares = {kind: share for kind, _name, _suffix, share in SERVICE_LINES}
    per_line = {kind: sum(1 for c in network.case_types if c.service_line == kind) for kind in shares}
    for case in network.case_types:
        cases = hospital.or_rooms * per_room * shares[case.service_line] / per_line[case.service_line]
        for use in case.supplies:
            add(storeroom, use.item, cases * (use.min_quantity + use.max_quantity) / 2 * use.probability)
    census = hospital.beds * PLANNED_OCCUPANCY
    for use in FLOOR_USE:
        add(storeroom, use.item, census * (use.min_quantity + use.max_quantity) / 2 * use.probability)
    pharmacy = [d.cost_center for d in hospital.departments if d.kind == "pharmacy"]
    drugs = [item.ehr_code for item in network.supply_items if item.kind == "drug"]
    if pharmacy and drugs:
        emergency = hospital.beds * workload.admissions_per_bed_per_day * workload.encounters.emergency_per_admission
        events = census * workload.services_per_patient_day * dict(SERVICE_MIX)["pharmacy"]
        events += emergency * dict(EMERGENCY_ORDERS)["pharmacy"]
        lines = events * min(len(drugs), sum(CODES_PER_SERVICE) / len(CODES_PER_SERVICE))
        doses = sum(DOSES_PER_DRUG_LINE) / 2
        for code in drugs:
            add(pharmacy[0], code, lines / len(drugs) * doses)
    return usage
