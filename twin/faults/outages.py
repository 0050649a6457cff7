"""Outage windows: which systems are down now, and how long each took to recover afterwards.

A driver opens and closes each outage as its own process (SimPy in the simulated driver, a task
in the live one) at the edges ``ActiveWindow`` computes; the plan only records the state. The
windows themselves are a pure function of the scenario (``windows``), so the oracle knows them
in advance. Recovery of one window is measured from its end until the last request (HL7 message,
document) first tried during it was answered OK; ``None`` while some never was.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from twin.faults.specs import ActiveWindow, OutageSpec


class OutageWindow(NamedTuple):
    """One stretch a system is down: ``[start, end)`` in simulated minutes."""

    system: str
    mode: str  # "refused" | "hang"
    start: float
    end: float


@dataclass(slots=True)
class Occurrence:
    """One outage as it happened in a run, with what was first tried during it."""

    system: str
    mode: str
    start: float
    end: float | None = None
    first_tried: int = 0
    pending: set[str] = field(default_factory=set)  # first tried during it, not answered OK yet
    last_ok: float | None = None

    def recovery_minutes(self) -> float | None:
        """From the end until the last of its requests was answered OK (0: nothing to recover)."""
        if self.end is None or self.pending:
            return None
        if self.last_ok is None:
            return 0.0
        return max(0.0, self.last_ok - self.end)

    def as_dict(self) -> dict[str, Any]:
        recovery = self.recovery_minutes()
        return {
            "system": self.system,
            "mode": self.mode,
            "start_minute": round(self.start, 4),
            "end_minute": None if self.end is None else round(self.end, 4),
            "first_tried": self.first_tried,
            "never_answered_ok": len(self.pending),
            "recovery_minutes": None if recovery is None else round(recovery, 4),
        }


class OutageLog:
    """The outage state of every system, and the occurrences a run went through."""

    def __init__(self, specs: list[tuple[OutageSpec, ActiveWindow]]) -> None:
        self.specs = specs
        self.occurrences: list[Occurrence] = []
        self._open: dict[int, Occurrence] = {}  # spec position -> its occurrence now
        self._tracked = {spec.system for spec, _window in specs}
        self._seen: dict[str, set[str]] = {system: set() for system in self._tracked}
        self._owner: dict[tuple[str, str], Occurrence] = {}

    def windows(self, until: float) -> list[OutageWindow]:
        """Every outage window opening before ``until``, in order of start."""
        found = [
            OutageWindow(spec.system, spec.mode, start, end)
            for spec, window in self.specs
            for start, end in window.spans(until)
        ]
        return sorted(found, key=lambda w: (w.start, w.system, w.end))

    def next_change(self, index: int, now: float) -> float | None:
        return self.specs[index][1].next_change(now)

    def update(self, index: int, now: float) -> None:
        """Open or close outage ``index`` as its window says at ``now`` (a driver's process calls this)."""
        spec, window = self.specs[index]
        active = window.active(now)
        current = self._open.get(index)
        if active and current is None:
            occurrence = Occurrence(spec.system, spec.mode, now)
            self._open[index] = occurrence
            self.occurrences.append(occurrence)
        elif not active and current is not None:
            current.end = now
            del self._open[index]

    def window_of(self, system: str) -> tuple[str, float] | None:
        """The outage window of ``system`` open now (its system and start): one fault event."""
        starts = [o.start for o in self._open.values() if o.system == system]
        return (system, min(starts)) if starts else None

    def down(self, system: str) -> str | None:
        """The mode of an open outage of ``system`` ("refused" wins over "hang"), else ``None``."""
        modes = {o.mode for o in self._open.values() if o.system == system}
        if not modes:
            return None
        return "refused" if "refused" in modes else "hang"

    def tried(self, system: str, key: str) -> None:
        """A request (message) was sent; the first try of a key during an outage joins it."""
        seen = self._seen.get(system)
        if seen is None or key in seen:
            return
        seen.add(key)
        for occurrence in self._open.values():
            if occurrence.system == system:
                occurrence.first_tried += 1
                occurrence.pending.add(key)
                self._owner[(system, key)] = occurrence
                return

    def answered_ok(self, system: str, key: str, at: float) -> None:
        occurrence = self._owner.pop((system, key), None)
        if occurrence is not None:
            occurrence.pending.discard(key)
            occurrence.last_ok = at if occurrence.last_ok is None else max(occurrence.last_ok, at)

    def report(self) -> list[dict[str, Any]]:
        return [occurrence.as_dict() for occurrence in self.occurrences]


class Downtime:
    """Stretches a system was down, indexed once: the judge moves every record of a month (hundreds
    of thousands) past a month of windows (hundreds), and a pass over every window per record cost
    it more than the rest of its check.

    ``shift`` moves a moment out of the stretch it falls in (``[start, end)``, windows that overlap
    or touch making one stretch); ``within`` adds up the minutes of the windows that open after a
    moment and before its deadline, the deadline moving on by each window's length.
    """

    __slots__ = ("_ends", "_opens", "_starts", "_windows")

    def __init__(self, windows: Iterable[tuple[float, float]]) -> None:
        self._windows = sorted(windows)  # by start, then end: the order ``within`` adds them in
        self._opens = [start for start, _end in self._windows]
        stretches: list[list[float]] = []
        for start, end in self._windows:
            if stretches and start <= stretches[-1][1]:
                stretches[-1][1] = max(stretches[-1][1], end)
            else:
                stretches.append([start, end])
        self._starts = [start for start, _end in stretches]
        self._ends = [end for _start, end in stretches]

    def __bool__(self) -> bool:
        return bool(self._windows)

    def shift(self, at: float) -> float:
        """``at``, or the end of the stretch of windows it falls in."""
        index = bisect_right(self._starts, at) - 1
        if index >= 0 and at < self._ends[index]:
            return self._ends[index]
        return at

    def within(self, ready: float, allowed_lag: float) -> float:
        """Minutes of the windows opening after ``ready`` and by its deadline, ``ready`` plus
        ``allowed_lag`` plus the minutes added so far."""
        grace = 0.0
        windows = self._windows
        for index in range(bisect_right(self._opens, ready), len(windows)):
            start, end = windows[index]
            if start > ready + allowed_lag + grace:
                break
            grace += end - start
        return grace
