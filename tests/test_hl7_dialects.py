"""Other systems' HL7 v2 dialects (``tests/hl7_dialects/``): every valid message is read right and
acknowledged AA; one that lacks a field the integration needs gets AE whose ERR names that field.

The corpus is written the way other interfaces write (v2.3 to v2.6 headers, vendor-style optional
fields and Z-segments, repetitions, escapes, HL7 nulls, padded numbers, offsets, Latin-1, a CRLF
batch file), not by our EHR mock, so these tests catch what the mock's own traffic cannot. Each
accepted message is compared with the whole event it must read into, written out by hand below.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from twin.domain.events import (
    ChargeLine,
    ChargesPosted,
    CodingCompleted,
    DomainEvent,
    PatientAdmitted,
    PatientDischarged,
    PatientTransferred,
)
from twin.domain.hl7 import unescape
from twin.domain.timebase import Timebase
from twin.integration.crosswalk import Crosswalk
from twin.integration.hl7_reader import Hl7Reader
from twin.integration.reference import ReferenceConfig, ReferenceIntegration

TB = Timebase(datetime(2026, 1, 5))
CORPUS_DIR = Path(__file__).parent / "hl7_dialects"


class CorpusMessage(NamedTuple):
    file: str
    text: str
    encoding: str  # how the file stores it (MSH-18): what goes on the wire

    @property
    def control_id(self) -> str:
        return self.text.split("\r", 1)[0].split("|")[9]


def corpus_messages() -> list[CorpusMessage]:
    """Every message of every corpus file, in file order. A file is decoded as its MSH-18 says
    (8859/1: Latin-1, else UTF-8); a message starts at an MSH at the start of a line, and the line
    break between messages of a batch file (CRLF) is not part of either."""
    found = []
    for path in sorted(CORPUS_DIR.glob("*.hl7")):
        raw = path.read_bytes()
        encoding = "latin-1" if b"|8859/1" in raw.split(b"\r", 1)[0] else "utf-8"
        text = raw.decode(encoding)
        starts = [match.start() for match in re.finditer(r"(?:^|(?<=[\r\n]))MSH\|", text)]
        for start, end in zip(starts, [*starts[1:], len(text)], strict=True):
            found.append(CorpusMessage(path.name, text[start:end].removesuffix("\n"), encoding))
    return found


def _at(day: int, hour: int, minute: int) -> float:
    """Simulated minutes of 2026-01-(5 + day) hour:minute, the corpus's clock (offsets normalised to UTC)."""
    return day * 1440.0 + hour * 60 + minute


# What each valid message reads into, by MSH-10 (AA expected).
ACCEPTED: dict[str, DomainEvent] = {
    # the MR-typed identifier of PID-3 (not the enterprise id before it); repeating PV1-7 and PV1-20
    # IN1-36, the policy number, is the member id the payer knows (a Medicare beneficiary identifier here)
    "EPA01-0001": PatientAdmitted(
        _at(0, 8, 30), "H01", "V101", "M101", "H01-3M", "301-A", "9010000001", "MCR-A", "MCR", member_id="1EG4-TE5-MK72"
    ),
    # EVN-2 20260105120000-0600 is 18:00 UTC; PV1-3's facility in subcomponents
    "CRA02-0001": PatientTransferred(_at(0, 18, 0), "H01", "V102", "H01-3M", "H01-4M", "410-B"),
    # minute-precision PV1-45 is the discharge time
    "MTA03-0001": PatientDischarged(_at(2, 14, 10), "H01", "V103", "H01-3M", "01"),
    "V26P03-0001": ChargesPosted(
        _at(0, 15, 15),
        "H01",
        "V104",
        (
            ChargeLine("V104-001", "300-85025", "H01-LAB", 1, 4500, _at(0, 14, 30)),
            ChargeLine("V104-002", "300-80053", "H01-LAB", 2, 6250, _at(0, 14, 45)),
        ),
    ),
    "ESC-P03-0001": ChargesPosted(
        _at(0, 14, 0),
        "H01",
        "V105",
        (
            ChargeLine("V105-001", "250-NS10", "H01-MEDS", 1, 1250, _at(0, 13, 30)),
            ChargeLine("V105-002", "250-VANC", "H01-MEDS", 1, 8800, _at(0, 13, 35)),
        ),
    ),
    # "" (the HL7 null) in FT1-16 is no storeroom: not a supply line; in FT1-23 no order number
    "NUL-P03-0001": ChargesPosted(
        _at(0, 16, 0), "H01", "V106", (ChargeLine("V106-001", "300-71045", "H01-LAB", 1, 12000, _at(0, 15, 0)),)
    ),
    "PAD-P03-0001": ChargesPosted(
        _at(1, 9, 0),
        "H01",
        "V107",
        (
            ChargeLine("V107-001", "250-APAP", "H01-MEDS", 2, 750, _at(1, 8, 0)),
            ChargeLine("V107-002", "250-APAP", "H01-MEDS", 1, -375, _at(1, 8, 15), reverses="V107-001"),
        ),
    ),
    # DG1-15 ranks the diagnoses, not the segment order
    "EPP05-0001": CodingCompleted(_at(3, 10, 0), "H01", "V101", "I50.9", ("E11.9", "N17.9"), "291", False),
    "LGP01-0001": CodingCompleted(_at(3, 11, 0), "H01", "V103", "J18.9", ("E87.1",), "193", False),
    "V26P05-0001": CodingCompleted(_at(4, 8, 0), "H01", "V104", "R07.89", (), "313", False),
    # PV1-7 repeating without components: the first attending
    "BAT-0001": PatientAdmitted(_at(1, 7, 0), "H01", "V108", "M108", "H01-3M", "307-A", "9010000005", "SP", "SP"),
    "BAT-0002": PatientTransferred(_at(1, 15, 0), "H01", "V108", "H01-3M", "H01-4M", "411-A"),
    "BAT-0003": PatientDischarged(_at(2, 10, 0), "H01", "V108", "H01-4M", "02"),
    "L1A02-0001": PatientTransferred(_at(1, 16, 0), "H01", "V109", "H01-3M", "H01-4M", "412-A"),
}

