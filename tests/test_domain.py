"""Domain primitives: HL7 escaping, time conversion, pseudonyms."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twin.domain.hl7 import escape, unescape
from twin.domain.pseudonym import pseudonym
from twin.domain.timebase import Timebase


@given(st.text())
def test_escape_round_trips_any_text(text: str) -> None:
    text = "".join(ch for ch in text if ord(ch) < 256)  # hex escapes carry single bytes
    escaped = escape(text)
    assert not any(ch in escaped for ch in "|^~&\r\n")
    assert unescape(escaped) == text


@pytest.mark.parametrize("bad", ["a\\b", "\\Q\\", "\\X0\\"])
def test_broken_escapes_are_errors(bad: str) -> None:
    with pytest.raises(ValueError):
        unescape(bad)


@given(st.floats(min_value=-1440, max_value=60 * 24 * 400, allow_nan=False))
def test_timebase_round_trips_to_the_second(minutes: float) -> None:
    tb = Timebase(datetime(2026, 1, 5, 6, 30))
    back = tb.minutes(tb.hl7(minutes))
    assert abs(back - minutes) <= 0.5 / 60 + 1e-9
    assert tb.hl7(minutes) == tb.at(minutes).strftime("%Y%m%d%H%M%S")
    assert tb.iso(minutes)[:19] == tb.at(minutes).strftime("%Y-%m-%dT%H:%M:%S")


@pytest.mark.parametrize("bad", ["", "2026", "20261305", "20260105256000", "2026-01-05", "x0260105"])
def test_malformed_timestamps_are_errors(bad: str) -> None:
    with pytest.raises(ValueError):
        Timebase(datetime(2026, 1, 5)).minutes(bad)


def test_pseudonyms_are_stable_and_distinct() -> None:
    assert pseudonym("H01V0000001") == pseudonym("H01V0000001")
    assert pseudonym("H01V0000001") != pseudonym("H01V0000002")
    assert "H01V" not in pseudonym("H01V0000001")
