"""Reads HL7 v2 ER7 messages from the EHR into domain events, and writes the ACKs.

This is the integration's hot path, so it splits strings instead of building hl7apy's object
tree (a test proves its field values equal hl7apy's on the project's corpus; other systems'
dialects - v2.3 to v2.6, repetitions, HL7 nulls, offsets - are in ``tests/hl7_dialects/``). It never raises on
bad input: anything it cannot read becomes ``Rejected`` with the HL7 error code, the location
and a reason, which the integration turns into an AE/AR ACK with an ERR segment and a dead letter.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

from twin.domain.events import (
    AdmissionCancelled,
    ChargeLine,
    ChargesPosted,
    CodingCompleted,
    DischargeCancelled,
    DomainEvent,
    PatientAdmitted,
    PatientDischarged,
    PatientsMerged,
    PatientTransferred,
    PatientUpdated,
    TransferCancelled,
)
from twin.domain.hl7 import VERSION, escape, unescape
from twin.domain.timebase import Timebase

# 2.3: acquired hospitals' legacy EHRs. Every field this interface reads has the same position, type
# and meaning from 2.3 to 2.6 (hl7apy's definitions agree), so 2.4 and 2.6 senders are read alike.
SUPPORTED_VERSIONS = ("2.5.1", "2.5", "2.3.1", "2.3", "2.4", "2.6")
SUPPORTED = (
    "ADT^A01",  # admit (an inpatient or observation stay)
    "ADT^A02",  # transfer
    "ADT^A03",  # discharge
    "ADT^A04",  # register (an emergency or outpatient visit)
    "ADT^A08",  # update patient information (the insurance as it now stands)
    "ADT^A11",  # cancel admit / registration
    "ADT^A12",  # cancel transfer
    "ADT^A13",  # cancel discharge
    "ADT^A40",  # merge patient (PID the survivor, MRG the merged MRN)
    "DFT^P03",
    "BAR^P05",
    "BAR^P01",  # a 2.3 feed's final coding
)

# HL7 DTM: YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ], ASCII digits only.
_DTM = re.compile(r"\d{4}(?:\d{2}(?:\d{2}(?:\d{2}(?:\d{2}(?:\d{2}(?:\.\d{1,4})?)?)?)?)?)?(?:[+-]\d{4})?", re.ASCII)

NULL = '""'  # HL7's explicit null (v2.5.1 2.5.3), sent by engines set to null every field they leave empty: no value

# HL7 table 0357 message error condition codes used here.
REQUIRED_FIELD_MISSING = "101"
DATA_TYPE_ERROR = "102"
TABLE_VALUE_NOT_FOUND = "103"
SEGMENT_SEQUENCE_ERROR = "100"
UNSUPPORTED_MESSAGE_TYPE = "200"
UNSUPPORTED_EVENT_CODE = "201"
UNSUPPORTED_PROCESSING_ID = "202"
UNSUPPORTED_VERSION = "203"
APPLICATION_ERROR = "207"
_ERROR_TEXT = {
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "202": "Unsupported processing id",
    "203": "Unsupported version id",
    "207": "Application internal error",
}


class Header(NamedTuple):
    """What MSH says: enough to acknowledge the message even when its body is unreadable."""

    control_id: str
    message_type: str  # "ADT^A01"
    sending_application: str
    sending_facility: str
    trigger: str
    sequence: str = ""  # MSH-13, the sender's channel sequence number (empty when it sends none)


class Rejected(NamedTuple):
    """Why a message cannot be processed; ``ack_code`` AR (reject) or AE (error)."""

    ack_code: str
    error_code: str
    location: str  # ERL: segment^sequence^field, e.g. "PID^1^3"
    reason: str


class Read(NamedTuple):
    header: Header | None  # None only when MSH itself is unreadable
    event: DomainEvent | None
    rejected: Rejected | None


class _Reject(Exception):
    def __init__(self, ack_code: str, error_code: str, location: str, reason: str) -> None:
        super().__init__(reason)
        self.rejected = Rejected(ack_code, error_code, location, reason)


class Hl7Reader:
    """Turns ER7 text into a ``Read``; ``timebase`` maps message timestamps to simulated minutes."""

    def __init__(self, timebase: Timebase) -> None:
        self.timebase = timebase
        self._times: dict[str, float] = {}  # recent timestamps: a message repeats its own several times
        self._amounts: dict[str, int] = {}  # FT1-11 text -> cents: charges repeat the chargemaster's prices
        # A coded field (CE) -> its first component: charge lines repeat the chargemaster's codes
        # and the departments, and the lines the integration keeps then share one string each.
        self._codes: dict[str, str] = {}

    def read(self, payload: str) -> Read:
        header: Header | None = None
        try:
            segments = _split_segments(payload)
            header, component = _read_header(segments[0])
            if header.message_type == "DFT^P03" and _charge_layout(segments):
                return Read(header, self._charges(header, segments, component), None)
            body = _index(segments[1:], component)
            event = self._event(header, body, component)
            return Read(header, event, None)
        except _Reject as reject:
            return Read(header or _sender(payload), None, reject.rejected)
        except Exception as exc:  # noqa: BLE001 - the reader's promise is to never raise on input
            rejected = Rejected("AE", APPLICATION_ERROR, "", f"unreadable message: {exc}")
            return Read(header or _sender(payload), None, rejected)

    def _time(self, value: str, location: str) -> float:
        """Simulated minutes of a DTM (TS: its first component); a UTC offset is normalised to UTC, the
        twin's clock, as the FHIR reader does (``20260105120000-0600`` is 18:00)."""
        if not value or value == NULL:
            raise _Reject("AE", REQUIRED_FIELD_MISSING, location, f"{_dash(location)} (timestamp) is empty")
        cached = self._times.get(value)
        if cached is not None:
            return cached
        try:
            text = value.partition("^")[0]
            if not _DTM.fullmatch(text):  # the timebase reads the digits and would skip a bad offset or fraction
                raise ValueError(text)
            minutes = self.timebase.minutes(text)
            if text[-5:-4] in ("+", "-"):  # the regex allows a sign only before a four-digit offset
                hours, offset_minutes = int(text[-4:-2]), int(text[-2:])
                if hours > 14 or offset_minutes > 59:
                    raise ValueError(text)
                minutes -= (1 if text[-5] == "+" else -1) * (hours * 60 + offset_minutes)
        except ValueError:
            raise _Reject("AE", DATA_TYPE_ERROR, location, f"{_dash(location)} is not a timestamp: {value!r}") from None
        if len(self._times) > 4096:
            self._times.clear()
        self._times[value] = minutes
        return minutes

    def _charges(self, header: Header, segments: list[str], comp: str) -> ChargesPosted:
        """A DFT^P03 laid out as MSH, EVN, PID, PV1, FT1... (``_charge_layout``): four of five messages.

        It reads what ``_event`` reads, checks what it checks, in the same order, but without
        indexing the segments by name (the layout says where each one is) and splitting EVN, PID
        and PV1 only up to the last field a charge needs (PV1 has 45 of them, a charge needs 19).
        """
        _mrn(segments[2].split("|", 4), comp)  # required, though a charge omits it
        visit = _required(segments[3].split("|", 20), 19, "PV1^1^19", comp)
        evn = segments[1].split("|", 3)
        at = self._time(evn[2] if len(evn) > 2 else "", "EVN^1^2")
        lines = tuple([self._charge(ft1.split("|"), number, comp) for number, ft1 in enumerate(segments[4:], start=1)])
        return ChargesPosted(at, header.sending_facility, visit, lines)

    def _event(self, header: Header, body: dict[str, list[list[str]]], comp: str) -> DomainEvent:
        pid = _one(body, "PID")
        pv1 = _one(body, "PV1")
        mrn = _mrn(pid, comp)
        visit = _required(pv1, 19, "PV1^1^19", comp)
        facility = header.sending_facility
        evn = _one(body, "EVN")
        at = self._time(evn[2] if len(evn) > 2 else "", "EVN^1^2")
        kind = header.message_type
        if kind == "DFT^P03":
            ft1s = body.get("FT1")
            if not ft1s:
                raise _Reject("AE", REQUIRED_FIELD_MISSING, "FT1", "DFT^P03 has no FT1 segment")
            lines = tuple([self._charge(ft1, number, comp) for number, ft1 in enumerate(ft1s, start=1)])
            return ChargesPosted(at, facility, visit, lines)
        return _READERS[kind](self, _Visit(kind, at, facility, visit, mrn, pv1, body, comp))

    def _admission(self, v: _Visit) -> PatientAdmitted:
        """A01 or A04: the visit, where it is (a unit and bed, or a department), its encounter type
        and the insurance plan it is registered under (IN1-2, required)."""
        in1 = v.body.get("IN1")
        plan = _required(in1[0], 2, "IN1^1^2", v.comp) if in1 else ""
        if not plan:
            raise _Reject("AE", REQUIRED_FIELD_MISSING, "IN1^1^2", f"{v.kind} has no insurance plan (IN1-2)")
        return PatientAdmitted(
            at=v.at,
            hospital=v.hospital,
            visit=v.visit,
            mrn=v.mrn,
            unit=_required(v.pv1, 3, "PV1^1^3", v.comp),
            bed=_bed(_field(v.pv1, 3).split(v.comp)),
            attending_npi=_component(_field(v.pv1, 7), v.comp),
            plan_code=plan,
            financial_class=_component(_field(v.pv1, 20), v.comp),
            encounter_type=_encounter_type(v),
            member_id=_component(_field(in1[0], 36), v.comp) if in1 else "",
        )

    def _update(self, v: _Visit) -> PatientUpdated:
        """A08: the plan (IN1-2) and financial class (PV1-20) as they now stand. An A08 without IN1
        (a demographic update, from another system too) is read with no plan, not refused; an IN1
        without its plan is."""
        in1 = v.body.get("IN1")
        plan = _required(in1[0], 2, "IN1^1^2", v.comp) if in1 else ""
        member = _component(_field(in1[0], 36), v.comp) if in1 else ""
        return PatientUpdated(v.at, v.hospital, v.visit, v.mrn, plan, _component(_field(v.pv1, 20), v.comp), member)

    def _admission_cancelled(self, v: _Visit) -> AdmissionCancelled:
        return AdmissionCancelled(v.at, v.hospital, v.visit)

    def _transfer(self, v: _Visit) -> PatientTransferred:
        return PatientTransferred(
            at=v.at,
            hospital=v.hospital,
            visit=v.visit,
            from_unit=_required(v.pv1, 6, "PV1^1^6", v.comp),
            to_unit=_required(v.pv1, 3, "PV1^1^3", v.comp),
            bed=_bed(_field(v.pv1, 3).split(v.comp)),
        )

    def _transfer_cancelled(self, v: _Visit) -> TransferCancelled:
        """A12: PV1-3 is where the patient is back, PV1-6 where the cancelled transfer had put them."""
        return TransferCancelled(
            at=v.at,
            hospital=v.hospital,
            visit=v.visit,
            from_unit=_required(v.pv1, 6, "PV1^1^6", v.comp),
            to_unit=_required(v.pv1, 3, "PV1^1^3", v.comp),
            bed=_bed(_field(v.pv1, 3).split(v.comp)),
        )

    def _discharge(self, v: _Visit) -> PatientDischarged:
        discharged = _field(v.pv1, 45)
        return PatientDischarged(
            at=self._time(discharged, "PV1^1^45") if discharged else v.at,
            hospital=v.hospital,
            visit=v.visit,
            unit=_required(v.pv1, 3, "PV1^1^3", v.comp),
            disposition=_component(_field(v.pv1, 36), v.comp),
        )

    def _discharge_cancelled(self, v: _Visit) -> DischargeCancelled:
        return DischargeCancelled(
            v.at, v.hospital, v.visit, _required(v.pv1, 3, "PV1^1^3", v.comp), _bed(_field(v.pv1, 3).split(v.comp))
        )

    def _merge(self, v: _Visit) -> PatientsMerged:
        """A40: PID-3 the surviving MRN, MRG-1 the merged one (required), PV1-19 the visit that moves."""
        mrg = v.body.get("MRG")
        if not mrg:
            raise _Reject(
                "AE",
                REQUIRED_FIELD_MISSING,
                "MRG^1^1",
                "ADT^A40 has no MRG segment: MRG-1 (the merged MRN) is required",
            )
        return PatientsMerged(v.at, v.hospital, v.visit, v.mrn, _mrn(mrg[0], v.comp, 1, "MRG^1^1"))

    def _charge(self, ft1: list[str], number: int, comp: str) -> ChargeLine:
        # One FT1 per charge line: the hottest code of the twin, hence the direct indexing, and
        # error locations ("FT1^2^11") built only when there is an error to report.
        if len(ft1) < 24:
            ft1 = ft1 + [""] * (24 - len(ft1))
        kind = ft1[6]
        if kind != "CG" and kind != "CD":
            raise _Reject("AE", DATA_TYPE_ERROR, f"FT1^{number}^6", f"FT1-6 transaction type {kind!r} is not CG or CD")
        codes = self._codes
        txn_id, code, department = ft1[2] if ft1[2] != NULL else "", codes.get(ft1[7]), codes.get(ft1[13])
        if code is None:
            code = self._code(ft1[7], comp)
        if department is None:
            department = self._code(ft1[13], comp)
        if not (txn_id and code and department) or "\\" in txn_id or "\\" in code or "\\" in department:
            where = f"FT1^{number}^"
            txn_id = _required(ft1, 2, where + "2", comp)
            code = _required(ft1, 7, where + "7", comp)
            department = _required(ft1, 13, where + "13", comp)
        amount = self._amounts.get(ft1[11])
        if amount is None:
            amount_text = ft1[11].partition(comp)[0].partition("&")[0]
            try:
                amount = _cents(amount_text)
            except ValueError:
                raise _Reject(
                    "AE", DATA_TYPE_ERROR, f"FT1^{number}^11", f"FT1-11 amount {amount_text!r} is not a number"
                ) from None
            if len(self._amounts) > 4096:
                self._amounts.clear()
            self._amounts[ft1[11]] = amount
        quantity_text = ft1[10]
        if quantity_text.isdigit() and quantity_text.isascii():  # isdigit alone takes "٣" and "²"
            quantity = int(quantity_text)
        else:
            try:
                quantity = _quantity(quantity_text)
            except ValueError:
                raise _Reject(
                    "AE", DATA_TYPE_ERROR, f"FT1^{number}^10", f"FT1-10 quantity {quantity_text!r} is not a number"
                ) from None
        reverses = None
        if kind == "CD":
            reverses = _component(ft1[23], comp) or None
        service_at = self._times.get(ft1[4])  # usually the posting time EVN-2 already gave
        if service_at is None:
            service_at = self._time(ft1[4], f"FT1^{number}^4")
        if ft1[16] and ft1[16] != NULL:  # a supply line: FT1-16 is the stock location, FT1-23 its order
            location = _required(ft1, 16, f"FT1^{number}^16", comp)
            order = _required(ft1, 23, f"FT1^{number}^23", comp)
            case = "" if order == txn_id else order  # its own order: floor stock or a dispense, in no case
            return ChargeLine(txn_id, code, department, quantity, amount, service_at, reverses, location, case)
        return ChargeLine(txn_id, code, department, quantity, amount, service_at, reverses)

    def _code(self, value: str, comp: str) -> str:
        code = value.partition(comp)[0] if value != NULL else ""
        if len(self._codes) > 4096:
            self._codes.clear()
        self._codes[value] = code
        return code

    def _coding(self, v: _Visit) -> CodingCompleted:
        """BAR^P05 (P01 from a 2.3 feed): the diagnoses by DG1-15 priority, and the DRG; a visit not
        paid by DRG (emergency, outpatient, observation) comes without a DRG segment, read as ``drg=""``."""
        comp = v.comp
        dg1s = v.body.get("DG1")
        if not dg1s:
            raise _Reject("AE", REQUIRED_FIELD_MISSING, "DG1", f"{v.kind} has no DG1 (final diagnoses)")
        ranked = []
        for number, dg1 in enumerate(dg1s, start=1):
            priority = _field(dg1, 15) or "99"
            ranked.append(
                (int(priority) if priority.isdigit() else 99, number, _required(dg1, 3, f"DG1^{number}^3", comp))
            )
        ranked.sort()
        drg = v.body.get("DRG")
        return CodingCompleted(
            at=v.at,
            hospital=v.hospital,
            visit=v.visit,
            principal_dx=ranked[0][2],
            secondary_dx=tuple(code for _, _, code in ranked[1:]),
            drg=_required(drg[0], 1, "DRG^1^1", comp) if drg else "",
            queried=False,
        )


