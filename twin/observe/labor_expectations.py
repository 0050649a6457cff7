"""The labor cost allocation flow's oracle: expectations from the truth, observations of the targets.

Expectations come from the truth ledger alone (``ShiftWorked`` facts, room-and-board charge lines,
governance facts), the network's master data and the scenario's labor policy, never from the
integration's code:

- per ERP cost center and work date, one labor journal (``erp.labor_journal``, key
  ``101-6030@2026-01-05``) of sum(hours x rate) - each shift rounded as ``shift_pay`` says -
  balanced against accrued salaries, and the paid minutes as a statistic (``erp.labor_minutes``);
- per nursing cost center and day, the patient days of the room-and-board lines of that service
  day (``erp.patient_days``), and labor cost per patient day computed from the ERP alone equal
  to the truth's (``erp.labor_cost_per_patient_day``);
- per pay period and org unit, the HCM payroll register equals sum(hours x rate)
  (``hcm.payroll_register``);
- an exception for every posting parked because its cost center was retired
  (``integration.labor_exception``).

A work date is due at the first nightly sync after the day is over and its last shift has ended
(the night shift ends the next morning, so at 02:00 that is two nights later). Governance rule:
labor (or patient days) of a work date synced after its cost center was retired belongs to the
replacement cost center and is due no earlier than the ``MappingPublished`` that remaps its org
unit (department); until then an open ``retired_cost_center`` exception is expected, keyed by
the source code and work date (``ORG-0149@2026-01-06``). Replacement cost centers are assumed
new, as finance opens them: remapped work never meets work already posted under the same key.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from weakref import WeakKeyDictionary

from mocks.erp.finance import ErpFinance
from mocks.hcm.hcm import Hcm
from twin.domain import accounts, reasons
from twin.domain.accounts import LABOR_ALLOCATION, PAID_MINUTES, SALARIES, is_room_and_board
from twin.domain.contract import IntegrationException
from twin.domain.events import ChargesPosted, CostCenterRetired, ShiftScheduled, ShiftWorked
from twin.domain.model import SimTime, shift_pay
from twin.domain.timebase import Timebase
from twin.network import Network
from twin.observe.governance_facts import governance_facts
from twin.observe.records import Expected, Observed
from twin.observe.truth import TruthLedger
from twin.scenario import Scenario
from twin.workforce import org_unit_crosswalk, pay_period, pay_period_of, payroll_run_at

LABOR = "labor_cost"
LABOR_JOURNAL = "erp.labor_journal"
LABOR_MINUTES = "erp.labor_minutes"
PATIENT_DAYS = "erp.patient_days"
COST_PER_PATIENT_DAY = "erp.labor_cost_per_patient_day"
PAYROLL_REGISTER = "hcm.payroll_register"
LABOR_EXCEPTION = "integration.labor_exception"
LABOR_TARGETS = (LABOR_JOURNAL, LABOR_MINUTES, PATIENT_DAYS, COST_PER_PATIENT_DAY, PAYROLL_REGISTER, LABOR_EXCEPTION)

RACE = 1.0  # minutes: a retirement or mapping this close to a sync may land on either side of it
NEVER = math.inf
NOT_IN_THIS_RUN = 1e18  # a moment after any run's end: due, but not before the run was over (pending)


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a source code's work of one sync belongs, when it is due, and what is parked first."""

    center: str | None  # None: parked for good (no mapping was ever published)
    ready: SimTime
    optional: bool
    parked: CostCenterRetired | None  # the retirement it was parked for, if any
    fixed: bool  # the parked work was remapped by a later publication


class Governance:
    """The truth's governance facts, as the oracle applies them."""

    def __init__(self, truth: TruthLedger) -> None:
        facts = governance_facts(truth)
        self.retired = facts.retired
        self.published = facts.published

    def place(self, domain: str, code: str, center: str, sync: SimTime) -> Placement:
        mappings = self.published.get((domain, code), [])
        for mapping in mappings:
            if mapping.at <= sync:
                center = mapping.target  # the crosswalk as the sync found it
        retirement = self.retired.get(center)
        if retirement is None or retirement.at > sync:
            racing = retirement is not None and retirement.at - sync < RACE
            return Placement(center, sync, racing, None, False)
        fix = next((m for m in mappings if m.at > sync and m.at >= retirement.at), None)
        racing = sync - retirement.at < RACE or (fix is not None and fix.at - sync < RACE)
        if fix is None:
            return Placement(None, NEVER, racing, retirement, False)
        return Placement(retirement.replacement, fix.at, racing, retirement, True)


