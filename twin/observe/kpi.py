"""The executive-reporting oracle: every KPI recomputed from the truth ledger, with its members.

For each (kpi, scope, period) the truth says which source ids must be in the KPI's lineage
(*required*), which may or may not be (*racing*), what each member contributes to the value, and
when the value is due on the dashboard. It uses *ideal* times - the moment each member would
reach its target system under a perfect integration - taken from the other flows' oracles rather
than re-derived: the billing oracle's ``ready_at`` for receivables and claims (master-data holds
included), the supply oracle's ``ready_at`` for inventory issues (when the ERP could know a
usage), the labor oracle's journals and patient days; the EHR's discharges and charges, receipts
and cycle counts are exact, as they are entered in the system of record when they happen.

A member whose target time may fall on either side of a window boundary is racing: it reaches
its target between its ideal time and ``margin`` later (``margin`` is the larger of the reporting
flow's and the source flow's allowed lag), so it races every boundary inside that interval.
Where a member's contribution depends on such a race (stock levels, counts, times), the truth
keeps a range ``(low, high)`` instead of one number.

A period's values are due at the publish hour after it (labor: the first publish hour after the
work date's postings are ready). Values due after the last fact of the run may or may not be
published - the run may have settled before - so they are optional.
"""

from __future__ import annotations

import math
import weakref
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import accumulate

from twin.domain.events import (
    CaseCompleted,
    ChargesPosted,
    DischargeCancelled,
    GoodsReceived,
    PatientAdmitted,
    PatientDischarged,
    StockCounted,
)
from twin.domain.kpis import kpi_key
from twin.network import stock_policies
from twin.observe.expectations import CLAIM, RECEIVABLE
from twin.observe.flow_check import BILLING_CHECK, SUPPLY_CHECK
from twin.observe.labor_expectations import LABOR_JOURNAL, PATIENT_DAYS, labor_expectations
from twin.observe.records import Expected
from twin.observe.stock_levels import PostedIssue, Shelf
from twin.observe.supply_expectations import ISSUE
from twin.observe.truth import TruthLedger
from twin.observe.view import RunView

REPORTING = "executive_reporting"
KPI_TARGET = "dashboard.kpi"
REPORTING_TARGETS = (KPI_TARGET,)
MEANS = {"days_to_bill", "stock_accuracy", "supply_cost_per_case", "labor_cost_per_patient_day"}
ALWAYS = ("dnfb_amount", "stock_outs")  # published for every hospital and day, as zero if need be
SECOND = 1 / 60  # minutes: FHIR dateTimes on claims are rounded to the second
ID_KIND = {
    "dnfb_amount": "visit",
    "days_to_bill": "visit",
    "stock_outs": "supply line",
    "stock_accuracy": "count",
    "supply_cost_per_case": "case",
    "labor_cost_per_patient_day": "work date",
}


@dataclass(slots=True)
class TruthKpi:
    """One KPI value as the truth has it: members with contributions, and when it is due."""

    kpi: str
    scope: str
    period: str
    dues: list[float]  # the publish instants at which a correct value may appear (first one due)
    members: dict[str, tuple[float, float]] = field(default_factory=dict)  # id -> (low, high) contribution
    required: set[str] = field(default_factory=set)
    optional: bool = False  # may or may not be published at all

    @property
    def key(self) -> str:
        return kpi_key(self.kpi, self.scope, self.period)

    def add(self, member: str, low: float, high: float, *, required: bool) -> None:
        """A member's contribution (summed if it contributes more than once, e.g. several issues)."""
        old_low, old_high = self.members.get(member, (0.0, 0.0))
        self.members[member] = (old_low + low, old_high + high)
        if required:
            self.required.add(member)

    def bounds(self, lineage: set[str]) -> tuple[float, float] | None:
        """The truth value over ``lineage`` (members only) as a range; ``None``: no value (a mean of nothing)."""
        ordered = sorted(lineage)  # float sums depend on order: a set's order depends on the hash seed
        low = sum(self.members[m][0] for m in ordered)
        high = sum(self.members[m][1] for m in ordered)
        if self.kpi in MEANS:
            if not lineage:
                return None
            return low / len(lineage), high / len(lineage)
        return low, high


