"""The EHR's state and rules: it records clinical facts and publishes interface messages.

Sans-IO: ``record(event)`` takes a fact the workflows say happened and returns the HL7 messages
the EHR's outbound interface would send for it. The driver decides how they travel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from mocks.ehr import hl7_writer as w
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
from twin.domain.hl7 import SEGMENT_END, VERSION, escape
from twin.domain.model import ChargeCode, Department, Hospital, Patient, Payer, Provider
from twin.domain.timebase import Timebase

# encounter type -> (trigger, PV1-2 patient class, PV1-18 patient type): a stay in a bed is admitted
# (A01), a visit without one is registered (A04); observation is an outpatient class in a bed.
ENCOUNTER_CODES = {
    "inpatient": ("A01", "I", ""),
    "observation": ("A01", "O", "OBS"),
    "emergency": ("A04", "E", "ER"),
    "outpatient": ("A04", "O", "OP"),
}


@dataclass(slots=True)
class Encounter:
    """The EHR's chart of one visit: an inpatient or observation stay, or an emergency or
    outpatient visit (``unit`` is then the department, ``bed`` empty)."""

    visit: str
    hospital: str
    mrn: str
    unit: str
    bed: str
    attending: str
    plan_code: str
    financial_class: str
    admitted_at: float
    discharged_at: float | None = None
    disposition: str = ""
    charges: list[ChargeLine] = field(default_factory=list)
    coding: CodingCompleted | None = None
    unit_history: list[tuple[float, str]] = field(default_factory=list)
    pv1: str = ""  # the current PV1 segment, rebuilt only when the visit changes
    patient_visit: str = ""  # "PID\rPV1\r" as every DFT and BAR of the visit carries them, kept with ``pv1``
    encounter_type: str = "inpatient"  # one of ``ENCOUNTER_CODES``
    cancelled: bool = False  # the admission was entered in error (A11): the visit never happened
    merged_mrns: list[str] = field(default_factory=list)  # MRNs merged into ``mrn`` with this visit (A40)


class OutboundMessage(NamedTuple):
    """An HL7 message the EHR's interface publishes."""

    hospital: str
    message_type: str  # e.g. "ADT^A01"
    control_id: str
    visit: str
    payload: str


