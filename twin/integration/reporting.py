"""Executive reporting: a curated data service that computes KPIs from the target systems.

The brief's scenario four. Every day at the configured hour (06:00) the service reads what the
systems of record hold - ERP receivables, inventory issues, stock-outs, cycle counts, labor
journals and patient-day statistics, the clearinghouse's accepted claims, and the EHR's
reporting extract of discharges (the only source of who left the hospital) - and computes the
KPIs of the previous calendar day D, each per scope, with its *lineage*: the source business ids
behind the value, so anyone can trace a number on the dashboard back to the events it counts.

Windows are half-open, ``[start of D, midnight ending D)``, in simulated minutes (the clock the
targets' reports use); a record at midnight belongs to the next day.

- ``dnfb_amount`` per hospital (cents): charges before midnight of the encounters discharged
  before midnight that have no receivable posted before it; lineage: visit numbers.
- ``days_to_bill`` per hospital: mean days from discharge (the claim's billable period end) to
  acceptance, over the claims accepted during D; lineage: visit numbers (claim numbers).
- ``stock_outs`` per hospital: issues posted during D that left ERP on-hand below zero;
  lineage: the issues' source lines (supply transaction ids).
- ``stock_accuracy`` per hospital: share of D's cycle counts with zero variance; lineage: count ids.
- ``supply_cost_per_case`` per service-line cost center: cost issued during D / cases it was
  issued for; lineage: case ids.
- ``labor_cost_per_patient_day`` per nursing cost center and work date W: the labor journals of
  W / the patient days of W there; lineage: the labor flow's work-date keys
  (``<cost center>@<date>``). A work date closes in the ERP only after its night shift clocked
  out (the labor sync posts it a night or two later), so this KPI's period is W, published at the
  first run that finds W's postings - and republished (the dashboard replaces it) if more arrive.

Values with nothing to average (no claims, no counts, no cases, no patient days) are not
published; DNFB and stock-outs are, as zero. DNFB is kept incrementally - the service remembers
the discharged, unbilled encounters, asks for the discharges and receivables since its last cut
and refreshes only the charts it still follows (late charges) - so a day's run costs what is
open, not the whole history. Sans-IO: timers and responses with
``now`` in, requests and exceptions out.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import accumulate
from typing import Any

from twin.domain import reasons
from twin.domain.accounts import LABOR_ALLOCATION, PATIENT_DAYS, SALARIES
from twin.domain.contract import IntegrationException, Outcome
from twin.domain.exchange import TargetRequest, TargetResponse
from twin.domain.kpis import KPI_UNITS, kpi_key
from twin.domain.model import SimTime
from twin.domain.timebase import Timebase

FLOW = "executive_reporting"
CORRELATION = "kpi:"  # every request of this flow carries a correlation starting with it
_TOLERANCE = 1e-6  # minutes: a timer fired this close to the publish time is the publish time
KpiValue = tuple[str, str, str, float, list[str]]  # kpi, scope, period, value, lineage


@dataclass(frozen=True, slots=True)
class ReportingConfig:
    """What the service is configured with: the hospitals it reports on, which hospital each ERP
    inventory location belongs to, and when it publishes (minutes after local midnight)."""

    hospitals: tuple[str, ...] = ()
    hospital_of_location: dict[str, str] = field(default_factory=dict)
    publish_minute_of_day: float = 360.0


class _Chart:
    """A discharged encounter not billed yet, as the EHR extract showed it."""

    __slots__ = ("hospital", "discharged_at", "lines", "_times", "_totals")

    def __init__(self, hospital: str, discharged_at: SimTime, charges: list[tuple[SimTime, int]]) -> None:
        self.hospital = hospital
        self.discharged_at = discharged_at
        self.lines = len(charges)
        charges = sorted(charges)
        self._times = [at for at, _ in charges]
        self._totals = [0, *accumulate(amount for _, amount in charges)]

    def before(self, end: SimTime) -> int:
        """Charges posted before ``end``, in cents."""
        return self._totals[bisect_left(self._times, end)]


@dataclass(slots=True)
class _Run:
    """One day's computation: the queries sent, and their answers as they come in."""

    period: date
    start: SimTime  # minutes of the period's first instant
    end: SimTime  # minutes of the midnight ending it
    cut: SimTime  # when the queries were sent: what the journals query reads up to
    pending: set[str]
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)


