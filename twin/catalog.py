"""Static reference data of the simulated network: unit mix, departments, chargemaster, payers,
supply items, vendors and surgical case types.

Realistic slices of real code sets (UB-04 revenue codes, CPT-like service codes, MS-DRGs), kept
in one place so the network builder, the workflows and the oracles all read the same catalog.
"""

from __future__ import annotations

from twin.domain.model import CaseType, ChargeCode, SupplyItem, SupplyUse, Vendor

# Unit mix as shares of a hospital's beds, with the daily room-and-board rate in cents.
UNIT_MIX: tuple[tuple[str, str, float, int], ...] = (
    ("icu", "Intensive Care", 0.10, 520_000),
    ("telemetry", "Telemetry", 0.15, 310_000),
    ("medsurg", "Medical-Surgical", 0.60, 240_000),
    ("maternity", "Maternity", 0.15, 260_000),
)

# What an inpatient's service charge events are, by department (shares of the events), and what an
# emergency visit orders (the chance of each): the workflows draw them, materials management plans
# the pharmacy's stock from them.
SERVICE_MIX = (("lab", 0.45), ("pharmacy", 0.25), ("imaging", 0.12), ("therapy", 0.10), ("respiratory", 0.08))
EMERGENCY_ORDERS = (("lab", 0.7), ("imaging", 0.45), ("pharmacy", 0.5))
CODES_PER_SERVICE = (1, 1, 2, 3)  # codes charged per service event, drawn uniformly (at most the department's)
DOSES_PER_DRUG_LINE = (1, 4)  # units dispensed per drug line, drawn uniformly

# Ancillary departments: kind, name, ERP natural-account suffix of the cost center.
ANCILLARY: tuple[tuple[str, str, str], ...] = (
    ("lab", "Laboratory", "7010"),
    ("imaging", "Diagnostic Imaging", "7020"),
    ("pharmacy", "Pharmacy", "7030"),
    ("therapy", "Rehabilitation Therapy", "7040"),
    ("respiratory", "Respiratory Care", "7050"),
)
# The emergency department: registrations (ADT^A04) of treat-and-release visits, charged by level.
EMERGENCY = ("emergency", "Emergency Department", "7060")
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
    ChargeCode("420-97161", "Physical therapy evaluation", "0420", 21_000, "therapy"),
    ChargeCode("424-97530", "Therapeutic activities, 15 min", "0424", 9_500, "therapy"),
    ChargeCode("410-94640", "Nebulizer treatment", "0410", 7_800, "respiratory"),
    ChargeCode("410-94760", "Pulse oximetry", "0410", 2_900, "respiratory"),
    ChargeCode("450-99283", "Emergency department visit, level 3", "0450", 62_000, "emergency"),
    ChargeCode("450-99284", "Emergency department visit, level 4", "0450", 98_000, "emergency"),
    ChargeCode("450-99285", "Emergency department visit, level 5", "0450", 165_000, "emergency"),
)

# Observation is billed by the hour on the nursing unit's department, not by room and board.
OBSERVATION_CHARGE = ChargeCode("762-G0378", "Hospital observation service, per hour", "0762", 6_500, "observation")

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


# Perioperative service lines: department kind, name, ERP cost center suffix, share of OR cases.
SERVICE_LINES: tuple[tuple[str, str, str, float], ...] = (
    ("ortho", "Orthopedic Surgery", "6510", 0.30),
    ("cardio", "Interventional Cardiology", "6520", 0.25),
    ("gensurg", "General Surgery", "6530", 0.30),
    ("womens", "Women's Surgical Services", "6540", 0.15),
)
STOREROOM_CC = "7510"  # ERP cost center of each hospital's central supply storeroom (inventory location)

VENDORS: tuple[Vendor, ...] = (
    Vendor("V-APEX", "Apex Orthopedics", 2.0),
    Vendor("V-CARD", "CardioFlow Medical", 3.0),
    Vendor("V-MEDS", "MedSupply Distribution", 1.0),
    Vendor("V-RXWH", "National Drug Wholesale", 1.0),
)