class _Visit(NamedTuple):
    """What every message but a charge says before its event's own fields, read once by ``_event``."""

    kind: str  # "ADT^A01"
    at: float  # EVN-2
    hospital: str  # MSH-4
    visit: str  # PV1-19
    mrn: str  # PID-3
    pv1: list[str]
    body: dict[str, list[list[str]]]
    comp: str


# The event each supported message type (but DFT^P03, the charges' own path) is read into.
_READERS: dict[str, Callable[[Hl7Reader, _Visit], DomainEvent]] = {
    "ADT^A01": Hl7Reader._admission,
    "ADT^A02": Hl7Reader._transfer,
    "ADT^A03": Hl7Reader._discharge,
    "ADT^A04": Hl7Reader._admission,
    "ADT^A08": Hl7Reader._update,
    "ADT^A11": Hl7Reader._admission_cancelled,
    "ADT^A12": Hl7Reader._transfer_cancelled,
    "ADT^A13": Hl7Reader._discharge_cancelled,
    "ADT^A40": Hl7Reader._merge,
    "BAR^P05": Hl7Reader._coding,
    "BAR^P01": Hl7Reader._coding,
}

# PV1-2 patient class (HL7 table 0004) -> encounter type; PV1-18 patient type OBS (user-defined table
# 0018) tells an observation stay (an outpatient class, in a bed) from an outpatient visit.
_CLASSES = {"I": "inpatient", "E": "emergency", "O": "outpatient"}


