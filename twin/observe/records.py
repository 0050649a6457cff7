"""Flat records the checker compares: what a target must hold, what it holds, how they differ."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from twin.domain.model import SimTime

DIFFERENCE_CLASSES = ("lost", "duplicated", "unexpected", "stale", "out_of_order", "wrong_value")


@dataclass(frozen=True, slots=True)
class Expected:
    """One record a target system must hold, derived from the truth ledger.

    ``ready_at`` is when the truth made it due (e.g. coding completed); ``seq`` orders the
    records of one key (a claim must not reach the clearinghouse before the journal reaches the
    ERP); an ``optional`` record may or may not appear (a race the truth cannot decide); ``grace``
    lengthens the allowed lag by the time its target was down after it was ready.
    """

    flow: str
    target: str
    key: str
    value: dict[str, Any]
    ready_at: SimTime
    seq: int = 0
    optional: bool = False
    grace: float = 0.0  # minutes added to the allowed lag: its target was down for them meanwhile


@dataclass(frozen=True, slots=True)
class Observed:
    """One record a target system actually holds, read from its state after the run."""

    target: str
    key: str
    value: dict[str, Any]
    at: SimTime
    ref: str  # the target's own id for it (journal id, submission id, ...)


@dataclass(frozen=True, slots=True)
class Difference:
    flow: str
    target: str
    kind: str  # one of DIFFERENCE_CLASSES
    key: str
    detail: str
    evidence: dict[str, Any] = field(default_factory=dict)
