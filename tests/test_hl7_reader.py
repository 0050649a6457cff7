"""The integration's HL7 reader: field values equal hl7apy's, bad input becomes AE/AR, never a crash."""

from __future__ import annotations

from datetime import datetime

import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import small_scenario
from twin.domain.events import (
    ChargesPosted,
    CodingCompleted,
    DischargeCancelled,
    PatientAdmitted,
    PatientDischarged,
    PatientsMerged,
    PatientTransferred,
    PatientUpdated,
    TransferCancelled,
)
from twin.domain.timebase import Timebase
from twin.integration.hl7_reader import Hl7Reader
from twin.sim import Twin

TB = Timebase(datetime(2026, 1, 5))
# encounter type -> (PV1-2 patient class, PV1-18 patient type) as the EHR writes them
ENCOUNTER_CLASSES = {
    "inpatient": ("I", ""),
    "observation": ("O", "OBS"),
    "emergency": ("E", "ER"),
    "outpatient": ("O", "OP"),
}


@pytest.fixture(scope="module")
def corpus() -> dict[str, list[str]]:
    return {kind: list(messages) for kind, messages in Twin(small_scenario()).run().view.traffic.items()}


def _segments(element: object, name: str) -> list:  # type: ignore[type-arg]
    """Every segment called ``name`` anywhere in an hl7apy message tree (groups included)."""
    found = []
    for child in element.children:  # type: ignore[attr-defined]
        if child.name == name:
            found.append(child)
        elif child.classname == "Group":
            found.extend(_segments(child, name))
    return found


def _seg(element: object, name: str):  # type: ignore[no-untyped-def]
    return _segments(element, name)[0]


def _component(field: object) -> str:
    text: str = field.to_er7()  # type: ignore[attr-defined]
    return text.split("^")[0]


