"""Cycle counting: every night at 03:00 storeroom and pharmacy staff count a few item-locations.

Counting a rotating handful of items every night, instead of a yearly wall-to-wall count, is how
hospital storerooms keep their records honest. The staff count what is on the shelf and enter it
in the ERP's own screens (``ErpSupplyChain.record_count``; no integration involved); the ERP
keeps the count and its variance for review and leaves on-hand alone. 03:00 is a quiet point: no
surgery runs and no bedside supplies are documented; only a drug for an emergency visit may leave
the pharmacy's shelf while it is counted.

What is on the shelf is the truth, not the ERP: opening stock at par, plus every delivery counted
in, less every item used (in a case, at a bedside, dispensed). The workflow keeps that physical
ledger by reading each new fact of the truth ledger once. Each count is a fact too (``StockCounted``), naming the ERP's
count document. Items the ERP does not know yet (missing from its item master) cannot be entered,
so they are skipped until materials management has set them up.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence

import simpy

from mocks.erp.supply_chain import ErpSupplyChain
from twin.domain.events import ChargesPosted, Fact, GoodsReceived, StockCounted
from twin.network import Network, stock_policies
from twin.scenario import Scenario

COUNT_TIME = 3 * 60.0  # 03:00, minutes after midnight
MINUTES_PER_DAY = 1440.0


class CycleCount:
    """The nightly cycle counts of every stock location of the network."""

    def __init__(
        self,
        env: simpy.Environment,
        network: Network,
        scenario: Scenario,
        supply: ErpSupplyChain,
        facts_since: Callable[[int], Sequence[Fact]],
        witness: Callable[[Fact], None],
        start_minute_of_day: float,
    ) -> None:
        self.env = env
        self.supply = supply
        self.facts_since = facts_since
        self.witness = witness
        self.offset = start_minute_of_day
        self.per_night = scenario.reporting.counts_per_night
        self.physical: dict[tuple[str, str], int] = {
            key: par for key, (_reorder, par) in stock_policies(network, scenario).items()
        }
        self.hospital_of = network.hospital_of_location()
        self.locations = network.location_crosswalk()  # EHR stock location -> ERP inventory location
        self.erp_item = {item.ehr_code: item.erp_item for item in network.supply_items}
        self.rotation: dict[str, list[str]] = {}
        for location, item in sorted(self.physical):
            self.rotation.setdefault(location, []).append(item)
        self._next = dict.fromkeys(self.rotation, 0)
        self._read = 0  # truth facts already applied to the physical ledger

    def start(self, until: float) -> None:
        """Count every night at 03:00 while the workload runs (``until``: its end, minutes)."""
        if self.per_night > 0:
            self.env.process(self.count_nightly(until))

    def count_nightly(self, until: float) -> Generator[simpy.Event, None, None]:
        yield self.env.timeout((COUNT_TIME - self.env.now - self.offset) % MINUTES_PER_DAY)
        while self.env.now <= until:
            self._catch_up()
            for location in sorted(self.rotation):
                for item in self._tonight(location):
                    self._count(location, item)
            yield self.env.timeout(MINUTES_PER_DAY)

    def _catch_up(self) -> None:
        """Apply every fact since the last count to the physical ledger (each fact once)."""
        facts = self.facts_since(self._read)
        self._read += len(facts)
        for fact in facts:
            if isinstance(fact, ChargesPosted):
                for line in fact.lines:
                    if line.location:
                        key = (self.locations[line.location], self.erp_item[line.code])
                        self.physical[key] = self.physical.get(key, 0) - line.quantity
            elif isinstance(fact, GoodsReceived):
                key = (fact.location, fact.item)
                self.physical[key] = self.physical.get(key, 0) + fact.quantity

    def _tonight(self, location: str) -> list[str]:
        """The next few items of the location's rotation that the ERP knows."""
        items, start = self.rotation[location], self._next[location]
        chosen: list[str] = []
        step = 0
        while step < len(items) and len(chosen) < self.per_night:
            item = items[(start + step) % len(items)]
            if self.supply.stocks(location, item):
                chosen.append(item)
            step += 1
        self._next[location] = (start + step) % len(items)
        return chosen

    def _count(self, location: str, item: str) -> None:
        now = self.env.now
        # Usage beyond stock (a stock-out) was borrowed from elsewhere, which the twin does not
        # model: the shelf itself never holds fewer than none.
        physical = max(0, self.physical[(location, item)])
        document = self.supply.record_count(location, item, physical, now)
        self.witness(StockCounted(now, self.hospital_of[location], location, item, physical, document.count_id))
