"""Order per sender: the HL7 sequence-number protocol (MSH-13) on the integration's side.

An EHR numbers the messages of its outbound channel; a transport that reorders them (two
connections, a retry that overtakes) would otherwise let a discharge overtake its last charges or
a final coding overtake a late charge. The resequencer lets a message through only when every
lower number of its sender has come; a message ahead of a gap waits (it is durably accepted, so
its ACK is AA) until the gap fills, or until ``gap_wait`` minutes pass - a message that never
comes (a poison message whose MSH-13 could not be read) must not stop the feed for good. The
first number a sender shows sets its start; a number already passed is a late arrival and goes
through at once (its duplicate check is the caller's). Sans-IO.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from twin.domain.model import SimTime

Item = TypeVar("Item")


@dataclass(slots=True)
class _Sender(Generic[Item]):
    next: int
    waiting: list[tuple[int, int, Item]] = field(default_factory=list)  # heap: (sequence, arrival, item)
    gap_since: SimTime | None = None
    passed: set[int] = field(default_factory=set)  # numbers ahead of ``next`` consumed without an item


class Resequencer(Generic[Item]):
    """Per sending facility, items in MSH-13 order."""

    def __init__(self, gap_wait: float = 2.0) -> None:
        self.gap_wait = gap_wait
        self._senders: dict[str, _Sender[Item]] = {}
        self._arrivals = 0
        self.held = 0  # items that had to wait for a lower number
        self.gaps_skipped = 0

    def offer(self, sender: str, sequence: int, item: Item, now: SimTime) -> tuple[list[Item], SimTime | None]:
        """Items now ready to process, in order (``item`` among them unless it must wait), and when
        to call ``release_due`` if something is waiting for a gap."""
        state = self._senders.get(sender)
        if state is None:
            state = self._senders[sender] = _Sender(sequence)
        if sequence < state.next:
            return [item], None  # already passed: late or a repeat; the caller deduplicates
        self._arrivals += 1
        heapq.heappush(state.waiting, (sequence, self._arrivals, item))
        ready = list(self._drain(state))
        if state.waiting:
            self.held += 1 if ready == [] else 0
            if state.gap_since is None:
                state.gap_since = now
            return ready, state.gap_since + self.gap_wait
        state.gap_since = None
        return ready, None

    def passed(self, sender: str, sequence: int, now: SimTime) -> list[Item]:
        """A number the caller consumed without an item (a rejected message whose MSH-13 was
        readable): the gap it would leave is no gap. Returns what that releases."""
        state = self._senders.get(sender)
        if state is None:
            state = self._senders[sender] = _Sender(sequence + 1)
            return []
        if sequence < state.next:
            return []
        state.passed.add(sequence)  # ahead of a gap too: when the gap fills, this number is no gap
        released = list(self._drain(state))
        if not state.waiting:
            state.gap_since = None
        return released

    def release_due(self, now: SimTime) -> list[Item]:
        """Give up on gaps older than ``gap_wait``: what waited behind them goes, in order."""
        released: list[Item] = []
        for state in self._senders.values():
            if state.waiting and state.gap_since is not None and now >= state.gap_since + self.gap_wait:
                self.gaps_skipped += 1
                state.next = state.waiting[0][0]
                state.passed = {number for number in state.passed if number > state.next}
                released.extend(self._drain(state))
                state.gap_since = now if state.waiting else None
        return released

    def next_due(self) -> SimTime | None:
        dues = [s.gap_since + self.gap_wait for s in self._senders.values() if s.waiting and s.gap_since is not None]
        return min(dues) if dues else None

    @staticmethod
    def _drain(state: _Sender[Item]) -> Iterator[Item]:
        while True:
            while state.next in state.passed:
                state.passed.discard(state.next)
                state.next += 1
            if not (state.waiting and state.waiting[0][0] <= state.next):
                return
            sequence, _, item = heapq.heappop(state.waiting)
            if sequence == state.next:
                state.next += 1
            yield item
