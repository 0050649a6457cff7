"""Clinical coding reference data: MS-DRGs with typical ICD-10-CM principal diagnoses per unit kind.

A small, realistic slice of the code sets, enough for claims to look like claims.
"""

from __future__ import annotations

import random

# (MS-DRG, DRG title, principal ICD-10-CM, diagnosis text, unit kinds it is typical for, weight)
DRGS: tuple[tuple[str, str, str, str, tuple[str, ...], float], ...] = (
    ("871", "Septicemia w/o MV >96 hours w MCC", "A41.9", "Sepsis, unspecified organism", ("icu", "medsurg"), 3.0),
    ("291", "Heart failure and shock w MCC", "I50.9", "Heart failure, unspecified", ("telemetry", "icu"), 3.0),
    ("193", "Simple pneumonia and pleurisy w MCC", "J18.9", "Pneumonia, unspecified organism", ("medsurg",), 2.5),
    (
        "470",
        "Major joint replacement w/o MCC",
        "M17.11",
        "Unilateral primary osteoarthritis, right knee",
        ("medsurg",),
        2.0,
    ),
    (
        "392",
        "Esophagitis, gastroent and misc digest disorders",
        "K52.9",
        "Noninfective gastroenteritis",
        ("medsurg",),
        1.5,
    ),
    ("690", "Kidney and urinary tract infections w/o MCC", "N39.0", "Urinary tract infection", ("medsurg",), 1.5),
    (
        "065",
        "Intracranial hemorrhage or cerebral infarction w CC",
        "I63.9",
        "Cerebral infarction, unspecified",
        ("icu", "telemetry"),
        1.5,
    ),
    (
        "247",
        "Perc cardiovasc proc w drug-eluting stent w/o MCC",
        "I21.4",
        "Non-ST elevation myocardial infarction",
        ("telemetry", "icu"),
        1.5,
    ),
    ("683", "Renal failure w CC", "N17.9", "Acute kidney failure, unspecified", ("medsurg", "telemetry"), 1.0),
    (
        "190",
        "Chronic obstructive pulmonary disease w MCC",
        "J44.1",
        "COPD with acute exacerbation",
        ("medsurg", "icu"),
        1.5,
    ),
    (
        "807",
        "Vaginal delivery w/o sterilization/D&C w/o CC/MCC",
        "O80",
        "Encounter for full-term uncomplicated delivery",
        ("maternity",),
        3.0,
    ),
    (
        "788",
        "Cesarean section w/o sterilization w/o CC/MCC",
        "O82",
        "Encounter for cesarean delivery",
        ("maternity",),
        1.5,
    ),
)

SECONDARY: tuple[tuple[str, str], ...] = (
    ("E11.9", "Type 2 diabetes mellitus without complications"),
    ("I10", "Essential (primary) hypertension"),
    ("E78.5", "Hyperlipidemia, unspecified"),
    ("N18.30", "Chronic kidney disease, stage 3 unspecified"),
    ("F17.210", "Nicotine dependence, cigarettes, uncomplicated"),
    ("E66.9", "Obesity, unspecified"),
    ("Z79.01", "Long term (current) use of anticoagulants"),
)

# Reasons for visits that are not paid by DRG, by where the patient was seen: (ICD-10-CM, text, weight).
VISIT_DIAGNOSES: dict[str, tuple[tuple[str, str, float], ...]] = {
    "emergency": (
        ("R07.9", "Chest pain, unspecified", 3.0),
        ("R10.9", "Unspecified abdominal pain", 3.0),
        ("S61.412A", "Laceration without foreign body of left hand, initial encounter", 1.5),
        ("S93.401A", "Sprain of unspecified ligament of right ankle, initial encounter", 1.5),
        ("J06.9", "Acute upper respiratory infection, unspecified", 2.0),
        ("R51.9", "Headache, unspecified", 1.5),
        ("N39.0", "Urinary tract infection", 1.0),
    ),
    "observation": (
        ("R07.9", "Chest pain, unspecified", 3.0),
        ("R55", "Syncope and collapse", 2.0),
        ("R10.9", "Unspecified abdominal pain", 1.5),
        ("E86.0", "Dehydration", 1.0),
    ),
    "imaging": (
        ("Z12.31", "Encounter for screening mammogram for malignant neoplasm of breast", 2.0),
        ("M54.50", "Low back pain, unspecified", 1.5),
        ("R91.8", "Other nonspecific abnormal finding of lung field", 1.0),
    ),
    "lab": (
        ("E11.9", "Type 2 diabetes mellitus without complications", 2.0),
        ("E78.5", "Hyperlipidemia, unspecified", 1.5),
        ("D64.9", "Anemia, unspecified", 1.0),
    ),
    "therapy": (
        ("M54.50", "Low back pain, unspecified", 2.0),
        ("M25.561", "Pain in right knee", 1.5),
        ("Z47.1", "Aftercare following joint replacement surgery", 1.0),
    ),
}

DIAGNOSIS_TEXT = (
    {row[2]: row[3] for row in DRGS}
    | dict(SECONDARY)
    | {code: text for rows in VISIT_DIAGNOSES.values() for code, text, _ in rows}
)
DRG_TEXT = {row[0]: row[1] for row in DRGS}


def assign_codes(unit_kind: str, rng: random.Random) -> tuple[str, tuple[str, ...], str]:
    """Principal diagnosis, secondary diagnoses and DRG for a stay that started on ``unit_kind``."""
    candidates = [row for row in DRGS if unit_kind in row[4]]
    row = rng.choices(candidates, weights=[c[5] for c in candidates])[0]
    count = 0 if unit_kind == "maternity" else rng.randint(0, 3)
    secondary = tuple(code for code, _ in rng.sample(SECONDARY, count))
    return row[2], secondary, row[0]


def assign_visit_codes(kind: str, rng: random.Random) -> tuple[str, tuple[str, ...], str]:
    """Principal and secondary diagnoses of a visit not paid by DRG (DRG ""): ``kind`` is
    "emergency", "observation" or the ancillary department an outpatient was seen in."""
    rows = VISIT_DIAGNOSES[kind]
    row = rng.choices(rows, weights=[r[2] for r in rows])[0]
    secondary = tuple(code for code, _ in rng.sample(SECONDARY, rng.randint(0, 2)))
    return row[0], secondary, ""
