"""The hospital's other encounter types: emergency visits, outpatient visits and observation stays.

A real ADT feed is mostly not inpatient admissions. Emergency patients treated and released and
outpatients seen in imaging, the lab or therapy are registered (ADT^A04), charged, discharged and
coded like any encounter, and billed on a claim of their own that is not paid by DRG; observation
patients take a bed on a nursing unit for a day or so (ADT^A01 with patient class O) and are
billed by the hour. Each type arrives at its own rate, a multiple of the hospital's inpatient
admissions (``workload.encounters``), from a random stream of its own so the inpatient workload
draws exactly what it drew before; an emergency patient who is admitted is one of the inpatient
arrivals. Registration's errors (a cancelled registration, a coverage correction, a duplicate
MRN) befall visits as they befall stays (``PatientFlow.corrections``).
"""

from __future__ import annotations

import itertools
from collections.abc import Generator
from typing import TYPE_CHECKING

import simpy

from twin.catalog import EMERGENCY_ORDERS
from twin.domain.events import PatientDischarged
from twin.domain.model import Unit
from twin.workflows.coding import assign_visit_codes
from twin.workflows.patient_flow import MINUTES_PER_DAY, VISIT_MRN_BASE, Stay, lognormal

if TYPE_CHECKING:
    from twin.workflows.patient_flow import PatientFlow

# Where outpatients are seen, and how often: (ancillary department kind, share of outpatient visits).
OUTPATIENT_MIX = (("imaging", 0.45), ("lab", 0.35), ("therapy", 0.20))
EMERGENCY_LEVELS = (0.35, 0.45, 0.20)  # levels 3, 4, 5 of the chargemaster's ED visit codes
OBSERVATION_UNITS = (("medsurg", 0.7), ("telemetry", 0.3))
OUTPATIENT_HOURS = (7 * 60, 18 * 60)  # outpatient departments register from 07:00 to 18:00, weekdays


