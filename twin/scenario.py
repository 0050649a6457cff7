"""Scenarios: YAML files describing a network, its workload and the run, validated by pydantic.

A scenario is the one input of a run; with its ``seed`` it fixes every random choice. A broken
file must be explained in one paragraph that names the file, the line, the field and what was
expected, because the people writing scenarios are architects, not the authors of this code.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from twin.domain.designs import DESIGN_DESCRIPTIONS, known_designs
from twin.faults.specs import FAULT_KINDS, FaultSpec, clock_window

DEFAULT_SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "default.yaml"


class ScenarioError(Exception):
    """A scenario file that cannot be used; the message is meant for the person who wrote it."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LogNormal(_Strict):
    """A positive duration drawn from a lognormal: ``median`` in the unit its field names."""

    median: float = Field(gt=0)
    sigma: float = Field(ge=0, le=3)


class Range(_Strict):
    min: float = Field(ge=0)
    max: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.max < self.min:
            raise ValueError(f"max ({self.max}) must not be below min ({self.min})")
        return self


class NetworkSpec(_Strict):
    hospitals: int = Field(default=3, ge=1, le=200)
    beds: Range = Range(min=150, max=420)  # staffed beds per hospital


class PayerMix(_Strict):
    """Shares of encounters by financial class; they are normalised, so any positive weights do."""

    medicare: float = Field(default=0.42, ge=0)
    medicaid: float = Field(default=0.20, ge=0)
    commercial: float = Field(default=0.33, ge=0)
    self_pay: float = Field(default=0.05, ge=0)

    @model_validator(mode="after")
    def _some_weight(self) -> PayerMix:
        if self.medicare + self.medicaid + self.commercial + self.self_pay <= 0:
            raise ValueError("at least one payer share must be positive")
        return self


class EncounterMix(_Strict):
    """Visits of the other encounter types, per inpatient admission, and how long each lasts.

    Emergency visits here are the treat-and-release ones (an ED patient who is admitted is one of
    the inpatient admissions); outpatient visits are registrations to an ancillary department
    (imaging, lab, therapy) with their own charges and claim; observation stays take a bed.
    """

    emergency_per_admission: float = Field(default=3.4, ge=0, le=20)  # 3.29 (2011/12) - 3.45 (2018): calibration
    outpatient_per_admission: float = Field(default=1.0, ge=0, le=50)  # far below a real hospital's: see README
    observation_per_admission: float = Field(default=0.12, ge=0, le=2)  # 0.087 (2007) - 0.14 (2012): calibration
    emergency_hours: LogNormal = LogNormal(median=3.0, sigma=0.5)  # arrival to departure
    observation_hours: LogNormal = LogNormal(median=26, sigma=0.35)
    outpatient_minutes: LogNormal = LogNormal(median=75, sigma=0.5)


class AdtSpec(_Strict):
    """How often registration corrects itself: the ADT events a real feed carries besides A01/A02/A03/A04.

    Shares are of visits (of transfers for ``cancel_transfer_share``); each correction follows the
    event it corrects by minutes to hours, as registrars and unit clerks find their errors.
    """

    insurance_update_share: float = Field(default=0.08, ge=0, le=1)  # coverage corrected during the visit (A08)
    cancel_admission_share: float = Field(default=0.01, ge=0, le=1)  # registered in error, cancelled (A11)
    cancel_transfer_share: float = Field(default=0.03, ge=0, le=1)  # transfer entered in error (A12)
    cancel_discharge_share: float = Field(default=0.01, ge=0, le=1)  # discharge entered in error (A13)
    duplicate_mrn_share: float = Field(default=0.02, ge=0, le=1)  # registered under a second MRN, merged (A40)


class CodingMinutes(_Strict):
    """How long a coder works one chart, by encounter type (minutes)."""

    inpatient: LogNormal = LogNormal(median=25, sigma=0.4)
    observation: LogNormal = LogNormal(median=15, sigma=0.4)
    emergency: LogNormal = LogNormal(median=6, sigma=0.4)
    outpatient: LogNormal = LogNormal(median=4, sigma=0.4)


