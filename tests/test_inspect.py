"""``twin inspect FILE``: each message's canonical event or the exact rejection; exit 0/1/2."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from mocks.ehr.hl7_writer import Ft1, PatientIdentity, VisitInfo, adt, bar_p05, dft_p03, in1
from twin.cli import main
from twin.domain.timebase import Timebase

TB = Timebase(datetime(2026, 1, 5))
NAME = "Zyxwvut"  # a patient's family name: it must never be printed
PID = PatientIdentity("H01M0000042", "H01", NAME, "Quincey", "19700101", "F").pid()
VISIT = VisitInfo("H01V0000042", "H01", "H01-MEDS", "001-A", "9010000001^Smith^John", "MCR", TB.hl7(0))
PV1 = VISIT.pv1()
DISCHARGED = replace(VISIT, discharged=TB.hl7(2000), disposition="01").pv1()


def _charge(control: str, department: str = "H01-LAB", amount: str | None = None) -> str:
    line = Ft1("H01V0000042-001", TB.hl7(60), TB.hl7(60), False, "300-85025", "CBC", 1, 4500, department, "Lab", "x")
    text = dft_p03(control, TB.hl7(60), "H01", PID, PV1, [line])
    return text if amount is None else text.replace("|45.00|", f"|{amount}|")


MESSAGES = [
    adt("A01", "C1", TB.hl7(0), "H01", PID, PV1, in1("MCR-A", "Medicare A", "123")),
    _charge("C2"),
    adt("A03", "C3", TB.hl7(2000), "H01", PID, DISCHARGED),
]


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def _inspect(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["inspect", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _documents(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


@pytest.mark.parametrize("end", ["\r", "\n", "\r\n"], ids=["CR", "LF", "CRLF"])
def test_hl7_files_with_any_segment_end_are_read(tmp_path: Path, capsys: pytest.CaptureFixture[str], end: str) -> None:
    text = "".join(message.replace("\r", end) for message in MESSAGES)  # messages back to back
    code, out, _ = _inspect(capsys, str(_write(tmp_path, "feed.hl7", text)), "--json")
    assert code == 0
    documents = _documents(out)
    assert [(d["message"], d["type"], d["id"], d["ack_code"]) for d in documents] == [
        (1, "ADT^A01", "C1", "AA"),
        (2, "DFT^P03", "C2", "AA"),
        (3, "ADT^A03", "C3", "AA"),
    ]
    assert [d["line"] for d in documents] == [1, 6, 11]
    admitted = documents[0]["event"]
    assert admitted["event"] == "PatientAdmitted" and admitted["mrn"] == "H01M0000042"
    assert admitted["visit"] == "H01V0000042" and admitted["at"] == "2026-01-05T00:00:00+00:00"
    assert documents[1]["event"]["lines"][0]["amount"] == 4500
    assert NAME not in out and "Quincey" not in out


def test_a_poison_message_is_shown_with_its_err_segment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    poison = _charge("C9", amount="forty-five")
    text = "\n".join([MESSAGES[0], poison, MESSAGES[1]])  # as `twin run --out` writes them: LF between
    code, out, _ = _inspect(capsys, str(_write(tmp_path, "feed.hl7", text)))
    assert code == 1
    assert "#2  line 6  DFT^P03  C9  rejected (AE)" in out
    assert "  MSA|AE|C9" in out
    assert "  ERR||FT1^1^11|102^Data type error^HL70357|E||||FT1-11 amount 'forty-five' is not a number" in out
    assert "#1  line 1  ADT^A01  C1  read (AA)" in out and "#3  line 11  DFT^P03  C2  read (AA)" in out
    assert '"event": "PatientAdmitted"' in out
    assert "3 message(s)" in out and "2 read, 1 rejected" in out and "identifiers" in out
    assert NAME not in out


def test_a_charge_with_unknown_codes_is_read_with_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _inspect(capsys, str(_write(tmp_path, "charge.hl7", _charge("C5", department="H01-NOPE"))), "--json")
    assert code == 0
    (document,) = _documents(out)
    assert document["accepted"] and document["event"]["lines"][0]["department"] == "H01-NOPE"
    assert any("department 'H01-NOPE'" in warning for warning in document["warnings"])
    known = _documents(_inspect(capsys, str(_write(tmp_path, "known.hl7", MESSAGES[1])), "--json")[1])
    assert known[0]["warnings"] == []


def test_what_the_integration_raises_for_a_message_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # coded after the default scenario's bill hold (72 h from the discharge at minute 2000): the bill goes at once
    coded = bar_p05("C4", TB.hl7(7000), "H01", PID, DISCHARGED, [("I50.9", "Heart failure")], ("291", "HF"))
    late = _charge("C5").replace("H01V0000042-001", "H01V0000042-009")
    text = "\n".join([*MESSAGES, coded, late])
    code, out, _ = _inspect(capsys, str(_write(tmp_path, "stay.hl7", text)), "--json")
    assert code == 0
    documents = _documents(out)
    assert [d["warnings"] for d in documents[:4]] == [[], [], [], []]
    assert any(
        w.startswith("late_charge: 1 charge(s) arrived after the bill went out") for w in documents[4]["warnings"]
    )


def test_a_redelivery_is_shown_as_already_processed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _inspect(capsys, str(_write(tmp_path, "twice.hl7", MESSAGES[0] + "\n" + MESSAGES[0])))
    assert code == 0 and "already processed" in out.split("#2")[1] and "already processed" not in out.split("#2")[0]


def _ndjson_resources() -> list[dict[str, Any]]:
    encounter = {
        "resourceType": "Encounter",
        "id": "H01V0000042",
        "status": "in-progress",
        "class": {"code": "IMP"},
        "subject": {"reference": "Patient/H01M0000042"},
        "period": {"start": "2026-01-05T00:00:00+00:00"},
        "location": [{"location": {"display": "H01-MEDS"}}],
        "serviceProvider": {"reference": "Organization/H01"},
    }
    invalid = {**encounter, "id": "H01V0000043", "period": {"start": "last tuesday"}}
    patient = {"resourceType": "Patient", "id": "H01M0000042", "name": [{"family": NAME}]}
    return [encounter, invalid, patient]


def test_fhir_ndjson_shows_the_operation_outcome(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "\n".join(json.dumps(resource) for resource in _ndjson_resources()) + "\n"
    path = _write(tmp_path, "Encounter.ndjson", text)
    code, out, _ = _inspect(capsys, str(path))
    assert code == 1
    assert "#1  line 1  Encounter  Encounter/H01V0000042  read (200)" in out
    assert "#2  line 2  Encounter  Encounter/H01V0000043  rejected (400)" in out
    rejection = out.split("#2")[1].split("#3")[0]
    assert '"resourceType": "OperationOutcome"' in rejection and '"Encounter.period.start"' in rejection
    assert "#3  line 3  Patient  Patient/H01M0000042  rejected (422)" in out
    assert NAME not in out
    documents = _documents(_inspect(capsys, str(path), "--json")[1])
    assert [d["status"] for d in documents] == [200, 400, 422]
    assert documents[0]["event"]["event"] == "PatientAdmitted"
    assert documents[1]["operation_outcome"]["issue"][0]["code"] == "value"


def test_a_bundle_is_inspected_entry_by_entry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in _ndjson_resources()]}
    code, out, _ = _inspect(capsys, str(_write(tmp_path, "bundle.json", json.dumps(bundle, indent=2))), "--json")
    assert code == 1
    assert [(d["entry"], d["status"]) for d in _documents(out)] == [(0, 200), (1, 400), (2, 422)]


def test_a_broken_ndjson_line_is_a_rejected_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = json.dumps(_ndjson_resources()[0]) + '\n{"resourceType": "Encounter", \n'
    code, out, _ = _inspect(capsys, str(_write(tmp_path, "x.ndjson", text)), "--json")
    assert code == 1
    documents = _documents(out)
    assert documents[1]["line"] == 2 and documents[1]["status"] == 400
    assert "not JSON" in documents[1]["operation_outcome"]["issue"][0]["diagnostics"]


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("missing.hl7", None, "no such file"),
        ("notes.txt", b"Dear team,\nplease find attached\n", "neither HL7 v2 nor FHIR"),
        ("empty.hl7", b"\r\n\r\n", "empty"),
        ("latin1.hl7", MESSAGES[0].replace("Quincey", "Jos\u00e9").encode("latin-1"), "--encoding latin-1"),
        ("array.json", b"[1, 2]", "not FHIR"),
    ],
)
def test_bad_input_exits_2_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: bytes | None, says: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    code, out, err = _inspect(capsys, str(path))
    assert code == 2 and out == ""
    assert name in err and says in err and "Traceback" not in err


def test_the_encoding_option_reads_a_latin1_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "latin1.hl7", "")
    path.write_bytes(MESSAGES[0].replace("Quincey", "Jos\u00e9").encode("latin-1"))
    code, out, _ = _inspect(capsys, str(path), "--encoding", "latin-1")
    assert code == 0 and "PatientAdmitted" in out and "Jos" not in out
