"""The column-wise record log reads back exactly the records written (issue 14's memory work)."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twin.domain.exchange import MessageRecord
from twin.domain.record_log import RecordLog

_text = st.sampled_from(["hl7", "request", "ehr/H01", "integration", "erp", "DFT^P03", "POST /claims", "AA", "201", ""])
_times = st.floats(allow_nan=False, allow_infinity=False, width=64)
_fields = st.tuples(
    _text, _times, _times, _times, _text, _text, _text, st.text(max_size=12), st.text(max_size=12), _text,
    st.integers(min_value=-(2**62), max_value=2**62),
)  # fmt: skip


@given(st.lists(_fields, max_size=40))
def test_every_record_reads_back_field_for_field(rows: list[tuple]) -> None:  # type: ignore[type-arg]
    log = RecordLog()
    for row in rows:
        log.add(*row)
    expected = [MessageRecord(seq, *row) for seq, row in enumerate(rows, start=1)]
    assert len(log) == len(expected)
    assert list(log) == expected
    assert [log[i] for i in range(len(log))] == expected
    assert log == expected and log == RecordLog(expected)
    if expected:
        assert log[-1] == expected[-1] and log[1:3] == expected[1:3] and log[::-2] == expected[::-2]
    assert pickle.loads(pickle.dumps(log)) == log


def test_a_record_out_of_sequence_or_past_the_end_is_an_error() -> None:
    log = RecordLog()
    log.add("hl7", 1.0, 2.0, 3.0, "ehr/H01", "integration", "ADT^A01", "MSG1", "V1", "AA", 120)
    with pytest.raises(ValueError, match="seq 3"):
        log.append(MessageRecord(3, "hl7", 1.0, 2.0, 3.0, "ehr/H01", "integration", "ADT^A01", "MSG2", "V1", "AA", 9))
    with pytest.raises(IndexError):
        log[1]
    with pytest.raises(IndexError):
        log[-2]


def test_logs_that_differ_in_one_field_are_not_equal() -> None:
    row = ("hl7", 1.0, 2.0, 3.0, "ehr/H01", "integration", "ADT^A01", "MSG1", "V1", "AA", 120)
    one, other = RecordLog(), RecordLog()
    one.add(*row)
    other.add(*row[:-2], "AE", 120)
    assert one != other and list(one) != list(other)


@given(st.lists(_fields, max_size=40))
def test_the_columns_are_the_records_read_across(rows: list[tuple]) -> None:  # type: ignore[type-arg]
    log = RecordLog()
    for row in rows:
        log.add(*row)
    columns = log.columns()
    assert list(columns) == list(MessageRecord._fields)
    for position, name in enumerate(MessageRecord._fields):
        assert list(columns[name]) == [record[position] for record in log], name
