"""Writes the EHR's outbound HL7 v2.5.1 messages as ER7 text.

This is the hot path of every simulated message, so it builds strings directly rather than
through hl7apy's object model (about 100x slower); tests prove hl7apy accepts every message
type it writes at strict validation, in 2.5.1 and as ``as_version`` rewrites it for 2.3
(``tests/test_standards_output.py`` on a run's traffic, ``tests/test_adt_vocabulary.py`` on every
ADT event, encounter type and coding with and without a DRG).
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

# MSH-9.3: the message structure each ADT trigger this EHR sends is built on (HL7 v2.5.1 table 0354):
# a registration (A04), an update (A08) and a cancelled discharge (A13) have an admission's segments.
ADT_STRUCTURES = {
    "A01": "ADT_A01",
    "A02": "ADT_A02",
    "A03": "ADT_A03",
    "A04": "ADT_A01",
    "A08": "ADT_A01",
    "A11": "ADT_A09",
    "A12": "ADT_A12",
    "A13": "ADT_A01",
    "A40": "ADT_A39",
}


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
    patient_class: str = "I"  # PV1-2, HL7 table 0004: I inpatient, O outpatient, E emergency
    patient_type: str = ""  # PV1-18, user-defined table 0018: OBS, ER, OP (nothing for an inpatient)

    def pv1(self) -> str:
        """PV1 with fields 1-3, 6-7, 10, 18-20, 36, 44-45 set (written out: this runs per message).
        A visit without a bed (a registration) has the department in PV1-3 and no room or bed."""
        room, _, bed = self.bed.partition("-")
        prior = ""
        if self.prior_unit:
            prior_room, _, prior_bed = self.prior_bed.partition("-")
            prior = f"{self.prior_unit}^{prior_room}^{prior_bed}^{self.facility}"
        return (
            f"PV1|1|{self.patient_class}|{self.unit}^{room}^{bed}^{self.facility}|||{prior}|{self.attending}|||MED"
            f"||||||||{self.patient_type}|{self.visit}^^^{self.facility}^VN|{self.financial_class}"
            f"||||||||||||||||{self.disposition}||||||||{self.admitted}"
            + (f"|{self.discharged}" if self.discharged else "")
        )


def message(segments: Sequence[str]) -> str:
    return SEGMENT_END.join(segments) + SEGMENT_END


def adt(event: str, control_id: str, timestamp: str, facility: str, pid: str, pv1: str, insurance: str = "") -> str:
    """An ADT message of PID and PV1: A01 (admit), A02 (transfer), A03 (discharge), A04 (register),
    A08 (update), A11 (cancel admit), A12 (cancel transfer), A13 (cancel discharge); ``insurance``
    is the IN1 of an A01, A04 or A08."""
    parts = [
        msh(facility, timestamp, f"ADT^{event}^{ADT_STRUCTURES[event]}", control_id),
        f"EVN|{event}|{timestamp}",
        pid,
        pv1,
    ]
    if insurance:
        parts.append(insurance)
    return message(parts)


def merge(control_id: str, timestamp: str, facility: str, pid: str, mrg: str, pv1: str) -> str:
    """ADT^A40 (merge patient, structure ADT_A39): PID of the surviving patient, MRG of the merged
    one and the PV1 of the visit that now belongs to the survivor."""
    return message([msh(facility, timestamp, "ADT^A40^ADT_A39", control_id), f"EVN|A40|{timestamp}", pid, mrg, pv1])


def mrg(merged_mrn: str, facility: str) -> str:
    """MRG with MRG-1 the merged patient's MRN, a CX typed MR like PID-3."""
    return f"MRG|{escape(merged_mrn)}^^^{facility}^MR"


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
    drg: tuple[str, str] | None,
) -> str:
    """BAR^P05 (update account): final coding, DG1 per diagnosis (first is principal) and the DRG
    (code, text); none for a visit not paid by DRG (``None`` or an empty code)."""
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
    if drg and drg[0]:
        parts.append(f"DRG|{escape(drg[0])}^{escape(drg[1])}^MS-DRG|{timestamp}")
    return message(parts)


def as_version(payload: str, version: str) -> str:
    """The same message as an older interface sends it: MSH-12 names ``version`` and, before 2.4,
    MSH-9 carries only the message type and trigger event (no message structure component).

    The segments this EHR writes mean the same in 2.3 as in 2.5.1 (a test has hl7apy validate the
    result strictly as 2.3). One event differs: 2.3 has no BAR^P05 (update account), so a legacy
    EHR reports final coding as BAR^P01 with the same DG1 and DRG segments. The ADT triggers keep
    their 2.5.1 segments: 2.3 defines A04, A08 and A13 with an A01's, A11 with an A09's, A12 and A40
    (PID, MRG, PV1) as 2.5.1's ADT_A12 and ADT_A39 (``ADT_STRUCTURES``).
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
