"""The replenishment chain as the scenario's policies make it, derived from the truth alone.

usage -> position (on hand + on order) -> reorder point -> PO -> vendor order -> shipment ->
receipt -> invoice -> payment. Whether the world ships depends on the integration sending the
vendor its order, so the chain is not read off what happened: it is replayed from the true usage
and the stock policies the scenario sizes (``stock_policies``), independently of any integration.
Each time an item-location's position falls to its reorder point a PO is due for the quantity
that restores par, and with it the order at the vendor; the position is then at par again. The
goods of link ``n`` arrive when the truth says they did (the ``n``-th receipt of the item-location,
by PO number), or - when no receipt exists, because the order never reached the vendor - within
the window a correct chain would have brought them in: the vendor's lead time plus the scenario's
transit time, then receiving in the dock's hours. The ERP's on-hand at each quiet point is then
opening + these receipts - the usage the ERP could know by then.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from twin.domain.events import GoodsReceived
from twin.domain.office_hours import OfficeHours
from twin.domain.timebase import Timebase
from twin.network import Network
from twin.observe.records import Expected
from twin.scenario import Scenario

SUPPLY = "usage_inventory"
ON_HAND = "erp.on_hand"
PURCHASE_ORDER = "erp.purchase_order"
VENDOR_ORDER = "vendor.order"
DAY = 1440.0

Movement = tuple[float, int, str, int]  # (when the ERP can know it, truth order, kind "use", quantity)


@dataclass(frozen=True, slots=True)
class Link:
    """One replenishment the policies make due: PO ``number`` of an item-location."""

    location: str
    item: str
    number: int
    quantity: int
    due: float  # when the usage that made it due was known to the ERP
    vendor: str
    arrives: tuple[float, float]  # when its goods reach the shelf: a receipt's time, or a correct chain's window

    @property
    def key(self) -> str:
        return chain_key(self.location, self.item, self.number)


def chain_key(location: str, item: str, number: int) -> str:
    """The business key of the ``number``-th replenishment of an item-location (``101-9000/IT-1001#2``)."""
    return f"{location}/{item}#{number}"


def snapshot_key(location: str, item: str, at: float) -> str:
    return f"{location}/{item}@{at:.0f}"


def replenishment_chain(
    network: Network,
    scenario: Scenario,
    policies: dict[tuple[str, str], tuple[int, int]],
    stocked_from: dict[tuple[str, str], float],
    usage: dict[tuple[str, str], list[Movement]],
    receipts: Sequence[GoodsReceived],
) -> list[Link]:
    """Every PO the stock policies make due, in order per item-location (``stocked_from``: when the
    ERP first stocked each item-location - at once, or when materials management set it up)."""
    vendors = {item.erp_item: item.vendor for item in network.supply_items}
    lead = {vendor.vendor_id: vendor.lead_time_days for vendor in network.vendors}
    supply = scenario.supply
    dock = OfficeHours.of(Timebase(scenario.start), supply.dock_opens_hour, supply.dock_closes_hour)
    fastest, slowest = supply.transit_hours.min * 60, supply.allowed_lag_minutes + supply.transit_hours.max * 60
    arrived = _receipts_by_link(receipts)
    links: list[Link] = []
    for key, (reorder_point, par) in sorted(policies.items()):
        if stocked_from.get(key, 0.0) == float("inf"):
            continue  # never set up in the ERP: nothing to replenish
        position, number = par, 0
        vendor = vendors[key[1]]
        for known, _order, _kind, quantity in sorted(usage.get(key, [])):
            if known == math.inf:
                break  # the ERP never learns of this usage (held at a run's cut), nor of any later one
            position -= quantity
            if position > reorder_point:
                continue
            number += 1
            order = par - position
            receipt = arrived.get(key, {}).get(number)
            if receipt is not None:
                window = (receipt, receipt)
            else:
                shipped = known + lead[vendor] * DAY  # on the dock after transit, counted in in dock hours
                window = (
                    dock.finish(shipped + fastest, supply.receiving_minutes.min),
                    dock.finish(shipped + slowest, supply.receiving_minutes.max),
                )
            links.append(Link(key[0], key[1], number, order, known, vendor, window))
            position = par
    return links


def _receipts_by_link(receipts: Sequence[GoodsReceived]) -> dict[tuple[str, str], dict[int, float]]:
    """When the goods of each item-location's ``n``-th PO (by PO number) were counted in."""
    first: dict[tuple[str, str], dict[str, float]] = {}
    for receipt in receipts:
        at = first.setdefault((receipt.location, receipt.item), {})
        at[receipt.po] = min(at.get(receipt.po, receipt.at), receipt.at)
    return {
        key: {number: at for number, (_po, at) in enumerate(sorted(pos.items()), start=1)} for key, pos in first.items()
    }


def order_expectations(links: Sequence[Link]) -> list[Expected]:
    """Per link: the PO in the ERP, then the order at the vendor (never before its PO)."""
    expected: list[Expected] = []
    for link in links:
        why = f"usage took {link.location}/{link.item} to its reorder point"
        expected.append(Expected(SUPPLY, PURCHASE_ORDER, link.key, {"quantity": link.quantity}, link.due, why=why))
        expected.append(
            Expected(
                SUPPLY,
                VENDOR_ORDER,
                link.key,
                {"quantity": link.quantity, "vendor": link.vendor},
                link.due,
                seq=1,
                why=why,
                requires=(PURCHASE_ORDER, link.key),
            )
        )
    return expected


def on_hand_expectations(
    policies: dict[tuple[str, str], tuple[int, int]],
    stocked_from: dict[tuple[str, str], float],
    usage: dict[tuple[str, str], list[Movement]],
    links: Sequence[Link],
    snapshots: Sequence[float],
    lag: float,
    down: Sequence[tuple[float, float]] = (),
) -> list[Expected]:
    """ERP on-hand at each quiet point: opening (par, from when the ERP stocks it) + the chain's
    receipts - the usage the ERP could know by then. A receipt or usage racing the snapshot (it
    may land on either side) widens what the snapshot may show by its quantity; an item stocked just
    before it makes the snapshot optional. ``down``: the ERP's outage windows - a snapshot inside
    one is also raced by the usage known just before the outage began (its issue may have landed
    before, or been refused and posted when the ERP came back)."""
    arrivals: dict[tuple[str, str], list[tuple[float, float, int, Link]]] = {}
    for link in links:
        arrivals.setdefault((link.location, link.item), []).append((*link.arrives, link.quantity, link))
    expected = []
    for key, (_reorder_point, par) in sorted(policies.items()):
        since = stocked_from.get(key, 0.0)
        uses = usage.get(key, [])
        for at in snapshots:
            if at < since:
                continue
            arrived = [(q, link) for first, last, q, link in arrivals.get(key, []) if last <= at]
            received = sum(q for q, _link in arrived)
            used = sum(q for known, _o, _k, q in uses if known <= at)
            # movements racing the snapshot may land on either side of it: the shelf may show up to
            # that much more (a usage not posted yet, a receipt already in)
            racing = sum(q for first, last, q, _link in arrivals.get(key, []) if first <= at < last)
            racing += sum(q for known, _o, _k, q in uses if at - lag < known <= at)
            for start, end in down:
                if start <= at < end:
                    racing += sum(q for known, _o, _k, q in uses if start - lag < known <= min(start, at - lag))
            on_hand = par + received - used
            # goods no receipt brought in: the shelf lacks them because the order never reached the vendor
            missing = [link for _q, link in arrived if link.arrives[0] != link.arrives[1]]
            expected.append(
                Expected(
                    SUPPLY,
                    ON_HAND,
                    snapshot_key(key[0], key[1], at),
                    {"on_hand": on_hand},
                    at,
                    optional=at - lag < since,  # stocked just now: the ERP may not hold it yet
                    requires=(VENDOR_ORDER, missing[0].key) if missing else None,
                    bounds={"on_hand": (on_hand, on_hand + racing)} if racing else None,
                )
            )
    return expected