class LaborTruth:
    """What really happened, summed the way the flow posts it."""

    def __init__(self, truth: TruthLedger, network: Network, scenario: Scenario, timebase: Timebase) -> None:
        self.scenario = scenario
        self.timebase = timebase
        self.governance = Governance(truth)
        self.org_units = org_unit_crosswalk(network)
        self.departments = network.department_crosswalk()
        census = {c.code for c in network.chargemaster if is_room_and_board(c.revenue_code)}
        self.pay: dict[tuple[str, str], list[int]] = {}  # (org unit, work date) -> [cents, minutes]
        self.last_end: dict[str, SimTime] = {}  # work date -> last clock-out
        self.payroll: dict[tuple[int, str], list[int]] = {}  # (period, org unit) -> [quarter hours, cents]
        self.patient_days: dict[tuple[str, str], int] = {}  # (EHR department, day) -> patient days
        self.open_shifts: dict[str, int] = {}  # work date -> shifts scheduled and not worked yet
        for fact in truth:
            if isinstance(fact, ShiftScheduled):
                self.open_shifts[fact.work_date] = self.open_shifts.get(fact.work_date, 0) + 1
            elif isinstance(fact, ShiftWorked):
                self.open_shifts[fact.work_date] = self.open_shifts.get(fact.work_date, 0) - 1
                cents = shift_pay(fact.hours, fact.rate)
                slot = self.pay.setdefault((fact.org_unit, fact.work_date), [0, 0])
                slot[0] += cents
                slot[1] += round(fact.hours * 60)
                self.last_end[fact.work_date] = max(self.last_end.get(fact.work_date, 0.0), fact.at)
                period = self.payroll.setdefault((pay_period_of(scenario, fact.work_date), fact.org_unit), [0, 0])
                period[0] += round(fact.hours * 4)
                period[1] += cents
            elif isinstance(fact, ChargesPosted):
                for line in fact.lines:
                    if line.code in census:
                        day = timebase.day(line.service_at).isoformat()
                        key = (line.department, day)
                        days = line.quantity if line.amount >= 0 else -line.quantity
                        self.patient_days[key] = self.patient_days.get(key, 0) + days

    def sync_at(self, work_date: str) -> SimTime:
        """The first nightly sync after the work date is over and its last shift has clocked out
        (``NOT_IN_THIS_RUN`` while a shift of it is still open: a run cut mid-shift)."""
        if self.open_shifts.get(work_date, 0) > 0:
            return NOT_IN_THIS_RUN
        clock = self.timebase.start_clock
        after_day = ((date.fromisoformat(work_date) - self.timebase.epoch.date()).days + 1) * 1440 - clock
        earliest = max(after_day, self.last_end.get(work_date, -NEVER))
        first_sync = self.scenario.labor.sync_hour * 60 - clock
        return first_sync + math.ceil((earliest - first_sync) / 1440) * 1440

    def bites(self) -> dict[str, SimTime]:
        """Retired cost center -> the first sync at which this flow had work parked for it."""
        first: dict[str, SimTime] = {}
        for domain, code, center, day, _value in self.sources():
            placement = self.governance.place(domain, code, center, self.sync_at(day))
            if placement.parked is not None:
                sync = self.sync_at(day)
                first[placement.parked.cost_center] = min(first.get(placement.parked.cost_center, NEVER), sync)
        return first

    def sources(self) -> list[tuple[str, str, str, str, list[int]]]:
        """(code set, code, default cost center, day, values) of every posting source."""
        rows = [("org unit", unit, self.org_units[unit], day, v) for (unit, day), v in sorted(self.pay.items())]
        rows += [
            ("department", dept, self.departments[dept], day, [days])
            for (dept, day), days in sorted(self.patient_days.items())
            if days
        ]
        return rows


_LABOR: WeakKeyDictionary[TruthLedger, tuple[tuple[int, int, int, int], LaborTruth]] = WeakKeyDictionary()


def labor_truth(truth: TruthLedger, network: Network, scenario: Scenario, timebase: Timebase) -> LaborTruth:
    """The ledger's labor facts, gathered once per ledger length: the labor check, the master-data
    check (its bites) and the KPI oracle all ask."""
    key = (len(truth), id(network), id(scenario), id(timebase))
    known = _LABOR.get(truth)
    if known is None or known[0] != key:
        known = _LABOR[truth] = (key, LaborTruth(truth, network, scenario, timebase))
    return known[1]


