"""Resilience controls of the reference integration, sans-IO: retry policy and circuit breaker.

The brief's claim is that integrations fail through brittle transfer, and that queues, retries,
dead-letter handling, replay, circuit breakers and idempotency prevent silent failures. These are
the two stateful decisions behind that: *when to try a request again* (``RetryPolicy``) and
*whether to try an endpoint at all right now* (``CircuitBreaker``). Neither sleeps nor reads a
clock: both take ``now`` (simulated or wall minutes) and answer with a decision; jitter comes
from a ``random.Random`` the caller seeds, so a run is reproducible.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field

from twin.domain.exchange import TRANSPORT_FAILURE
from twin.domain.model import SimTime

RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How one destination is retried: exponential backoff with jitter, capped, or an explicit
    delay pattern by attempt range (``((1, 0.5), (3, 5.0), (5, 30.0))``: attempts 1-2 wait half a
    minute, 3-4 five minutes, 5 and later thirty), and always at least a server's Retry-After.

    ``max_attempts`` counts every try including the first; after it the work is dead-lettered.
    Times are minutes.
    """

    max_attempts: int = 5
    base_delay: float = 0.25
    multiplier: float = 2.0
    max_delay: float = 30.0
    jitter: float = 0.2  # +/- this fraction of the delay
    pattern: tuple[tuple[int, float], ...] = ()
    timeout: float = 0.5  # a request unanswered this long is a failure (minutes)

    def retryable(self, status: int) -> bool:
        """A timeout or a transient status; 4xx other than 408/425/429 will fail the same way again."""
        return status == TRANSPORT_FAILURE or status in RETRYABLE_STATUSES

    def delay(self, attempt: int, rng: random.Random, retry_after: float | None = None) -> float | None:
        """Minutes to wait before attempt ``attempt + 1`` after attempt ``attempt`` failed; ``None``
        when the attempts are used up."""
        if attempt >= self.max_attempts:
            return None
        base = self._pattern_delay(attempt)
        if base is None:
            base = min(self.max_delay, self.base_delay * self.multiplier ** (attempt - 1))
        if self.jitter:
            base *= 1 + rng.uniform(-self.jitter, self.jitter)
        if retry_after is not None:
            base = max(base, retry_after)
        return base

    def _pattern_delay(self, attempt: int) -> float | None:
        chosen = None
        for first, delay in self.pattern:
            if attempt >= first:
                chosen = delay
        return chosen


@dataclass(slots=True)
class CircuitBreaker:
    """Closed -> open when the failure rate over the last ``window`` minutes reaches
    ``failure_rate`` (with at least ``min_calls`` outcomes) -> half-open after ``open_for``
    minutes, letting ``probes`` requests through -> closed when they all succeed, open again on
    the first probe failure. While open, nothing is sent: work waits in the outbox instead of
    hammering an endpoint that is down (and burning its retry budget on it).
    """

    window: float = 5.0
    failure_rate: float = 0.5
    min_calls: int = 5
    open_for: float = 2.0
    probes: int = 1
    state: str = "closed"  # "closed" | "open" | "half_open"
    opened_at: SimTime = 0.0
    trips: int = 0
    _outcomes: deque[tuple[SimTime, bool]] = field(default_factory=deque)
    _failures: int = 0  # failures among ``_outcomes``, kept as they come and go (a busy window holds hundreds)
    _probing: int = 0  # probes sent and not yet answered
    _probe_successes: int = 0
    transitions: list[tuple[SimTime, str]] = field(default_factory=list)

    def allows(self, now: SimTime) -> bool:
        """May a request go out now? (In half-open, only the probes may.)"""
        if self.state == "open" and now >= self.opened_at + self.open_for:
            self._move("half_open", now)
            self._probing = self._probe_successes = 0
        if self.state == "closed":
            return True
        if self.state == "half_open" and self._probing < self.probes:
            self._probing += 1
            return True
        return False

    def reopens_at(self) -> SimTime | None:
        """When an open breaker turns half-open (a caller sets a timer for it)."""
        return self.opened_at + self.open_for if self.state == "open" else None

    def record(self, now: SimTime, success: bool) -> None:
        """The outcome of a request that was allowed out."""
        if self.state == "half_open":
            self._probing = max(0, self._probing - 1)
            if not success:
                self._open(now)
                return
            self._probe_successes += 1
            if self._probe_successes >= self.probes:
                self._move("closed", now)
                self._outcomes.clear()
                self._failures = 0
            return
        if self.state == "open":
            return  # an answer to a request sent before the breaker opened
        outcomes = self._outcomes
        outcomes.append((now, success))
        self._failures += not success
        while outcomes and outcomes[0][0] < now - self.window:
            self._failures -= not outcomes.popleft()[1]
        if len(outcomes) >= self.min_calls and self._failures / len(outcomes) >= self.failure_rate:
            self._open(now)

    def _open(self, now: SimTime) -> None:
        self.opened_at = now
        self.trips += 1
        self._outcomes.clear()
        self._failures = 0
        self._move("open", now)

    def _move(self, state: str, now: SimTime) -> None:
        self.state = state
        self.transitions.append((now, state))