class Ehr:
    """One EHR instance serving the network's hospitals (sending facility = hospital code)."""

    def __init__(
        self,
        timebase: Timebase,
        hospitals: tuple[Hospital, ...],
        chargemaster: tuple[ChargeCode, ...],
        diagnosis_text: dict[str, str],
        drg_text: dict[str, str],
        payers: tuple[Payer, ...] = (),
    ) -> None:
        """``payers``: the network's insurance plans, which name the plan an update (A08) moves a
        visit to; each hospital's own plans and every registered patient's are known besides."""
        self.timebase = timebase
        self.patients: dict[str, Patient] = {}
        self.encounters: dict[str, Encounter] = {}
        self._pid: dict[str, str] = {}
        self._providers: dict[str, Provider] = {p.npi: p for h in hospitals for p in h.providers}
        self._departments: dict[str, Department] = {d.ehr_code: d for h in hospitals for d in h.departments}
        self._unit_names = {u.code: u.name for h in hospitals for u in h.units}
        self._charges = {c.code: c for c in chargemaster}
        self._dx_text = diagnosis_text
        self._drg_text = drg_text
        self._sequence = 0
        self._code_ces: dict[str, str] = {}
        self._department_ces: dict[str, str] = {}
        self._channel_sequence: dict[str, int] = {}  # per hospital: MSH-13 of its last message
        # hospitals whose interface speaks an older HL7 version (an acquired hospital's legacy EHR)
        self._versions = {h.code: h.hl7_version for h in hospitals if h.hl7_version != VERSION}
        self._plan_names = {p.plan_code: p.name for p in (*payers, *(p for h in hospitals for p in h.payers))}

    def register_patient(self, patient: Patient, hospital: str) -> None:
        renewed = patient.mrn in self._pid
        self.patients[patient.mrn] = patient
        self._plan_names.setdefault(patient.payer.plan_code, patient.payer.name)
        self._pid[patient.mrn] = w.PatientIdentity(
            patient.mrn, hospital, patient.family, patient.given, patient.birth_date, patient.sex
        ).pid()
        if renewed:  # demographics changed: the visits' next messages carry the new PID
            for enc in self.encounters.values():
                if enc.mrn == patient.mrn and enc.pv1:
                    enc.patient_visit = f"{self._pid[enc.mrn]}{SEGMENT_END}{enc.pv1}{SEGMENT_END}"

    def charge_description(self, code: str) -> str:
        return self._charges[code].description

    def record(self, event: DomainEvent) -> list[OutboundMessage]:
        """Store the fact and return the messages the EHR's interface publishes for it."""
        if isinstance(event, ChargesPosted):  # first: four of five facts are charges
            return self._charges_posted(event)
        if isinstance(event, PatientAdmitted):
            return self._admitted(event)
        if isinstance(event, PatientTransferred):
            return self._transferred(event)
        if isinstance(event, PatientDischarged):
            return self._discharged(event)
        if isinstance(event, CodingCompleted):
            return self._coded(event)
        if isinstance(event, PatientUpdated):
            return self._updated(event)
        if isinstance(event, AdmissionCancelled):
            return self._admission_cancelled(event)
        if isinstance(event, TransferCancelled):
            return self._transfer_cancelled(event)
        if isinstance(event, DischargeCancelled):
            return self._discharge_cancelled(event)
        return self._merged(event)

    def _control_id(self) -> str:
        self._sequence += 1
        return f"MSG{self._sequence:010d}"

    def _refresh_pv1(self, enc: Encounter, prior_unit: str = "", prior_bed: str = "") -> str:
        provider = self._providers[enc.attending]
        _, patient_class, patient_type = ENCOUNTER_CODES[enc.encounter_type]
        enc.pv1 = w.VisitInfo(
            visit=enc.visit,
            facility=enc.hospital,
            unit=enc.unit,
            bed=enc.bed,
            attending=f"{provider.npi}^{escape(provider.family)}^{escape(provider.given)}",
            financial_class=enc.financial_class,
            admitted=self.timebase.hl7(enc.admitted_at),
            discharged=self.timebase.hl7(enc.discharged_at) if enc.discharged_at is not None else "",
            disposition=enc.disposition,
            prior_unit=prior_unit,
            prior_bed=prior_bed,
            patient_class=patient_class,
            patient_type=patient_type,
        ).pv1()
        enc.patient_visit = f"{self._pid[enc.mrn]}{SEGMENT_END}{enc.pv1}{SEGMENT_END}"
        return enc.pv1

    def _out(self, enc: Encounter, message_type: str, control_id: str, payload: str) -> list[OutboundMessage]:
        payload = self._sequenced(enc.hospital, payload)
        version = self._versions.get(enc.hospital)
        if version is not None:
            payload = w.as_version(payload, version)
            message_type = "^".join(payload.split("|", 9)[8].split("^")[:2])  # as on the wire (P05 -> P01)
        return [OutboundMessage(enc.hospital, message_type, control_id, enc.visit, payload)]

    def _adt(self, enc: Encounter, trigger: str, at: float, insurance: str = "") -> list[OutboundMessage]:
        """An ADT message of the encounter as it now stands (its PV1 rebuilt), sent as its hospital speaks."""
        control = self._control_id()
        pv1 = self._refresh_pv1(enc)
        payload = w.adt(trigger, control, self.timebase.hl7(at), enc.hospital, self._pid[enc.mrn], pv1, insurance)
        return self._out(enc, f"ADT^{trigger}", control, payload)

    def _insurance(self, mrn: str, plan_code: str, member_id: str = "") -> str:
        """IN1 of the plan the visit is under, with the member id as registration keyed it (the
        patient's, when the event names none)."""
        member = member_id or self.patients[mrn].member_id
        return w.in1(plan_code, self._plan_names.get(plan_code, plan_code), member)

    def _admitted(self, event: PatientAdmitted) -> list[OutboundMessage]:
        if event.encounter_type not in ENCOUNTER_CODES:
            raise ValueError(
                f"{event.visit}: encounter type {event.encounter_type!r} is not one of {', '.join(ENCOUNTER_CODES)}"
            )
        enc = Encounter(
            visit=event.visit,
            hospital=event.hospital,
            mrn=event.mrn,
            unit=event.unit,
            bed=event.bed,
            attending=event.attending_npi,
            plan_code=event.plan_code,
            financial_class=event.financial_class,
            admitted_at=event.at,
            unit_history=[(event.at, event.unit)],
            encounter_type=event.encounter_type,
        )
        self.encounters[event.visit] = enc
        trigger = ENCOUNTER_CODES[event.encounter_type][0]
        return self._adt(enc, trigger, event.at, self._insurance(event.mrn, event.plan_code, event.member_id))

    def _updated(self, event: PatientUpdated) -> list[OutboundMessage]:
        """A08: the visit's insurance as it now stands (PV1-20 and IN1 of the new plan)."""
        enc = self.encounters[event.visit]
        enc.plan_code, enc.financial_class = event.plan_code, event.financial_class
        return self._adt(enc, "A08", event.at, self._insurance(enc.mrn, event.plan_code, event.member_id))

    def _admission_cancelled(self, event: AdmissionCancelled) -> list[OutboundMessage]:
        """A11: the chart stays (reporting indexes charts by admission order) but is marked void."""
        enc = self.encounters[event.visit]
        enc.cancelled = True
        return self._adt(enc, "A11", event.at)

    def _transfer_cancelled(self, event: TransferCancelled) -> list[OutboundMessage]:
        """A12: PV1-3 where the patient is back, PV1-6 where the transfer entered in error had put them;
        the chart's location history forgets that transfer."""
        enc = self.encounters[event.visit]
        moved_bed = enc.bed if enc.unit == event.from_unit else ""
        enc.unit, enc.bed = event.to_unit, event.bed
        history = enc.unit_history
        if len(history) > 1 and history[-1][1] == event.from_unit:
            history.pop()
        if history[-1][1] != event.to_unit:
            history.append((event.at, event.to_unit))
        control = self._control_id()
        pv1 = self._refresh_pv1(enc, event.from_unit, moved_bed)
        payload = w.adt("A12", control, self.timebase.hl7(event.at), enc.hospital, self._pid[enc.mrn], pv1)
        self._refresh_pv1(enc)
        return self._out(enc, "ADT^A12", control, payload)

    def _discharge_cancelled(self, event: DischargeCancelled) -> list[OutboundMessage]:
        """A13: the patient is in house again (PV1 without discharge date and disposition)."""
        enc = self.encounters[event.visit]
        enc.discharged_at, enc.disposition = None, ""
        if enc.unit != event.unit:
            enc.unit_history.append((event.at, event.unit))
        enc.unit, enc.bed = event.unit, event.bed
        return self._adt(enc, "A13", event.at)

    def _merged(self, event: PatientsMerged) -> list[OutboundMessage]:
        """A40: the visit moves to the surviving MRN, so every later message of it carries the
        survivor's PID (the workflows registered both patients before)."""
        enc = self.encounters[event.visit]
        enc.merged_mrns.append(event.merged_mrn)
        enc.mrn = event.mrn
        control = self._control_id()
        payload = w.merge(
            control,
            self.timebase.hl7(event.at),
            enc.hospital,
            self._pid[event.mrn],
            w.mrg(event.merged_mrn, enc.hospital),
            self._refresh_pv1(enc),
        )
        return self._out(enc, "ADT^A40", control, payload)

    def _transferred(self, event: PatientTransferred) -> list[OutboundMessage]:
        enc = self.encounters[event.visit]
        prior_unit, prior_bed = enc.unit, enc.bed
        enc.unit, enc.bed = event.to_unit, event.bed
        enc.unit_history.append((event.at, event.to_unit))
        control = self._control_id()
        payload = w.adt(
            "A02",
            control,
            self.timebase.hl7(event.at),
            enc.hospital,
            self._pid[enc.mrn],
            self._refresh_pv1(enc, prior_unit, prior_bed),
        )
        self._refresh_pv1(enc)
        return self._out(enc, "ADT^A02", control, payload)

    def _discharged(self, event: PatientDischarged) -> list[OutboundMessage]:
        enc = self.encounters[event.visit]
        enc.discharged_at = event.at
        enc.disposition = event.disposition
        return self._adt(enc, "A03", event.at)

    def _charges_posted(self, event: ChargesPosted) -> list[OutboundMessage]:
        # Four of five messages are charges, so this writes the DFT^P03 from parts kept ready:
        # the encounter's PID and PV1, each code's and department's CE, one timestamp for the
        # lines serviced when they were posted.
        enc = self.encounters[event.visit]
        lines = event.lines
        enc.charges.extend(lines)
        at = event.at
        hl7 = self.timebase.hl7
        posted = hl7(at)
        hospital = enc.hospital
        code_ces, department_ces, ft1 = self._code_ces, self._department_ces, w.ft1
        ft1s = []
        for number, line in enumerate(lines, start=1):
            code, department, location = line.code, line.department, line.location
            ft1s.append(
                ft1(
                    number,
                    line.txn_id,
                    posted if line.service_at == at else hl7(line.service_at),
                    posted,
                    line.amount < 0,
                    code_ces.get(code) or self._code_ce(code),
                    line.quantity,
                    line.amount,
                    department_ces.get(department) or self._department_ce(department),
                    line.reverses or line.case or line.txn_id,
                    f"{escape(location)}^^^{hospital}" if location else "",
                )
            )
        self._sequence += 1
        control = f"MSG{self._sequence:010d}"
        payload = w.dft_p03_text(w.msh(hospital, posted, "DFT^P03^DFT_P03", control), posted, enc.patient_visit, ft1s)
        if self._versions:
            return self._out(enc, "DFT^P03", control, payload)
        return [OutboundMessage(hospital, "DFT^P03", control, enc.visit, self._sequenced(hospital, payload))]

    def _sequenced(self, hospital: str, payload: str) -> str:
        """MSH-13: the sequence number of the hospital's outbound channel (the HL7 sequence-number
        protocol), so a receiver can tell a gap or an overtaken message from a fresh one."""
        number = self._channel_sequence[hospital] = self._channel_sequence.get(hospital, 0) + 1
        end = payload.index(SEGMENT_END)
        return f"{payload[:end]}|{number}{payload[end:]}"

    def _code_ce(self, code: str) -> str:
        """FT1-7 for a chargemaster code, encoded once per code."""
        cached = self._code_ces.get(code)
        if cached is None:
            charge = self._charges.get(code)
            description = charge.description if charge else code
            cached = self._code_ces[code] = f"{escape(code)}^{escape(description)}^CDM"
        return cached

    def _department_ce(self, department: str) -> str:
        """FT1-13 for a department, encoded once per department."""
        cached = self._department_ces.get(department)
        if cached is None:
            cached = f"{escape(department)}^{escape(self._departments[department].name)}^L"
            self._department_ces[department] = cached
        return cached

    def _coded(self, event: CodingCompleted) -> list[OutboundMessage]:
        enc = self.encounters[event.visit]
        enc.coding = event
        diagnoses = [(code, self._dx_text.get(code, code)) for code in (event.principal_dx, *event.secondary_dx)]
        control = self._control_id()
        payload = w.bar_p05(
            control,
            self.timebase.hl7(event.at),
            enc.hospital,
            self._pid[enc.mrn],
            enc.pv1,
            diagnoses,
            (event.drg, self._drg_text.get(event.drg, event.drg)) if event.drg else None,  # none: not paid by DRG
        )
        return self._out(enc, "BAR^P05", control, payload)