class KpiService:
    """The reporting part of the reference integration."""

    def __init__(self, config: ReportingConfig, timebase: Timebase) -> None:
        self.config = config
        self.timebase = timebase
        self.raised: list[IntegrationException] = []
        self.published = 0
        self._clock = timebase.start_clock
        self._due: SimTime | None = None
        self._first: date | None = None  # the day the service was switched on: nothing before it is reported
        self._run: _Run | None = None
        self._charts: dict[str, _Chart] = {}  # discharged, not billed: visit -> chart
        self._billed: set[str] = set()
        self._dnfb_cut: SimTime | None = None  # the midnight the last DNFB was computed at
        self._labor_cut: SimTime | None = None  # what the labor queries have read up to
        self._labor: dict[tuple[str, str], tuple[int, set[str]]] = {}  # (center, date) -> (cents, keys)
        self._patient_days: dict[tuple[str, str], tuple[int, set[str]]] = {}  # (center, date) -> (days, keys)

    def owns(self, request: TargetRequest) -> bool:
        return request.correlation.startswith(CORRELATION)

    # -- schedule -------------------------------------------------------------------------------
    def start(self, now: SimTime) -> Outcome:
        self._first = self.timebase.day(max(now, 0.0))  # the run starts at minute 0: nothing before is reported
        self._due = self._next(now)
        return Outcome(timers=[self._due])

    def _next(self, now: SimTime) -> SimTime:
        wait = (self.config.publish_minute_of_day - (now + self._clock)) % 1440
        return now + (wait if wait > _TOLERANCE else 1440 + wait)

    def on_timer(self, now: SimTime) -> Outcome:
        if self._due is None or now < self._due - _TOLERANCE:
            return Outcome()  # another flow's timer
        self._due = self._next(now)
        outcome = Outcome(timers=[self._due])
        if self._run is None:
            self._begin(now, outcome)
        return outcome

    def _midnight(self, day: date) -> SimTime:
        return self.timebase.minutes(day.strftime("%Y%m%d"))

    def _begin(self, now: SimTime, outcome: Outcome) -> None:
        """Ask every source for what the previous day's KPIs need."""
        period = self.timebase.day(now) - timedelta(days=1)
        if self._first is not None and period < self._first:
            return  # the day before the service was switched on is not its to report
        start, end = self._midnight(period), self._midnight(period + timedelta(days=1))
        # DNFB: the discharges since the last cut, and a refresh of the charts still unbilled.
        changed: dict[str, Any] = {} if self._dnfb_cut is None else {"discharged_from": self._dnfb_cut}
        changed["refresh"] = {visit: chart.lines for visit, chart in sorted(self._charts.items())}
        billed: dict[str, Any] = {} if self._dnfb_cut is None else {"posted_from": self._dnfb_cut}
        since: dict[str, Any] = {} if self._labor_cut is None else {"posted_from": self._labor_cut}
        window = {"posted_from": start, "posted_before": end}
        queries = {
            "discharges": ("ehr", "/reporting/discharges", {"discharged_before": end, **changed}),
            "receivables": ("erp", "/finance/ar-items", {**billed, "posted_before": end}),
            "claims": ("clearinghouse", "/claims", {"received_from": start, "received_before": end}),
            "issues": ("erp", "/inventory/issues", window),
            "stock_outs": ("erp", "/inventory/stock-outs", window),
            "counts": ("erp", "/inventory/counts", window),
            "labor": ("erp", "/finance/journals", {"source": LABOR_ALLOCATION, **since, "posted_before": now}),
            "patient_days": (
                "erp",
                "/finance/statistics",
                {"account": PATIENT_DAYS, **since, "posted_before": now},
            ),
        }
        self._run = _Run(period, start, end, now, set(queries))
        tag = f"{CORRELATION}{period.isoformat()}"
        for name, (system, path, query) in queries.items():
            outcome.requests.append(TargetRequest(system, "GET", path, query, f"{tag}/{name}", f"{tag}/{name}"))

    # -- answers --------------------------------------------------------------------------------
    def on_response(self, request: TargetRequest, response: TargetResponse, now: SimTime) -> Outcome:
        outcome = Outcome()
        if request.method == "POST":
            if response.ok:
                self.published += 1
            else:
                errors = "; ".join(map(str, response.body.get("errors", [])))
                self._raise(request.idempotency_key, reasons.DASHBOARD_REJECTED, f"dashboard refused: {errors}", now)
            return outcome
        run = self._run
        name = request.correlation.rpartition("/")[2]
        if run is None or request.correlation != f"{CORRELATION}{run.period.isoformat()}/{name}":
            return outcome  # an answer repeated by the transport, or for an abandoned run
        if name not in run.pending:
            return outcome
        run.pending.discard(name)
        if response.ok:
            run.answers[name] = response.body
        else:
            run.failed.append(f"{request.system} {request.path} answered {response.status}")
        if not run.pending:
            self._run = None
            if run.failed:
                self._raise(run.period.isoformat(), reasons.SOURCE_UNAVAILABLE, "; ".join(run.failed), now)
            else:
                self._publish(run, now, outcome)
        return outcome

    def _publish(self, run: _Run, now: SimTime, outcome: Outcome) -> None:
        values = [
            *self._dnfb(run),
            *self._days_to_bill(run),
            *self._stock(run),
            *self._supply_cost(run),
            *self._labor_per_patient_day(run),
        ]
        for kpi, scope, period, value, lineage in values:
            body = {
                "kpi": kpi,
                "scope": scope,
                "period": period,
                "value": value,
                "unit": KPI_UNITS[kpi],
                "lineage": sorted(lineage),
                "as_of": now,
            }
            key = kpi_key(kpi, scope, period)
            outcome.requests.append(
                TargetRequest("dashboard", "POST", "/kpis", body, key, f"{CORRELATION}{period}/publish")
            )

    # -- the KPIs -------------------------------------------------------------------------------
    def _dnfb(self, run: _Run) -> list[KpiValue]:
        for encounter in run.answers["discharges"].get("discharges", []):
            visit = str(encounter["visit"])
            if visit in self._billed:
                continue
            self._charts[visit] = _Chart(
                str(encounter["hospital"]),
                float(encounter["discharged_at"]),
                [(float(c["at"]), int(c["amount"])) for c in encounter.get("charges", [])],
            )
        for visit in run.answers["discharges"].get("not_discharged", []):  # discharge cancelled (A13): in house again
            self._charts.pop(str(visit), None)
        for item in run.answers["receivables"].get("ar_items", []):
            self._billed.add(str(item["invoice"]))
            self._charts.pop(str(item["invoice"]), None)
        self._dnfb_cut = run.end
        amount = dict.fromkeys(self.config.hospitals, 0)
        lineage: dict[str, list[str]] = {hospital: [] for hospital in self.config.hospitals}
        for visit, chart in self._charts.items():
            if chart.discharged_at >= run.end:
                continue
            amount[chart.hospital] = amount.get(chart.hospital, 0) + chart.before(run.end)
            lineage.setdefault(chart.hospital, []).append(visit)
        day = run.period.isoformat()
        return [("dnfb_amount", h, day, amount[h], lineage[h]) for h in sorted(amount)]

    def _days_to_bill(self, run: _Run) -> list[KpiValue]:
        days: dict[str, list[float]] = {}
        lineage: dict[str, list[str]] = {}
        for claim in run.answers["claims"].get("claims", []):
            hospital = str(claim["provider"])
            discharged = self._iso_minutes(str(claim["billable_period_end"]))
            days.setdefault(hospital, []).append((float(claim["received_at"]) - discharged) / 1440)
            lineage.setdefault(hospital, []).append(str(claim["claim_number"]))
        day = run.period.isoformat()
        return [("days_to_bill", h, day, sum(days[h]) / len(days[h]), lineage[h]) for h in sorted(days)]

    def _iso_minutes(self, text: str) -> SimTime:
        """A FHIR dateTime (``2026-01-05T10:00:00+00:00``) in simulated minutes."""
        return self.timebase.minutes(text[:19].replace("-", "").replace("T", "").replace(":", ""))

    def _stock(self, run: _Run) -> list[KpiValue]:
        where = self.config.hospital_of_location
        outs: dict[str, list[str]] = {hospital: [] for hospital in self.config.hospitals}
        for out in run.answers["stock_outs"].get("stock_outs", []):
            outs.setdefault(where.get(str(out["location"]), str(out["location"])), []).append(str(out["reference"]))
        counts: dict[str, list[tuple[str, bool]]] = {}
        for count in run.answers["counts"].get("counts", []):
            hospital = where.get(str(count["location"]), str(count["location"]))
            counts.setdefault(hospital, []).append((str(count["count_id"]), int(count["variance"]) == 0))
        day = run.period.isoformat()
        values: list[KpiValue] = [("stock_outs", h, day, len(refs), refs) for h, refs in sorted(outs.items())]
        for hospital, entries in sorted(counts.items()):
            accurate = sum(1 for _, zero in entries if zero)
            values.append(("stock_accuracy", hospital, day, accurate / len(entries), [c for c, _ in entries]))
        return values

    def _supply_cost(self, run: _Run) -> list[KpiValue]:
        cost: dict[str, int] = {}
        cases: dict[str, set[str]] = {}
        for issue in run.answers["issues"].get("issues", []):
            if not issue.get("case"):
                continue
            center = str(issue["cost_center"])
            cost[center] = cost.get(center, 0) + int(issue["cost"])
            cases.setdefault(center, set()).add(str(issue["case"]))
        day = run.period.isoformat()
        return [("supply_cost_per_case", c, day, cost[c] / len(cases[c]), sorted(cases[c])) for c in sorted(cost)]

    def _labor_per_patient_day(self, run: _Run) -> list[KpiValue]:
        """Add the labor postings read since the last run; publish every (cost center, work date)
        they changed that has both labor and patient days. Work dates close in the ERP a night or
        two after they end (night shifts clock out the next morning), so this is not always D."""
        changed: set[tuple[str, str]] = set()
        for journal in run.answers["labor"].get("journals", []):
            reference = str(journal["reference"])
            work_date = reference.rpartition("@")[2]
            for line in journal.get("lines", []):
                if line.get("account") == SALARIES:
                    key = (str(line["cost_center"]), work_date)
                    _add(self._labor, key, int(line["debit"]) - int(line["credit"]), reference)
                    changed.add(key)
        for statistic in run.answers["patient_days"].get("statistics", []):
            key = (str(statistic["cost_center"]), str(statistic["day"]))
            _add(self._patient_days, key, int(statistic["quantity"]), str(statistic["reference"]))
            changed.add(key)
        self._labor_cut = run.cut
        values: list[KpiValue] = []
        for key in sorted(changed):
            if key not in self._labor or key not in self._patient_days or self._patient_days[key][0] <= 0:
                continue
            (cents, labor_refs), (days, day_refs) = self._labor[key], self._patient_days[key]
            values.append(("labor_cost_per_patient_day", key[0], key[1], cents / days, sorted(labor_refs | day_refs)))
        return values

    def _raise(self, key: str, reason_code: str, reason: str, now: SimTime) -> None:
        self.raised.append(IntegrationException(FLOW, key, reason_code, reason, now))


def _add(totals: dict[tuple[str, str], tuple[int, set[str]]], key: tuple[str, str], value: int, ref: str) -> None:
    total, refs = totals.get(key, (0, set()))
    totals[key] = (total + value, refs | {ref})
