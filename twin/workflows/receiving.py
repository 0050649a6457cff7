"""The receiving dock: vendor shipments travel, arrive, and are counted into the storeroom.

Receiving staff post the goods receipt in the ERP's own screens (no integration involved), and
that physical count is a fact for the truth ledger. They work the dock on weekdays in dock hours:
a truck that arrives in the evening or on a weekend is counted in the next morning, whatever the
integration's design. Transit and handling times and the dock hours come from the scenario's
``supply`` block, in hours and minutes.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Generator

import simpy

from twin.domain.events import Fact, GoodsReceived
from twin.domain.office_hours import OfficeHours
from twin.scenario import SupplySpec


class ReceivingDock:
    def __init__(
        self,
        env: simpy.Environment,
        spec: SupplySpec,
        rng: random.Random,
        post_receipt: Callable[[str, int, float], object],
        witness: Callable[[Fact], None],
        hospital_of_location: dict[str, str],
        hours: OfficeHours,
    ) -> None:
        self.env = env
        self.spec = spec
        self.rng = rng
        self.post_receipt = post_receipt
        self.witness = witness
        self.hospital_of_location = hospital_of_location
        self.hours = hours

    def ship(self, po: str, item: str, location: str, quantity: int) -> None:
        """A vendor shipped: the goods are on their way."""
        self.env.process(self._arrive(po, item, location, quantity))

    def _arrive(self, po: str, item: str, location: str, quantity: int) -> Generator[simpy.Event, None, None]:
        transit = self.rng.uniform(self.spec.transit_hours.min, self.spec.transit_hours.max) * 60
        handling = self.rng.uniform(self.spec.receiving_minutes.min, self.spec.receiving_minutes.max)
        yield self.env.timeout(self.hours.finish(self.env.now + transit, handling) - self.env.now)
        self.post_receipt(po, quantity, self.env.now)
        self.witness(
            GoodsReceived(self.env.now, self.hospital_of_location.get(location, ""), location, item, quantity, po)
        )
