"""Builds a hospital network (frozen master data) from a scenario, seeded and with Faker names.

Each system codes the same departments differently (EHR ``H01-LAB`` vs ERP cost center
``101-7010``), as in real networks; the crosswalk the integration is configured with is derived
here, from the same master data, the way an organisation's reference-data team would publish it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from faker import Faker

from twin.domain.model import ChargeCode, Department, Hospital, Payer, Provider, Unit
from twin.scenario import Scenario

# Unit mix as shares of a hospital's beds, with the daily room-and-board rate in cents.
UNIT_MIX: tuple[tuple[str, str, float, int], ...] = (
    ("icu", "Intensive Care", 0.10, 520_000),
    ("telemetry", "Telemetry", 0.15, 310_000),
    ("medsurg", "Medical-Surgical", 0.60, 240_000),
    ("maternity", "Maternity", 0.15, 260_000),
)

# Ancillary departments: kind, name, ERP natural-account suffix of the cost center.
ANCILLARY: tuple[tuple[str, str, str], ...] = (
    ("lab", "Laboratory", "7010"),
    ("imaging", "Diagnostic Imaging", "7020"),
    ("pharmacy", "Pharmacy", "7030"),
    ("therapy", "Rehabilitation Therapy", "7040"),
    ("respiratory", "Respiratory Care", "7050"),
)
NURSING_CC = {"icu": "6010", "telemetry": "6020", "medsurg": "6030", "maternity": "6040"}
BUSINESS_OFFICE_CC = "8010"

CHARGEMASTER: tuple[ChargeCode, ...] = (
    ChargeCode("300-85025", "CBC with differential", "0300", 4_500, "lab"),
    ChargeCode("300-80048", "Basic metabolic panel", "0300", 6_200, "lab"),
    ChargeCode("300-80053", "Comprehensive metabolic panel", "0300", 8_900, "lab"),
    ChargeCode("300-85610", "Prothrombin time", "0300", 3_100, "lab"),
    ChargeCode("300-87040", "Blood culture", "0306", 11_800, "lab"),
    ChargeCode("320-71046", "Chest X-ray, 2 views", "0320", 18_500, "imaging"),
    ChargeCode("350-70450", "CT head without contrast", "0350", 124_000, "imaging"),
    ChargeCode("350-74177", "CT abdomen/pelvis with contrast", "0350", 215_000, "imaging"),
    ChargeCode("402-76705", "Ultrasound abdomen, limited", "0402", 46_000, "imaging"),
    ChargeCode("250-J1885", "Ketorolac injection", "0250", 2_400, "pharmacy"),
    ChargeCode("250-J0696", "Ceftriaxone 250 mg", "0250", 3_800, "pharmacy"),
    ChargeCode("258-J7050", "Normal saline 250 cc", "0258", 1_900, "pharmacy"),
    ChargeCode("636-J1644", "Heparin 1000 units", "0636", 2_700, "pharmacy"),
    ChargeCode("420-97161", "Physical therapy evaluation", "0420", 21_000, "therapy"),
    ChargeCode("424-97530", "Therapeutic activities, 15 min", "0424", 9_500, "therapy"),
    ChargeCode("410-94640", "Nebulizer treatment", "0410", 7_800, "respiratory"),
    ChargeCode("410-94760", "Pulse oximetry", "0410", 2_900, "respiratory"),
)

ROOM_AND_BOARD_REVENUE_CODE = {"icu": "0200", "telemetry": "0206", "medsurg": "0120", "maternity": "0112"}
ROOM_AND_BOARD: tuple[ChargeCode, ...] = tuple(
    ChargeCode(
        f"{ROOM_AND_BOARD_REVENUE_CODE[kind][1:]}-RB-{kind.upper()[:4]}",
        f"Room and board, {name.lower()}",
        ROOM_AND_BOARD_REVENUE_CODE[kind],
        rate,
        kind,
    )
    for kind, name, _share, rate in UNIT_MIX
)


def room_and_board(unit_kind: str) -> ChargeCode:
    """The daily room-and-board charge of a unit kind."""
    for code in ROOM_AND_BOARD:
        if code.department_kind == unit_kind:
            return code
    raise KeyError(unit_kind)


# (plan code, name, financial class, clearinghouse payer id)
PAYERS: tuple[tuple[str, str, str, str | None], ...] = (
    ("MCR-A", "Medicare Part A", "MCR", "CMS-A01"),
    ("MCD-ST", "State Medicaid", "MCD", "MCD-ST01"),
    ("COM-BLU", "Blue Plan PPO", "COM", "BPPO-0042"),
    ("COM-UNI", "United Health Choice", "COM", "UHC-8871"),
    ("COM-AET", "Aetna Open Access", "COM", "AET-6005"),
    ("SP", "Self pay", "SP", None),
)


@dataclass(frozen=True, slots=True)
class Network:
    """Master data of one simulated network: what every system's codes are built from."""

    hospitals: tuple[Hospital, ...]
    payers: tuple[Payer, ...]
    chargemaster: tuple[ChargeCode, ...]

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

    def payer_crosswalk(self) -> dict[str, str | None]:
        """EHR plan code -> clearinghouse payer id (``None``: self pay, never claimed)."""
        return {payer.plan_code: payer.clearinghouse_id for payer in self.payers}


