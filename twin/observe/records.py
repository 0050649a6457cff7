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
    lengthens the allowed lag by the time its target was down after it was ready, or by the time
    the scenario's policy lets it wait (a bill held for a late charge). ``settles_at``: the record
    may be amended after it landed (a late charge adjusts a bill), and its final value - ``value``
    - is due then; ``None``: its first value is its final one. ``why`` says, for evidence, what
    made it due when it is (a repair, a governed mapping, an outage). ``requires`` names the
    record it follows from in a chain (the vendor order follows its PO): when that one is lost,
    this one's difference is reported with it, at the first missing link, not again on its own.
    ``firsts``: when the record may be amended, the values it may hold as it first lands - what the
    integration could know at some moment between ready and final (a bill is first what was billable
    then); an amended record that first landed with anything else was wrong meanwhile. ``bounds``:
    fields whose value may lie anywhere in a range (a snapshot a movement races may or may not show
    it), instead of being equal to ``value``'s.
    """

    flow: str
    target: str
    key: str
    value: dict[str, Any]
    ready_at: SimTime
    seq: int = 0
    optional: bool = False
    grace: float = 0.0  # minutes added to the allowed lag: its target was down for them meanwhile
    settles_at: SimTime | None = None  # when its final value is due (later amendments), if not at ready_at
    why: str = ""
    requires: tuple[str, str] | None = None  # (target, key) of the record it follows from: a link of a chain
    firsts: tuple[dict[str, Any], ...] = ()  # values it may first land with, when it may be amended later
    bounds: dict[str, tuple[float, float]] | None = None  # fields that may lie in a range (inclusive)

    def accepts(self, name: str, found: Any) -> bool:
        """Whether ``found`` is right for field ``name``: equal to the value, or within its bounds."""
        if self.bounds is not None and name in self.bounds:
            low, high = self.bounds[name]
            return isinstance(found, int | float) and not isinstance(found, bool) and low <= found <= high
        return bool(found == self.value.get(name))


@dataclass(frozen=True, slots=True)
class Observed:
    """One record a target system actually holds, read from its state after the run.

    ``value`` is what it holds at the end, amendments included; ``at`` when it first landed and
    ``settled_at`` when its last amendment did (``None``: never amended); ``first_value`` what it
    held as it first landed, when it was amended since.
    """

    target: str
    key: str
    value: dict[str, Any]
    at: SimTime
    ref: str  # the target's own id for it (journal id, submission id, ...)
    settled_at: SimTime | None = None
    first_value: dict[str, Any] | None = None  # as it first landed (only when amended since)


@dataclass(frozen=True, slots=True)
class Difference:
    flow: str
    target: str
    kind: str  # one of DIFFERENCE_CLASSES
    key: str
    detail: str
    evidence: dict[str, Any] = field(default_factory=dict)
