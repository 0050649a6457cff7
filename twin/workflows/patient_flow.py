"""Inpatient flow of one hospital: arrivals, admission to a bed, transfers, charges, discharge, coding.

Parameters come from the scenario's ``workload`` block; times are minutes. Arrivals follow an
hour-of-day and day-of-week profile (non-homogeneous Poisson, by thinning); a patient waits for a
bed when the unit is full; room and board is charged at the midnight census; services (lab,
imaging, pharmacy, therapy, respiratory) are charged as they happen, a few later reversed by a
credit; coding completes after discharge with a lognormal delay, longer when a physician query
is needed.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Generator
from dataclasses import dataclass

import simpy
from faker import Faker
from stdnum import damm

from twin.catalog import CODES_PER_SERVICE, DOSES_PER_DRUG_LINE, OBSERVATION_CHARGE, SERVICE_MIX
from twin.domain.events import (
    ChargeLine,
    ChargesPosted,
    CodingCompleted,
    DischargeCancelled,
    DomainEvent,
    PatientDischarged,
    PatientTransferred,
    TransferCancelled,
)
from twin.domain.model import CaseType, ChargeCode, Hospital, Patient, Payer, Unit
from twin.domain.office_hours import OfficeHours
from twin.scenario import LogNormal, Scenario
from twin.workflows.bedside_supplies import BedsideSupplies
from twin.workflows.coding import assign_codes, assign_visit_codes
from twin.workflows.him import CodingDesk
from twin.workflows.names import NameDraws
from twin.workflows.registration import Registration

MINUTES_PER_DAY = 1440.0
# Relative admission rate by hour of day (midnight first) and by weekday (Monday first).
HOUR_PROFILE = (
    0.45,
    0.4,
    0.35,
    0.3,
    0.3,
    0.35,
    0.5,
    0.75,
    1.0,
    1.2,
    1.35,
    1.4,
    1.4,
    1.35,
    1.35,
    1.3,
    1.3,
    1.3,
    1.25,
    1.2,
    1.1,
    0.95,
    0.75,
    0.6,
)
WEEKDAY_PROFILE = (1.08, 1.04, 1.02, 1.0, 1.0, 0.92, 0.94)
_HOUR_MEAN = sum(HOUR_PROFILE) / 24
_WEEKDAY_MEAN = sum(WEEKDAY_PROFILE) / 7
UNIT_SHARE_OF_ADMISSIONS = {"icu": 0.07, "telemetry": 0.18, "medsurg": 0.60, "maternity": 0.15}
LOS_FACTOR = {"icu": 1.4, "telemetry": 1.0, "medsurg": 1.0, "maternity": 0.6}
TRANSFER_TO = {"icu": ("telemetry", "medsurg"), "telemetry": ("medsurg",), "medsurg": ("telemetry",), "maternity": ()}
ICU_STEP_DOWN_SHARE = 0.8
DISPOSITIONS = (("01", 0.78), ("06", 0.11), ("03", 0.08), ("20", 0.03))  # home, home health, SNF, expired
FINANCIAL_CLASSES = ("MCR", "MCD", "COM", "SP")  # in the order of the scenario's payer mix
# Charges the coder finds missing while abstracting the chart (a therapy session, an imaging study)
# go into the charge feed moments before the final coding: the pair a reordering transport can swap.
CODER_CHARGE_SHARE = 0.08
CODER_CHARGE_KINDS = ("imaging", "therapy", "respiratory")
MIN_STAY_MINUTES = 240.0
# Medical record numbers: inpatients count from 1, other visits (``visits.py``) from VISIT_MRN_BASE
# (the older records duplicate registrations are merged into: ``registration.SURVIVOR_MRN_BASE``).
VISIT_MRN_BASE = 5_000_000

Happen = Callable[[DomainEvent], None]
Operate = Callable[["Stay", CaseType, str], Generator[simpy.Event, object, None]]


def member_id(rng: random.Random) -> str:
    """A payer's member id: eight digits and a Damm check digit. Payers' ids carry check digits so
    that a mistyped id is not another member's: a transposition registration makes (``keyed_member_id``)
    is then always "not found" at the payer's front end, never a claim billed to a stranger."""
    base = f"{rng.randrange(10**8):08d}"
    return base + damm.calc_check_digit(base)


