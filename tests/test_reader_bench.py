"""``twin bench``'s second figure: the HL7 reader beside hl7apy, on the same sample of the EHR's messages."""

from __future__ import annotations

import pytest

from tests.conftest import small_scenario
from twin.bench import reader_throughput, sample_messages
from twin.domain.timebase import Timebase
from twin.integration.hl7_reader import SUPPORTED


def test_reader_and_hl7apy_are_measured_on_the_same_messages_of_every_type() -> None:
    scenario = small_scenario(days=1)
    messages = sample_messages(per_type=3, scenario=scenario)
    kinds = [text.split("|")[8].rpartition("^")[0] for text in messages]
    types = set(kinds)
    assert {"ADT^A01", "ADT^A02", "ADT^A03", "DFT^P03", "BAR^P05"} <= types <= set(SUPPORTED)
    assert {kind: min(kinds.count(kind), 3) for kind in types} == {kind: kinds.count(kind) for kind in types}
    assert kinds.count("DFT^P03") == 3  # up to three of each type: of the common ones, three
    result = reader_throughput(messages, Timebase(scenario.start), min_seconds=0.05)
    assert (result.messages, result.types, result.rejected) == (len(messages), len(types), 0)
    assert result.ratio == pytest.approx(result.reader_rate / result.hl7apy_rate)
    # The goal is >= 100x; any machine, however busy, shows the reader well ahead of a full parse.
    assert result.ratio > 20
