"""Integration designs: the same reference integration, releasing each kind of request on its own schedule.

The brief contrasts three ways of wiring ERP and EHR together, and an architect wants to see what
each costs in business terms on the *same* workload. Here a design is configuration, not code: a
name, a description and a release schedule per kind of target request, which the reference
integration's outbox applies through ``ReferenceConfig.release_at``. A design changes only *when*
a request leaves - never what it says: bodies, idempotency keys, ordering, retries and dead
letters are exactly those of the event-driven integration - so any difference between two designs
in a comparison is the schedule's doing.

- ``event-driven``: middleware in real time; every request leaves at once (no schedule at all, so
  a run is byte-identical to one without a design).
- ``point-to-point-batch``: the brief's "typical disconnected pattern". Revenue journals go out
  in a nightly batch (01:00 local); the claim file it writes waits for a biller to upload it to
  the clearinghouse (09:00, business days: a person must move it); supply usage is keyed in by materials
  staff from the usage sheets the next business day (10:00 local); purchase orders, the orders
  sent on to the vendor and AP invoices ride the nightly batch too.
- ``hybrid``: what the brief recommends. Discharge-to-billing, supply usage and the
  replenishment it triggers (purchase order, vendor order) in real time; the GL side that is not
  time-critical - AP invoices, whose payment posts GRNI, payables and cash in the GL and is due
  on the vendor's terms, not by the minute - in the nightly batch. Purchase orders stay real time
  on purpose: a PO is a commitment, not a GL posting, and it is the tail of consumption - holding
  it overnight brings back the "urgent purchasing" the brief wants real-time consumption to end.

Labor cost allocation is scheduled in every design: the integration's own nightly sync (the
scenario's ``labor.sync_hour``) closes a work date only once its last shift clocked out, which is
the brief's "scheduled synchronization plus validation services". Its postings go out when the
sync makes them; a design never holds them again. Queries (GETs), KPI publications and token
requests are never held either.

A batch run (or a manual posting session) stays open for a while: a request that follows from
one the run released - the claim after its journal was posted, the next usage line of the same
item-location after the previous one, the vendor order after its PO - goes with that run, as the
batch job or the staff member works through the pile; anything else waits for the next run.
Local clock times use the run's ``Timebase`` (simulated minute 0 is the scenario's start), so
release times are right across midnights and weekends. Business days are Monday to Friday.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from twin.domain import designs
from twin.domain.designs import DESIGN_DESCRIPTIONS, check_design
from twin.domain.exchange import TargetRequest
from twin.domain.model import SimTime
from twin.domain.timebase import Timebase
from twin.integration.labor import CORRELATION as LABOR_CORRELATION
from twin.integration.outbox import ReleaseAt

MINUTES_PER_DAY = 1440.0
_EPSILON = 1e-9  # minutes: a request made exactly at a run's start goes with it

# Kinds of request a design may schedule (``request_kind``).
REVENUE_JOURNAL = "revenue journal"
CLAIM = "claim"
SUPPLY_USAGE = "supply usage"
PURCHASE_ORDER = "purchase order"
VENDOR_ORDER = "vendor order"
AP_INVOICE = "AP invoice"
LABOR_POSTING = "labor posting"

_KINDS = {
    ("erp", "/finance/journals"): REVENUE_JOURNAL,
    ("clearinghouse", "/claims"): CLAIM,
    ("erp", "/inventory/issues"): SUPPLY_USAGE,
    ("erp", "/purchasing/orders"): PURCHASE_ORDER,
    ("vendor", "/orders"): VENDOR_ORDER,
    ("erp", "/payables/invoices"): AP_INVOICE,
}


def request_kind(request: TargetRequest) -> str | None:
    """What kind of business document a request posts; ``None`` for what no design holds (queries,
    KPI publications, tokens). Labor postings are told apart by their correlation, not their path:
    labor journals share ``/finance/journals`` with revenue journals."""
    if request.method != "POST":
        return None
    if request.correlation.startswith(LABOR_CORRELATION):
        return LABOR_POSTING
    return _KINDS.get((request.system, request.path))


@dataclass(frozen=True, slots=True)
class Schedule:
    """A daily run on the local clock: when it starts, how long it stays open, on which days.

    ``next_business_day``: a run takes only work from an earlier day (the usage sheets of day D
    are keyed in on the first business day after D); otherwise a run takes everything made
    before it starts (a request at 00:30 goes with the 01:00 batch of the same night).
    """

    name: str
    at_minute: float  # minutes after local midnight the run starts
    open_minutes: float  # how long a run keeps taking the follow-ups of what it released
    business_days_only: bool = False  # Monday to Friday
    next_business_day: bool = False

    def next_run(self, local: float, first_weekday: int) -> float:
        """Start of the run that takes work made at ``local`` (minutes since the local midnight of
        day 0, whose weekday is ``first_weekday``, Monday 0), in the same measure."""
        day = math.floor(local / MINUTES_PER_DAY)
        candidate = day + 1 if self.next_business_day else day
        while True:
            start = candidate * MINUTES_PER_DAY + self.at_minute
            weekday_ok = not self.business_days_only or (first_weekday + candidate) % 7 < 5
            if weekday_ok and start >= local - _EPSILON:
                return start
            candidate += 1


NIGHTLY_BATCH = Schedule("nightly batch", at_minute=60.0, open_minutes=60.0)
# The nightly batch writes the claim file; a biller uploads it to the clearinghouse when the billing
# office opens, business days only: what the batch wrote on Friday night goes on Monday morning.
CLAIM_FILE_UPLOAD = Schedule("claim file upload", at_minute=540.0, open_minutes=120.0, business_days_only=True)
MANUAL_POSTING = Schedule(
    "manual posting", at_minute=600.0, open_minutes=120.0, business_days_only=True, next_business_day=True
)


@dataclass(frozen=True, slots=True)
class Design:
    """An integration design: a name, what it stands for, and the schedule of each kind of request
    it does not send at once (kinds not named go at once)."""

    name: str
    description: str
    schedules: tuple[tuple[str, Schedule], ...] = ()

    def schedule_of(self, kind: str | None) -> Schedule | None:
        return next((schedule for named, schedule in self.schedules if named == kind), None)

    def release_at(self, timebase: Timebase) -> ReleaseAt | None:
        """The outbox hook for one run (a fresh one per run: it remembers the runs it scheduled);
        ``None`` when everything goes at once, so the outbox behaves exactly as without a design."""
        return Release(self, timebase) if self.schedules else None


@dataclass(slots=True)
class Release:
    """A design's release hook for one run: ``(request, now) -> release time | None`` (None: now)."""

    design: Design
    timebase: Timebase
    _clock: float = 0.0  # local minutes after midnight at simulated minute 0
    _first_weekday: int = 0
    _runs: dict[tuple[str, str], SimTime] = field(default_factory=dict)  # (schedule, thread) -> its run

    def __post_init__(self) -> None:
        self._clock = self.timebase.start_clock
        self._first_weekday = self.timebase.start_weekday

    def __call__(self, request: TargetRequest, now: SimTime) -> SimTime | None:
        schedule = self.design.schedule_of(request_kind(request))
        if schedule is None:
            return None
        thread = (schedule.name, _thread(request))
        run = self._runs.get(thread)
        if run is not None and run - _EPSILON <= now <= run + schedule.open_minutes:
            return None  # follows from what this run released: it goes with the run
        release = schedule.next_run(now + self._clock, self._first_weekday) - self._clock
        self._runs[thread] = release
        return release if release > now else None


