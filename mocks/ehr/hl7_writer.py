"""Writes the EHR's outbound HL7 v2.5.1 messages as ER7 text.

This is the hot path of every simulated message, so it builds strings directly rather than
through hl7apy's object model (about 100x slower); a test proves hl7apy accepts every message
type it writes at strict validation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from twin.domain.hl7 import ENCODING_CHARACTERS, SEGMENT_END, VERSION, escape

SENDING_APPLICATION = "EHR"
RECEIVING_APPLICATION = "TWIN-INT"
RECEIVING_FACILITY = "NETWORK"


def segment(name: str, fields: Mapping[int, str]) -> str:
    """One segment from ``{field number: already-encoded value}``; gaps become empty fields."""
    values = [""] * max(fields)
    for index, value in fields.items():
        if index > 0:
            values[index - 1] = value
    return name + "|" + "|".join(values)


_MSH_START = f"MSH|{ENCODING_CHARACTERS}|{SENDING_APPLICATION}|"
_MSH_RECEIVER = f"|{RECEIVING_APPLICATION}|{RECEIVING_FACILITY}|"
_MSH_END = f"|P|{VERSION}"


def msh(facility: str, timestamp: str, message_type: str, control_id: str) -> str:
    """MSH; ``message_type`` is the full MSG such as ``ADT^A01^ADT_A01``."""
    return f"{_MSH_START}{facility}{_MSH_RECEIVER}{timestamp}||{message_type}|{control_id}{_MSH_END}"


@dataclass(frozen=True, slots=True)
class PatientIdentity:
    """What PID carries: the EHR's patient demographics."""

    mrn: str
    facility: str
    family: str
    given: str
    birth_date: str
    sex: str

    def pid(self) -> str:
        return (
            f"PID|1||{escape(self.mrn)}^^^{self.facility}^MR||{escape(self.family)}^{escape(self.given)}"
            f"||{self.birth_date}|{self.sex}"
        )


@dataclass(frozen=True, slots=True)
class VisitInfo:
    """What PV1 carries about the encounter at the moment of the message."""

    visit: str
    facility: str
    unit: str
    bed: str
    attending: str  # XCN already encoded: npi^family^given
    financial_class: str
    admitted: str  # HL7 DTM
    prior_unit: str = ""
    prior_bed: str = ""
    discharged: str = ""
    disposition: str = ""

    def pv1(self) -> str:
        """PV1 with fields 1-3, 6-7, 10, 19-20, 36, 44-45 set (written out: this runs per message)."""
        room, _, bed = self.bed.partition("-")
        prior = ""
        if self.prior_unit:
            prior_room, _, prior_bed = self.prior_bed.partition("-")
            prior = f"{self.prior_unit}^{prior_room}^{prior_bed}^{self.facility}"
        return (
            f"PV1|1|I|{self.unit}^{room}^{bed}^{self.facility}|||{prior}|{self.attending}|||MED"
            f"|||||||||{self.visit}^^^{self.facility}^VN|{self.financial_class}"
            f"||||||||||||||||{self.disposition}||||||||{self.admitted}"
            + (f"|{self.discharged}" if self.discharged else "")
        )


def message(segments: Sequence[str]) -> str:
    return SEGMENT_END.join(segments) + SEGMENT_END


def adt(event: str, control_id: str, timestamp: str, facility: str, pid: str, pv1: str, insurance: str = "") -> str:
    """ADT^A01 (admit), ^A02 (transfer) or ^A03 (discharge); ``insurance`` is an IN1 for A01."""
    parts = [
        msh(facility, timestamp, f"ADT^{event}^ADT_{event}", control_id),
        f"EVN|{event}|{timestamp}",
        pid,
        pv1,
    ]
    if insurance:
        parts.append(insurance)
    return message(parts)


def in1(plan_code: str, plan_name: str, member_id: str) -> str:
    return segment(
        "IN1",
        {
            1: "1",
            2: f"{escape(plan_code)}^{escape(plan_name)}",
            3: escape(plan_code),
            4: escape(plan_name),
            36: escape(member_id),
        },
    )


@dataclass(frozen=True, slots=True)
class Ft1:
    """One financial transaction line as the EHR posts it."""

    txn_id: str
    service_at: str  # HL7 DTM
    posted_at: str
    credit: bool
    code: str
    description: str
    quantity: int
    amount_cents: int  # signed: negative for a credit
    department: str
    department_name: str
    order: str  # filler order number shared by a charge and its reversing credit
    location: str = ""  # FT1-16 (PL, encoded) for supply lines: the storeroom the item came from

    def encode(self, set_id: int) -> str:
        return ft1(
            set_id,
            self.txn_id,
            self.service_at,
            self.posted_at,
            self.credit,
            f"{escape(self.code)}^{escape(self.description)}^CDM",
            self.quantity,
            self.amount_cents,
            f"{escape(self.department)}^{escape(self.department_name)}^L",
            self.order,
            self.location,
        )