class RevenueCycleSpec(_Strict):
    """The work between discharge and final bill that waits for people, in every design.

    A chart can be coded once the physician signed the discharge summary (``documentation_hours``);
    a share of charts lack something and the coder queries the physician, who answers after
    ``query_response_hours``; HIM coders (``coders_per_100_beds`` staffed beds) work the charts
    oldest first in office hours, ``coding_minutes`` each. Departments post a share of charges
    after discharge (``late_charge_share``, ``charge_lag_hours``): the bill hold (``billing``) waits
    for them.
    """

    office_opens_hour: float = Field(default=8, ge=0, lt=24)  # back-office hours, local, weekdays
    office_closes_hour: float = Field(default=16.5, gt=0, le=24)
    documentation_hours: LogNormal = LogNormal(median=18, sigma=0.8)
    query_share: float = Field(default=0.12, ge=0, le=1)
    query_response_hours: LogNormal = LogNormal(median=36, sigma=0.7)
    coders_per_100_beds: float = Field(default=3.0, gt=0, le=50)
    coding_minutes: CodingMinutes = CodingMinutes()
    late_charge_share: float = Field(default=0.15, ge=0, le=1)
    charge_lag_hours: LogNormal = LogNormal(median=20, sigma=0.8)
    # Registration keys a share of member ids wrong; the payer's front end rejects those claims, and a
    # biller (``billers_per_100_beds``, office hours, ``biller_minutes`` each) corrects the registration
    # (an A08), after which the integration sends the claim again.
    registration_error_share: float = Field(default=0.11, ge=0, le=1)
    billers_per_100_beds: float = Field(default=1.0, gt=0, le=50)
    biller_minutes: LogNormal = LogNormal(median=12, sigma=0.5)

    @model_validator(mode="after")
    def _office_open(self) -> RevenueCycleSpec:
        if self.office_closes_hour <= self.office_opens_hour:
            raise ValueError(
                f"office_closes_hour ({self.office_closes_hour}) must be after "
                f"office_opens_hour ({self.office_opens_hour})"
            )
        return self


class WorkloadSpec(_Strict):
    admissions_per_bed_per_day: float = Field(default=0.15, gt=0, le=2)
    initial_occupancy: float = Field(default=0.7, ge=0, le=1)  # share of beds occupied when the run starts
    length_of_stay_days: LogNormal = LogNormal(median=4.8, sigma=0.7)
    transfer_share: float = Field(default=0.18, ge=0, le=1)
    services_per_patient_day: float = Field(default=3.0, ge=0, le=50)
    credit_share: float = Field(default=0.02, ge=0, le=1)  # share of service charges later reversed
    payer_mix: PayerMix = PayerMix()
    or_cases_per_room_per_day: float = Field(default=2.6, ge=0, le=12)  # elective cases, weekdays
    encounters: EncounterMix = EncounterMix()
    adt: AdtSpec = AdtSpec()


class SupplySpec(_Strict):
    allowed_lag_minutes: float = Field(default=15, gt=0)  # usage documented -> issued in ERP inventory
    transit_hours: Range = Range(min=4, max=10)  # vendor ships -> arrives at the dock
    receiving_minutes: Range = Range(min=30, max=120)  # arrives -> counted into the storeroom, in dock hours:
    dock_opens_hour: float = Field(default=7, ge=0, lt=24)  # receiving staff count deliveries in on weekdays
    dock_closes_hour: float = Field(default=15.5, gt=0, le=24)  # ... a truck after hours waits for the morning

    @model_validator(mode="after")
    def _dock_opens_before_it_closes(self) -> SupplySpec:
        if self.dock_opens_hour >= self.dock_closes_hour:
            raise ValueError(
                f"dock_opens_hour {self.dock_opens_hour:g} must be before dock_closes_hour {self.dock_closes_hour:g}"
            )
        return self