def _encounter_type(v: _Visit) -> str:
    """The encounter type of an A01 or A04: I inpatient, E emergency, O with PV1-18 OBS observation,
    other O outpatient. An A01 of any other class (B obstetrics, none at all: other systems' admissions)
    is an inpatient stay, as the A01 has always been read; an A04's must be one of these, else AE."""
    # coded values, compared as sent (not unescaped: an escape in a class code is no class this reads)
    patient_class = _field(v.pv1, 2).partition(v.comp)[0]
    found = _CLASSES.get(patient_class)
    if found == "outpatient" and _field(v.pv1, 18).partition(v.comp)[0] == "OBS":
        return "observation"
    if found is not None:
        return found
    if v.kind == "ADT^A01":
        return "inpatient"
    if not patient_class:
        raise _Reject("AE", REQUIRED_FIELD_MISSING, "PV1^1^2", f"{v.kind}: PV1-2 (patient class) is empty")
    raise _Reject(
        "AE",
        TABLE_VALUE_NOT_FOUND,
        "PV1^1^2",
        f"{v.kind}: PV1-2 patient class {patient_class[:20]!r} is not I, O or E (a registration is an emergency "
        "or outpatient visit)",
    )


def _split_segments(payload: str) -> list[str]:
    if "\n" in payload:
        payload = payload.replace("\r\n", "\r").replace("\n", "\r")
    segments = payload.split("\r")
    if not segments[-1]:  # the CR that ends the last segment
        segments.pop()
    if "" in segments:  # blank lines carry nothing (rare: no need to rebuild the list otherwise)
        segments = [segment for segment in segments if segment]
    while segments and segments[-1].isspace():
        segments.pop()
    if not segments or not segments[0].startswith("MSH"):
        raise _Reject("AR", SEGMENT_SEQUENCE_ERROR, "MSH", "message does not start with an MSH segment")
    return segments


