"""Fault specs: what a scenario's ``faults:`` list may say, validated by pydantic.

Each entry names one fault (an ERP maintenance window, a latency profile, an error burst, lost
responses, duplicates, poison messages, schema drift, expired tokens, ...) and when it applies:
``from_day`` / ``to_day`` are days from the scenario start, ``daily`` an ``HH:MM-HH:MM`` clock
window (it may wrap midnight). A spec is data only; ``FaultPlan`` turns the list into decisions.
Each fault draws from its own ``random.Random`` (``fault_rng``), seeded from the scenario seed and
its position in the list, so adding a fault never changes the draws of the others.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Hashable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from twin.domain.streams import RandomStreams

DAY = 1440.0  # minutes
TargetSystem = Literal["erp", "clearinghouse", "vendor", "hcm", "dashboard", "ehr"]
Endpoint = Literal["erp", "clearinghouse", "vendor", "hcm", "dashboard", "ehr", "integration"]
PoisonVariant = Literal["bad_msh", "missing_pid", "broken_escape", "wrong_encoding", "truncated"]
POISON_VARIANTS: tuple[PoisonVariant, ...] = ("bad_msh", "missing_pid", "broken_escape", "wrong_encoding", "truncated")
FAULT_KINDS = (
    "outage",
    "latency",
    "errors",
    "timeout",
    "lost_response",
    "duplicate",
    "reorder",
    "poison",
    "schema_drift",
    "expired_token",
    "unmapped",
)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(default=None, min_length=1)  # a label: overrides address it as faults.<name>.<field>
    from_day: float = Field(default=0, ge=0)  # active from this day (days after the start)
    to_day: float | None = Field(default=None, gt=0)  # ... until this day (default: the end of the run)
    hours: float | None = Field(default=None, gt=0)  # ... or for this many hours from from_day (not with to_day)
    daily: str | None = None  # only within this clock window each day, "HH:MM-HH:MM" (may wrap midnight)

    @field_validator("daily")
    @classmethod
    def _daily_window(cls, value: str | None) -> str | None:
        if value is not None:
            clock_window(value)  # raises ValueError naming the problem
        return value

    @model_validator(mode="after")
    def _ordered_days(self) -> _Spec:
        if self.to_day is not None and self.hours is not None:
            raise ValueError(
                f"give to_day ({self.to_day:g}) or hours ({self.hours:g}), not both: two ways to say when it ends"
            )
        if self.to_day is not None and self.to_day <= self.from_day:
            raise ValueError(f"to_day ({self.to_day:g}) must be after from_day ({self.from_day:g})")
        return self

    @property
    def until_day(self) -> float | None:
        """When it stops applying (days after the start), from ``to_day`` or ``hours``; ``None``: the end of the run."""
        if self.hours is not None:
            return self.from_day + self.hours / 24
        return self.to_day


class _Rated(_Spec):
    rate: float = Field(default=0.05, gt=0, le=1)  # share of the crossings it strikes while active


class OutageSpec(_Spec):
    """The system is down: requests are refused (503 after one hop) or hang (no answer at all).

    For ``integration`` the EHR's messages and the SaaS webhooks get no ACK: senders resend.
    """

    kind: Literal["outage"]
    system: Endpoint
    mode: Literal["refused", "hang"] = "refused"


class LatencySpec(_Spec):
    """Extra delay on the way to a system, per request (or per message, for ``integration``)."""

    kind: Literal["latency"]
    system: Endpoint
    distribution: Literal["fixed", "uniform", "lognormal"] = "lognormal"
    ms: float = Field(default=0, ge=0)  # fixed
    min_ms: float = Field(default=0, ge=0)  # uniform
    max_ms: float = Field(default=0, ge=0)
    median_ms: float = Field(default=500, gt=0)  # lognormal
    sigma: float = Field(default=1.0, ge=0, le=3)
    rate: float = Field(default=1.0, gt=0, le=1)

    @model_validator(mode="after")
    def _bounds(self) -> LatencySpec:
        if self.max_ms < self.min_ms:
            raise ValueError(f"max_ms ({self.max_ms:g}) must not be below min_ms ({self.min_ms:g})")
        return self

    def sample_minutes(self, rng: random.Random) -> float:
        """One extra delay, in minutes."""
        if self.distribution == "fixed":
            ms = self.ms
        elif self.distribution == "uniform":
            ms = self.min_ms + (self.max_ms - self.min_ms) * rng.random()
        else:
            ms = self.median_ms * math.exp(rng.gauss(0.0, self.sigma))
        return ms / 60_000


class ErrorSpec(_Rated):
    """A share of requests fail with a server error, or with 429 and a ``Retry-After`` (seconds)."""

    kind: Literal["errors"]
    system: TargetSystem
    status: Literal[500, 502, 503, 429] = 503
    retry_after_seconds: float = Field(default=30, ge=0)  # 429 only


class TimeoutSpec(_Rated):
    """A share of requests hang: the target never sees them and nothing comes back."""

    kind: Literal["timeout"]
    system: TargetSystem


class LostResponseSpec(_Rated):
    """A share of requests commit at the target, and the answer is lost on the way back."""

    kind: Literal["lost_response"]
    system: TargetSystem


class DuplicateSpec(_Rated):
    """A share of source messages (EHR HL7, vendor webhooks) are delivered twice."""

    kind: Literal["duplicate"]
    source: Literal["ehr", "vendor"] = "ehr"
    within_minutes: float = Field(default=30, ge=0)  # the second copy joins the channel up to this long after


class ReorderSpec(_Rated):
    """A share of HL7 messages are overtaken by the next message of their channel."""

    kind: Literal["reorder"]
    source: Literal["ehr"] = "ehr"


class PoisonSpec(_Rated):
    """A share of HL7 messages arrive malformed (the original is kept for the operator's repair)."""

    kind: Literal["poison"]
    source: Literal["ehr"] = "ehr"
    variants: tuple[PoisonVariant, ...] = Field(default=POISON_VARIANTS, min_length=1)


class SchemaDriftSpec(_Spec):
    """While active, the SaaS sends its documents in a new API version with renamed fields."""

    kind: Literal["schema_drift"]
    system: Literal["vendor"] = "vendor"
    rename: dict[str, str] = Field(default_factory=lambda: {"vendor_invoice": "invoice_number"}, min_length=1)
    version: str = Field(default="v2", min_length=1)  # the marker the drifted documents carry (``api_version``)


class ExpiredTokenSpec(_Spec):
    """The system wants a bearer token (``POST /oauth/token``) and revokes it every ``every_hours``."""

    kind: Literal["expired_token"]
    system: TargetSystem
    every_hours: float = Field(default=8, gt=0)


class UnmappedSpec(_Rated):
    """A share of EHR charge messages name, on one ancillary line, a department code the crosswalk
    has never seen: a new EHR code for an existing department (same cost center), still to be governed."""

    kind: Literal["unmapped"]
    domain: Literal["department"] = "department"


AnySpec = (
    OutageSpec
    | LatencySpec
    | ErrorSpec
    | TimeoutSpec
    | LostResponseSpec
    | DuplicateSpec
    | ReorderSpec
    | PoisonSpec
    | SchemaDriftSpec
    | ExpiredTokenSpec
    | UnmappedSpec
)
FaultSpec = Annotated[AnySpec, Field(discriminator="kind")]


def clock_window(text: str) -> tuple[float, float]:
    """``"02:00-04:00"`` -> (120, 240) minutes of the day; ``ValueError`` explains a bad window."""
    try:
        start, end = (part.strip() for part in text.split("-"))
        values = []
        for part in (start, end):
            hours, minutes = part.split(":")
            if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
                raise ValueError
            value = int(hours) * 60 + int(minutes)
            if int(minutes) >= 60 or value > DAY:
                raise ValueError
            values.append(float(value))
    except ValueError:
        raise ValueError(
            f"daily window {text!r} must be two clock times from 00:00 to 24:00, like '02:00-04:00'"
        ) from None
    if values[0] == values[1]:
        raise ValueError(f"daily window {text!r} is empty")
    return values[0], values[1]


class ActiveWindow:
    """When one fault spec applies, in simulated minutes (``clock_offset``: minute of day at time 0)."""

    def __init__(self, spec: _Spec, clock_offset: float) -> None:
        self.start = spec.from_day * DAY
        self.end = math.inf if spec.until_day is None else spec.until_day * DAY
        daily = clock_window(spec.daily) if spec.daily else None
        # "00:00-24:00" is the whole day: no daily edges at which anything flips
        self.daily = daily if daily is not None and daily[1] - daily[0] != DAY else None
        self.offset = clock_offset

    def active(self, now: float) -> bool:
        if not self.start <= now < self.end:
            return False
        if self.daily is None:
            return True
        minute = (now + self.offset) % DAY
        low, high = self.daily
        return low <= minute < high if low < high else (minute >= low or minute < high)

    def next_change(self, now: float) -> float | None:
        """The first moment after ``now`` at which ``active`` may flip; ``None``: never again."""
        candidates = [t for t in (self.start, self.end) if t > now]
        if self.daily is not None:
            day_start = now - (now + self.offset) % DAY
            for day in (0.0, DAY):
                for edge in self.daily:
                    moment = day_start + day + edge
                    if moment > now and self.start <= moment <= self.end:
                        candidates.append(moment)
        finite = [t for t in candidates if math.isfinite(t)]
        return min(finite) if finite else None

    def span_start(self, now: float) -> float:
        """When the stretch it is active in at ``now`` began (one fault event: an outage window, a
        burst); meaningful only while ``active(now)``."""
        if self.daily is None:
            return self.start
        low, high = self.daily
        minute = (now + self.offset) % DAY
        opened = now - ((minute - low) % DAY)  # the last local ``low`` at or before now
        return max(opened, self.start)

    def spans(self, until: float) -> list[tuple[float, float]]:
        """Every stretch ``[start, end)`` it is active in that opens before ``until`` (a pure
        function of the spec: the oracle knows outage windows in advance)."""
        spans: list[tuple[float, float]] = []
        now = 0.0
        opened = 0.0 if self.active(0.0) else None
        while True:
            change = self.next_change(now)
            if change is None:
                if opened is not None:
                    spans.append((opened, math.inf))
                return spans
            if opened is None and change >= until:
                return spans
            now = change
            if opened is None and self.active(now):
                opened = now
            elif opened is not None and not self.active(now):
                spans.append((opened, now))
                opened = None


class FaultCounter:
    """The faults a run injected - distinct fault events per kind (an outage window, a burst of errors,
    a spoiled message, a revoked token) - and the attempts (requests, messages) each kind touched."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()  # attempts touched, per kind
        self.details: Counter[tuple[str, str]] = Counter()  # attempts per (kind, detail), e.g. ("poison", "truncated")
        self.events: dict[str, set[Hashable]] = {}  # kind -> the distinct fault events that touched an attempt

    def hit(self, kind: str, detail: str = "", count: int = 1, event: Hashable = None) -> None:
        """``count`` attempts met a fault of ``kind``: the one identified by ``event`` (a window's start,
        a message's id), or one fault per attempt when ``None``."""
        self.counts[kind] += count
        if detail:
            self.details[(kind, detail)] += count
        self.events.setdefault(kind, set()).add(event if event is not None else (kind, self.counts[kind]))

    def by_kind(self) -> dict[str, int]:
        """Distinct fault events per kind."""
        return {kind: len(self.events[kind]) for kind in FAULT_KINDS if self.counts[kind]}

    def attempts(self) -> dict[str, int]:
        """Attempts (requests, messages, documents) the faults of each kind touched."""
        return {kind: self.counts[kind] for kind in FAULT_KINDS if self.counts[kind]}

    def detail(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for (kind, detail), count in sorted(self.details.items()):
            out.setdefault(kind, {})[detail] = count
        return out


def fault_rng(seed: int, index: int, spec: AnySpec) -> random.Random:
    """The fault's own generator: the scenario's stream named by its position and its kind."""
    return RandomStreams(seed).stream("fault", str(index), spec.kind)