def test_reader_agrees_with_hl7apy_on_the_corpus(corpus: dict[str, list[str]]) -> None:
    reader = Hl7Reader(TB)
    supply = [m for m in corpus["DFT^P03"] if "ORSUP" in m]
    assert supply, "the corpus must hold supply-usage DFTs"
    corpus = {**corpus, "DFT^P03": corpus["DFT^P03"][::10] + supply[:20]}
    for message_type, messages in corpus.items():
        if message_type == "ACK":
            continue
        for text in messages[:: max(1, len(messages) // 40)]:
            ours = reader.read(text)
            assert ours.rejected is None, ours.rejected
            theirs = parse_message(text, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
            assert ours.header is not None
            assert ours.header.control_id == theirs.msh.msh_10.to_er7()
            event = ours.event
            assert event is not None
            assert event.visit == _component(_seg(theirs, "PV1").pv1_19)
            assert event.hospital == theirs.msh.msh_4.to_er7()
            if isinstance(event, PatientAdmitted):
                assert event.mrn == _component(_seg(theirs, "PID").pid_3)
                assert event.unit == _component(_seg(theirs, "PV1").pv1_3)
                assert event.plan_code == _component(_seg(theirs, "IN1").in1_2)
                assert event.attending_npi == _component(_seg(theirs, "PV1").pv1_7)
                patient_class = (_seg(theirs, "PV1").pv1_2.to_er7(), _seg(theirs, "PV1").pv1_18.to_er7())
                assert ENCOUNTER_CLASSES[event.encounter_type] == patient_class
            elif isinstance(event, PatientTransferred | TransferCancelled):
                assert event.from_unit == _component(_seg(theirs, "PV1").pv1_6)
                assert event.to_unit == _component(_seg(theirs, "PV1").pv1_3)
            elif isinstance(event, PatientUpdated):
                assert event.mrn == _component(_seg(theirs, "PID").pid_3)
                assert event.plan_code == _component(_seg(theirs, "IN1").in1_2)
                assert event.financial_class == _component(_seg(theirs, "PV1").pv1_20)
            elif isinstance(event, DischargeCancelled):
                assert event.unit == _component(_seg(theirs, "PV1").pv1_3)
            elif isinstance(event, PatientsMerged):
                assert event.mrn == _component(_seg(theirs, "PID").pid_3)
                assert event.merged_mrn == _component(_seg(theirs, "MRG").mrg_1)
            elif isinstance(event, PatientDischarged):
                assert event.disposition == _seg(theirs, "PV1").pv1_36.to_er7()
                assert event.at == TB.minutes(_seg(theirs, "PV1").pv1_45.to_er7())
            elif isinstance(event, ChargesPosted):
                ft1s = _segments(theirs, "FT1")
                assert len(ft1s) == len(event.lines)
                for line, ft1 in zip(event.lines, ft1s, strict=True):
                    assert line.txn_id == ft1.ft1_2.to_er7()
                    assert line.code == _component(ft1.ft1_7)
                    assert line.department == _component(ft1.ft1_13)
                    assert line.quantity == int(ft1.ft1_10.to_er7())
                    assert line.amount == round(float(ft1.ft1_11.to_er7()) * 100)
                    assert line.service_at == TB.minutes(ft1.ft1_4.to_er7())
                    assert (line.reverses is not None) == (ft1.ft1_6.to_er7() == "CD")
                    assert line.location == _component(ft1.ft1_16)
                    if line.location:  # FT1-23 names the case, or is the line's own order (no case)
                        order = _component(ft1.ft1_23)
                        assert line.case == ("" if order == line.txn_id else order)
            elif isinstance(event, CodingCompleted):
                dg1s = _segments(theirs, "DG1")
                assert event.principal_dx == _component(dg1s[0].dg1_3)
                drg = _segments(theirs, "DRG")  # none for a visit not paid by DRG
                assert event.drg == (_component(drg[0].drg_1) if drg else "")


def _admit() -> str:
    return (
        "MSH|^~\\&|EHR|H01|TWIN-INT|NETWORK|20260105083000||ADT^A01^ADT_A01|C1|P|2.5.1\r"
        "EVN|A01|20260105083000\rPID|1||M1^^^H01^MR||Doe^Jane||19700101|F\r"
        "PV1|1|I|H01-2I^001^A^H01||||9010000001^Smith^John|||MED|||||||||V1^^^H01^VN|MCR\r"
        "IN1|1|MCR-A^Medicare Part A|MCR-A|Medicare Part A\r"
    )


def test_reads_an_admission() -> None:
    read = Hl7Reader(TB).read(_admit())
    assert isinstance(read.event, PatientAdmitted)
    assert (read.event.visit, read.event.mrn, read.event.bed, read.event.plan_code) == ("V1", "M1", "001-A", "MCR-A")
    assert read.event.at == 8 * 60 + 30


def test_lf_segment_ends_are_accepted() -> None:
    read = Hl7Reader(TB).read(_admit().replace("\r", "\n"))
    assert read.rejected is None


@pytest.mark.parametrize(
    ("mutate", "ack", "location"),
    [
        (lambda m: m.replace("PID|1||M1^^^H01^MR", "PID|1||"), "AE", "PID^1^3"),
        (lambda m: "\r".join(s for s in m.split("\r") if not s.startswith("PID")), "AE", "PID"),
        (lambda m: m.replace("ADT^A01^ADT_A01", "ADT^A99^ADT_A01"), "AR", "MSH^1^9"),
        (lambda m: m.replace("|2.5.1", "|2.9"), "AR", "MSH^1^12"),
        (lambda m: m.replace("|C1|", "||"), "AR", "MSH^1^10"),
        (lambda m: m.replace("MSH|^~\\&", "MSH|^~#&"), "AR", "MSH^1^2"),
        (lambda m: m[20:], "AR", "MSH"),
        (lambda m: m.replace("EVN|A01|20260105083000", "EVN|A01|2026-01-05"), "AE", "EVN^1^2"),
        (lambda m: m.replace("Doe^Jane", "Doe\\Q\\Jane").replace("M1^^^", "M\\Z1^^^"), "AE", "PID^1^3"),
    ],
)
def test_bad_messages_are_rejected_with_a_reason(mutate, ack: str, location: str) -> None:  # type: ignore[no-untyped-def]
    read = Hl7Reader(TB).read(mutate(_admit()))
    assert read.event is None and read.rejected is not None
    assert read.rejected.ack_code == ack
    assert read.rejected.location == location
    assert read.rejected.reason


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_reader_never_raises_on_mutated_messages(data: st.DataObject) -> None:
    text = _admit()
    position = data.draw(st.integers(0, len(text) - 1))
    junk = data.draw(st.text(alphabet="|^~\\&\r\nX9 ", max_size=4))
    cut = data.draw(st.integers(0, 3))
    mutated = text[:position] + junk + text[position + cut :]
    read = Hl7Reader(TB).read(mutated)
    assert (read.event is None) != (read.rejected is None)