# ehr_code doubles as the chargemaster code: revenue code 0278 (implants) or 0272 (sterile supply).
SUPPLY_ITEMS: tuple[SupplyItem, ...] = (
    SupplyItem("278-10001", "IM-4410021", "Total knee system, cemented", "implant", 480_000, 1_400_000, "V-APEX"),
    SupplyItem("278-10002", "IM-4410035", "Hip stem, porous coated", "implant", 395_000, 1_150_000, "V-APEX"),
    SupplyItem("278-10003", "IM-4410102", "Bone cement, 40 g", "implant", 9_500, 31_000, "V-APEX"),
    SupplyItem("278-20001", "IM-5520007", "Drug-eluting coronary stent", "implant", 110_000, 410_000, "V-CARD"),
    SupplyItem("272-20002", "SU-5520310", "PTCA balloon catheter", "consumable", 28_000, 84_000, "V-CARD"),
    SupplyItem("272-20003", "SU-5520422", "Coronary guide wire", "consumable", 9_000, 26_000, "V-CARD"),
    SupplyItem("272-30001", "SU-6630001", "Laparoscopic trocar set", "consumable", 21_000, 58_000, "V-MEDS"),
    SupplyItem("272-30002", "SU-6630017", "Endoscopic stapler reload", "consumable", 16_500, 47_000, "V-MEDS"),
    SupplyItem("272-30003", "SU-6630120", "Ligation clip applier", "consumable", 12_000, 33_000, "V-MEDS"),
    SupplyItem("272-40001", "SU-7740005", "Surgical drape pack", "consumable", 3_800, 9_500, "V-MEDS"),
    SupplyItem("272-40002", "SU-7740013", "Suture kit, absorbable", "consumable", 1_400, 4_200, "V-MEDS"),
    SupplyItem("272-40003", "SU-7740029", "Sterile gloves, pair", "consumable", 90, 350, "V-MEDS"),
    SupplyItem("272-40004", "SU-7740031", "Laparotomy sponge pack", "consumable", 1_100, 3_000, "V-MEDS"),
)

# What the pharmacy dispenses (from its own stock, an ERP inventory location) and the nursing units
# use from floor stock (replenished from the central storeroom). Unit costs are acquisition costs;
# ehr_code doubles as the chargemaster code (0250/0258/0636 drugs, 0270 bedside supplies). The
# costs are set so that what the ERP issues comes to the published shares of operating expense
# (``twin run --calibration``: supplies 13-15%, drugs 4.4-8%): two costly biologics among cheap
# generics, as a formulary's spend is.
DRUG_ITEMS: tuple[SupplyItem, ...] = (
    SupplyItem("250-J1885", "RX-J1885", "Ketorolac injection", "drug", 200, 2_400, "V-RXWH"),
    SupplyItem("250-J0696", "RX-J0696", "Ceftriaxone 250 mg", "drug", 300, 3_800, "V-RXWH"),
    SupplyItem("258-J7050", "RX-J7050", "Normal saline 250 cc", "drug", 150, 1_900, "V-RXWH"),
    SupplyItem("636-J1644", "RX-J1644", "Heparin 1000 units", "drug", 120, 2_700, "V-RXWH"),
    SupplyItem("636-J1569", "RX-J1569", "Immune globulin 500 mg", "drug", 3_200, 11_000, "V-RXWH"),
    SupplyItem("636-J1745", "RX-J1745", "Infliximab 10 mg", "drug", 4_300, 14_500, "V-RXWH"),
)
FLOOR_ITEMS: tuple[SupplyItem, ...] = (
    SupplyItem("270-50001", "SU-8850001", "Bedside supply kit, daily", "floor", 6_600, 15_500, "V-MEDS"),
    SupplyItem("270-50002", "SU-8850014", "IV administration set", "floor", 1_400, 4_500, "V-MEDS"),
)
# A bedded patient's floor stock per day (documented with the midnight census).
FLOOR_USE: tuple[SupplyUse, ...] = (SupplyUse("270-50001", 1, 1), SupplyUse("270-50002", 1, 3, 0.5))