class Calendar:
    """Periods (calendar days of the run) in simulated minutes, and their publish instants."""

    def __init__(self, view: RunView) -> None:
        self.first_day = view.timebase.epoch.date()
        self.clock = view.timebase.start_clock
        self.publish = view.scenario.reporting.publish_hour * 60
        self._names: dict[int, str] = {}

    def index(self, at: float) -> int:
        return math.floor((at + self.clock) / 1440)

    def start(self, index: int) -> float:
        return index * 1440 - self.clock

    def due(self, index: int) -> float:
        """When the KPIs of period ``index`` are computed: the publish hour of the next day."""
        return self.start(index + 1) + self.publish

    def next_publish(self, at: float) -> int:
        """The period whose publish instant is the first at or after ``at``."""
        return math.ceil((at - self.publish + self.clock) / 1440) - 1

    def last_due(self, horizon: float) -> int:
        """The last period whose publish instant is at or before ``horizon``."""
        return math.floor((horizon - self.publish + self.clock) / 1440) - 1

    def name(self, index: int) -> str:
        name = self._names.get(index)
        if name is None:
            name = self._names[index] = (self.first_day + timedelta(days=index)).isoformat()
        return name

    def spanned(self, at: float, margin: float) -> range:
        """The periods a record ideally at ``at`` may land in: it lands within ``margin`` after."""
        return range(self.index(at), self.index(at + margin) + 1)


class _Facts:
    """The truth ledger read once, in one pass: what the KPI oracle needs of it."""

    def __init__(self, truth: TruthLedger) -> None:
        self.hospital: dict[str, str] = {}  # visit -> hospital
        self.discharged: dict[str, float] = {}  # visit -> its discharge, unless cancelled since
        self.withdrawn: dict[str, list[tuple[float, float]]] = {}  # visit -> (discharged, cancelled) (A13)
        self.charges: dict[str, list[tuple[float, int]]] = {}  # visit -> (service time, amount)
        self.case_of: dict[str, str] = {}  # supply line -> case
        self.cases: set[str] = set()
        self.receipts: dict[tuple[str, str], list[tuple[float, int]]] = {}
        self.counts: list[StockCounted] = []
        self.last = 0.0  # when the last fact happened
        for fact in truth:  # most frequent first
            if isinstance(fact, ChargesPosted):
                charges = self.charges.setdefault(fact.visit, [])
                for line in fact.lines:
                    charges.append((line.service_at, line.amount))
                    if line.location:
                        self.case_of[line.txn_id] = line.case
            elif isinstance(fact, PatientAdmitted):
                self.hospital[fact.visit] = fact.hospital
            elif isinstance(fact, PatientDischarged):
                self.discharged[fact.visit] = fact.at
            elif isinstance(fact, GoodsReceived):
                self.receipts.setdefault((fact.location, fact.item), []).append((fact.at, fact.quantity))
            elif isinstance(fact, StockCounted):
                self.counts.append(fact)
            elif isinstance(fact, CaseCompleted):
                self.cases.add(fact.case)
            elif isinstance(fact, DischargeCancelled):
                left = self.discharged.pop(fact.visit, None)
                if left is not None:
                    self.withdrawn.setdefault(fact.visit, []).append((left, fact.at))
            if fact.at > self.last:
                self.last = fact.at