class BillingSpec(_Strict):
    coding_deadline_hours: float = Field(default=120, gt=0)  # DNFB threshold: coding overdue after this
    allowed_lag_minutes: float = Field(default=30, gt=0)  # coding complete -> posted in ERP and claims
    # The bill waits this long after discharge for charges still to come; a charge that arrives after
    # the bill went is billed by an adjusting journal and a replacement claim (or the bill is held for it).
    bill_hold_hours: float = Field(default=0, ge=0)


class NurseRatios(_Strict):
    """Patients per registered nurse on a shift, by unit kind (the staffing policy)."""

    icu: int = Field(default=2, ge=1, le=12)
    telemetry: int = Field(default=4, ge=1, le=12)
    medsurg: int = Field(default=5, ge=1, le=12)
    maternity: int = Field(default=4, ge=1, le=12)


class LaborSpec(_Strict):
    """Workforce and labor cost allocation: staffing policy, payroll calendar, the nightly sync."""

    patients_per_nurse: NurseRatios = NurseRatios()
    pay_period_days: int = Field(default=14, ge=7, le=31)  # biweekly payroll; periods run from the start date
    payroll_delay_days: int = Field(default=2, ge=1, le=7)  # payroll runs this many days after a period ends
    payroll_hour: float = Field(default=10, ge=8, lt=24)  # ... at this hour (after the night shift clocked out)
    sync_hour: float = Field(default=2, ge=0, lt=24)  # the integration's nightly labor sync, local hour
    allowed_lag_minutes: float = Field(default=60, gt=0)  # sync due -> journals and statistics in the ERP


class RetirementSpec(_Strict):
    """Finance retires one department's cost center mid-run (the crosswalk is not told)."""

    hospital: int = Field(default=1, ge=1)  # 1-based hospital number
    department: str = "respiratory"  # department kind, e.g. "respiratory", "lab", "medsurg", "ortho"
    day: float = Field(default=3, ge=0)  # days after the start

    @model_validator(mode="after")
    def _known_department(self) -> RetirementSpec:
        from twin.catalog import department_kinds

        if self.department not in department_kinds():
            raise ValueError(
                f"department {self.department!r} is not a department kind; expected one of "
                + ", ".join(sorted(department_kinds()))
            )
        return self


class GovernanceSpec(_Strict):
    """Master data as it really is: codes missing in a target, a retired cost center, a steward."""

    steward_delay_hours: LogNormal = LogNormal(median=6, sigma=0.5)  # office time: exception taken -> fix published
    # the steward works weekdays in the back office's hours (revenue_cycle.office_*); on call, around
    # the clock (a network's 24/7 data team, or a short wall-clock run cut before the next morning)
    steward_on_call: bool = False
    steward_rounds_minutes: float = Field(default=30, gt=0)  # how often the steward reviews the exception queue
    items_missing_in_erp: int = Field(default=0, ge=0, le=5)  # EHR supply items not yet in the ERP item master
    retire_cost_center: RetirementSpec | None = None
    allowed_lag_hours: float = Field(default=24, gt=0)  # a master-data problem first bites -> exception raised


class AcquisitionSpec(_Strict):
    """A hospital the network acquires: it joins on ``day`` with its own EHR, code sets and HL7 version.

    Onboarding it means publishing crosswalk entries for its codes (departments, units, insurance
    plans, storeroom, org units), not changing code: governance publishes them just before go-live.
    """

    day: float = Field(default=3, gt=0)  # days after the start
    hl7_version: Literal["2.3", "2.5.1"] = "2.3"
    beds: Range = Range(min=150, max=300)


class FinanceSpec(_Strict):
    """What the ERP's own accruals post: operating expense the twin does not model event by event,
    per staffed bed and day - purchased services and professional fees (contract labor, physicians'
    fees, outsourced services: labor as the AHA counts it) and everything else (administration,
    utilities, insurance, depreciation). Supplies, drugs and salaries are not accrued: the ERP books
    them from what the storeroom and the pharmacy issue and what the HCM paid."""

    purchased_services_per_bed_day: float = Field(default=195.0, ge=0)  # USD; see twin/observe/calibration.py
    other_expense_per_bed_day: float = Field(default=285.0, ge=0)  # USD


