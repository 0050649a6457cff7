"""The wall clock a live run keeps: simulated minutes since the scenario's start, at a chosen speed.

Every process of a live stack - the world with its mock servers, the integration service, a load
test - reads the same clock: the run's ``epoch`` (the wall time, in seconds since 1970, at which the
scenario's start was) and its ``speed`` (simulated seconds per wall second; 1 is real time). From
those two numbers each process computes ``now`` on its own, in the simulated minutes the sans-IO core
takes, so a service restarted mid-run carries on at the right moment.

Durations the world and the scenario state in simulated time (an ACK timeout, a request timeout, a
latency fault) become wall seconds by the speed, never below a floor: a network cannot answer in a
microsecond because the run is accelerated.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

MIN_WAIT_SECONDS = 0.05  # no wall wait the clock computes is shorter (a hop on loopback is not free)


@dataclass(frozen=True, slots=True)
class LiveClock:
    """Simulated minutes on the wall clock: ``now = (wall - epoch) * speed / 60``."""

    epoch: float  # wall seconds (time.time()) at simulated minute 0
    speed: float = 1.0  # simulated seconds per wall second

    def __post_init__(self) -> None:
        if not self.speed > 0:
            raise ValueError(f"speed must be a positive number of simulated seconds per wall second, got {self.speed}")

    @classmethod
    def starting_now(cls, speed: float = 1.0, at_minute: float = 0.0) -> LiveClock:
        """A clock at simulated minute ``at_minute`` right now."""
        return cls(time.time() - at_minute * 60 / speed, speed)

    def now(self) -> float:
        """Simulated minutes since the scenario's start."""
        return (time.time() - self.epoch) * self.speed / 60

    def wall_at(self, minute: float) -> float:
        """The wall time (seconds since 1970) of simulated minute ``minute``."""
        return self.epoch + minute * 60 / self.speed

    def seconds_until(self, minute: float) -> float:
        """Wall seconds from now until simulated minute ``minute`` (0 if it has passed)."""
        return max(0.0, self.wall_at(minute) - time.time())

    def wall_seconds(self, minutes: float, floor: float = MIN_WAIT_SECONDS) -> float:
        """A simulated duration as wall seconds, never below ``floor``."""
        return max(floor, minutes * 60 / self.speed)

    def minutes(self, wall_seconds: float) -> float:
        """A wall duration as simulated minutes."""
        return wall_seconds * self.speed / 60