class Visits:
    """The emergency, outpatient and observation arrivals of one hospital's ``PatientFlow``."""

    def __init__(self, flow: PatientFlow) -> None:
        self.flow = flow
        self.env = flow.env
        self.rng = flow.visit_rng
        self.mix = flow.spec.encounters
        self.numbers = itertools.count(VISIT_MRN_BASE + 1)
        hospital = flow.hospital
        self.locations = {
            department.kind: Unit(department.ehr_code, department.name, department.kind, 0, department, 0)
            for department in hospital.departments
            if department.kind == "emergency" or department.kind in dict(OUTPATIENT_MIX)
        }
        self.outpatient_kinds = [kind for kind, _ in OUTPATIENT_MIX if kind in self.locations]
        self.outpatient_weights = list(itertools.accumulate(w for k, w in OUTPATIENT_MIX if k in self.locations))
        self.observation_kinds = [kind for kind, _ in OBSERVATION_UNITS if kind in flow.units_by_kind]
        self.observation_weights = list(
            itertools.accumulate(w for k, w in OBSERVATION_UNITS if k in flow.units_by_kind)
        )

    def start(self) -> None:
        mix = self.mix
        if mix.emergency_per_admission > 0 and "emergency" in self.locations:
            self.env.process(self.arrivals(mix.emergency_per_admission, self.emergency))
        if mix.outpatient_per_admission > 0 and self.outpatient_kinds:
            self.env.process(self.arrivals(mix.outpatient_per_admission, self.outpatient, business_hours=True))
        if mix.observation_per_admission > 0 and self.observation_kinds:
            self.env.process(self.arrivals(mix.observation_per_admission, self.observation))

    def _per_admission(self, per_admission: float) -> float:
        """A ratio per inpatient admission as a multiple of the hospital's medical admission rate (the
        one ``rate_at`` gives): the surgical admissions its OR schedule adds count too."""
        flow = self.flow
        surgical = flow.hospital.or_rooms * flow.spec.or_cases_per_room_per_day * 5 / 7  # per day, on average
        return per_admission * (1 + surgical / flow.daily_rate) if flow.daily_rate else per_admission

    def _rate(self, now: float, per_admission: float, business_hours: bool) -> float:
        """Arrivals per minute: the inpatient profile's, scaled; outpatients only in business hours
        on weekdays, at the rate that gives the same visits per week."""
        flow = self.flow
        if not business_hours:
            return flow.rate_at(now) * per_admission
        clock = now + flow.offset
        minute, weekday = clock % MINUTES_PER_DAY, (flow.weekday0 + int(clock // MINUTES_PER_DAY)) % 7
        if weekday >= 5 or not OUTPATIENT_HOURS[0] <= minute < OUTPATIENT_HOURS[1]:
            return 0.0
        return flow.daily_rate * 7 * per_admission / ((OUTPATIENT_HOURS[1] - OUTPATIENT_HOURS[0]) * 5)

    def arrivals(
        self, per_admission: float, visit: object, *, business_hours: bool = False
    ) -> Generator[simpy.Event, None, None]:
        """Arrivals until the scenario's last day, by thinning a peak-rate Poisson process."""
        flow, rng = self.flow, self.rng
        per_admission = self._per_admission(per_admission)
        open_minutes = (OUTPATIENT_HOURS[1] - OUTPATIENT_HOURS[0]) * 5
        peak = flow.daily_rate * 7 * per_admission / open_minutes if business_hours else flow.peak_rate * per_admission
        horizon = flow.days * MINUTES_PER_DAY
        assert callable(visit)
        while True:
            yield self.env.timeout(rng.expovariate(peak))
            if self.env.now >= horizon:
                return
            if rng.random() * peak <= self._rate(self.env.now, per_admission, business_hours):
                self.env.process(visit())

    def emergency(self) -> Generator[simpy.Event, object, None]:
        """Treat and release: registered, tests and treatments ordered, the visit level charged at
        departure, discharged, coded."""
        rng = self.rng
        location = self.locations["emergency"]
        length = lognormal(self.mix.emergency_hours, rng) * 60
        orders = [kind for kind, chance in EMERGENCY_ORDERS if rng.random() < chance]
        yield from self._visit(location, "emergency", length, orders, "emergency")

    def outpatient(self) -> Generator[simpy.Event, object, None]:
        """An outpatient seen in an ancillary department: registered, one service charged, discharged, coded."""
        kind = self.rng.choices(self.outpatient_kinds, cum_weights=self.outpatient_weights)[0]
        length = lognormal(self.mix.outpatient_minutes, self.rng)
        yield from self._visit(self.locations[kind], "outpatient", length, [kind], kind)

    def observation(self) -> Generator[simpy.Event, object, None]:
        """A patient placed in observation: a bedded stay of its own kind (``PatientFlow.stay``)."""
        flow = self.flow
        kind = self.rng.choices(self.observation_kinds, cum_weights=self.observation_weights)[0]
        patient, _ = flow.new_patient(self.rng, next(self.numbers), kind)
        yield from flow.stay(patient, flow.units_by_kind[kind], encounter_type="observation")

    def _visit(
        self, location: Unit, encounter_type: str, length: float, orders: list[str], diagnosis_kind: str
    ) -> Generator[simpy.Event, object, None]:
        flow, rng, env = self.flow, self.rng, self.env
        patient, _ = flow.new_patient(rng, next(self.numbers), location.kind)
        visit = f"{flow.hospital.code}V{patient.mrn[4:]}"
        if rng.random() < flow.spec.adt.cancel_admission_share:
            yield from flow.registration.cancelled(patient, visit, location.code, "", encounter_type, rng)
            return
        stay = Stay(visit, location, rng=rng)
        arrived = env.now
        flow.registration.admit(patient, visit, location.code, "", encounter_type, rng)
        flow.registration.corrections(patient, visit, arrived, length)
        for at, kind in sorted((rng.uniform(0.1, 0.9) * length, kind) for kind in orders):
            yield env.timeout(max(0.0, arrived + at - env.now))
            flow.post_service(stay, kind, rng, credits=False)
        yield env.timeout(max(0.0, arrived + length - env.now))
        if encounter_type == "emergency":
            level = rng.choices(flow.services["emergency"], cum_weights=_LEVELS)[0]
            flow.post_codes(stay, "emergency", [level], rng)
        flow.happen(PatientDischarged(env.now, flow.hospital.code, visit, location.code, "01"))
        queried = yield from flow.await_coding(stay, patient, encounter_type, env.now, rng)
        principal, secondary, drg = assign_visit_codes(diagnosis_kind, rng)
        flow.code(visit, principal, secondary, drg, queried)


_LEVELS = list(itertools.accumulate(EMERGENCY_LEVELS))