def _thread(request: TargetRequest) -> str:
    """What ties a follow-up to the request it follows: the item-location for supply documents
    (usage, PO, vendor order), else the business key (the encounter of a journal and its claim)."""
    body = request.body
    location, item = body.get("location"), body.get("item")
    if location is not None and item is not None:
        return f"{location}/{item}"
    return request.correlation or request.idempotency_key


EVENT_DRIVEN = Design(designs.EVENT_DRIVEN, DESIGN_DESCRIPTIONS[designs.EVENT_DRIVEN])
POINT_TO_POINT_BATCH = Design(
    designs.POINT_TO_POINT_BATCH,
    DESIGN_DESCRIPTIONS[designs.POINT_TO_POINT_BATCH],
    (
        (REVENUE_JOURNAL, NIGHTLY_BATCH),
        (CLAIM, CLAIM_FILE_UPLOAD),
        (SUPPLY_USAGE, MANUAL_POSTING),
        (PURCHASE_ORDER, NIGHTLY_BATCH),
        (VENDOR_ORDER, NIGHTLY_BATCH),
        (AP_INVOICE, NIGHTLY_BATCH),
    ),
)
HYBRID = Design(designs.HYBRID, DESIGN_DESCRIPTIONS[designs.HYBRID], ((AP_INVOICE, NIGHTLY_BATCH),))
DESIGNS: dict[str, Design] = {design.name: design for design in (EVENT_DRIVEN, POINT_TO_POINT_BATCH, HYBRID)}
assert set(DESIGNS) == set(DESIGN_DESCRIPTIONS), "every design the vocabulary names has its schedules here"
DEFAULT_DESIGN = designs.DEFAULT_DESIGN


def design_named(name: str) -> Design:
    """The design called ``name``; ``UnknownDesign`` names the designs there are."""
    return DESIGNS[check_design(name)]