def _read_header(msh: str) -> tuple[Header, str]:
    if len(msh) < 8:
        raise _Reject("AR", REQUIRED_FIELD_MISSING, "MSH^1^2", "MSH is truncated before its encoding characters")
    separator = msh[3]
    fields = msh.split(separator)
    encoding = fields[1] if len(fields) > 1 else ""
    if separator != "|" or encoding != "^~\\&":
        raise _Reject(
            "AR",
            DATA_TYPE_ERROR,
            "MSH^1^2",
            f"unsupported delimiters {separator + encoding!r}: this interface expects |^~\\&",
        )
    comp = "^"
    if len(fields) < 12:  # MSH-n is fields[n - 1]; pad so every field read below exists
        fields += [""] * (12 - len(fields))
    control_id = fields[9]
    type_code, trigger, type_name = _message_type(fields[8])
    # First components; a field without a component separator is its own first component, and
    # most are, so the partition (a tuple and a copy) is only made when there is one.
    application, facility, version, processing = fields[2], fields[3], fields[11], fields[10]
    if comp in application:
        application = application.partition(comp)[0]
    if comp in facility:
        facility = facility.partition(comp)[0]
    version = version if comp not in version else version.partition(comp)[0]
    header = Header(control_id, type_code, application, facility, trigger, fields[12] if len(fields) > 12 else "")
    if not control_id:
        raise _Reject("AR", REQUIRED_FIELD_MISSING, "MSH^1^10", "MSH-10 message control id is empty")
    if version not in SUPPORTED_VERSIONS:
        raise _Reject("AR", UNSUPPORTED_VERSION, "MSH^1^12", f"HL7 version {fields[11]!r} is not supported")
    if (processing if comp not in processing else processing.partition(comp)[0]) != "P":
        raise _Reject("AR", UNSUPPORTED_PROCESSING_ID, "MSH^1^11", f"processing id {fields[10]!r} is not P")
    if not header.sending_facility:
        raise _Reject("AR", REQUIRED_FIELD_MISSING, "MSH^1^4", "MSH-4 sending facility is empty")
    if type_code not in SUPPORTED:
        code = UNSUPPORTED_MESSAGE_TYPE if type_name not in ("ADT", "DFT", "BAR") else UNSUPPORTED_EVENT_CODE
        raise _Reject("AR", code, "MSH^1^9", f"message type {fields[8]!r} is not handled by this interface")
    return header, comp