_BASIC = (
    SupplyUse("272-40001", 1, 1),
    SupplyUse("272-40002", 1, 4),
    SupplyUse("272-40003", 4, 10),
    SupplyUse("272-40004", 1, 3),
)

CASE_TYPES: tuple[CaseType, ...] = (
    CaseType(
        "TKA",
        "Total knee arthroplasty",
        "ortho",
        "medsurg",
        120,
        2.5,
        "470",
        "M17.11",
        (SupplyUse("278-10001", 1, 1), SupplyUse("278-10003", 1, 2), *_BASIC),
    ),
    CaseType(
        "THA",
        "Total hip arthroplasty",
        "ortho",
        "medsurg",
        130,
        2.5,
        "470",
        "M16.11",
        (SupplyUse("278-10002", 1, 1), SupplyUse("278-10003", 1, 2, 0.6), *_BASIC),
    ),
    CaseType(
        "PCI",
        "Percutaneous coronary intervention",
        "cardio",
        "telemetry",
        90,
        1.8,
        "247",
        "I21.4",
        (
            SupplyUse("278-20001", 1, 3),
            SupplyUse("272-20002", 1, 2),
            SupplyUse("272-20003", 1, 2),
            SupplyUse("272-40001", 1, 1),
            SupplyUse("272-40003", 2, 6),
        ),
    ),
    CaseType(
        "LCHOL",
        "Laparoscopic cholecystectomy",
        "gensurg",
        "medsurg",
        75,
        1.5,
        "419",
        "K80.20",
        (SupplyUse("272-30001", 1, 1), SupplyUse("272-30002", 0, 2), SupplyUse("272-30003", 1, 1), *_BASIC),
    ),
    CaseType(
        "CSEC",
        "Cesarean delivery",
        "womens",
        "maternity",
        60,
        3.0,
        "788",
        "O82",
        (
            SupplyUse("272-40002", 2, 4),
            SupplyUse("272-40004", 2, 4),
            SupplyUse("272-40001", 1, 1),
            SupplyUse("272-40003", 4, 8),
        ),
    ),
)


def department_kinds() -> set[str]:
    """Every kind of department a hospital has: nursing units, ancillaries, surgical service lines."""
    kinds = {kind for kind, *_ in UNIT_MIX} | {kind for kind, *_ in ANCILLARY} | {kind for kind, *_ in SERVICE_LINES}
    return kinds | {EMERGENCY[0]}


SUPPLY_CHARGES: tuple[ChargeCode, ...] = tuple(
    ChargeCode(item.ehr_code, item.description, "0" + item.ehr_code[:3], item.price, kind)
    for items, kind in ((SUPPLY_ITEMS, "supply"), (DRUG_ITEMS, "pharmacy"), (FLOOR_ITEMS, "floor"))
    for item in items
)


# An acquired hospital's legacy EHR codes its departments its own way (and its nursing units by
# the same codes); the ERP's chart stays the network's. Keyed by department kind.
LEGACY_DEPARTMENT_CODES = {
    "icu": "ICU1",
    "telemetry": "TELE",
    "medsurg": "4W",
    "maternity": "OB",
    "lab": "LAB",
    "imaging": "RAD",
    "pharmacy": "RX",
    "therapy": "PT",
    "respiratory": "RT",
    "ortho": "ORTHO",
    "cardio": "CATH",
    "gensurg": "GS",
    "womens": "OBGYN",
    "storeroom": "CSUP",
    "emergency": "ER",
}

# ... and its insurance plans: (plan code, name, financial class, clearinghouse payer id).
LEGACY_PAYERS: tuple[tuple[str, str, str, str | None], ...] = (
    ("100", "Medicare", "MCR", "CMS-A01"),
    ("200", "Medicaid", "MCD", "MCD-ST01"),
    ("310", "BCBS PPO", "COM", "BPPO-0042"),
    ("320", "UHC Choice", "COM", "UHC-8871"),
    ("330", "Aetna OA", "COM", "AET-6005"),
    ("900", "Self pay", "SP", None),
)
