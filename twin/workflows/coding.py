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

DIAGNOSIS_TEXT = {row[2]: row[3] for row in DRGS} | dict(SECONDARY)
DRG_TEXT = {row[0]: row[1] for row in DRGS}


def assign_codes(unit_kind: str, rng: random.Random) -> tuple[str, tuple[str, ...], str]:
    """Principal diagnosis, secondary diagnoses and DRG for a stay that started on ``unit_kind``."""
    candidates = [row for row in DRGS if unit_kind in row[4]]
    row = rng.choices(candidates, weights=[c[5] for c in candidates])[0]
    count = 0 if unit_kind == "maternity" else rng.randint(0, 3)
    secondary = tuple(code for code, _ in rng.sample(SECONDARY, count))
    return row[2], secondary, row[0]
