"""The ADT vocabulary beyond admit, transfer and discharge: registrations (A04), updates (A08),
cancellations (A11, A12, A13), merges (A40) and coding without a DRG.

The EHR publishes each fact and the integration's reader reads it back to the same fact, in the
network's HL7 v2.5.1 and in an acquired hospital's v2.3; hl7apy accepts every message strictly.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from mocks.ehr.ehr import Ehr, OutboundMessage
from tests.hl7_strict import STRUCTURES, parse_strict, placed, segment_names
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
from twin.domain.model import ChargeCode, Department, Hospital, Patient, Payer, Provider, Unit
from twin.domain.timebase import Timebase
from twin.integration.hl7_reader import Hl7Reader, salvage_visit

TB = Timebase(datetime(2026, 1, 5))
HOURS = 60.0

MEDICARE = Payer("MCR-A", "Medicare Part A", "MCR", "CMS-A01")
COMMERCIAL = Payer("COM-1", "Acme Health PPO", "COM", "ACME-01")
LEGACY = Payer("BC-77", "Blue Plan 77", "COM", "BLUE-77")  # the acquired hospital's own plan code


def _hospital(code: str, version: str) -> Hospital:
    nursing = Department(f"{code}-3MN", "3 Medical nursing", f"{code}-6100", "nursing")
    step_down = Department(f"{code}-4MN", "4 Telemetry nursing", f"{code}-6200", "nursing")
    departments = (
        nursing,
        step_down,
        Department(f"{code}-ED", "Emergency department", f"{code}-7100", "emergency"),
        Department(f"{code}-CLN", "Outpatient clinic", f"{code}-7200", "clinic"),
        Department(f"{code}-LAB", "Laboratory", f"{code}-7010", "lab"),
    )
    units = (
        Unit(f"{code}-3M", "3 Medical", "medsurg", 20, nursing, 150_000),
        Unit(f"{code}-4M", "4 Telemetry", "telemetry", 20, step_down, 180_000),
    )
    return Hospital(
        code,
        f"Hospital {code}",
        units,
        departments,
        (Provider("9010000001", "O'Hara", "Ann"),),
        hl7_version=version,
        payers=(LEGACY,) if version != "2.5.1" else (),
    )


HOSPITALS = (_hospital("H01", "2.5.1"), _hospital("H02", "2.3"))
CHARGEMASTER = (ChargeCode("300-85025", "CBC", "0300", 4_500, "lab"),)


def _ehr() -> Ehr:
    return Ehr(
        TB,
        HOSPITALS,
        CHARGEMASTER,
        {"I50.9": "Heart failure"},
        {"291": "Heart failure & shock"},
        (MEDICARE, COMMERCIAL),
    )


def _patient(mrn: str, payer: Payer = MEDICARE) -> Patient:
    return Patient(mrn, "Doe", "Jane", "19700101", "F", payer, f"MEM-{mrn}")


def _story(ehr: Ehr, h: str) -> list[DomainEvent]:
    """Every new fact at hospital ``h``, in the order the workflows would have them happen (the
    patients registered first, the survivor of the merge too, as the workflows register it)."""
    for mrn in ("M1", "M2", "M3", "M4", "M5", "M6", "M7"):
        ehr.register_patient(_patient(f"{h}{mrn}"), h)
    unit, other = f"{h}-3M", f"{h}-4M"
    plan = MEDICARE if h == "H01" else LEGACY
    new_plan = COMMERCIAL if h == "H01" else MEDICARE  # the legacy hospital's update names a network plan

    def admitted(at: float, visit: str, mrn: str, where: str, bed: str, kind: str) -> PatientAdmitted:
        return PatientAdmitted(
            at,
            h,
            visit,
            f"{h}{mrn}",
            where,
            bed,
            "9010000001",
            plan.plan_code,
            plan.financial_class,
            kind,
            member_id=f"MEM-{h}{mrn}" if mrn != "M2" else "MISTYPED-1",  # registration's typo travels as keyed
        )

    stay, ed, clinic, obs, void, duplicate = (f"{h}-V{n}" for n in range(1, 7))
    lab = ChargeLine(f"{stay}-1", "300-85025", f"{h}-LAB", 1, 4_500, 2 * HOURS)
    return [
        # an inpatient stay with every correction
        admitted(0, stay, "M1", unit, "001-A", "inpatient"),
        ChargesPosted(2 * HOURS, h, stay, (lab,)),
        PatientUpdated(3 * HOURS, h, stay, f"{h}M1", new_plan.plan_code, new_plan.financial_class, f"MEM-{h}M1"),
        PatientTransferred(4 * HOURS, h, stay, unit, other, "010-B"),
        TransferCancelled(5 * HOURS, h, stay, other, unit, "001-A"),
        PatientDischarged(50 * HOURS, h, stay, unit, "01"),
        DischargeCancelled(51 * HOURS, h, stay, unit, "001-A"),
        PatientDischarged(70 * HOURS, h, stay, unit, "06"),
        CodingCompleted(90 * HOURS, h, stay, "I50.9", ("E11.9",), "291", True),
        # an emergency visit and an outpatient visit: a department, no bed, no DRG
        admitted(1 * HOURS, ed, "M2", f"{h}-ED", "", "emergency"),
        PatientDischarged(6 * HOURS, h, ed, f"{h}-ED", "01"),
        CodingCompleted(30 * HOURS, h, ed, "R07.9", (), "", False),
        admitted(2 * HOURS, clinic, "M3", f"{h}-CLN", "", "outpatient"),
        PatientDischarged(3 * HOURS, h, clinic, f"{h}-CLN", "01"),
        CodingCompleted(40 * HOURS, h, clinic, "Z00.00", (), "", False),
        # an observation stay: a bed, an outpatient class, no DRG
        admitted(3 * HOURS, obs, "M4", unit, "002-A", "observation"),
        PatientDischarged(30 * HOURS, h, obs, unit, "01"),
        CodingCompleted(60 * HOURS, h, obs, "R55", (), "", False),
        # a registration entered in error
        admitted(4 * HOURS, void, "M5", unit, "003-A", "inpatient"),
        AdmissionCancelled(4.5 * HOURS, h, void),
        # a visit registered under a duplicate MRN (M6), merged into the patient's record (M7) before coding
        admitted(5 * HOURS, duplicate, "M6", other, "011-A", "inpatient"),
        PatientDischarged(40 * HOURS, h, duplicate, other, "01"),
        PatientsMerged(45 * HOURS, h, duplicate, f"{h}M7", f"{h}M6"),
        CodingCompleted(60 * HOURS, h, duplicate, "I50.9", (), "291", False),
    ]


def _published(hospital: str) -> list[tuple[DomainEvent, OutboundMessage]]:
    ehr = _ehr()
    pairs = []
    for event in _story(ehr, hospital):
        [message] = ehr.record(event)
        pairs.append((event, message))
    return pairs


def _comparable(event: DomainEvent) -> DomainEvent:
    """The event as HL7 can carry it: whether coding waited on a physician query is HIM's own
    business, not in the BAR (the reader always says ``queried=False``)."""
    if isinstance(event, CodingCompleted):
        return event._replace(queried=False)
    return event


VERSIONS = {"H01": "2.5.1", "H02": "2.3"}


@pytest.mark.parametrize("hospital", sorted(VERSIONS), ids=lambda h: VERSIONS[h])
def test_every_fact_reads_back_as_itself(hospital: str) -> None:
    reader = Hl7Reader(TB)
    pairs = _published(hospital)
    for event, message in pairs:
        read = reader.read(message.payload)
        assert read.rejected is None, (message.message_type, read.rejected)
        assert read.event == _comparable(event), message.message_type
        assert (message.hospital, message.visit) == (event.hospital, event.visit)
        assert message.payload.split("|", 12)[11] == VERSIONS[hospital]
    kinds = {message.message_type for _, message in pairs}
    coding = "BAR^P05" if hospital == "H01" else "BAR^P01"
    assert kinds == {f"ADT^A{n:02d}" for n in (1, 2, 3, 4, 8, 11, 12, 13, 40)} | {"DFT^P03", coding}


@pytest.mark.parametrize("hospital", sorted(VERSIONS), ids=lambda h: VERSIONS[h])
def test_encounter_types_are_coded_in_the_trigger_pv1_2_and_pv1_18(hospital: str) -> None:
    """A stay in a bed is admitted (A01) on its unit and bed; a visit is registered (A04) in its
    department with no room or bed. Every one carries the IN1 of its plan."""
    first: dict[str, tuple[str, str, str, str]] = {}
    for event, message in _published(hospital):
        if isinstance(event, PatientAdmitted):
            pv1 = _segment(message.payload, "PV1")
            first.setdefault(event.encounter_type, (message.message_type, pv1[2], pv1[18], pv1[3]))
            assert _segment(message.payload, "IN1")[2].split("^")[0] == event.plan_code
    h = hospital
    assert first == {
        "inpatient": ("ADT^A01", "I", "", f"{h}-3M^001^A^{h}"),
        "emergency": ("ADT^A04", "E", "ER", f"{h}-ED^^^{h}"),
        "outpatient": ("ADT^A04", "O", "OP", f"{h}-CLN^^^{h}"),
        "observation": ("ADT^A01", "O", "OBS", f"{h}-3M^002^A^{h}"),
    }


def test_messages_carry_what_the_chart_now_says() -> None:
    """The A08 names the new plan, the A12 where the patient was wrongly moved, the A13 no discharge,
    the A40 the merged MRN, and every message after the merge the survivor's PID; coding without a
    DRG has no DRG segment."""
    pairs = {(type(e).__name__, e.visit): m.payload for e, m in _published("H01")}
    update = pairs[("PatientUpdated", "H01-V1")]
    assert _segment(update, "IN1")[2] == "COM-1^Acme Health PPO"
    assert _segment(update, "IN1")[36] == "MEM-H01M1"
    assert _segment(update, "PV1")[20] == "COM"
    undone = _segment(pairs[("TransferCancelled", "H01-V1")], "PV1")
    assert (undone[3], undone[6]) == ("H01-3M^001^A^H01", "H01-4M^010^B^H01")
    back = _segment(pairs[("DischargeCancelled", "H01-V1")], "PV1")
    assert len(back) <= 45 and back[36] == ""  # no discharge date (PV1-45) and no disposition
    merge = pairs[("PatientsMerged", "H01-V6")]
    assert [s[:3] for s in merge.rstrip("\r").split("\r")] == ["MSH", "EVN", "PID", "MRG", "PV1"]
    assert _segment(merge, "MSH")[8] == "ADT^A40^ADT_A39"
    assert _segment(merge, "MRG")[1] == "H01M6^^^H01^MR"
    assert _segment(merge, "PID")[3] == "H01M7^^^H01^MR"
    assert _segment(pairs[("CodingCompleted", "H01-V6")], "PID")[3] == "H01M7^^^H01^MR"
    assert "\rDRG|" not in pairs[("CodingCompleted", "H01-V2")]
    assert "\rDRG|291^" in pairs[("CodingCompleted", "H01-V1")]


def test_the_chart_follows_the_corrections() -> None:
    ehr = _ehr()
    for event in _story(ehr, "H01"):
        ehr.record(event)
    stay = ehr.encounters["H01-V1"]
    assert (stay.plan_code, stay.financial_class, stay.unit, stay.bed) == ("COM-1", "COM", "H01-3M", "001-A")
    assert [unit for _, unit in stay.unit_history] == ["H01-3M"]  # the transfer in error is forgotten
    assert stay.discharged_at == 70 * HOURS and stay.disposition == "06"
    assert ehr.encounters["H01-V5"].cancelled
    assert ehr.encounters["H01-V6"].mrn == "H01M7"
    assert ehr.encounters["H01-V2"].encounter_type == "emergency" and ehr.encounters["H01-V2"].bed == ""


# -- hl7apy, strict -------------------------------------------------------------------------------
@pytest.mark.parametrize("hospital", sorted(VERSIONS), ids=lambda h: VERSIONS[h])
def test_hl7apy_accepts_every_message_strictly(hospital: str) -> None:
    for _, message in _published(hospital):
        structure = STRUCTURES[message.message_type]
        parsed = parse_strict(message.payload)
        assert (parsed.name, parsed.version) == (structure, VERSIONS[hospital])
        assert parsed.validate() is True, message.message_type
        assert placed(parsed) == segment_names(message.payload), message.message_type
        msh_9 = _segment(message.payload, "MSH")[8]
        assert msh_9 == (f"{message.message_type}^{structure}" if hospital == "H01" else message.message_type)


def test_hl7apy_strict_really_fails_a_broken_merge() -> None:
    """The oracle can fail: a merge without its PID is invalid, and one read as an admission (whose
    segments have no MRG) loses its MRG."""
    merge = next(m for e, m in _published("H02") if isinstance(e, PatientsMerged)).payload
    without_pid = "\r".join(s for s in merge.split("\r") if not s.startswith("PID"))
    with pytest.raises(Exception):  # noqa: B017 - hl7apy raises several validation error types
        assert parse_strict(without_pid).validate()
    as_admission = merge.replace("ADT^A40", "ADT^A01", 1).replace("EVN|A40|", "EVN|A01|", 1)
    assert "MRG" not in placed(parse_strict(as_admission))


# -- what other systems send --------------------------------------------------------------------
def _message(kind: str, *body: str, version: str = "2.5.1") -> str:
    msh = f"MSH|^~\\&|REG|H01|TWIN-INT|NETWORK|20260105083000||{kind}|C9|P|{version}"
    return "\r".join([msh, f"EVN|{kind.split('^')[1]}|20260105083000", *body]) + "\r"


PID = "PID|1||M1^^^H01^MR||Doe^Jane||19700101|F"
PV1 = "PV1|1|{cls}|H01-ED^^^H01||||9010000001^Smith^John|||MED||||||||{ptype}|V1^^^H01^VN|MCR"


def test_a_demographic_update_without_insurance_reads_as_an_update_with_no_plan() -> None:
    text = _message("ADT^A08^ADT_A01", PID, PV1.format(cls="I", ptype=""), "ZPI|1|preferred name|Janie")
    read = Hl7Reader(TB).read(text)
    assert read.rejected is None
    assert read.event == PatientUpdated(8 * 60 + 30, "H01", "V1", "M1", plan_code="", financial_class="MCR")


def test_a_merge_without_mrg_is_refused_at_mrg_1() -> None:
    text = _message("ADT^A40^ADT_A39", PID, PV1.format(cls="I", ptype=""))
    read = Hl7Reader(TB).read(text)
    assert read.event is None and read.rejected is not None
    assert (read.rejected.ack_code, read.rejected.error_code, read.rejected.location) == ("AE", "101", "MRG^1^1")
    assert "MRG" in read.rejected.reason
    assert salvage_visit(text) == "V1"  # its visit's billing waits for the repair
    empty = Hl7Reader(TB).read(_message("ADT^A40^ADT_A39", PID, "MRG|", PV1.format(cls="I", ptype="")))
    assert empty.rejected is not None and empty.rejected.location == "MRG^1^1"


def test_a_merge_reads_the_mrn_typed_mr_of_a_repeating_mrg_1() -> None:
    mrg = "MRG|E77^^^ENT^PI~M2^^^H01^MR"
    read = Hl7Reader(TB).read(_message("ADT^A40", PID, mrg, PV1.format(cls="I", ptype=""), version="2.3"))
    assert read.event == PatientsMerged(8 * 60 + 30, "H01", "V1", "M1", "M2")


def test_a_registration_of_an_unknown_patient_class_is_refused_at_pv1_2() -> None:
    """A04 is a visit without a bed: emergency (E) or outpatient (O). Preadmit (P), recurring (R) and
    the like are not visits this interface bills, so they are refused (AE, table value not found)
    rather than read as something they are not; an empty class is a required field missing."""
    in1 = "IN1|1|MCR-A^Medicare|MCR-A|Medicare"
    for patient_class, code in (("P", "103"), ("", "101")):
        read = Hl7Reader(TB).read(_message("ADT^A04^ADT_A01", PID, PV1.format(cls=patient_class, ptype=""), in1))
        assert read.rejected is not None, patient_class
        assert (read.rejected.ack_code, read.rejected.error_code, read.rejected.location) == ("AE", code, "PV1^1^2")
    # an A01 of a class the twin does not model (B obstetrics) stays what an A01 always was: inpatient
    admit = Hl7Reader(TB).read(_message("ADT^A01^ADT_A01", PID, PV1.format(cls="B", ptype=""), in1))
    assert isinstance(admit.event, PatientAdmitted) and admit.event.encounter_type == "inpatient"


@pytest.mark.parametrize(
    ("patient_class", "patient_type", "expected"),
    [("I", "", "inpatient"), ("O", "OBS", "observation"), ("E", "ER", "emergency"), ("O", "", "outpatient")],
)
def test_encounter_type_from_another_registration_system(patient_class: str, patient_type: str, expected: str) -> None:
    in1 = "IN1|1|MCR-A^Medicare|MCR-A|Medicare"
    read = Hl7Reader(TB).read(_message("ADT^A04", PID, PV1.format(cls=patient_class, ptype=patient_type), in1))
    assert isinstance(read.event, PatientAdmitted), read.rejected
    assert (read.event.encounter_type, read.event.unit, read.event.bed) == (expected, "H01-ED", "")


def test_coding_without_a_drg_reads_as_an_empty_drg_and_a_drg_without_code_is_refused() -> None:
    dg1 = "DG1|1||R07.9^Chest pain^I10||20260105083000|F||||||||||1"
    pv1 = PV1.format(cls="E", ptype="ER")
    read = Hl7Reader(TB).read(_message("BAR^P01", PID, pv1, dg1, version="2.3"))
    assert isinstance(read.event, CodingCompleted) and read.event.drg == ""
    broken = Hl7Reader(TB).read(_message("BAR^P05^BAR_P05", PID, pv1, dg1, "DRG||20260105083000"))
    assert broken.rejected is not None and broken.rejected.location == "DRG^1^1"


def _segment(payload: str, name: str) -> list[str]:
    return next(s for s in payload.rstrip("\r").split("\r") if s.startswith(name)).split("|")
