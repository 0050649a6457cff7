"""The world's clock: SimPy's environment, told apart from housekeeping so a run knows when it is done.

Both drivers keep the world on one: the simulated driver runs it as fast as it can, the live one
steps it on the wall clock (``twin.live.world``).

A run has two kinds of scheduled work. The world's - patients, cases, shifts, messages and
requests on their way, a vendor's shipment - ends once the workload is over and everything in
flight has landed. Housekeeping - an integration's timers, the data steward's and the support
team's rounds, outage windows opening and closing every night - repeats for ever. The run must
stop when only housekeeping is left, after giving it one more day (``SETTLE_GRACE``) so every
daily schedule - the last night's sync, the morning's KPIs - runs once more.

SimPy cannot say what is scheduled without its private queue, so the clock counts: every event
scheduled (``schedule``) and every event processed (``step``), both public methods of
``simpy.Environment``; housekeeping timeouts are counted apart as they are made and fire. When
the two differ by exactly the housekeeping still scheduled, the world is done.

Most of what a run schedules is not a process but a plain call some minutes on: a message's
delivery, a request's hop to its target and back (``after``). A SimPy ``Timeout`` for each - an
event object, a callback list, a closure to drop the event argument - made an event cost twice
what the heap itself does (5.8 against 2.8 microseconds), so ``after`` puts the call itself on
SimPy's queue, keyed exactly as a timeout made at the same moment would be (time, normal
priority, the next event id), and ``step`` calls it when it comes up. The order of everything is
the order SimPy gave: a run is the same run. This reads SimPy's queue and clock attributes
(``_queue``, ``_now``, ``_eid``), so SimPy is pinned; ``tests/test_clock.py`` holds the order to a
run made of timeouts.
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappop, heappush
from typing import Any

import simpy
from simpy.core import EmptySchedule, StopSimulation
from simpy.events import NORMAL, Event, EventPriority

SETTLE_GRACE = 26 * 60  # minutes housekeeping keeps firing once the world is done: each daily schedule runs again


class SimClock(simpy.Environment):
    """A SimPy environment that knows when only housekeeping is left (see the module docstring)."""

    def __init__(self, settle_grace: float = SETTLE_GRACE) -> None:
        super().__init__()
        self.settle_grace = settle_grace
        self.quiet_since: float | None = None  # when only housekeeping was left, first
        self._scheduled = 0
        self._processed = 0
        self._housekeeping = 0  # housekeeping timeouts scheduled and not fired yet

    # -- counting, over SimPy's public scheduling methods ---------------------------------------
    def schedule(self, event: simpy.Event, priority: EventPriority = NORMAL, delay: float = 0) -> None:
        self._scheduled += 1
        super().schedule(event, priority, delay)

    def step(self) -> None:
        """SimPy's ``Environment.step``, which also calls what ``after`` queued (plain callables)."""
        try:
            self._now, _, _, event = heappop(self._queue)
        except IndexError:
            raise EmptySchedule from None
        self._processed += 1  # before the callbacks run: a firing event is no longer scheduled
        if not isinstance(event, Event):
            event()  # type: ignore[operator]  # a call queued by ``after``
            return
        callbacks, event.callbacks = event.callbacks, None  # type: ignore[assignment]
        try:
            for callback in callbacks:  # type: ignore[union-attr]
                callback(event)
        except StopSimulation:
            # as SimPy: the callbacks not yet called fire first when the run resumes
            event.callbacks = callbacks[callbacks.index(callback) + 1 :]  # type: ignore[union-attr]
            self.schedule(event, EventPriority(-1))
            raise
        if not event._ok and not hasattr(event, "_defused"):
            failure = event._value  # a failed event nobody handled crashes the run, as in SimPy
            raise type(failure)(*failure.args) from failure

    @property
    def events_processed(self) -> int:
        return self._processed

    # -- what the driver schedules -----------------------------------------------------------------
    def after(self, delay: float, action: Callable[[], Any]) -> None:
        """Call ``action`` ``delay`` minutes from now: work of the world (a hop, a delivery). Queued
        where a ``timeout(delay)`` made now would be, without the event (module docstring)."""
        if delay < 0:
            raise ValueError(f"negative delay {delay}")
        self._scheduled += 1
        heappush(self._queue, (self._now + delay, NORMAL, next(self._eid), action))  # type: ignore[misc]

    def housekeeping(self, delay: float) -> simpy.Event:
        """A timeout that is housekeeping: a process that repeats for ever (an outage window
        opening and closing every night) yields these; it never keeps the run alive on its own."""
        event = self.timeout(delay)
        self._housekeeping += 1
        event.callbacks.append(self._housekeeping_fired)
        return event

    def every(self, delay: float, action: Callable[[], Any]) -> None:
        """Call ``action`` ``delay`` minutes from now as housekeeping (a timer, a round)."""
        self.housekeeping(delay).callbacks.append(lambda _event: action())

    def _housekeeping_fired(self, _event: simpy.Event) -> None:
        self._housekeeping -= 1
        now = self.now
        if self.quiet_since is None and self._scheduled - self._processed == self._housekeeping:
            self.quiet_since = now  # nothing but housekeeping is scheduled: the world is done
        if self.quiet_since is not None and now > self.quiet_since + self.settle_grace:
            raise StopSimulation(None)

    def horizon(self) -> float:
        """When the run had settled: the world done and housekeeping given its grace (or now)."""
        if self.quiet_since is None:
            return float(self.now)
        return min(float(self.now), self.quiet_since + self.settle_grace)