def business_office(hospital: Hospital) -> str:
    """The cost center that carries a hospital's patient receivables."""
    return f"{_entity(hospital.code)}-{BUSINESS_OFFICE_CC}"


def _entity(hospital_code: str) -> str:
    """ERP legal-entity segment of a hospital: H01 -> 101."""
    return str(100 + int(hospital_code[1:]))


def build_network(scenario: Scenario) -> Network:
    """The scenario's network: same scenario and seed give the same network, field for field."""
    rng = random.Random(f"{scenario.seed}/network")
    fake = Faker("en_US")
    fake.seed_instance(scenario.seed)
    hospitals = tuple(_build_hospital(index + 1, scenario, rng, fake) for index in range(scenario.network.hospitals))
    payers = tuple(Payer(code, name, fin_class, ch_id) for code, name, fin_class, ch_id in PAYERS)
    return Network(hospitals=hospitals, payers=payers, chargemaster=CHARGEMASTER + ROOM_AND_BOARD)


def _build_hospital(number: int, scenario: Scenario, rng: random.Random, fake: Faker) -> Hospital:
    code = f"H{number:02d}"
    entity = _entity(code)
    beds_total = rng.randint(int(scenario.network.beds.min), int(scenario.network.beds.max))
    units: list[Unit] = []
    departments: list[Department] = []
    for floor, (kind, name, share, rate) in enumerate(UNIT_MIX, start=2):
        dept = Department(
            ehr_code=f"{code}-{kind.upper()[:4]}",
            name=f"{name} Nursing",
            cost_center=f"{entity}-{NURSING_CC[kind]}",
            kind="nursing",
        )
        departments.append(dept)
        units.append(
            Unit(
                code=f"{code}-{floor}{kind[0].upper()}",
                name=name,
                kind=kind,
                beds=max(4, round(beds_total * share)),
                department=dept,
                daily_rate=rate,
            )
        )
    for kind, name, suffix in ANCILLARY:
        departments.append(
            Department(ehr_code=f"{code}-{kind.upper()[:4]}", name=name, cost_center=f"{entity}-{suffix}", kind=kind)
        )
    providers = tuple(
        Provider(npi=f"9{number:02d}{index:07d}", family=fake.last_name(), given=fake.first_name())
        for index in range(max(8, beds_total // 10))
    )
    name = f"{fake.city()} {rng.choice(['General Hospital', 'Medical Center', 'Regional Hospital'])}"
    return Hospital(code=code, name=name, units=tuple(units), departments=tuple(departments), providers=providers)