# Valid messages without a business field the integration needs, by MSH-10: (ERR-2 location, the
# field as the reason must name it).
LACKING: dict[str, tuple[str, str]] = {
    "ZIN-A01-0001": ("IN1^1^2", "IN1-2"),  # insurance only in a Z-segment
    "ACC-P03-0001": ("PV1^1^19", "PV1-19"),  # the encounter keyed by PID-18 only
    "UNP-P03-0001": ("FT1^1^11", "FT1-11"),  # unit price only, no extended amount
    "NOEVN-0001": ("EVN", "EVN"),  # no EVN: no recorded time (EVN is required by the standard)
}

CORPUS = corpus_messages()


def _integration() -> ReferenceIntegration:
    crosswalk = Crosswalk(
        departments={"H01-MEDS": "101-6030", "H01-LAB": "101-7010"},
        payers={"MCR-A": "CMS-A01", "SP": None},
        business_offices={"H01": "101-8010"},
    )
    return ReferenceIntegration(ReferenceConfig(TB, crosswalk, 120 * 60.0))


def ack_fields(ack: str) -> dict[str, list[str]]:
    """The ACK's segments by name, split into fields (one of each: MSH, MSA, perhaps ERR)."""
    return {segment[:3]: segment.split("|") for segment in ack.rstrip("\r").split("\r")}


def test_the_corpus_covers_the_dialects_it_claims() -> None:
    """At least 12 messages, every expectation matched to one message and back, every type and version."""
    ids = [message.control_id for message in CORPUS]
    assert len(CORPUS) >= 12 and len(set(ids)) == len(ids)
    assert set(ids) == set(ACCEPTED) | set(LACKING) and not set(ACCEPTED) & set(LACKING)
    headers = [message.text.split("\r", 1)[0].split("|") for message in CORPUS]
    assert {"^".join(h[8].split("^")[:2]) for h in headers} >= {
        "ADT^A01", "ADT^A02", "ADT^A03", "DFT^P03", "BAR^P05", "BAR^P01"
    }  # fmt: skip
    assert {h[11] for h in headers} >= {"2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6"}
    assert any(len(h) > 17 and h[17] == "8859/1" for h in headers)
    assert any(message.encoding == "latin-1" and not message.text.isascii() for message in CORPUS)
    assert b"\r\n" in (CORPUS_DIR / "batch_adt_v231_crlf.hl7").read_bytes()
    assert all("\n" not in message.text for message in CORPUS), "segments end in CR"


@pytest.mark.parametrize("message", CORPUS, ids=lambda m: m.control_id)
def test_the_corpus_is_valid_hl7_by_hl7apy(message: CorpusMessage) -> None:
    """hl7apy, strict, at the message's own version: the corpus is HL7 as the standard writes it, so
    a rejection of it is the reader's fault. Two stated exceptions: hl7apy knows no HL7 null ("")
    in typed fields, which the standard allows in any field (checked with the nulls emptied), and
    the message without EVN is there because engines send it although the standard requires EVN."""
    text = message.text.replace('|""', "|") if message.control_id == "NUL-P03-0001" else message.text
    if message.control_id == "NOEVN-0001":
        with pytest.raises(Exception, match="EVN"):
            parse_message(text, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True).validate()
        return
    parse_message(text, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True).validate()


@pytest.mark.parametrize("message", CORPUS, ids=lambda m: m.control_id)
def test_each_dialect_message_is_acknowledged_honestly(message: CorpusMessage) -> None:
    integration = _integration()
    outcome = integration.receive_hl7(message.text, 0.0)
    assert outcome.ack is not None
    ack = ack_fields(outcome.ack)
    assert ack["MSA"][2] == message.control_id
    if message.control_id in ACCEPTED:
        assert ack["MSA"][1] == "AA", ack.get("ERR")
        assert "ERR" not in ack and integration.dead_letters() == []
        return
    location, field = LACKING[message.control_id]
    assert ack["MSA"][1] == "AE"
    err = ack["ERR"]
    assert err[2] == location
    assert re.search(rf"\b{re.escape(field)}\b", unescape(err[8])), err[8]
    (letter,) = integration.dead_letters()
    assert letter.message_id == message.control_id and letter.payload == message.text
    assert field in letter.reason


@pytest.mark.parametrize("message", [m for m in CORPUS if m.control_id in ACCEPTED], ids=lambda m: m.control_id)
def test_each_valid_message_reads_into_the_event_it_means(message: CorpusMessage) -> None:
    read = Hl7Reader(TB).read(message.text)
    assert read.rejected is None, read.rejected
    expected = ACCEPTED[message.control_id]
    assert type(read.event) is type(expected)
    assert read.event == expected


def test_the_accepted_corpus_uses_codes_the_crosswalk_knows() -> None:
    """So a test that sends the corpus through the whole integration exercises the flows, not the
    unmapped-code exceptions: hospitals, plans and departments of every accepted event are mapped."""
    crosswalk = _integration().config.crosswalk
    for event in ACCEPTED.values():
        assert event.hospital in crosswalk.business_offices
        if isinstance(event, PatientAdmitted):
            assert event.plan_code in crosswalk.payers
        if isinstance(event, ChargesPosted):
            assert {line.department for line in event.lines} <= set(crosswalk.departments)