class ReportingSpec(_Strict):
    """Executive reporting: when the KPI service publishes, how late it may be, the nightly counts."""

    publish_hour: float = Field(default=6, ge=0, lt=24)  # local hour the previous day's KPIs are computed
    allowed_lag_minutes: float = Field(default=60, gt=0)  # publish time -> KPI shown on the dashboard
    counts_per_night: int = Field(default=4, ge=0, le=50)  # item-locations each storeroom cycle-counts at 03:00


class TransportSpec(_Strict):
    latency_ms: Range = Range(min=20, max=400)  # one hop, uniform


class IntegrationSpec(_Strict):
    """The integration under test: which design of the reference integration (``twin.integration.designs``)."""

    design: str = "event-driven"  # event-driven | point-to-point-batch | hybrid

    @field_validator("design")
    @classmethod
    def _known_design(cls, design: str) -> str:
        if design not in DESIGN_DESCRIPTIONS:
            raise ValueError(f"unknown integration design; expected one of {known_designs()}")
        return design


class OperationsSpec(_Strict):
    """How people and senders around the integration behave when things go wrong."""

    dlq_review_hours: float = Field(default=4, gt=0)  # the integration support team reviews the dead letters this often
    ack_timeout_minutes: float = Field(default=5, gt=0)  # the EHR sender waits this long for an ACK, then resends ...
    max_resends: int = Field(default=36, ge=0)  # ... at most this many times, then moves on and reports it
    request_timeout_seconds: float = Field(default=30, gt=0)  # a request without its own timeout gets this long


class Scenario(_Strict):
    name: str = Field(min_length=1)
    description: str = ""
    seed: int = Field(ge=0)
    start: datetime = datetime(2026, 1, 5)
    days: float = Field(default=7, gt=0, le=366)
    network: NetworkSpec = NetworkSpec()
    workload: WorkloadSpec = WorkloadSpec()
    billing: BillingSpec = BillingSpec()
    revenue_cycle: RevenueCycleSpec = RevenueCycleSpec()
    supply: SupplySpec = SupplySpec()
    labor: LaborSpec = LaborSpec()
    governance: GovernanceSpec = GovernanceSpec()
    finance: FinanceSpec = FinanceSpec()
    acquisition: AcquisitionSpec | None = None
    reporting: ReportingSpec = ReportingSpec()
    transport: TransportSpec = TransportSpec()
    faults: list[FaultSpec] = []  # what goes wrong at the delivery boundary (twin/faults; scenarios/faults-demo.yaml)
    operations: OperationsSpec = OperationsSpec()
    integration: IntegrationSpec = IntegrationSpec()

    @model_validator(mode="after")
    def _senders_outlast_integration_outages(self) -> Scenario:
        """An integration outage the EHR's sender cannot resend through would drop messages (it moves
        on after ``max_resends``): the world would lose what nobody can judge. Refused up front."""
        budget = self.operations.ack_timeout_minutes * self.operations.max_resends
        for index, spec in enumerate(self.faults):
            if spec.kind != "outage" or spec.system != "integration":
                continue
            if spec.daily is not None:
                start, end = clock_window(spec.daily)
                longest = (end - start) % (24 * 60)
            else:
                longest = ((spec.until_day if spec.until_day is not None else self.days) - spec.from_day) * 24 * 60
            if longest > budget:
                raise ValueError(
                    f"faults[{index}]: the integration is down for {longest:g} minutes at a time, longer than the "
                    f"EHR sender resends for (operations.ack_timeout_minutes x max_resends = {budget:g} minutes); "
                    "raise max_resends or ack_timeout_minutes, or shorten the outage"
                )
        return self

    @model_validator(mode="after")
    def _fault_names_unique(self) -> Scenario:
        """A fault's ``name`` is how an override finds it (``faults.<name>.<field>``): one name, one fault."""
        names = [spec.name for spec in self.faults if spec.name is not None]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"fault name(s) {', '.join(repr(n) for n in twice)} given to more than one fault")
        return self

    @model_validator(mode="after")
    def _retirement_in_network(self) -> Scenario:
        retirement = self.governance.retire_cost_center
        if retirement is not None and retirement.hospital > self.network.hospitals:
            raise ValueError(
                f"governance.retire_cost_center.hospital is {retirement.hospital} "
                f"but the network has {self.network.hospitals} hospital(s)"
            )
        return self

    def with_overrides(
        self, *, seed: int | None = None, days: float | None = None, design: str | None = None
    ) -> Scenario:
        """The same scenario with CLI overrides applied (validated like the file)."""
        data = self.model_dump()
        if seed is not None:
            data["seed"] = seed
        if days is not None:
            data["days"] = days
        if design is not None:
            data["integration"] = {**data.get("integration", {}), "design": design}
        try:
            return Scenario.model_validate(data)
        except ValidationError as exc:
            raise ScenarioError(_explain(exc, "command line", None)) from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; ``ScenarioError`` explains any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario file {path}: {exc.strerror or exc}") from None
    return parse_scenario(text, str(path))


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(f"scenario file {source} is not valid YAML{where}: {problem}.") from None
    if not isinstance(data, dict):
        raise ScenarioError(
            f"scenario file {source} must be a mapping of fields (name, seed, days, ...), not {type(data).__name__}."
        )
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_explain(exc, source, root)) from None


