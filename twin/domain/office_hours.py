"""Business hours: when the people who move work through a back-office queue are at their desks.

Coders, billers, the receiving dock and the data steward work weekdays in office hours; what reaches
their queue at night or on a weekend waits for the next morning, and a task longer than what is
left of the day carries over. That, not a delay typed into a scenario, is what makes work that
waits for people slow - and what an integration design changes is whether work has to wait for
them at all. Times are simulated minutes; the local clock is the run's (``offset``: the start's
minute of the day, ``weekday0``: its weekday, Monday 0). Sans-IO: the workflows wait with
``finish``, and the judge asks the same hours when a person's work could at the latest be done.
"""

from __future__ import annotations

from twin.domain.timebase import Timebase

MINUTES_PER_DAY = 1440.0


class OfficeHours:
    """Weekdays from ``opens`` to ``closes`` (local minutes of the day)."""

    def __init__(self, offset: float, weekday0: int, opens: float, closes: float, *, weekdays: int = 5) -> None:
        if not 0 <= opens < closes <= MINUTES_PER_DAY:
            raise ValueError(f"office hours {opens}-{closes}: they must open before they close, within a day")
        self.offset = offset
        self.weekday0 = weekday0
        self.opens = opens
        self.closes = closes
        self.weekdays = weekdays

    def _open_on(self, day: int) -> bool:
        return (self.weekday0 + day) % 7 < self.weekdays

    def next_open(self, now: float) -> float:
        """``now`` if the office is open, else when it next opens."""
        clock = now + self.offset
        day, minute = int(clock // MINUTES_PER_DAY), clock % MINUTES_PER_DAY
        if self._open_on(day) and self.opens <= minute < self.closes:
            return now
        if self._open_on(day) and minute < self.opens:
            return now + self.opens - minute
        day += 1
        while not self._open_on(day):
            day += 1
        return day * MINUTES_PER_DAY + self.opens - self.offset

    def finish(self, now: float, minutes: float) -> float:
        """When ``minutes`` of work taken up at ``now`` are done, counting office time only."""
        at, left = self.next_open(now), minutes
        while True:
            closing = (at + self.offset) // MINUTES_PER_DAY * MINUTES_PER_DAY + self.closes - self.offset
            if at + left <= closing:
                return at + left
            left -= closing - at
            at = self.next_open(closing)

    @classmethod
    def of(cls, timebase: Timebase, opens_hour: float, closes_hour: float) -> OfficeHours:
        """Weekday hours from ``opens_hour`` to ``closes_hour`` on a run's local clock."""
        return cls(timebase.start_clock, timebase.start_weekday, opens_hour * 60, closes_hour * 60)
