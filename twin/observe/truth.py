"""The truth ledger: an append-only record of what really happened, written by the workflows."""

from __future__ import annotations

from collections.abc import Iterator

from twin.domain.events import DomainEvent


class TruthLedger:
    """Facts in the order they happened. Nothing is ever changed or removed."""

    def __init__(self) -> None:
        self._events: list[DomainEvent] = []

    def append(self, event: DomainEvent) -> None:
        self._events.append(event)

    def __iter__(self) -> Iterator[DomainEvent]:
        return iter(tuple(self._events))

    def __len__(self) -> int:
        return len(self._events)

    def of_type(self, kind: type) -> list[DomainEvent]:
        return [event for event in self._events if isinstance(event, kind)]
