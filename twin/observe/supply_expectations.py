"""Expectations of the clinical usage -> inventory flow, derived from the truth ledger alone.

- every supply line used in a case is issued from ERP inventory once, at standard cost, to the
  case's service line cost center (``erp.inventory_issue``);
- a replenishment PO is raised once each time the item's position (on hand + on order) falls to
  its reorder point, for the quantity that restores par, and sent on to the vendor
  (``erp.purchase_order``, ``vendor.order``): the chain the scenario's stock policies make, replayed
  over the true usage (``replenishment``), never read off what the integration ordered;
- at every quiet point, on-hand per item-location equals opening stock + that chain's receipts -
  usage (``erp.on_hand``);
- every delivery received is invoiced and paid once, at the item master's standard cost
  (``erp.invoice``): the ERP pays only on a three-way match, so "paid" is its verdict, not ours.
  A delivery shipped and not received yet (a run cut while it was on the road) may have its
  invoice in ERP payables, held, at that cost - or not yet.

Nothing here reads a target: stock policies and costs are the network's master data.
"""

from __future__ import annotations

from collections.abc import Sequence

from twin.domain.events import ChargesPosted, GoodsReceived, GoodsShipped
from twin.faults import Downtime, OutageWindow
from twin.network import Network, stock_policies
from twin.observe.fault_truth import arrival, fault_facts
from twin.observe.governance_facts import governance_facts
from twin.observe.records import Expected
from twin.observe.replenishment import (
    ON_HAND,
    PURCHASE_ORDER,
    SUPPLY,
    VENDOR_ORDER,
    Movement,
    on_hand_expectations,
    order_expectations,
    replenishment_chain,
)
from twin.observe.truth import TruthLedger, per_ledger
from twin.scenario import Scenario

ISSUE = "erp.inventory_issue"
INVOICE = "erp.invoice"
SUPPLY_EXCEPTION = "integration.supply_exception"
SUPPLY_TARGETS = (ISSUE, ON_HAND, PURCHASE_ORDER, VENDOR_ORDER, INVOICE, SUPPLY_EXCEPTION)
SUPPLY_UNSHIFTED = (ON_HAND, INVOICE)  # what no outage delays: read at fixed instants, made by the ERP itself
__all__ = [
    "INVOICE",
    "ISSUE",
    "ON_HAND",
    "PURCHASE_ORDER",
    "SUPPLY",
    "SUPPLY_EXCEPTION",
    "SUPPLY_TARGETS",
    "SUPPLY_UNSHIFTED",
    "VENDOR_ORDER",
]


@per_ledger  # the supply check and the KPI oracle both ask (with the same quiet points)
def supply_expectations(
    truth: TruthLedger,
    network: Network,
    scenario: Scenario,
    snapshots: Sequence[float] = (),
    outages: Sequence[OutageWindow] = (),
) -> list[Expected]:
    """What ERP inventory, purchasing and payables, and the vendor portal, must hold.

    A usage the ERP cannot know yet - its item is missing from the ERP item master, or its
    service line's cost center was retired - becomes due when governance published the mapping
    that lets it post (``MappingPublished``); never, if it was not published. Faults hold records
    the same way (``fault_truth``): a usage whose charge message was spoiled is known when it was
    repaired, one sent under a department alias when the alias was governed; an invoice whose
    document drifted is payable when it was repaired. Outages (``outages``): a charge message sent
    while the integration was down arrives when the window ended; a usage known while the ERP was
    down is issued when that window ended - for the on-hand at a quiet point too. ``snapshots``:
    the quiet points at which the ERP's on-hand was read.
    """
    arrives = arrival(outages)
    erp_windows = [(w.start, w.end) for w in outages if w.system == "erp"]
    erp_down = Downtime(erp_windows)
    faults = fault_facts(truth)
    governance = governance_facts(truth)
    lag = scenario.supply.allowed_lag_minutes
    items = {item.ehr_code: item for item in network.supply_items}
    costs = {item.erp_item: item.unit_cost for item in network.supply_items}
    locations = network.location_crosswalk()
    centers = network.department_crosswalk()
    policies = stock_policies(network, scenario)
    stocked_from = {
        (location, items[code].erp_item): governance.first_published("item", code)
        for code in network.missing_items
        for location in set(locations.values())
    }
    expected: list[Expected] = []
    usage: dict[tuple[str, str], list[Movement]] = {}
    receipts: list[GoodsReceived] = []
    shipped: list[GoodsShipped] = []  # rare: a few per item-location and week
    for seq, fact in enumerate(truth):
        if isinstance(fact, ChargesPosted):
            for line in fact.lines:
                if not line.location:
                    continue
                item = items[line.code]
                key = (locations[line.location], item.erp_item)
                known = arrives(fact.at)
                if line.code in network.missing_items:
                    known = max(known, governance.first_published("item", line.code))
                center = centers[line.department]
                retirement = governance.retired.get(center)
                alias = faults.aliased.get(line.txn_id) if faults.aliased else None
                if alias is not None:  # the department's own cost center, once the alias is governed
                    since = -1.0
                    if retirement is not None and retirement.at <= fact.at:
                        center, since = retirement.replacement, retirement.at
                    known = max(known, faults.alias_published(alias.alias, since))
                elif retirement is not None and retirement.at <= fact.at:
                    center = retirement.replacement
                    known = max(known, governance.first_published("department", line.department))
                if not faults.empty:
                    known = max(known, faults.line_hold(line.txn_id))
                if erp_down:
                    known = erp_down.shift(known)
                expected.append(
                    Expected(
                        SUPPLY,
                        ISSUE,
                        line.txn_id,
                        {
                            "location": key[0],
                            "item": key[1],
                            "quantity": line.quantity,
                            "cost_center": center,
                            "cost": line.quantity * item.unit_cost,
                        },
                        known,
                    )
                )
                usage.setdefault(key, []).append((known, seq, "use", line.quantity))
        elif isinstance(fact, GoodsReceived):
            receipts.append(fact)
            expected.append(
                Expected(
                    SUPPLY,
                    INVOICE,
                    fact.po,
                    {"status": "paid", "amount": fact.quantity * costs.get(fact.item, 0)},
                    max(fact.at, faults.document_hold(fact.po)) if not faults.empty else fact.at,
                )
            )
        elif isinstance(fact, GoodsShipped):
            shipped.append(fact)
    received = {receipt.po for receipt in receipts}
    for shipment in shipped:
        if shipment.po in received:
            continue
        known = arrives(max(shipment.at, faults.document_hold(shipment.po)) if not faults.empty else shipment.at)
        expected.append(
            Expected(
                SUPPLY,
                INVOICE,
                shipment.po,
                {"status": "held", "amount": shipment.quantity * costs.get(shipment.item, 0)},
                erp_down.shift(known) if erp_down else known,
                optional=True,
                why="its goods were on the road: the invoice may or may not have reached payables",
            )
        )
    links = replenishment_chain(network, scenario, policies, stocked_from, usage, receipts)
    expected.extend(order_expectations(links))
    expected.extend(on_hand_expectations(policies, stocked_from, usage, links, snapshots, lag, erp_windows))
    return expected
