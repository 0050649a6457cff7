"""The exchanges of a run, kept column by column: a sequence of ``MessageRecord``s at a third of the memory.

A month of ten hospitals writes over two million records. As named tuples each held its own seq
and size integers and three float objects, about 350 bytes a record, the second largest holding
of a run after the claims. Here the times and sizes sit in typed arrays, the five fields that
repeat (type, source, destination, message type, outcome) as one small index into a table of the
combinations seen, and only the message id and business key as strings: about 110 bytes a record.

Readers see a ``Sequence[MessageRecord]``: indexing and iteration build each record when asked,
equal field for field to the one written; ``seq`` is the position, from 1, as both drivers number
their records.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from typing import Any, overload

from twin.domain.exchange import MessageRecord

_Kind = tuple[str, str, str, str, str]  # record_type, source, destination, message_type, outcome


class RecordLog(Sequence[MessageRecord]):
    """Append-only ``MessageRecord``s, stored as columns (see the module docstring)."""

    __slots__ = ("_times", "_sizes", "_kinds", "_ids", "_keys", "_table", "_kind_index")

    def __init__(self, records: Sequence[MessageRecord] = ()) -> None:
        self._times = array("d")  # sent_at, delivered_at, answered_at of each record in turn
        self._sizes = array("q")
        self._kinds = array("I")  # index into _table
        self._ids: list[str] = []
        self._keys: list[str] = []
        self._table: list[_Kind] = []
        self._kind_index: dict[_Kind, int] = {}
        for record in records:
            self.append(record)

    def add(
        self,
        record_type: str,
        sent_at: float,
        delivered_at: float,
        answered_at: float,
        source: str,
        destination: str,
        message_type: str,
        message_id: str,
        key: str,
        outcome: str,
        size: int,
    ) -> None:
        """Write the next record (its ``seq`` is its position, from 1)."""
        kind = (record_type, source, destination, message_type, outcome)
        index = self._kind_index.get(kind)
        if index is None:
            index = self._kind_index[kind] = len(self._table)
            self._table.append(kind)
        self._kinds.append(index)
        self._times.extend((sent_at, delivered_at, answered_at))
        self._sizes.append(size)
        self._keys.append(key)
        self._ids.append(message_id)  # last: the length a reader sees (len) counts only whole records

    def append(self, record: MessageRecord) -> None:
        """Write ``record``, which must be numbered as the next one."""
        if record.seq != len(self._ids) + 1:
            raise ValueError(f"record seq {record.seq} is not the next one ({len(self._ids) + 1})")
        self.add(*record[1:])

    def __len__(self) -> int:
        return len(self._ids)

    def _record(self, index: int) -> MessageRecord:
        record_type, source, destination, message_type, outcome = self._table[self._kinds[index]]
        times = self._times
        at = 3 * index
        return MessageRecord(
            index + 1, record_type, times[at], times[at + 1], times[at + 2], source, destination, message_type,
            self._ids[index], self._keys[index], outcome, self._sizes[index],
        )  # fmt: skip

    @overload
    def __getitem__(self, index: int) -> MessageRecord: ...

    @overload
    def __getitem__(self, index: slice) -> list[MessageRecord]: ...

    def __getitem__(self, index: int | slice) -> MessageRecord | list[MessageRecord]:
        if isinstance(index, slice):
            return [self._record(i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("record index out of range")
        return self._record(index)

    def __iter__(self) -> Iterator[MessageRecord]:
        return map(self._record, range(len(self)))

    def columns(self) -> dict[str, Sequence[Any]]:
        """The records column by column, under ``MessageRecord``'s field names, no record built:
        what a table of a month's exchanges is made from (``twin.analysis.frames.records``)."""
        count = len(self)
        kinds = self._kinds[:count]
        columns: dict[str, Sequence[Any]] = {"seq": range(1, count + 1)}
        for position, name in enumerate(("record_type", "source", "destination", "message_type", "outcome")):
            of_kind = [kind[position] for kind in self._table]
            columns[name] = [of_kind[index] for index in kinds]
        times = self._times[: 3 * count]
        columns |= {"sent_at": times[0::3], "delivered_at": times[1::3], "answered_at": times[2::3]}
        columns |= {"message_id": self._ids[:count], "key": self._keys[:count], "size": self._sizes[:count]}
        return {name: columns[name] for name in MessageRecord._fields}

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RecordLog):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        if isinstance(other, Sequence) and not isinstance(other, str):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list

    def __repr__(self) -> str:
        return f"RecordLog({len(self)} records)"

    def __reduce__(self) -> tuple[Any, ...]:  # pickled column by column (a sweep's workers send runs back)
        return (_rebuilt, (self._times, self._sizes, self._kinds, self._ids, self._keys, self._table))


def _rebuilt(
    times: array[float], sizes: array[int], kinds: array[int], ids: list[str], keys: list[str], table: list[_Kind]
) -> RecordLog:
    log = RecordLog()
    log._times, log._sizes, log._kinds, log._ids, log._keys = times, sizes, kinds, ids, keys
    log._table = [tuple(kind) for kind in table]  # type: ignore[misc]
    log._kind_index = {kind: index for index, kind in enumerate(log._table)}
    return log
