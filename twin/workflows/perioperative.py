"""Elective surgery of one hospital: cases scheduled on weekdays into OR rooms, with supply usage.

Each weekday at 06:00 the day's cases are booked (Poisson around rooms x cases per room); each
case admits its patient, waits for an OR room from 07:30, takes a lognormal duration plus
turnover, and documents the supplies it used in the EHR at the end of the case: one charge line
per item, carrying the storeroom it came from and the case, so billing and inventory see the
same fact. Times are minutes.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Generator

import simpy

from twin.domain.events import CaseCompleted, ChargeLine, ChargesPosted, Fact
from twin.domain.model import CaseType, Hospital, SupplyItem
from twin.scenario import Scenario
from twin.workflows.patient_flow import MINUTES_PER_DAY, PatientFlow, Stay

FIRST_CASE_START = 7.5 * 60  # 07:30
BOOKING_TIME = 6 * 60  # the day's cases are booked and patients arrive from 06:00
TURNOVER_MINUTES = 30.0  # cleaning and setup between cases
DURATION_SIGMA = 0.3


class Perioperative:
    """The OR schedule of one hospital."""

    def __init__(
        self,
        env: simpy.Environment,
        hospital: Hospital,
        scenario: Scenario,
        flow: PatientFlow,
        case_types: tuple[CaseType, ...],
        service_line_shares: dict[str, float],
        supply_items: tuple[SupplyItem, ...],
        rng: random.Random,
        witness: Callable[[Fact], None],
        start_minute_of_day: float,
        start_weekday: int,
    ) -> None:
        self.env = env
        self.hospital = hospital
        self.days = scenario.days
        self.per_room = scenario.workload.or_cases_per_room_per_day
        self.flow = flow
        self.rng = rng
        self.witness = witness
        self.offset = start_minute_of_day
        self.weekday0 = start_weekday
        self.items = {item.ehr_code: item for item in supply_items}
        self.case_types = case_types
        self.case_weights = [
            service_line_shares[c.service_line] / sum(1 for o in case_types if o.service_line == c.service_line)
            for c in case_types
        ]
        # summed once: ``random.choices`` draws the same with these as with ``weights=case_weights``
        self.case_cum_weights = list(itertools.accumulate(self.case_weights))
        self.rooms = simpy.Store(env)
        self.rooms.items = [f"{hospital.code}-OR{n + 1}" for n in range(hospital.or_rooms)]
        self.departments = {d.kind: d.ehr_code for d in hospital.departments}
        self.cases = 0
        flow.operate = self.operate

    def start(self) -> None:
        if self.hospital.or_rooms and self.per_room > 0:
            self.env.process(self.book_cases())

    def book_cases(self) -> Generator[simpy.Event, None, None]:
        """Every weekday at 06:00, book the day's elective cases."""
        now_clock = self.env.now + self.offset
        first = (BOOKING_TIME - now_clock) % MINUTES_PER_DAY
        yield self.env.timeout(first)
        while self.env.now < self.days * MINUTES_PER_DAY:
            weekday = (self.weekday0 + int((self.env.now + self.offset) // MINUTES_PER_DAY)) % 7
            if weekday < 5:
                for _ in range(_poisson(self.hospital.or_rooms * self.per_room, self.rng)):
                    self.cases += 1
                    case_type = self.rng.choices(self.case_types, cum_weights=self.case_cum_weights)[0]
                    self.flow.admit_for_surgery(case_type, f"{self.hospital.code}C{self.cases:06d}")
            yield self.env.timeout(MINUTES_PER_DAY)

    def operate(self, stay: Stay, case_type: CaseType, case_id: str) -> Generator[simpy.Event, object, None]:
        """Wait for the first case start and an OR room, operate, document supplies, free the room."""
        env, rng = self.env, self.rng
        day_start = env.now - (env.now + self.offset) % MINUTES_PER_DAY
        if env.now < day_start + FIRST_CASE_START:
            yield env.timeout(day_start + FIRST_CASE_START - env.now)
        room = yield self.rooms.get()
        assert isinstance(room, str)
        started = env.now
        yield env.timeout(case_type.duration_minutes * math.exp(rng.gauss(0.0, DURATION_SIGMA)))
        self._document_supplies(stay, case_type, case_id)
        self.witness(
            CaseCompleted(
                env.now, self.hospital.code, stay.visit, case_id, case_type.code, case_type.service_line, room, started
            )
        )
        self.env.process(self._turn_over(room))

    def _turn_over(self, room: str) -> Generator[simpy.Event, None, None]:
        yield self.env.timeout(TURNOVER_MINUTES)
        self.rooms.put(room)

    def _document_supplies(self, stay: Stay, case_type: CaseType, case_id: str) -> None:
        rng, now = self.rng, self.env.now
        department = self.departments[case_type.service_line]
        lines = []
        for use in case_type.supplies:
            if use.probability < 1.0 and rng.random() >= use.probability:
                continue
            quantity = rng.randint(use.min_quantity, use.max_quantity)
            if quantity <= 0:
                continue
            item = self.items[use.item]
            lines.append(
                ChargeLine(
                    self.flow.next_txn(stay),
                    item.ehr_code,
                    department,
                    quantity,
                    item.price * quantity,
                    now,
                    None,
                    self.hospital.storeroom,
                    case_id,
                )
            )
        if lines:
            self.flow.happen(ChargesPosted(now, self.hospital.code, stay.visit, tuple(lines)))


def _poisson(mean: float, rng: random.Random) -> int:
    """A Poisson draw (Knuth's method: means here are a few dozen at most)."""
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count