def _sender(payload: str) -> Header | None:
    """What a rejected message's MSH says, read without judging it, so its ACK still echoes MSH-10
    (and names the sender) when the MSH itself is what is wrong; ``None`` when there is no MSH-10."""
    try:
        msh = _split_segments(payload)[0]
        fields = msh.split(msh[3])
        if len(fields) < 10 or not fields[9]:
            return None
        type_code, trigger, _ = _message_type(fields[8])
        sequence = fields[12] if len(fields) > 12 else ""
        return Header(fields[9], type_code, fields[2].split("^")[0], fields[3].split("^")[0], trigger, sequence)
    except Exception:  # noqa: BLE001 - no MSH to salvage
        return None


def salvage_visit(payload: str) -> str | None:
    """The visit number (PV1-19) of a message the reader rejected, read without judging it, so the
    billing of its encounter can wait for the repair; ``None`` when no PV1 can be found."""
    for line in payload.replace("\r\n", "\r").replace("\n", "\r").split("\r"):
        if line.startswith("PV1") and len(line) > 3:
            fields = line.split(line[3])
            if len(fields) > 19 and fields[19]:
                visit = fields[19].split("~")[0].split("^")[0]
                return visit if visit and visit != NULL else None
    return None


@lru_cache(maxsize=64)
def _message_type(msh_9: str) -> tuple[str, str, str]:
    """MSH-9 as (type^trigger, trigger, type): a feed repeats a handful of values, so it is cached."""
    parts = msh_9.split("^")
    return "^".join(parts[:2]), parts[1] if len(parts) > 1 else "", parts[0]


