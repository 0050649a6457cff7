"""The truth ledger: an append-only record of what really happened, written by the workflows."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from functools import wraps
from itertools import islice
from typing import Concatenate, ParamSpec, TypeVar
from weakref import WeakKeyDictionary

from twin.domain.events import Fact

P = ParamSpec("P")
R = TypeVar("R")


class TruthLedger:
    """Facts in the order they happened. Nothing is ever changed or removed."""

    def __init__(self) -> None:
        self._events: list[Fact] = []

    def append(self, event: Fact) -> None:
        self._events.append(event)

    def __iter__(self) -> Iterator[Fact]:
        # The facts there are now, without a copy of millions of them per pass: a fact appended
        # while a reader iterates is not read by it (the ledger only grows at its end).
        return islice(self._events, len(self._events))

    def __len__(self) -> int:
        return len(self._events)

    def since(self, start: int) -> list[Fact]:
        """The facts appended since the ledger held ``start`` of them: a reader that keeps its
        place reads each fact once, however often it looks."""
        return self._events[start:]

    def of_type(self, kind: type) -> list[Fact]:
        return [event for event in self._events if isinstance(event, kind)]


def once_per_ledger(compute: Callable[[TruthLedger], R]) -> Callable[[TruthLedger], R]:
    """Remember what ``compute`` gathered from a ledger until the ledger grows: several oracles ask
    for the same index of it (the fault facts, the governance facts)."""
    answers: WeakKeyDictionary[TruthLedger, tuple[int, R]] = WeakKeyDictionary()

    @wraps(compute)
    def remembered(truth: TruthLedger) -> R:
        known = answers.get(truth)
        if known is not None and known[0] == len(truth):
            return known[1]
        value = compute(truth)
        answers[truth] = (len(truth), value)
        return value

    return remembered


def per_ledger(
    function: Callable[Concatenate[TruthLedger, P], list[R]],
) -> Callable[Concatenate[TruthLedger, P], list[R]]:
    """Remember an expectation function's answer per ledger and arguments, for functions of the
    truth and immutable master data only: two flows' oracles that ask the same question (the
    billing check and the KPI oracle both need the billing expectations) then derive it once.
    The ledger only grows, so its length tells an answer that is out of date."""
    answers: WeakKeyDictionary[TruthLedger, tuple[Hashable, list[R]]] = WeakKeyDictionary()

    @wraps(function)
    def remembered(truth: TruthLedger, /, *args: P.args, **kwargs: P.kwargs) -> list[R]:
        key = (len(truth), args, tuple(sorted(kwargs.items())))
        known = answers.get(truth)
        if known is not None and known[0] == key:
            return list(known[1])
        answer = function(truth, *args, **kwargs)
        answers[truth] = (key, answer)
        return list(answer)

    return remembered
