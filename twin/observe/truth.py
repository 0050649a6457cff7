"""The truth ledger: an append-only record of what really happened, written by the workflows."""

from __future__ import annotations

from collections.abc import Iterator

from twin.domain.events import Fact


class TruthLedger:
    """Facts in the order they happened. Nothing is ever changed or removed."""

    def __init__(self) -> None:
        self._events: list[Fact] = []

    def append(self, event: Fact) -> None:
        self._events.append(event)

    def __iter__(self) -> Iterator[Fact]:
        return iter(tuple(self._events))

    def __len__(self) -> int:
        return len(self._events)

    def of_type(self, kind: type) -> list[Fact]:
        return [event for event in self._events if isinstance(event, kind)]