def labor_expectations(truth: TruthLedger, network: Network, scenario: Scenario, timebase: Timebase) -> list[Expected]:
    facts = labor_truth(truth, network, scenario, timebase)
    journals: dict[str, tuple[int, int, SimTime, bool]] = {}  # key -> cents, minutes, ready, optional
    census: dict[str, tuple[int, SimTime, bool]] = {}
    expected: list[Expected] = []
    for domain, code, center, day, values in facts.sources():
        sync = facts.sync_at(day)
        placed = facts.governance.place(domain, code, center, sync)
        if placed.parked is not None:
            expected.append(
                Expected(
                    LABOR,
                    LABOR_EXCEPTION,
                    f"{code}@{day}:retired_cost_center",
                    {
                        "reason_code": reasons.RETIRED_COST_CENTER,
                        "domain": domain,
                        "code": code,
                        "resolved": placed.fixed,
                    },
                    sync,
                    optional=placed.optional,
                )
            )
        if placed.center is None:
            continue
        key = f"{placed.center}@{day}"
        if domain == "org unit":
            cents, minutes, ready, optional = journals.get(key, (0, 0, 0.0, False))
            journals[key] = (
                cents + values[0],
                minutes + values[1],
                max(ready, placed.ready),
                optional or placed.optional,
            )
        else:
            days, ready, optional = census.get(key, (0, 0.0, False))
            census[key] = (days + values[0], max(ready, placed.ready), optional or placed.optional)
    for key, (cents, minutes, ready, optional) in journals.items():
        expected.append(
            Expected(LABOR, LABOR_JOURNAL, key, {"amount": cents, "balanced": True}, ready, optional=optional)
        )
        expected.append(Expected(LABOR, LABOR_MINUTES, key, {"minutes": minutes}, ready, optional=optional))
    for key, (days, ready, optional) in census.items():
        expected.append(Expected(LABOR, PATIENT_DAYS, key, {"patient_days": days}, ready, optional=optional))
        cents, _minutes, labor_ready, labor_optional = journals.get(key, (0, 0, ready, False))
        expected.append(
            Expected(
                LABOR,
                COST_PER_PATIENT_DAY,
                key,
                {"cost_per_patient_day": per_day(cents, days)},
                max(ready, labor_ready),
                optional=optional or labor_optional,
            )
        )
    for (period, unit), (quarters, cents) in sorted(facts.payroll.items()):
        first, _last = pay_period(scenario, period)
        expected.append(
            Expected(
                LABOR,
                PAYROLL_REGISTER,
                f"{first.isoformat()}/{unit}",
                {"hours": quarters / 4, "gross": cents},
                payroll_run_at(scenario, period),
            )
        )
    return expected


def per_day(cents: int, patient_days: int) -> int:
    """Labor cost per patient day in whole cents, rounded half up."""
    return (2 * cents + patient_days) // (2 * patient_days)


def labor_bites(truth: TruthLedger, network: Network, scenario: Scenario, timebase: Timebase) -> dict[str, SimTime]:
    """When a retired cost center first bit this flow (for the master-data check)."""
    return labor_truth(truth, network, scenario, timebase).bites()


def observe_labor(finance: ErpFinance, hcm: Hcm, exceptions: Sequence[IntegrationException]) -> list[Observed]:
    """What the ERP, the HCM and the integration's exception queue hold for this flow."""
    observed: list[Observed] = []
    labor: dict[str, tuple[int, SimTime]] = {}  # cost center@work date -> cents, last posted
    for journal in finance.journals:
        if journal.source != LABOR_ALLOCATION:
            continue
        work_date = journal.reference.rpartition("@")[2]
        balanced = sum(line.debit for line in journal.lines) == sum(line.credit for line in journal.lines)
        amounts: dict[str, int] = {}
        for line in journal.lines:
            if line.account == SALARIES:
                amounts[line.cost_center] = amounts.get(line.cost_center, 0) + line.debit - line.credit
        for center, amount in sorted(amounts.items()):
            key = f"{center}@{work_date}"
            value: dict[str, Any] = {"amount": amount, "balanced": balanced}
            observed.append(Observed(LABOR_JOURNAL, key, value, journal.posted_at, journal.journal_id))
            cents, at = labor.get(key, (0, 0.0))
            labor[key] = (cents + amount, max(at, journal.posted_at))
    census: dict[str, tuple[int, SimTime]] = {}
    for statistic in finance.statistics:
        key = f"{statistic.cost_center}@{statistic.day.isoformat()}"
        if statistic.account == PAID_MINUTES:
            value = {"minutes": statistic.quantity}
            observed.append(Observed(LABOR_MINUTES, key, value, statistic.posted_at, statistic.statistic_id))
        elif statistic.account == accounts.PATIENT_DAYS:
            value = {"patient_days": statistic.quantity}
            observed.append(Observed(PATIENT_DAYS, key, value, statistic.posted_at, statistic.statistic_id))
            days, at = census.get(key, (0, 0.0))
            census[key] = (days + statistic.quantity, max(at, statistic.posted_at))
    for key, (days, at) in sorted(census.items()):
        if days > 0:
            cents, labor_at = labor.get(key, (0, 0.0))
            value = {"cost_per_patient_day": per_day(cents, days)}
            observed.append(Observed(COST_PER_PATIENT_DAY, key, value, max(at, labor_at), f"kpi:{key}"))
    for run in hcm.payroll_runs:
        for entry in run.register:
            value = {"hours": entry.hours, "gross": entry.gross}
            observed.append(
                Observed(PAYROLL_REGISTER, f"{run.period_start}/{entry.org_unit}", value, run.run_at, run.run_id)
            )
    for number, exception in enumerate(exceptions, start=1):
        if exception.flow == LABOR:
            value = {
                "reason_code": exception.reason_code,
                "domain": exception.domain,
                "code": exception.code,
                "resolved": exception.resolved_at is not None,
            }
            key = f"{exception.key}:{exception.reason_code}"
            observed.append(Observed(LABOR_EXCEPTION, key, value, exception.raised_at, f"EXC{number:06d}"))
    return observed
