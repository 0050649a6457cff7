"""Floor stock: what the nursing units use at the bedside, documented through the day.

Each patient in a bed at midnight uses the day's floor stock (``FLOOR_USE``: a daily supply kit,
IV sets for some); the nurse documents it at the bedside during the day, between 06:00 and 22:00,
as a charge with its stock location (FT1-16: the central storeroom), so the ERP issues it to the
unit's cost center as billing charges it. A patient discharged before the nurse documented the
day used nothing more that day. Spread over the day, not posted at midnight, as a real unit's
documentation is - which also keeps the storeroom's issues from arriving in one burst.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING

import simpy

from twin.catalog import FLOOR_USE
from twin.domain.events import ChargeLine, ChargesPosted

if TYPE_CHECKING:
    from twin.workflows.patient_flow import PatientFlow, Stay

DOCUMENTED = (6 * 60.0, 22 * 60.0)  # minutes after midnight the day's bedside supplies are documented in


class BedsideSupplies:
    """The floor stock of one hospital's patients."""

    def __init__(self, flow: PatientFlow, rng: random.Random, happen: Callable[[ChargesPosted], None]) -> None:
        self.flow = flow
        self.env: simpy.Environment = flow.env
        self.rng = rng
        self.happen = happen
        self.prices = {code.code: code.price for code in flow.services.get("floor", ())}

    def day(self, visits: list[str]) -> None:
        """Midnight: the day of every patient in a bed now, each documented at a time of its own."""
        if visits and self.prices:
            midnight = self.env.now
            times = sorted((midnight + self.rng.uniform(*DOCUMENTED), visit) for visit in visits)
            self.env.process(self._document(times))

    def _document(self, times: list[tuple[float, str]]) -> Generator[simpy.Event, None, None]:
        for at, visit in times:
            if at > self.env.now:
                yield self.env.timeout(at - self.env.now)
            stay = self.flow.in_house.get(visit)
            if stay is not None:
                self.post(stay)

    def post(self, stay: Stay) -> None:
        """Document the day's floor stock of ``stay`` now (some items used with a probability)."""
        rng, now, department = self.rng, self.env.now, stay.unit.department.ehr_code
        lines = []
        for use in FLOOR_USE:
            if use.probability < 1.0 and rng.random() >= use.probability:
                continue
            quantity = rng.randint(use.min_quantity, use.max_quantity)
            amount = self.prices[use.item] * quantity
            txn = self.flow.next_txn(stay)
            lines.append(ChargeLine(txn, use.item, department, quantity, amount, now, None, self.flow.storeroom))
        if lines:
            self.happen(ChargesPosted(now, self.flow.hospital.code, stay.visit, tuple(lines)))