def _explain(exc: ValidationError, source: str, root: Any) -> str:
    problems = []
    for error in exc.errors():
        path = _without_fault_tag(error["loc"])
        field = ".".join(str(part) for part in path).replace(".[", "[") or "(top level)"
        line = _line_of(root, path)
        where = f"line {line}, " if line else ""
        message = error["msg"]
        if error["type"] == "union_tag_invalid":
            message = f"unknown fault kind; expected one of {', '.join(FAULT_KINDS)}"
        elif error["type"] == "union_tag_not_found":
            message = f"a fault needs a 'kind', one of {', '.join(FAULT_KINDS)}"
        elif error["type"] == "extra_forbidden":
            message = "unknown field (check the spelling; see scenarios/default.yaml for the fields)"
        elif error["type"] == "missing":
            message = "required field is missing"
        given = "" if error["type"] in ("missing",) else f" (got {error.get('input')!r})"
        if error["type"] == "extra_forbidden":
            given = ""
        problems.append(f"{where}field '{field}': {message}{given}")
    count = f"{len(problems)} problem" + ("s" if len(problems) > 1 else "")
    return f"scenario file {source} has {count}: " + "; ".join(problems) + "."


def _without_fault_tag(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """``('faults', 0, 'outage', 'daily')`` -> ``('faults', '[0]', 'daily')``: pydantic names the
    matched fault kind in the path, which is not a field of the file; list indexes read as ``[i]``."""
    parts: list[Any] = []
    for position, part in enumerate(loc):
        if position == 2 and loc[0] == "faults" and isinstance(loc[1], int):
            continue
        parts.append(f"[{part}]" if isinstance(part, int) else part)
    return tuple(parts)


def _line_of(node: Any, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the YAML node at ``loc`` (or of its nearest existing parent)."""
    if node is None:
        return None
    line: int | None = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.SequenceNode) and str(part).startswith("["):
            index = int(str(part)[1:-1])
            if index >= len(node.value):
                break
            node = node.value[index]
            line = node.start_mark.line + 1
            continue
        if not isinstance(node, yaml.MappingNode):
            break
        for key, value in node.value:
            if key.value == str(part):
                line = key.start_mark.line + 1
                node = value
                break
        else:
            break
    return line
