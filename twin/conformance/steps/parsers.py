"""Typed parsers for the step library: the nouns and quantities feature files may use.

A feature says "the ERP is down from 02:00 to 04:00 on day 2" or "no charge is lost"; a step's
pattern names typed fields (``{start:Clock}``, ``{records:Records}``) and these types turn the
words into values (minutes of the day, which flow and targets a noun means). Each type is a
``parse`` custom type (an object with a ``pattern`` and a ``__call__``), so ``parse`` matches only
what the type accepts and a typo fails to match at all - pytest-bdd then says the step is not
defined, naming the line - instead of half-matching a wrong step. Patterns are case-insensitive
(``parse``'s default) and use no capturing groups.

The vocabulary of nouns is the brief's: charges, claims, journals, supply lines, purchase orders,
labor cost, KPIs, master-data problems; systems are the ones the brief names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from twin.observe.expectations import BILLING, CLAIM, EXCEPTION, JOURNAL, RECEIVABLE
from twin.observe.kpi import KPI_TARGET, REPORTING
from twin.observe.labor_expectations import (
    COST_PER_PATIENT_DAY,
    LABOR,
    LABOR_JOURNAL,
    LABOR_MINUTES,
    PATIENT_DAYS,
)
from twin.observe.master_data import MASTER_DATA, PROBLEM
from twin.observe.supply_expectations import (
    INVOICE,
    ISSUE,
    ON_HAND,
    PURCHASE_ORDER,
    SUPPLY,
    SUPPLY_EXCEPTION,
    VENDOR_ORDER,
)

T = TypeVar("T")


class ParseType(Generic[T]):
    """A custom ``parse`` type: ``pattern`` says what it matches, calling it converts the text.

    ``describe`` is what ``twin conform --list-steps`` shows for the type.
    """

    regex_group_count = 0

    def __init__(self, name: str, pattern: str, convert: Callable[[str], T], describe: str) -> None:
        self.name = name
        self.pattern = pattern
        self.convert = convert
        self.describe = describe

    def __call__(self, text: str) -> T:
        return self.convert(text.strip())


def _alternatives(words: Mapping[str, object]) -> str:
    """A non-capturing alternation of ``words``, longest first (so "claims" wins over "claim")."""
    return "(?:" + "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True)) + ")"


# -- quantities ---------------------------------------------------------------------------------

_UNIT_MINUTES = {"second": 1 / 60, "minute": 1.0, "hour": 60.0, "day": 1440.0}


def _duration(text: str) -> float:
    """``"30 minutes"`` -> 30.0; ``"2 hours"`` -> 120.0; ``"an hour"`` -> 60.0 (minutes)."""
    number, unit = text.lower().split(None, 1)
    amount = 1.0 if number in ("a", "an", "one") else float(number)
    return amount * _UNIT_MINUTES[unit.rstrip("s")]


Duration = ParseType(
    "Duration",
    r"(?:\d+(?:\.\d+)?|an?|one)\s+(?:seconds?|minutes?|hours?|days?)",
    _duration,
    'a span of simulated time: "90 seconds", "30 minutes", "an hour", "2 days" (read as minutes)',
)


def _clock(text: str) -> float:
    hours, minutes = (int(part) for part in text.split(":"))
    if minutes >= 60 or hours * 60 + minutes > 1440:
        raise ValueError(f"{text!r} is not a clock time from 00:00 to 24:00")
    return float(hours * 60 + minutes)


Clock = ParseType("Clock", r"\d{1,2}:\d{2}", _clock, 'a local clock time, "02:00" (read as minutes of the day)')


def _share(text: str) -> float:
    value = float(text.rstrip("%").strip()) / 100
    if not 0 < value <= 1:
        raise ValueError(f"{text!r} is not a share between 0% and 100%")
    return value


Share = ParseType("Share", r"\d+(?:\.\d+)?\s?%", _share, 'a share of traffic, "5%" (read as 0.05)')

Version = ParseType("Version", r"\d+(?:\.\d+)+", str, 'an HL7 version, "2.3" or "2.5.1"')

Number = ParseType("Number", r"\d+(?:\.\d+)?", float, 'a number, "2" or "1.5"')

_NUMBER_WORDS = {"no": 0, "one": 1, "a": 1, "an": 1, "two": 2, "three": 3, "four": 4, "five": 5}


def _count(text: str) -> int:
    lowered = text.lower()
    return _NUMBER_WORDS[lowered] if lowered in _NUMBER_WORDS else int(lowered)


Count = ParseType(
    "Count", r"(?:\d+|" + "|".join(_NUMBER_WORDS) + r")", _count, 'a whole number, "3" or "one" .. "five"'
)

# -- systems, designs, departments --------------------------------------------------------------

SYSTEMS: dict[str, str] = {
    "ERP": "erp",
    "ERP finance": "erp",
    "ERP supply chain": "erp",
    "claims clearinghouse": "clearinghouse",
    "clearinghouse": "clearinghouse",
    "vendor portal": "vendor",
    "vendor": "vendor",
    "HCM": "hcm",
    "workforce system": "hcm",
    "executive dashboard": "dashboard",
    "dashboard": "dashboard",
    "EHR reporting extract": "ehr",
    "integration": "integration",
}
System = ParseType(
    "System",
    _alternatives(SYSTEMS),
    lambda text: SYSTEMS[next(name for name in SYSTEMS if name.lower() == text.lower())],
    "a system: " + ", ".join(f'"{name}"' for name in SYSTEMS),
)

DESIGN_NAMES: dict[str, str] = {
    "event-driven": "event-driven",
    "hybrid": "hybrid",
    "point-to-point batch": "point-to-point-batch",
    "nightly batch": "point-to-point-batch",
}
Design = ParseType(
    "Design",
    _alternatives(DESIGN_NAMES),
    lambda text: DESIGN_NAMES[text.lower()],
    "an integration design of the reference integration: " + ", ".join(f'"{name}"' for name in DESIGN_NAMES),
)

Department = ParseType(
    "Department",
    r"[a-z][a-z-]*",
    str.lower,
    'a department kind, "respiratory", "lab", "medsurg", "ortho", ...',
)

# -- what a target holds --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Records:
    """What a noun in a feature means to the checker: a flow and the targets of it the noun covers.

    ``targets`` ``None`` means every target of the flow.
    """

    noun: str
    flow: str
    targets: tuple[str, ...] | None = None

    def covers(self, target: str) -> bool:
        return self.targets is None or target in self.targets


_BILLED = (JOURNAL, RECEIVABLE, CLAIM)
_LABOR_POSTINGS = (LABOR_JOURNAL, LABOR_MINUTES, PATIENT_DAYS, COST_PER_PATIENT_DAY)
NOUNS: dict[str, Records] = {}
for _singular, _plural, _flow, _targets in (
    ("charge", "charges", BILLING, _BILLED),
    ("bill", "bills", BILLING, _BILLED),
    ("revenue journal", "revenue journals", BILLING, (JOURNAL,)),
    ("journal", "journals", BILLING, (JOURNAL,)),
    ("receivable", "receivables", BILLING, (RECEIVABLE,)),
    ("claim", "claims", BILLING, (CLAIM,)),
    ("billing exception", "billing exceptions", BILLING, (EXCEPTION,)),
    ("supply line", "supply lines", SUPPLY, (ISSUE,)),
    ("supply issue", "supply issues", SUPPLY, (ISSUE,)),
    ("on-hand balance", "on-hand balances", SUPPLY, (ON_HAND,)),
    ("purchase order", "purchase orders", SUPPLY, (PURCHASE_ORDER,)),
    ("vendor order", "vendor orders", SUPPLY, (VENDOR_ORDER,)),
    ("vendor invoice", "vendor invoices", SUPPLY, (INVOICE,)),
    ("supply exception", "supply exceptions", SUPPLY, (SUPPLY_EXCEPTION,)),
    ("supply record", "supply records", SUPPLY, None),
    ("labor posting", "labor postings", LABOR, _LABOR_POSTINGS),
    ("labor cost", "labor costs", LABOR, (LABOR_JOURNAL,)),
    ("labor record", "labor records", LABOR, None),
    ("patient-day statistic", "patient-day statistics", LABOR, (PATIENT_DAYS,)),
    ("KPI", "KPIs", REPORTING, (KPI_TARGET,)),
    ("master-data problem", "master-data problems", MASTER_DATA, (PROBLEM,)),
):
    NOUNS[_singular] = NOUNS[_plural] = Records(_singular, _flow, _targets)


def _records(text: str) -> Records:
    lowered = text.lower()
    return next(records for noun, records in NOUNS.items() if noun.lower() == lowered)


RecordsType = ParseType(
    "Records",
    _alternatives(NOUNS),
    _records,
    "what a target holds: " + ", ".join(f'"{noun}"' for noun in NOUNS if not noun.endswith("s") or noun == "KPIs"),
)

FLOW_NAMES: dict[str, str] = {
    "discharge-to-billing": BILLING,
    "usage-to-inventory": SUPPLY,
    "labor cost allocation": LABOR,
    "executive reporting": REPORTING,
    "master data": MASTER_DATA,
}
Flow = ParseType(
    "Flow",
    _alternatives(FLOW_NAMES),
    lambda text: FLOW_NAMES[text.lower()],
    "a flow: " + ", ".join(f'"{name}"' for name in FLOW_NAMES),
)

Plural = ParseType("Plural", r"s?", str, 'an optional plural "s", written "(s)" in a pattern: "hospital(s)"')

TYPES: dict[str, ParseType[Any]] = {
    parse_type.name: parse_type
    for parse_type in (
        Duration,
        Clock,
        Share,
        Version,
        Number,
        Count,
        System,
        Design,
        Department,
        RecordsType,
        Flow,
        Plural,
    )
}
