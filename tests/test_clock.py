"""The world's clock: calls queued by ``after`` fire in the order SimPy timeouts would have, and the
clock still knows when only housekeeping is left."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.workflows.clock import SimClock


class TimeoutClock(SimClock):
    """``after`` as it was: a SimPy timeout whose callback makes the call (the order to keep)."""

    def after(self, delay: float, action: Callable[[], Any]) -> None:
        self.timeout(delay).callbacks.append(lambda _event: action())


# A plan: what each step schedules when it fires - (delay, how) pairs, with how "after" (a plain
# call), "timeout" (a SimPy timeout's callback) or "process" (a process that waits the delay).
DELAYS = st.sampled_from([0.0, 0.0, 0.5, 1.0, 1.0, 2.5, 7.0])
HOW = st.sampled_from(["after", "timeout", "process"])
PLAN = st.lists(st.lists(st.tuples(DELAYS, HOW), max_size=3), min_size=1, max_size=40)


def trace(clock: SimClock, plan: list[list[tuple[float, str]]]) -> list[tuple[float, int]]:
    """Runs ``plan`` on ``clock``: step ``n`` schedules ``plan[n]``'s children, numbered in order of
    scheduling; the trace is (time, step) in the order the steps fired."""
    fired: list[tuple[float, int]] = []
    made = [0]

    def schedule(delay: float, how: str) -> None:
        number = made[0]
        made[0] += 1
        if how == "after":
            clock.after(delay, lambda: fire(number))
        elif how == "timeout":
            clock.timeout(delay).callbacks.append(lambda _event: fire(number))
        else:

            def waits() -> Generator[simpy.Event, None, None]:
                yield clock.timeout(delay)
                fire(number)

            clock.process(waits())

    def fire(number: int) -> None:
        fired.append((float(clock.now), number))
        for delay, how in plan[number] if number < len(plan) else []:
            schedule(delay, how)

    schedule(0.0, "after")
    schedule(0.0, "timeout")
    clock.run()
    return fired


@settings(max_examples=150, deadline=None)
@given(PLAN)
def test_calls_fire_in_the_order_timeouts_would(plan: list[list[tuple[float, str]]]) -> None:
    assert trace(SimClock(), plan) == trace(TimeoutClock(), plan)


def test_the_order_check_sees_a_call_queued_out_of_turn() -> None:
    """The comparison above catches a clock that queues calls ahead of timeouts due at the same time."""

    class Jumping(SimClock):
        def after(self, delay: float, action: Callable[[], Any]) -> None:
            self.schedule_call(delay, action)

        def schedule_call(self, delay: float, action: Callable[[], Any]) -> None:
            event = simpy.Event(self)
            event._ok, event._value = True, None
            event.callbacks.append(lambda _event: action())
            self.schedule(event, simpy.events.URGENT, delay)

    plan = [[(1.0, "timeout"), (1.0, "after")], [], []]
    assert trace(Jumping(), plan) != trace(TimeoutClock(), plan)


def test_a_negative_delay_is_refused() -> None:
    with pytest.raises(ValueError, match="negative delay"):
        SimClock().after(-1.0, lambda: None)


def test_a_failed_event_nobody_handles_still_stops_the_run() -> None:
    clock = SimClock()
    clock.after(1.0, lambda: clock.event().fail(KeyError("lost")))
    with pytest.raises(KeyError, match="lost") as raised:
        clock.run()
    assert isinstance(raised.value.__cause__, KeyError)


def test_the_world_is_done_when_only_housekeeping_is_left() -> None:
    """Calls are world work: the run settles a grace after the last one, however often a round repeats."""
    clock = SimClock(settle_grace=10.0)
    rounds: list[float] = []

    def round_() -> None:
        rounds.append(float(clock.now))
        clock.every(3.0, round_)

    clock.every(3.0, round_)
    clock.after(20.0, lambda: clock.after(5.0, lambda: None))  # the world's last work lands at minute 25
    clock.run()
    assert clock.quiet_since == 27.0  # the first round after the last call found nothing else scheduled
    assert clock.horizon() == 37.0
    assert rounds[-1] > 37.0 - 3.0


def test_a_stop_inside_housekeeping_keeps_what_was_left_to_call() -> None:
    """A run stopped by a housekeeping callback resumes with the callbacks it had not called yet."""
    clock = SimClock(settle_grace=0.0)
    called: list[float] = []
    clock.every(1.0, lambda: called.append(float(clock.now)))  # quiet from here: nothing else scheduled
    clock.every(2.0, lambda: called.append(float(clock.now)))  # past the grace: stops before its call
    clock.run()
    assert called == [1.0]
    clock.run(until=5.0)
    assert called == [1.0, 2.0]
