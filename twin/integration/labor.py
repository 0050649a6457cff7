"""Labor cost allocation: a nightly scheduled sync from HCM timecards to the ERP GL, validated.

The brief's scenario three. Every night at the configured hour the sync

1. asks the ERP's validation service which cost centers exist and are active
   (``GET /finance/cost-centers``) and the HCM for the timecards of every work date it has not
   closed yet (``GET /timecards``);
2. closes each work date the HCM reports complete (every scheduled shift clocked out): it sums
   pay and paid minutes per HCM org unit, and patient days per department from what it saw in
   the EHR feed (room-and-board lines, revenue codes 0100-0219, by service date), and maps each
   source code to its ERP cost center through the governed crosswalk;
3. posts per cost center and work date one balanced journal (debit 6000 salaries and wages,
   credit 2200 accrued salaries) and a paid-minutes statistic (9200), and per nursing cost
   center and day a patient-days statistic (9100): labor cost per patient day is then
   computable from the ERP alone;
4. parks what validation refuses - an org unit or department without a mapping, a cost center
   the ERP does not know or has retired - as an exception naming the code set and the code a
   data steward must fix, and posts it exactly once after the crosswalk changed
   (``on_mapping``), resolving the exception when the ERP accepted it.

What the ERP receives is the flow's contract with any integration: a labor journal's
``reference`` ends in ``@<work date>``; statistics carry their cost center and day. Sans-IO:
inputs are timers, feed events, responses and mappings with ``now``; outputs are requests,
timers and exceptions. The schedule runs every night for ever; a driver decides when a run ends.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from twin.domain import reasons
from twin.domain.accounts import (
    ACCRUED_SALARIES,
    LABOR_ALLOCATION,
    PAID_MINUTES,
    PATIENT_DAYS,
    SALARIES,
    is_room_and_board,
)
from twin.domain.contract import IntegrationException, Outcome
from twin.domain.events import ChargesPosted, MappingPublished
from twin.domain.exchange import TargetRequest, TargetResponse
from twin.domain.model import SimTime
from twin.domain.reasons import COST_CENTER_PROBLEMS
from twin.domain.timebase import Timebase
from twin.integration.crosswalk import Crosswalk, Unmapped, revenue_code

FLOW = "labor_cost"
CORRELATION = "labor:"  # every request of this flow carries a correlation starting with it
_SYNC, _REVALIDATE = "labor:sync", "labor:revalidate"
_TOLERANCE = 1e-6  # minutes: a timer the driver fires this close to the sync time is the sync


@dataclass(slots=True)
class Work:
    """What one source code contributes to one posting of one work date.

    ``kind``: ``"labor"`` (pay, cents), ``"minutes"`` (paid minutes) or ``"patient_days"``;
    ``domain``/``code``: the source code set and code (an HCM org unit, an EHR department).
    """

    kind: str
    domain: str
    code: str
    work_date: str
    value: int
    blocked_by: tuple[str, str, str, str] | None = None  # the open exception it waits on


@dataclass(slots=True)
class _Sync:
    at: SimTime
    dates: list[date]
    pending: int
    centers: dict[str, bool] | None = None  # cost center -> active
    timecards: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # work date -> HCM answer


class LaborSync:
    """The labor part of the reference integration."""

    def __init__(self, crosswalk: Crosswalk, timebase: Timebase, sync_minute_of_day: float = 120.0) -> None:
        self.crosswalk = crosswalk
        self.timebase = timebase
        self.sync_minute = sync_minute_of_day
        self.raised: list[IntegrationException] = []
        self._clock = timebase.start_clock
        self._due: SimTime | None = None  # the next sync
        self._cursor: date | None = None  # earliest work date not closed yet
        self._closed: set[str] = set()
        self._census: dict[str, Counter[str]] = {}  # service day -> EHR department -> patient days
        self._sync: _Sync | None = None
        self._parked: dict[tuple[str, str], list[Work]] = {}  # (code set, code) -> work waiting for it
        self._retry: list[Work] = []  # remapped work waiting for a fresh validation
        self._revalidating = False
        self._in_flight: dict[str, list[Work]] = {}  # idempotency key -> work it posts
        self._open: dict[tuple[str, str, str, str], tuple[IntegrationException, int]] = {}  # -> (exception, work)

    def owns(self, request: TargetRequest) -> bool:
        return request.correlation.startswith(CORRELATION)

    # -- schedule -------------------------------------------------------------------------------
    def start(self, now: SimTime) -> Outcome:
        self._cursor = self.timebase.day(max(now, 0.0))  # the run starts at minute 0: no work date before it
        self._due = self._next_sync(now)
        return Outcome(timers=[self._due])

    def _next_sync(self, now: SimTime) -> SimTime:
        wait = (self.sync_minute - (now + self._clock)) % 1440
        return now + (wait if wait > _TOLERANCE else 1440 + wait)

    def on_timer(self, now: SimTime) -> Outcome:
        if self._due is None or now < self._due - _TOLERANCE:
            return Outcome()  # another flow's timer
        self._due = self._next_sync(now)
        outcome = Outcome(timers=[self._due])
        if self._sync is None:
            self._begin(now, outcome)
        return outcome

    def _begin(self, now: SimTime, outcome: Outcome) -> None:
        """Ask for the cost centers and for every unclosed work date before today."""
        assert self._cursor is not None
        today = self.timebase.day(now)
        while self._cursor.isoformat() in self._closed:
            self._cursor += timedelta(days=1)
        dates, day = [], self._cursor
        while day < today:
            if day.isoformat() not in self._closed:
                dates.append(day)
            day += timedelta(days=1)
        if not dates:
            return
        self._sync = _Sync(now, dates, pending=1 + len(dates))
        outcome.requests.append(TargetRequest("erp", "GET", "/finance/cost-centers", {}, "", _SYNC))
        for day in dates:
            outcome.requests.append(
                TargetRequest("hcm", "GET", "/timecards", {"work_date": day.isoformat()}, "", _SYNC)
            )

    # -- what the EHR feed tells -----------------------------------------------------------------
    def observe(self, event: ChargesPosted, now: SimTime) -> None:
        """Count patient days from room-and-board lines, by performing department and service day."""
        for line in event.lines:
            if not is_room_and_board(revenue_code(line.code)):
                continue
            day = self.timebase.day(line.service_at).isoformat()
            days = line.quantity if line.amount >= 0 else -line.quantity
            if day in self._closed:
                self._raise(
                    f"{line.department}@{day}", reasons.LATE_CENSUS, f"room and board for closed day {day}", now
                )
                continue
            self._census.setdefault(day, Counter())[line.department] += days

    # -- responses ------------------------------------------------------------------------------
    def on_response(self, request: TargetRequest, response: TargetResponse, now: SimTime) -> Outcome:
        outcome = Outcome()
        if request.correlation == _SYNC:
            self._sync_answer(request, response, now, outcome)
        elif request.correlation == _REVALIDATE:
            self._revalidating = False
            works, self._retry = self._retry, []
            if response.ok:
                self._dispatch(works, _centers(response.body), now, outcome)
            else:
                for work in works:
                    self._parked.setdefault((work.domain, work.code), []).append(work)
                self._raise("cost-centers", reasons.VALIDATION_UNAVAILABLE, f"ERP answered {response.status}", now)
        else:
            self._posted(request, response, now)
        return outcome

    def _sync_answer(self, request: TargetRequest, response: TargetResponse, now: SimTime, outcome: Outcome) -> None:
        sync = self._sync
        if sync is None:
            return
        sync.pending -= 1
        if request.system == "hcm":
            sync.timecards[str(request.body["work_date"])] = response.body if response.ok else None
            if not response.ok:
                self._raise(f"timecards@{request.body['work_date']}", reasons.HCM_UNAVAILABLE, str(response.body), now)
        elif response.ok:
            sync.centers = _centers(response.body)
        else:
            self._raise("cost-centers", reasons.VALIDATION_UNAVAILABLE, f"ERP answered {response.status}", now)
        if sync.pending == 0:
            self._sync = None
            self._close(sync, now, outcome)

    def _close(self, sync: _Sync, now: SimTime, outcome: Outcome) -> None:
        """Close every complete work date of the sync and post (or park) its work."""
        if sync.centers is None:
            return  # cannot validate: every date stays open for the next night
        works: list[Work] = []
        for day in sync.dates:
            key = day.isoformat()
            answer = sync.timecards.get(key)
            if answer is None or not answer.get("complete"):
                continue
            self._closed.add(key)
            pay: Counter[str] = Counter()
            minutes: Counter[str] = Counter()
            for card in answer.get("timecards", []):
                pay[card["org_unit"]] += int(card["amount"])
                minutes[card["org_unit"]] += int(card["paid_minutes"])
            for unit in sorted(pay):
                works.append(Work("labor", "org unit", unit, key, pay[unit]))
                works.append(Work("minutes", "org unit", unit, key, minutes[unit]))
            for department, days in sorted(self._census.pop(key, Counter()).items()):
                if days:
                    works.append(Work("patient_days", "department", department, key, days))
        self._dispatch(works, sync.centers, now, outcome)

    # -- validation, posting, parking -------------------------------------------------------------
    def _dispatch(self, works: list[Work], centers: dict[str, bool], now: SimTime, outcome: Outcome) -> None:
        """Validate each work's cost center; post the valid ones grouped per cost center and day."""
        groups: dict[tuple[str, str, str], list[Work]] = {}
        for work in works:
            try:
                center = (
                    self.crosswalk.org_unit(work.code)
                    if work.domain == "org unit"
                    else self.crosswalk.cost_center(work.code)
                )
            except Unmapped as unmapped:
                self._park(work, reasons.unmapped(unmapped.domain), str(unmapped), now)
                continue
            if center not in centers:
                self._park(work, reasons.UNKNOWN_COST_CENTER, f"the ERP has no cost center {center!r}", now)
            elif not centers[center]:
                self._park(work, reasons.RETIRED_COST_CENTER, f"cost center {center!r} is retired in the ERP", now)
            else:
                groups.setdefault((work.kind, center, work.work_date), []).append(work)
        for (kind, center, day), group in sorted(groups.items()):
            outcome.requests.append(self._request(kind, center, day, group))

    def _request(self, kind: str, center: str, day: str, works: list[Work]) -> TargetRequest:
        value = sum(work.value for work in works)
        reference = f"{center}@{day}"
        # The sources are part of the key: work remapped later onto a cost center that already
        # posted that day is a posting of its own, not a repeat the ERP should swallow.
        key = f"{kind}:{reference}/{'+'.join(sorted(work.code for work in works))}"
        self._in_flight[key] = works
        if kind == "labor":
            body: dict[str, Any] = {
                "reference": reference,
                "source": LABOR_ALLOCATION,
                "lines": [
                    {"account": SALARIES, "cost_center": center, "debit": value, "credit": 0},
                    {"account": ACCRUED_SALARIES, "cost_center": center, "debit": 0, "credit": value},
                ],
            }
            return TargetRequest("erp", "POST", "/finance/journals", body, key, CORRELATION + reference)
        account = PAID_MINUTES if kind == "minutes" else PATIENT_DAYS
        body = {"reference": reference, "account": account, "cost_center": center, "day": day, "quantity": value}
        return TargetRequest("erp", "POST", "/finance/statistics", body, key, CORRELATION + reference)

    def _posted(self, request: TargetRequest, response: TargetResponse, now: SimTime) -> None:
        works = self._in_flight.pop(request.idempotency_key, None)
        if works is None:
            return  # an answer repeated by the transport
        if response.ok:
            for work in works:
                self._unblock(work, now)
            return
        errors = "; ".join(map(str, response.body.get("errors", [])))
        codes = {p.get("code") for p in response.body.get("problems", []) if isinstance(p, dict)}
        if codes & set(COST_CENTER_PROBLEMS):
            reason = reasons.refused_cost_center(
                reasons.INACTIVE_COST_CENTER_PROBLEM if reasons.INACTIVE_COST_CENTER_PROBLEM in codes else ""
            )
            for work in works:
                self._park(work, reason, f"ERP refused the posting: {errors}", now)
        else:
            self._raise(request.correlation[len(CORRELATION) :], reasons.ERP_REJECTED, f"ERP refused: {errors}", now)

    def _park(self, work: Work, reason_code: str, reason: str, now: SimTime) -> None:
        """Keep the work for its source code's mapping, behind one open exception per code and day."""
        self._parked.setdefault((work.domain, work.code), []).append(work)
        if work.blocked_by is not None:
            return  # still waiting on the exception it was parked with
        slot = (work.domain, work.code, work.work_date, reason_code)
        if slot not in self._open:
            exception = IntegrationException(
                FLOW, f"{work.code}@{work.work_date}", reason_code, reason, now, domain=work.domain, code=work.code
            )
            self.raised.append(exception)
            self._open[slot] = (exception, 0)
        exception, waiting = self._open[slot]
        self._open[slot] = (exception, waiting + 1)
        work.blocked_by = slot

    def _unblock(self, work: Work, now: SimTime) -> None:
        slot, work.blocked_by = work.blocked_by, None
        if slot is None or slot not in self._open:
            return
        exception, waiting = self._open[slot]
        if waiting > 1:
            self._open[slot] = (exception, waiting - 1)
        else:
            exception.resolved_at = now
            del self._open[slot]

    def on_mapping(self, change: MappingPublished, now: SimTime) -> Outcome:
        """The crosswalk changed: validate the work parked for that code again, then post it."""
        outcome = Outcome()
        works = self._parked.pop((change.domain, change.code), [])
        if not works:
            return outcome
        self._retry.extend(works)
        if not self._revalidating:
            self._revalidating = True
            outcome.requests.append(TargetRequest("erp", "GET", "/finance/cost-centers", {}, "", _REVALIDATE))
        return outcome

    def _raise(self, key: str, reason_code: str, reason: str, now: SimTime) -> None:
        self.raised.append(IntegrationException(FLOW, key, reason_code, reason, now))


def _centers(body: dict[str, Any]) -> dict[str, bool]:
    """The validation service's answer: cost center -> active."""
    return {
        str(entry.get("cost_center")): bool(entry.get("active"))
        for entry in body.get("cost_centers", [])
        if isinstance(entry, dict)
    }