def ft1(
    set_id: int,
    txn_id: str,
    service_at: str,
    posted_at: str,
    credit: bool,
    code_ce: str,
    quantity: int,
    amount_cents: int,
    department_ce: str,
    order: str,
    location: str = "",
) -> str:
    """FT1 with fields 1-2, 4-7, 10-11, 13, 16 (supply lines) and 23 set; ``*_ce`` and ``location`` are
    already encoded."""
    txn = escape(txn_id)
    return (
        f"FT1|{set_id}|{txn}||{service_at}|{posted_at}|{'CD' if credit else 'CG'}|{code_ce}|||{quantity}"
        f"|{amount(amount_cents)}||{department_ce}|||{location}|||||||{txn if order == txn_id else escape(order)}"
    )


_TWO_DIGITS = tuple(f"{n:02d}" for n in range(100))


def amount(cents: int) -> str:
    """A signed amount in cents as an HL7 NM with two decimals (``-12.50``), without float rounding."""
    if cents < 0:
        return f"-{-cents // 100}.{_TWO_DIGITS[-cents % 100]}"
    return f"{cents // 100}.{_TWO_DIGITS[cents % 100]}"


def dft_p03(control_id: str, timestamp: str, facility: str, pid: str, pv1: str, lines: Sequence[Ft1 | str]) -> str:
    """DFT^P03: detail financial transactions posted to the encounter (``Ft1`` or encoded FT1s)."""
    return dft_p03_text(
        msh(facility, timestamp, "DFT^P03^DFT_P03", control_id),
        timestamp,
        f"{pid}{SEGMENT_END}{pv1}{SEGMENT_END}",
        [line if isinstance(line, str) else line.encode(index) for index, line in enumerate(lines, start=1)],
    )


def dft_p03_text(msh_segment: str, timestamp: str, patient_visit: str, ft1s: Sequence[str]) -> str:
    """DFT^P03 from encoded parts: the EHR's hot path, which keeps an encounter's ``PID\\rPV1\\r``
    (``patient_visit``) ready between messages and has every FT1 encoded."""
    return f"{msh_segment}{SEGMENT_END}EVN|P03|{timestamp}{SEGMENT_END}{patient_visit}" + "".join(
        [f"{ft1}{SEGMENT_END}" for ft1 in ft1s]
    )


def bar_p05(
    control_id: str,
    timestamp: str,
    facility: str,
    pid: str,
    pv1: str,
    diagnoses: Sequence[tuple[str, str]],
    drg: tuple[str, str],
) -> str:
    """BAR^P05 (update account): final coding, DG1 per diagnosis (first is principal) and DRG."""
    parts = [
        msh(facility, timestamp, "BAR^P05^BAR_P05", control_id),
        f"EVN|P05|{timestamp}",
        pid,
        pv1,
    ]
    for index, (code, text) in enumerate(diagnoses, start=1):
        parts.append(
            segment(
                "DG1", {1: str(index), 3: f"{escape(code)}^{escape(text)}^I10", 5: timestamp, 6: "F", 15: str(index)}
            )
        )
    parts.append(f"DRG|{escape(drg[0])}^{escape(drg[1])}^MS-DRG|{timestamp}")
    return message(parts)


def as_version(payload: str, version: str) -> str:
    """The same message as an older interface sends it: MSH-12 names ``version`` and, before 2.4,
    MSH-9 carries only the message type and trigger event (no message structure component).

    The segments this EHR writes mean the same in 2.3 as in 2.5.1 (a test has hl7apy validate the
    result strictly as 2.3). One event differs: 2.3 has no BAR^P05 (update account), so a legacy
    EHR reports final coding as BAR^P01 with the same DG1 and DRG segments.
    """
    end = payload.index(SEGMENT_END)
    fields = payload[:end].split("|")
    rest = payload[end:]
    if version.startswith("2.3"):
        kind = fields[8].split("^")[:2]
        if kind == ["BAR", "P05"]:
            kind = ["BAR", "P01"]
            rest = rest.replace(f"{SEGMENT_END}EVN|P05|", f"{SEGMENT_END}EVN|P01|", 1)
        fields[8] = "^".join(kind)
    fields[11] = version
    return "|".join(fields) + rest