def _charge_layout(segments: list[str]) -> bool:
    """Whether a message is MSH, EVN, PID, PV1 and one or more FT1, as the EHR writes a DFT^P03.

    Then ``_index`` would file every segment under a well-formed name, one each and the FT1s in
    order, so ``Hl7Reader._charges`` may read them by position instead.
    """
    if len(segments) < 5 or segments[1][:4] != "EVN|" or segments[2][:4] != "PID|" or segments[3][:4] != "PV1|":
        return False
    return all(segment[:4] == "FT1|" for segment in segments[4:])


def _index(segments: list[str], comp: str) -> dict[str, list[list[str]]]:
    body: dict[str, list[list[str]]] = {}
    for segment in segments:
        fields = segment.split("|")
        name = fields[0]
        found = body.get(name)
        if found is None:
            if len(name) != 3 or not name.isalnum():
                raise _Reject("AE", SEGMENT_SEQUENCE_ERROR, name[:3], f"malformed segment name {name[:10]!r}")
            body[name] = [fields]
        else:
            found.append(fields)
    return body


def _one(body: dict[str, list[list[str]]], name: str) -> list[str]:
    found = body.get(name)
    if not found:
        raise _Reject("AE", REQUIRED_FIELD_MISSING, name, f"required segment {name} is missing")
    return found[0]


