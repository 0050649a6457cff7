"""The naive interface's nightly jobs: a labor flat file at 02:00 and a DNFB report at 06:00.

What a shop without an integration platform schedules with cron:

- **labor**: at 02:00 it pulls yesterday's timecards from the HCM and posts one labor journal per
  org unit to the cost center its installed table says - whether or not every shift of that day
  has clocked out yet (the night shift has not), whatever finance has retired since (the ERP
  refuses, and the error goes to the log), and without the paid-minutes and patient-day statistics
  a cost-per-patient-day report needs;
- **reporting**: at 06:00 it publishes yesterday's discharged-not-final-billed amount per hospital,
  computed from its own memory of the feed - an encounter counts as billed once the interface
  *sent* its journal, whatever the ERP answered - and no other KPI.

Sans-IO like every integration the twin drives: timers and answers in, requests out.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from twin.domain.accounts import ACCRUED_SALARIES, LABOR_ALLOCATION, SALARIES
from twin.domain.exchange import TargetRequest, TargetResponse
from twin.domain.kpis import KPI_UNITS
from twin.domain.model import SimTime
from twin.domain.timebase import Timebase

LABOR_AT = 2 * 60.0  # 02:00 local
REPORT_AT = 6 * 60.0  # 06:00 local
DAY = 1440.0


@dataclass(slots=True)
class Encounter:
    """What the interface remembers of one encounter for its report."""

    hospital: str
    discharged_at: SimTime | None = None
    charges: list[tuple[SimTime, int]] = field(default_factory=list)  # as received: copies count twice
    journal_sent_at: SimTime | None = None


class NightlyJobs:
    """The two cron jobs (see the module docstring)."""

    def __init__(self, timebase: Timebase, org_units: dict[str, str], hospitals: tuple[str, ...]) -> None:
        self.timebase = timebase
        self.org_units = org_units  # HCM org unit -> ERP cost center, copied at installation
        self.hospitals = hospitals
        self.encounters: dict[str, Encounter] = defaultdict(lambda: Encounter(""))

    def first_runs(self, now: SimTime) -> list[SimTime]:
        return [self._next(now, LABOR_AT), self._next(now, REPORT_AT)]

    def _next(self, now: SimTime, clock: float) -> SimTime:
        """The next moment at or after ``now`` the local clock shows ``clock`` minutes after midnight."""
        local = now + self.timebase.start_clock
        return math.ceil((local - clock) / DAY) * DAY + clock - self.timebase.start_clock

    def due(self, now: SimTime) -> tuple[list[TargetRequest], list[SimTime]]:
        """The jobs whose time has come: their requests, and when each runs next."""
        requests: list[TargetRequest] = []
        timers: list[SimTime] = []
        for clock, job in ((LABOR_AT, self._labor), (REPORT_AT, self._report)):
            if abs(self._next(now, clock) - now) < 1e-6:
                requests.extend(job(now))
                timers.append(now + DAY)
        return requests, timers

    def _labor(self, now: SimTime) -> list[TargetRequest]:
        yesterday = (self.timebase.day(now) - timedelta(days=1)).isoformat()
        return [TargetRequest("hcm", "GET", "/timecards", {"work_date": yesterday}, "", "naive:labor")]

    def timecards(self, response: TargetResponse) -> list[TargetRequest]:
        """The flat file came: one labor journal per org unit, posted as it is."""
        pay: dict[str, int] = defaultdict(int)
        for card in response.body.get("timecards", []):
            pay[str(card["org_unit"])] += int(card["amount"])
        day = str(response.body.get("work_date", ""))
        requests = []
        for unit, amount in sorted(pay.items()):
            center = self.org_units.get(unit, unit)
            body = {
                "reference": f"{center}@{day}",
                "source": LABOR_ALLOCATION,
                "lines": [
                    {"account": SALARIES, "cost_center": center, "debit": amount, "credit": 0},
                    {"account": ACCRUED_SALARIES, "cost_center": center, "debit": 0, "credit": amount},
                ],
            }
            requests.append(TargetRequest("erp", "POST", "/finance/journals", body, "", f"naive:labor:{unit}"))
        return requests

    def _report(self, now: SimTime) -> list[TargetRequest]:
        midnight = now - REPORT_AT  # the cut: the midnight that ended yesterday
        day = self.timebase.day(midnight - 1).isoformat()
        requests = []
        for hospital in self.hospitals:
            waiting = sorted(
                visit
                for visit, encounter in self.encounters.items()
                if encounter.hospital == hospital
                and encounter.discharged_at is not None
                and encounter.discharged_at < midnight
                and (encounter.journal_sent_at is None or encounter.journal_sent_at >= midnight)
            )
            amount = sum(a for visit in waiting for at, a in self.encounters[visit].charges if at < midnight)
            body: dict[str, Any] = {
                "kpi": "dnfb_amount",
                "scope": hospital,
                "period": day,
                "value": amount,
                "unit": KPI_UNITS["dnfb_amount"],
                "lineage": waiting,
                "as_of": now,
            }
            requests.append(TargetRequest("dashboard", "POST", "/kpis", body, "", f"naive:kpi:{hospital}"))
        return requests