class KpiTruth:
    """Every KPI value the truth expects on the dashboard (``values``) and the ids that exist."""

    def __init__(self, view: RunView) -> None:
        # weakly: ``kpi_check`` caches a run's KpiTruth in a WeakKeyDictionary keyed by the view, and a
        # value that held its key strongly would keep every run ever judged alive (a sweep worker grew
        # by a whole run's truth and targets per run)
        self._view = weakref.ref(view)
        scenario = view.scenario
        self.calendar = Calendar(view)
        self.lag = scenario.reporting.allowed_lag_minutes
        # A live run's records land up to the clock's tolerance later than their allowed lag (the
        # wall clock's jitter at the run's speed): they race boundaries over that much more.
        self.tolerance = view.clock_tolerance
        self.billing_margin = max(self.lag, scenario.billing.allowed_lag_minutes) + self.tolerance
        self.supply_margin = max(self.lag, scenario.supply.allowed_lag_minutes) + self.tolerance
        self.facts = _Facts(view.truth)
        self.last_fact = self.facts.last
        self.values: dict[str, TruthKpi] = {}
        self.known: dict[str, set[str]] = {kind: set() for kind in set(ID_KIND.values())}
        self.hospitals = tuple(h.code for h in view.network.hospitals)
        self.hospital_of = view.network.hospital_of_location()

    @property
    def view(self) -> RunView:
        view = self._view()
        if view is None:
            raise RuntimeError("the run this KPI truth was computed from is gone")
        return view

    def compute(self, horizon: float) -> KpiTruth:
        view = self.view
        last = self.calendar.last_due(horizon)
        for index in range(0, last + 1):
            for kpi in ALWAYS:
                for hospital in self.hospitals:
                    self._value(kpi, hospital, index)
        # the very records the billing and supply checks expect, held for outages as they hold them
        billing = BILLING_CHECK.due(view)
        supply = SUPPLY_CHECK.due(view)
        issues = [e for e in supply if e.target == ISSUE and e.ready_at < math.inf]
        billed = {e.key: (e.ready_at, e.grace) for e in billing if e.target == RECEIVABLE}
        self._billing(billed, {e.key: (e.ready_at, e.grace) for e in billing if e.target == CLAIM}, last)
        self._stock(issues, last)
        self._labor(last)
        for value in self.values.values():
            if min(value.dues) > self.last_fact:
                value.optional = True
        return self

    def _value(self, kpi: str, scope: str, index: int) -> TruthKpi:
        key = kpi_key(kpi, scope, self.calendar.name(index))
        value = self.values.get(key)
        if value is None:
            value = self.values[key] = TruthKpi(kpi, scope, self.calendar.name(index), [self.calendar.due(index)])
            value.optional = kpi not in ALWAYS  # until a required member makes it due
        return value

    def _member(
        self, kpi: str, scope: str, index: int, member: str, low: float, high: float, *, required: bool
    ) -> None:
        value = self._value(kpi, scope, index)
        value.add(member, low, high, required=required)
        if required:
            value.optional = False

    # -- discharged not final billed, days to bill --------------------------------------------
    def _billing(
        self, billed: dict[str, tuple[float, float]], claimed: dict[str, tuple[float, float]], last: int
    ) -> None:
        """A bill may land from its due moment until the allowed lag after it - and, where the truth
        lets it wait (a bill held for its late charges, a target down), that much later: its
        members race every day boundary in that span."""
        hospital, discharged, charges = self.facts.hospital, self.facts.discharged, self.facts.charges
        self.known["visit"].update(hospital)
        calendar = self.calendar
        beyond = calendar.start(last + 2)  # a wait reaching past the last period races every one of them

        def margin_of(ready: float, grace: float) -> float:
            return self.billing_margin + min(grace, max(0.0, beyond - ready))

        withdrawn = self.facts.withdrawn
        for visit in [*discharged, *(visit for visit in withdrawn if visit not in discharged)]:
            bill, grace = billed.get(visit, (math.inf, 0.0))
            margin = margin_of(bill, grace) if math.isfinite(bill) else self.billing_margin
            final = last if bill == math.inf else min(last, calendar.index(bill + margin) - 1)
            lines = sorted(charges.get(visit, []))
            times = [at for at, _ in lines]
            totals = [0, *accumulate(amount for _, amount in lines)]
            for index, seen in self._discharged_days(visit, final):
                midnight = calendar.start(index + 1)
                if bill < midnight - margin:
                    continue
                amount = totals[bisect_left(times, midnight)]
                required = seen and bill >= midnight
                self._member("dnfb_amount", hospital[visit], index, visit, amount, amount, required=required)
        lag_days = (self.view.scenario.billing.allowed_lag_minutes + self.tolerance) / 1440
        for visit, (ready, grace) in claimed.items():
            if not math.isfinite(ready):  # never due (a problem nobody fixed): the billing check reports it
                continue
            margin = margin_of(ready, grace)
            days = (ready - discharged[visit]) / 1440
            low, high = days - SECOND / 1440, days + lag_days + (margin - self.billing_margin) / 1440 + SECOND / 1440
            spanned = calendar.spanned(ready, margin)
            for index in spanned:
                if index <= last:
                    self._member("days_to_bill", hospital[visit], index, visit, low, high, required=len(spanned) == 1)

    def _discharged_days(self, visit: str, final: int) -> Iterator[tuple[int, bool]]:
        """The periods up to ``final`` whose report may find ``visit`` discharged before their
        midnight, and whether it surely does. The report reads the EHR's extract at its publish
        instant, up to the reporting lag later: a discharge cancelled (A13) before that is no
        discharge to it, one cancelled after it was, and one cancelled in between may be either.
        The standing discharge (none cancelled it) counts for every period from its own on."""
        calendar, reading = self.calendar, self.lag + self.tolerance
        spans = [*self.facts.withdrawn.get(visit, ())]
        left = self.facts.discharged.get(visit)
        if left is not None:
            spans.append((left, math.inf))
        days: dict[int, bool] = {}
        for discharged, cancelled in spans:
            index = calendar.index(discharged)  # the first midnight after the discharge ends this period
            while index <= final and calendar.due(index) < cancelled:
                days[index] = days.get(index, False) or calendar.due(index) + reading < cancelled
                index += 1
        return iter(sorted(days.items()))

    # -- stock-outs, stock accuracy, supply cost per case -------------------------------------
    def _stock(self, issues: list[Expected], last: int) -> None:
        view, calendar, margin = self.view, self.calendar, self.supply_margin
        case_of, receipts, counts = self.facts.case_of, self.facts.receipts, self.facts.counts
        self.known["supply line"].update(case_of)
        self.known["case"].update(self.facts.cases, case_of.values())
        self.known["count"].update(count.count_id for count in counts)
        opening = {key: par for key, (_reorder, par) in stock_policies(view.network, view.scenario).items()}
        stock = {key: Shelf(opening.get(key, 0), sorted(received)) for key, received in receipts.items()}
        shelved: dict[tuple[str, str], list[Expected]] = {}
        cases: dict[tuple[str, int, str], tuple[float, list[float]]] = {}  # -> (certain cost, racing costs)
        for issue in sorted(issues, key=lambda e: e.ready_at):  # stable: same-time issues keep truth order
            value, at = issue.value, issue.ready_at
            if not math.isfinite(at):  # never due: the supply check reports it
                continue
            key = (str(value["location"]), str(value["item"]))
            shelf = stock.get(key) or stock.setdefault(key, Shelf(opening.get(key, 0), []))
            shelf.issue(PostedIssue(at, at + margin + issue.grace, int(value["quantity"])))
            shelved.setdefault(key, []).append(issue)
            spanned = calendar.spanned(at, margin)
            certain = len(spanned) == 1
            periods = [index for index in spanned if index <= last]
            cost = float(value["cost"])
            for index in periods:
                slot = (str(value["cost_center"]), index, case_of.get(issue.key, ""))
                known, racing = cases.get(slot, (0.0, []))
                cases[slot] = (known + cost, racing) if certain else (known, [*racing, cost])
        for key, shelf_issues in shelved.items():
            for issue, (may, must) in zip(shelf_issues, stock[key].stock_outs(), strict=True):
                if not may:
                    continue
                spanned = calendar.spanned(issue.ready_at, margin + issue.grace)
                for index in spanned:
                    if index <= last:
                        required = must and len(spanned) == 1
                        self._member("stock_outs", self.hospital_of[key[0]], index, issue.key, 1, 1, required=required)
        for (center, index, case), (known, racing) in cases.items():
            if not case:  # floor stock and dispensed drugs are used in no surgical case
                continue
            # A case reported for a day had at least one issue there: its cheapest racing one, if no certain one.
            low = known if known or not racing else min(racing)
            self._member("supply_cost_per_case", center, index, case, low, known + sum(racing), required=known > 0)
        for count in counts:
            index = calendar.index(count.at)
            if index <= last:
                shelf = stock.get((count.location, count.item)) or Shelf(
                    opening.get((count.location, count.item), 0), []
                )
                low, high = shelf.zero_variance(count.at, count.physical)
                self._member("stock_accuracy", count.hospital, index, count.count_id, low, high, required=True)

    # -- labor cost per patient day ------------------------------------------------------------
    def _labor(self, last: int) -> None:
        view = self.view
        expected = labor_expectations(view.truth, view.network, view.scenario, view.timebase)
        journals = {e.key: e for e in expected if e.target == LABOR_JOURNAL}
        census = {e.key: e for e in expected if e.target == PATIENT_DAYS}
        self.known["work date"].update(journals)
        self.known["work date"].update(census)
        calendar, margin = self.calendar, max(self.lag, view.scenario.labor.allowed_lag_minutes) + self.tolerance
        for key, days in census.items():
            journal = journals.get(key)
            patient_days = int(days.value["patient_days"])
            if journal is None or patient_days <= 0 or max(journal.ready_at, days.ready_at) == math.inf:
                continue
            ready = max(journal.ready_at, days.ready_at)
            first = calendar.next_publish(ready)
            later = calendar.next_publish(ready + margin)
            if first > last:
                continue
            center, _, work_date = key.rpartition("@")
            ratio = int(journal.value["amount"]) / patient_days
            value = TruthKpi(
                "labor_cost_per_patient_day",
                center,
                work_date,
                # every publish that may be the first to find it, the ones after the horizon too: a run
                # cut between two of them has not seen the last chance yet (a sync racing the publish)
                [calendar.due(i) for i in range(first, later + 1)],
            )
            value.add(key, ratio, ratio, required=True)
            value.optional = journal.optional or days.optional
            self.values[value.key] = value