def _field(fields: list[str], number: int) -> str:
    """An optional field as read: its first repetition (PV1-7, -20 and -45 repeat), "" for the null."""
    value = fields[number] if len(fields) > number else ""
    if "~" in value:
        value = value.partition("~")[0]
    return "" if value == NULL else value


def _component(value: str, comp: str) -> str:
    value = value.partition(comp)[0]
    if value == NULL:
        return ""
    return unescape(value) if "\\" in value else value


def _mrn(segment: list[str], comp: str, number: int = 3, location: str = "PID^1^3") -> str:
    """The medical record number of a patient identifier list, PID-3 (or MRG-1): the list repeats (an
    enterprise id, the MRN, a national id... in the sender's order), so the one typed MR (CX-5, table
    0203), else the first."""
    field = segment[number] if len(segment) > number else ""
    if "~" in field:
        repetitions = field.split("~")
        field = next((r for r in repetitions if r.split(comp)[4:5] == ["MR"]), repetitions[0])
    return _required([field], 0, location, comp)


def _required(fields: list[str], number: int, location: str, comp: str) -> str:
    """The first component of a required field's first repetition, unescaped; empty or null is rejected."""
    value = fields[number] if len(fields) > number else ""
    if "~" in value:
        value = value.partition("~")[0]
    value = value.partition(comp)[0]
    if value == NULL:
        value = ""
    if "\\" in value:
        try:
            value = unescape(value)
        except ValueError as exc:
            raise _Reject("AE", DATA_TYPE_ERROR, location, f"{_dash(location)}: {exc}") from None
    if not value:
        raise _Reject("AE", REQUIRED_FIELD_MISSING, location, f"{_dash(location)} is empty")
    return value


