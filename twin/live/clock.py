"""The wall clock a live run keeps: simulated minutes since the scenario's start, at a chosen speed.

Every process of a live stack - the world with its mock servers, the integration service, a load
test - reads the same clock: from a wall instant (seconds since 1970) and the simulated minute it
stood for, time runs at ``speed`` simulated seconds per wall second (1 is real time). Each process
computes ``now`` on its own, in the simulated minutes the sans-IO core takes, so a service
restarted mid-run carries on at the right moment.

A clock may *jump*: when nothing is happening anywhere - no message on the wire, no request in
flight, no timer due - waiting out the wall time until the next event teaches nobody anything, so
the world moves the clock forward to it (``warp``). A jump is a new segment, the same in every
process that holds the clock (the world tells the integration service, which keeps it on disk);
the clock never goes back.

Durations the world and the scenario state in simulated time (an ACK timeout, a request timeout, a
latency fault) become wall seconds by the speed, never below a floor: a network cannot answer in a
microsecond because the run is accelerated.
"""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass

MIN_WAIT_SECONDS = 0.05  # no wall wait the clock computes is shorter (a hop on loopback is not free)


@dataclass(frozen=True, slots=True)
class Segment:
    """From wall instant ``wall`` on, the clock reads ``minute`` plus the wall time since, at ``speed``."""

    wall: float
    minute: float
    speed: float


class LiveClock:
    """Simulated minutes on the wall clock, in segments (see the module docstring)."""

    def __init__(self, epoch: float, speed: float = 1.0, segments: list[Segment] | None = None) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be a positive number of simulated seconds per wall second, got {speed}")
        self.segments: list[Segment] = list(segments) if segments else [Segment(epoch, 0.0, speed)]
        self._walls = [segment.wall for segment in self.segments]

    @classmethod
    def starting_now(cls, speed: float = 1.0, at_minute: float = 0.0) -> LiveClock:
        """A clock at simulated minute ``at_minute`` right now."""
        return cls(time.time() - at_minute * 60 / speed, speed)

    @property
    def epoch(self) -> float:
        """The wall instant of simulated minute 0 (of the first segment)."""
        first = self.segments[0]
        return first.wall - first.minute * 60 / first.speed

    @property
    def speed(self) -> float:
        return self.segments[-1].speed

    def _segment_at(self, wall: float) -> Segment:
        index = bisect.bisect_right(self._walls, wall) - 1
        return self.segments[max(index, 0)]

    def now(self) -> float:
        """Simulated minutes since the scenario's start."""
        return self.minute_at(time.time())

    def minute_at(self, wall: float) -> float:
        segment = self._segment_at(wall)
        return segment.minute + (wall - segment.wall) * segment.speed / 60

    def wall_at(self, minute: float) -> float:
        """The wall time (seconds since 1970) of simulated minute ``minute``."""
        index = max(0, bisect.bisect_right([s.minute for s in self.segments], minute) - 1)
        segment = self.segments[index]
        return segment.wall + (minute - segment.minute) * 60 / segment.speed

    def seconds_until(self, minute: float) -> float:
        """Wall seconds from now until simulated minute ``minute`` (0 if it has passed)."""
        return max(0.0, self.wall_at(minute) - time.time())

    def wall_seconds(self, minutes: float, floor: float = MIN_WAIT_SECONDS) -> float:
        """A simulated duration as wall seconds, never below ``floor``."""
        return max(floor, minutes * 60 / self.speed)

    def minutes(self, wall_seconds: float) -> float:
        """A wall duration as simulated minutes."""
        return wall_seconds * self.speed / 60

    # -- jumps -------------------------------------------------------------------------------------
    def jump(self, minute: float, wall: float | None = None, speed: float | None = None) -> Segment:
        """From ``wall`` (now by default) the clock reads ``minute`` - never backwards - and runs at
        ``speed`` (unchanged by default)."""
        if speed is not None and not speed > 0:
            raise ValueError(f"speed must be positive, got {speed}")
        wall = time.time() if wall is None else wall
        current = self.minute_at(wall)
        segment = Segment(wall, max(minute, current), self.speed if speed is None else speed)
        self.add(segment)
        return segment

    def add(self, segment: Segment) -> None:
        """Take a segment another process of the run decided (kept in wall order)."""
        if segment in self.segments:
            return
        index = bisect.bisect_right(self._walls, segment.wall)
        self.segments.insert(index, segment)
        self._walls.insert(index, segment.wall)