def lognormal(spec: LogNormal, rng: random.Random) -> float:
    """A draw with the given median and log-space sigma."""
    return spec.median * math.exp(rng.gauss(0.0, spec.sigma)) if spec.sigma else spec.median


@dataclass(slots=True)
class Stay:
    """A patient in house: where they are and how many charges the stay has had."""

    visit: str
    unit: Unit
    charges: int = 0
    room_days: int = 0
    rng: random.Random | None = None  # the stream of its draws, when not the inpatient workload's
    observation: bool = False  # billed by the hour of observation, not room and board


class PatientFlow:
    """The inpatient workload of one hospital, as SimPy processes."""

    def __init__(
        self,
        env: simpy.Environment,
        hospital: Hospital,
        scenario: Scenario,
        payers: tuple[Payer, ...],
        chargemaster: tuple[ChargeCode, ...],
        rng: random.Random,
        fake: Faker,
        happen: Happen,
        register: Callable[[Patient, str], None],
        start_minute_of_day: float,
        start_weekday: int,
        coder_rng: random.Random,
        adt_rng: random.Random | None = None,
        visit_rng: random.Random | None = None,
        him_rng: random.Random | None = None,
        floor_rng: random.Random | None = None,
    ) -> None:
        self.env = env
        self.hospital = hospital
        self.spec = scenario.workload
        self.days = scenario.days
        self.rng = rng
        # a stream of its own, so coder-added charges leave every other draw of the workload as it was
        self.coder_rng = coder_rng
        # streams of their own too: registration's corrections (A08/A11/A12/A13/A40) and the visits
        # of the other encounter types leave the inpatient workload's draws as they were
        self.adt_rng = adt_rng or random.Random(f"{hospital.code}/adt")
        self.visit_rng = visit_rng or random.Random(f"{hospital.code}/visits")
        self.revenue = scenario.revenue_cycle
        self.office_hours = OfficeHours(
            start_minute_of_day,
            start_weekday,
            self.revenue.office_opens_hour * 60,
            self.revenue.office_closes_hour * 60,
        )
        coders = max(1, round(hospital.beds * self.revenue.coders_per_100_beds / 100))
        self.him = CodingDesk(
            env, coders, self.revenue, self.office_hours, him_rng or random.Random(f"{hospital.code}/him")
        )
        self.registration = Registration(
            env, hospital, payers, scenario.workload.adt, self.revenue, self.adt_rng, happen, register
        )
        self.fake = fake
        self.names = NameDraws(fake)
        self.happen = happen
        self.register = register
        self.offset = start_minute_of_day
        self.weekday0 = start_weekday
        self.payers = payers
        self.services: dict[str, list[ChargeCode]] = {}
        for code in chargemaster:
            self.services.setdefault(code.department_kind, []).append(code)
        self.beds: dict[str, simpy.Store] = {}
        for unit in hospital.units:
            store = simpy.Store(env)
            store.items = [f"{i // 2 + 1:03d}-{'AB'[i % 2]}" for i in range(unit.beds)]
            self.beds[unit.code] = store
        self.units_by_kind = {unit.kind: unit for unit in hospital.units}
        self.department_codes = {dept.kind: dept.ehr_code for dept in hospital.departments}
        self.storeroom = hospital.storeroom
        self.bedside = BedsideSupplies(self, floor_rng or random.Random(f"{hospital.code}/floor"), happen)
        self.service_kinds = [kind for kind, _ in SERVICE_MIX]
        self.service_weights = list(itertools.accumulate(weight for _, weight in SERVICE_MIX))
        # Cumulative weights of the per-patient draws, summed once: ``random.choices`` with
        # ``cum_weights`` draws exactly as with the ``weights`` they sum (see ``names.NameDraws``).
        self.admission_kinds = [k for k in UNIT_SHARE_OF_ADMISSIONS if k in self.units_by_kind]
        self.admission_weights = list(itertools.accumulate(UNIT_SHARE_OF_ADMISSIONS[k] for k in self.admission_kinds))
        mix = self.spec.payer_mix
        self.financial_weights = list(itertools.accumulate((mix.medicare, mix.medicaid, mix.commercial, mix.self_pay)))
        self.payers_by_class = {
            financial: [p for p in payers if p.financial_class == financial] for financial in FINANCIAL_CLASSES
        }
        self.dispositions = [d for d, _ in DISPOSITIONS]
        self.disposition_weights = list(itertools.accumulate(w for _, w in DISPOSITIONS))
        self.in_house: dict[str, Stay] = {}
        self.operate: Operate | None = None  # set by the OR schedule of this hospital, if it has ORs
        self.admissions = 0
        daily = hospital.beds * self.spec.admissions_per_bed_per_day
        self.peak_rate = daily / MINUTES_PER_DAY * max(HOUR_PROFILE) / _HOUR_MEAN * max(WEEKDAY_PROFILE) / _WEEKDAY_MEAN
        self.daily_rate = daily

    def start(self) -> None:
        from twin.workflows.visits import Visits  # the other encounter types, built on this flow

        self._admit_census()
        self.env.process(self.admit_patients())
        self.env.process(self.midnight_census())
        Visits(self).start()

    def _admit_census(self) -> None:
        """A hospital is never empty: at the start each unit holds ``initial_occupancy`` of its beds.

        These patients are registered at time 0 (the twin's EHR feed starts with them); each
        stays the remaining part of an ordinary stay, a uniform share of a fresh draw, so the
        census thins out as new arrivals take over.
        """
        share = self.spec.initial_occupancy
        for unit in self.hospital.units:
            for _ in range(round(unit.beds * share)):
                patient, _unit = self._new_patient(unit.kind)
                self.env.process(self.stay(patient, unit, in_progress=True))

    def rate_at(self, now: float) -> float:
        """Admissions per minute at simulated time ``now``."""
        clock = now + self.offset
        hour = int(clock % MINUTES_PER_DAY // 60)
        weekday = (self.weekday0 + int(clock // MINUTES_PER_DAY)) % 7
        return (
            self.daily_rate
            / MINUTES_PER_DAY
            * HOUR_PROFILE[hour]
            / _HOUR_MEAN
            * WEEKDAY_PROFILE[weekday]
            / _WEEKDAY_MEAN
        )

    def admit_patients(self) -> Generator[simpy.Event, None, None]:
        """Arrivals until the scenario's last day, by thinning a peak-rate Poisson process."""
        horizon = self.days * MINUTES_PER_DAY
        while True:
            yield self.env.timeout(self.rng.expovariate(self.peak_rate))
            if self.env.now >= horizon:
                return
            if self.rng.random() * self.peak_rate <= self.rate_at(self.env.now):
                self.env.process(self.stay(*self._new_patient()))

    def _new_patient(self, kind: str | None = None) -> tuple[Patient, Unit]:
        self.admissions += 1
        patient, kind = self.new_patient(self.rng, self.admissions, kind)
        return patient, self.units_by_kind[kind]

    def new_patient(self, rng: random.Random, number: int, kind: str | None = None) -> tuple[Patient, str]:
        """A patient registered under MRN ``number`` of this hospital, and ``kind``: the unit kind of
        a bedded stay (drawn from the admission mix when ``None``), or a visit's department kind."""
        if kind is None:
            kind = rng.choices(self.admission_kinds, cum_weights=self.admission_weights)[0]
        female = kind == "maternity" or rng.random() < 0.52
        age = rng.randint(18, 42) if kind == "maternity" else min(99, int(18 + rng.betavariate(2.2, 1.6) * 80))
        birth_year = 2025 - age
        financial = rng.choices(FINANCIAL_CLASSES, cum_weights=self.financial_weights)[0]
        payer = rng.choice(self.payers_by_class[financial])
        patient = Patient(
            mrn=f"{self.hospital.code}M{number:07d}",
            family=self.names.last_name(),
            given=self.names.first_name(female),
            birth_date=f"{birth_year}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}",
            sex="F" if female else "M",
            payer=payer,
            member_id=member_id(rng),
        )
        self.register(patient, self.hospital.code)
        return patient, kind

    def admit_for_surgery(self, case_type: CaseType, case_id: str) -> None:
        """An elective surgical patient arrives for a scheduled case (called by the OR schedule)."""
        patient, unit = self._new_patient(case_type.unit_kind)
        self.env.process(self.stay(patient, unit, (case_type, case_id)))

    def stay(
        self,
        patient: Patient,
        unit: Unit,
        surgery: tuple[CaseType, str] | None = None,
        in_progress: bool = False,
        encounter_type: str = "inpatient",
    ) -> Generator[simpy.Event, object, None]:
        """One bedded stay from bed assignment to final coding; ``surgery`` operates first;
        ``in_progress``: a stay of the starting census, of which only the rest is simulated;
        ``encounter_type``: inpatient, or observation (``visits.py``: shorter, no DRG)."""
        env, spec, adt, registration = self.env, self.spec, self.spec.adt, self.registration
        observation = encounter_type == "observation"
        rng = self.visit_rng if observation else self.rng
        bed = yield self.beds[unit.code].get()
        assert isinstance(bed, str)
        visit = f"{self.hospital.code}V{patient.mrn[4:]}"
        admitted = env.now
        # registration's errors, decided for arrivals (the starting census was registered long ago)
        arrival = not in_progress and surgery is None
        if arrival and self.adt_rng.random() < adt.cancel_admission_share:
            yield from registration.cancelled(patient, visit, unit.code, bed, encounter_type, rng)
            self.beds[unit.code].put(bed)
            return
        stay = self.in_house[visit] = Stay(visit, unit, rng=rng if observation else None, observation=observation)
        registration.admit(patient, visit, unit.code, bed, encounter_type, rng)
        if surgery is not None and self.operate is not None:
            yield from self.operate(stay, surgery[0], surgery[1])
            admitted = env.now  # the post-operative stay is timed from the end of the case
            los = max(MIN_STAY_MINUTES, surgery[0].los_days * math.exp(rng.gauss(0, 0.4)) * MINUTES_PER_DAY)
        elif observation:
            los = lognormal(spec.encounters.observation_hours, rng) * 60
        else:
            los = lognormal(spec.length_of_stay_days, rng) * MINUTES_PER_DAY * LOS_FACTOR[unit.kind]
            if in_progress:
                los *= rng.random()
            los = max(MIN_STAY_MINUTES, los)
        plan = self._plan(unit, los, rng, transfers=not observation)
        # the patient leaves after the plan's last step: registration corrects itself before that
        registration.corrections(patient, visit, admitted, plan[-1][0] if plan else 0.0)
        for offset, action, data in plan:
            wait = admitted + offset - env.now
            if wait > 0:
                yield env.timeout(wait)
            if action == "transfer":
                target = self.units_by_kind[str(data)]
                new_bed = yield self.beds[target.code].get()
                assert isinstance(new_bed, str)
                prior, prior_bed = stay.unit, bed
                self.happen(PatientTransferred(env.now, self.hospital.code, visit, prior.code, target.code, new_bed))
                stay.unit, bed = target, new_bed
                if self.adt_rng.random() < adt.cancel_transfer_share:  # entered in error: back to the old bed
                    yield env.timeout(self.adt_rng.uniform(10, 90))
                    self.happen(
                        TransferCancelled(env.now, self.hospital.code, visit, target.code, prior.code, prior_bed)
                    )
                    self.beds[target.code].put(new_bed)
                    stay.unit, bed = prior, prior_bed
                else:
                    self.beds[prior.code].put(prior_bed)
            else:
                self.post_service(stay, str(data))
        if self.adt_rng.random() < adt.cancel_discharge_share:  # discharged in error: in house a while longer
            disposition = self.adt_rng.choices(self.dispositions, cum_weights=self.disposition_weights)[0]
            self.happen(PatientDischarged(env.now, self.hospital.code, visit, stay.unit.code, disposition))
            yield env.timeout(self.adt_rng.uniform(15, 120))
            self.happen(DischargeCancelled(env.now, self.hospital.code, visit, stay.unit.code, bed))
            yield env.timeout(self.adt_rng.uniform(120, 720))
        self.beds[stay.unit.code].put(bed)
        del self.in_house[visit]
        if observation:
            self._post_observation_hours(stay, env.now - admitted)
        elif stay.room_days == 0:  # discharged before the first midnight: one day in a bed
            self._post_room_and_board(stay)
            self.bedside.post(stay)
        disposition = rng.choices(self.dispositions, cum_weights=self.disposition_weights)[0]
        self.happen(PatientDischarged(env.now, self.hospital.code, visit, stay.unit.code, disposition))
        discharged = env.now
        queried = yield from self.await_coding(stay, patient, encounter_type, discharged, rng, late_charges=True)
        if observation:
            principal, secondary, drg = assign_visit_codes("observation", rng)
        else:
            principal, secondary, drg = assign_codes(unit.kind, rng)
        if surgery is not None:
            principal, drg = surgery[0].principal_dx, surgery[0].drg
        if self.coder_rng.random() < CODER_CHARGE_SHARE:
            self.post_service(stay, self.coder_rng.choice(CODER_CHARGE_KINDS), self.coder_rng, credits=False)
        self.code(visit, principal, secondary, drg, queried)

    def await_coding(
        self,
        stay: Stay,
        patient: Patient,
        encounter_type: str,
        discharged: float,
        rng: random.Random,
        *,
        late_charges: bool = False,
    ) -> Generator[simpy.Event, object, bool]:
        """From discharge to coding complete: the physician signs the discharge summary, HIM's coders
        code the chart in office hours (querying the physician first if it is deficient), and
        departments post the charges they post late. Returns whether the chart was queried."""
        revenue = self.revenue
        deficient = rng.random() < revenue.query_share
        documented = lognormal(revenue.documentation_hours, rng) * 60
        if late_charges and rng.random() < revenue.late_charge_share:
            self.env.process(self._late_charge(stay, lognormal(revenue.charge_lag_hours, rng) * 60, rng))
        self.registration.merge_duplicate(patient, stay.visit, discharged, documented)
        yield self.env.timeout(documented)
        chart = self.him.submit(stay.visit, encounter_type, deficient)
        yield chart.done
        return chart.queried

    def _late_charge(self, stay: Stay, lag: float, rng: random.Random) -> Generator[simpy.Event, None, None]:
        """A department posts a charge for the stay after the discharge (the bill hold waits for these)."""
        yield self.env.timeout(lag)
        self.post_service(stay, "pharmacy", rng)

    def code(self, visit: str, principal: str, secondary: tuple[str, ...], drg: str, queried: bool) -> None:
        """HIM completed coding the encounter: the bill may go."""
        self.happen(CodingCompleted(self.env.now, self.hospital.code, visit, principal, secondary, drg, queried))

    def _plan(
        self, unit: Unit, los: float, rng: random.Random, *, transfers: bool = True
    ) -> list[tuple[float, str, object]]:
        """The stay's timeline: service charge events, credits and at most one transfer."""
        spec = self.spec
        plan: list[tuple[float, str, object]] = []
        rate = spec.services_per_patient_day / MINUTES_PER_DAY
        t = rng.expovariate(rate) if rate > 0 else los
        kinds, weights = self.service_kinds, self.service_weights
        while t < los:
            plan.append((t, "service", rng.choices(kinds, cum_weights=weights)[0]))
            t += rng.expovariate(rate)
        share = ICU_STEP_DOWN_SHARE if unit.kind == "icu" else spec.transfer_share
        targets = [k for k in TRANSFER_TO[unit.kind] if k in self.units_by_kind] if transfers else []
        if targets and rng.random() < share:
            plan.append((los * rng.uniform(0.25, 0.6), "transfer", rng.choice(targets)))
        plan.sort(key=lambda step: step[0])
        return plan

    def next_txn(self, stay: Stay) -> str:
        stay.charges += 1
        return f"{stay.visit}-{stay.charges:03d}"

    def post_service(self, stay: Stay, kind: str, rng: random.Random | None = None, *, credits: bool = True) -> None:
        """Charge one service event of ``kind`` (one to three codes); some are credited later."""
        rng = rng or stay.rng or self.rng
        codes = rng.sample(self.services[kind], k=min(len(self.services[kind]), rng.choice(CODES_PER_SERVICE)))
        self.post_codes(stay, kind, codes, rng, credits=credits)

    def post_codes(
        self, stay: Stay, kind: str, codes: list[ChargeCode], rng: random.Random, *, credits: bool = False
    ) -> None:
        """Charge ``codes`` performed by the department of ``kind`` now; some are credited later. The
        pharmacy dispenses drugs from its own stock (FT1-16): the ERP issues them as it charges them."""
        now = self.env.now
        department = self.department_codes[kind]
        stock = department if kind == "pharmacy" else ""
        lines = []
        for code in codes:
            quantity = 1 if kind != "pharmacy" else rng.randint(*DOSES_PER_DRUG_LINE)
            lines.append(
                ChargeLine(
                    self.next_txn(stay), code.code, department, quantity, code.price * quantity, now, None, stock
                )
            )
        self.happen(ChargesPosted(now, self.hospital.code, stay.visit, tuple(lines)))
        for line in lines if credits else ():
            if rng.random() < self.spec.credit_share:
                self.env.process(self._reverse_later(stay, line))

    def _reverse_later(self, stay: Stay, line: ChargeLine) -> Generator[simpy.Event, None, None]:
        """Charge correction: the department credits a charge it posted in error a few hours later."""
        yield self.env.timeout((stay.rng or self.rng).uniform(30, 480))
        if stay.visit not in self.in_house:
            return  # corrections after discharge go through the billing office, not the charge feed
        credit = ChargeLine(
            self.next_txn(stay),
            line.code,
            line.department,
            line.quantity,
            -line.amount,
            self.env.now,
            reverses=line.txn_id,
        )
        self.happen(ChargesPosted(self.env.now, self.hospital.code, stay.visit, (credit,)))

    def _post_room_and_board(self, stay: Stay) -> None:
        code = self.services[stay.unit.kind][0]
        stay.room_days += 1
        line = ChargeLine(self.next_txn(stay), code.code, stay.unit.department.ehr_code, 1, code.price, self.env.now)
        self.happen(ChargesPosted(self.env.now, self.hospital.code, stay.visit, (line,)))

    def _post_observation_hours(self, stay: Stay, minutes: float) -> None:
        """Observation is an outpatient service billed per hour (HCPCS G0378, revenue code 0762)."""
        hours = max(8, math.ceil(minutes / 60))
        code = OBSERVATION_CHARGE
        line = ChargeLine(
            self.next_txn(stay), code.code, stay.unit.department.ehr_code, hours, code.price * hours, self.env.now
        )
        self.happen(ChargesPosted(self.env.now, self.hospital.code, stay.visit, (line,)))

    def midnight_census(self) -> Generator[simpy.Event, None, None]:
        """Room and board for every patient in a bed at midnight, on the unit they are on; the day's
        floor stock, documented during the day (``BedsideSupplies``)."""
        first = MINUTES_PER_DAY - (self.env.now + self.offset) % MINUTES_PER_DAY  # a hospital may join mid-run
        yield self.env.timeout(first)
        while True:
            for stay in list(self.in_house.values()):
                if not stay.observation:  # observation is billed by the hour (``_post_observation_hours``)
                    self._post_room_and_board(stay)
            self.bedside.day(list(self.in_house))
            if not self.in_house and self.env.now >= self.days * MINUTES_PER_DAY:
                return
            yield self.env.timeout(MINUTES_PER_DAY)