def _bed(location: list[str]) -> str:
    room = location[1] if len(location) > 1 else ""
    bed = location[2] if len(location) > 2 else ""
    return f"{room}-{bed}" if bed else room


def _dash(location: str) -> str:
    """``PID^1^3`` -> ``PID-3`` as people write it."""
    parts = location.split("^")
    return f"{parts[0]}-{parts[2]}" if len(parts) == 3 else location


def _cents(text: str) -> int:
    """Integer cents of a decimal amount (at most two decimals), without float rounding."""
    if not text.isascii():  # int() reads digits of any script ("٤٥", "０"): HL7 NM has ASCII ones only
        raise ValueError(f"not an amount: {text!r}")
    whole, dot, fraction = text.partition(".")
    if len(fraction) == 2 and fraction.isdigit() and whole.lstrip("-").isdigit() and whole[:1] != "+":
        return int(whole + fraction)
    text = text.strip(" ")  # padded with blanks is still the amount; tabs and the like are not
    if not text:
        raise ValueError("empty amount")
    negative = text.startswith("-")
    digits = text[1:] if text[0] in "+-" else text  # one sign at most: "--5" is not -5
    whole, _, fraction = digits.partition(".")
    if len(fraction) > 2 and not fraction[2:].strip("0"):  # "7.5000": NM zeros after the cents mean nothing
        fraction = fraction[:2]
    if not whole.isdigit() or (fraction and not fraction.isdigit()) or len(fraction) > 2:
        raise ValueError(f"not an amount: {text!r}")
    cents = int(whole) * 100 + int(fraction.ljust(2, "0") or "0")
    return -cents if negative else cents


def _quantity(text: str) -> int:
    """A whole-number NM: empty or null is 1 (the default quantity); "2.0" is 2 (its zeros mean nothing)."""
    if not text or text == NULL:
        return 1
    whole, dot, fraction = text.partition(".")
    if not (whole.isdigit() and whole.isascii()) or (fraction.strip("0") if dot else ""):
        raise ValueError(f"not a whole quantity: {text!r}")
    return int(whole)


def build_ack(header: Header | None, ack_code: str, timestamp: str, rejected: Rejected | None = None) -> str:
    """An HL7 v2.5.1 ACK echoing MSH-10; AE/AR carry an ERR segment with code, location and reason.

    A message in an older version (an acquired hospital's 2.3 feed) is answered in 2.5.1 too: the
    integration speaks its own version, and a 2.3 sender reads MSA-1/MSA-2, which mean the same.
    """
    if header is None:
        control, head = "", _ack_head("", "", "")
    else:
        control = _safe(header.control_id)
        head = _ack_head(header.sending_application, header.sending_facility, header.trigger)
    text = f"{head[0]}{timestamp}{head[1]}{control}|P|{VERSION}\rMSA|{ack_code}|{control}\r"
    if rejected is not None:
        location = "^".join(_safe(part) for part in rejected.location.split("^"))
        text += (
            f"ERR||{location}|{rejected.error_code}^{_ERROR_TEXT.get(rejected.error_code, 'Error')}^HL70357|E||||"
            f"{_safe(rejected.reason)[:250]}\r"
        )
    return text


@lru_cache(maxsize=256)
def _ack_head(application: str, facility: str, trigger: str) -> tuple[str, str]:
    """The ACK's MSH around its timestamp, which is the same for every message of one sender and
    trigger (one ACK per message: cached, not rebuilt)."""
    ack_type = f"ACK^{trigger}^ACK" if trigger else "ACK"
    return f"MSH|^~\\&|TWIN-INT|NETWORK|{_safe(application)}|{_safe(facility)}|", f"||{ack_type}|ACK"


def _safe(value: str) -> str:
    return escape(value)
