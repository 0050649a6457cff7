"""What a real run writes is standard: hl7apy accepts every HL7 message at strict validation and
fhir.resources (R4B) validates every FHIR resource."""

from __future__ import annotations

import json
from pathlib import Path

import fhir.resources.R4B as r4b
import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from tests.hl7_strict import parse_strict, placed, segment_names

EXPECTED_STRUCTURES = {
    "ADT_A01.hl7": "ADT_A01",
    "ADT_A02.hl7": "ADT_A02",
    "ADT_A03.hl7": "ADT_A03",
    "DFT_P03.hl7": "DFT_P03",
    "BAR_P05.hl7": "BAR_P05",
    "ACK.hl7": "ACK",
}
MAX_PER_TYPE = 150  # hl7apy parses ~200 messages/s: a sample of each type keeps the suite fast


def _messages(path: Path) -> list[str]:
    """Messages of a traffic file: segments end in CR (as on the wire), messages in LF."""
    return [line for line in path.read_bytes().decode("utf-8").split("\n") if line]


def test_every_message_type_was_written(small_output: Path) -> None:
    written = {p.name for p in (small_output / "messages").glob("*.hl7")}
    assert set(EXPECTED_STRUCTURES) <= written


@pytest.mark.parametrize("name", sorted(EXPECTED_STRUCTURES))
def test_hl7apy_accepts_messages_at_strict_validation(small_output: Path, name: str) -> None:
    messages = _messages(small_output / "messages" / name)
    assert messages
    # every message of the rarer types, and an evenly spread sample of the common ones
    step = max(1, len(messages) // MAX_PER_TYPE)
    for text in messages[::step]:
        message = parse_message(text, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
        assert message.name == EXPECTED_STRUCTURES[name]
        assert message.validate() is True
        assert placed(message) == segment_names(text)  # none dropped for want of a place in the structure


def test_hl7apy_accepts_the_rest_of_the_adt_vocabulary_the_run_wrote(small_output: Path) -> None:
    """Registrations, updates, cancellations and merges (A04, A08, A11-A13, A40), as many kinds as the
    run had (``tests/test_adt_vocabulary.py`` writes every one of them, in 2.5.1 and 2.3)."""
    others = sorted(p for p in (small_output / "messages").glob("*.hl7") if p.name not in EXPECTED_STRUCTURES)
    for path in others:
        messages = _messages(path)
        for text in messages[:: max(1, len(messages) // MAX_PER_TYPE)]:
            message = parse_strict(text)
            assert message.validate() is True, path.name
            assert placed(message) == segment_names(text), path.name


def test_hl7apy_strict_really_rejects_a_broken_message(small_output: Path) -> None:
    """The oracle itself must be able to fail: an ADT^A01 without its PV1 is refused."""
    text = _messages(small_output / "messages" / "ADT_A01.hl7")[0]
    broken = "\r".join(seg for seg in text.split("\r") if not seg.startswith("PV1"))
    with pytest.raises(Exception):  # noqa: B017 - hl7apy raises several validation error types
        message = parse_message(broken, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
        assert message.validate()


def _model(resource_type: str) -> type:
    module = __import__(f"fhir.resources.R4B.{resource_type.lower()}", fromlist=[resource_type])
    return getattr(module, resource_type)  # type: ignore[no-any-return]


def test_every_fhir_resource_validates(small_output: Path) -> None:
    files = sorted((small_output / "fhir").glob("*.ndjson"))
    names = {f.name for f in files}
    for expected in (
        "Patient.ndjson",
        "Encounter.ndjson",
        "ChargeItem.ndjson",
        "Claim.ndjson",
        "Coverage.ndjson",
        "Organization.ndjson",
        "Claim.submitted.ndjson",
    ):
        assert expected in names
    count = 0
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            data = json.loads(line)
            _model(data["resourceType"]).model_validate(data)
            count += 1
    assert count > 100
    assert r4b  # the R4B package is the one validating


def test_fhir_validation_really_rejects_an_invalid_resource(small_output: Path) -> None:
    line = (small_output / "fhir" / "Encounter.ndjson").read_text(encoding="utf-8").splitlines()[0]
    data = json.loads(line)
    broken_date = {**data, "period": {"start": "yesterday"}}
    with pytest.raises(ValueError):
        _model("Encounter").model_validate(broken_date)
    no_status = {k: v for k, v in data.items() if k != "status"}
    with pytest.raises(ValueError):
        _model("Encounter").model_validate(no_status)
