"""Expectations of the clinical usage -> inventory flow, derived from the truth ledger.

- every supply line used in a case is issued from ERP inventory once, at standard cost, to the
  case's service line cost center (``erp.inventory_issue``);
- at every quiet point, on-hand per item-location equals opening stock + receipts - usage
  (``erp.on_hand``);
- a replenishment PO is raised once each time the item's position (on hand + on order) falls to
  its reorder point, for the quantity that restores par (``erp.purchase_order``);
- every received PO is invoiced and paid once, and only on a three-way match (``erp.invoice``).

The PO oracle replays the stock policy over the true usage and receipts; the POs already raised
enter its position as on-order stock, because whether a further PO is due depends on them.
"""

from __future__ import annotations

from collections.abc import Sequence

from mocks.erp.supply_chain import ErpSupplyChain
from twin.domain.events import ChargesPosted, CostCenterRetired, GoodsReceived, MappingPublished
from twin.faults import OutageWindow, shift_ready
from twin.network import Network
from twin.observe.fault_truth import arrival, fault_facts
from twin.observe.records import Expected
from twin.observe.truth import TruthLedger
from twin.scenario import Scenario

SUPPLY = "usage_inventory"
ISSUE = "erp.inventory_issue"
ON_HAND = "erp.on_hand"
PURCHASE_ORDER = "erp.purchase_order"
INVOICE = "erp.invoice"
SUPPLY_EXCEPTION = "integration.supply_exception"
SUPPLY_TARGETS = (ISSUE, ON_HAND, PURCHASE_ORDER, INVOICE, SUPPLY_EXCEPTION)

Snapshot = tuple[float, dict[tuple[str, str], int]]


def snapshot_key(location: str, item: str, at: float) -> str:
    return f"{location}/{item}@{at:.0f}"


Movement = tuple[float, int, int, str, int]  # (when the ERP can know it, rank, truth order, kind, quantity)


def supply_expectations(
    truth: TruthLedger,
    network: Network,
    erp: ErpSupplyChain,
    snapshots: Sequence[Snapshot],
    scenario: Scenario,
    outages: Sequence[OutageWindow] = (),
) -> list[Expected]:
    """What ERP inventory, purchasing and payables must hold.

    A usage the ERP cannot know yet - its item is missing from the ERP item master, or its
    service line's cost center was retired - becomes due when governance published the mapping
    that lets it post (``MappingPublished``); never, if it was not published. Faults hold records
    the same way (``fault_truth``): a usage whose charge message was spoiled is known when it was
    repaired, one sent under a department alias when the alias was governed; an invoice whose
    document drifted is payable when it was repaired. Outages (``outages``): a charge message sent
    while the integration was down arrives when the window ended; a usage known while the ERP was
    down is issued when that window ended - for the on-hand at a quiet point too.
    """
    arrives = arrival(outages)
    erp_down = [(w.start, w.end) for w in outages if w.system == "erp"]
    faults = fault_facts(truth)
    lag = scenario.supply.allowed_lag_minutes
    items = {item.ehr_code: item for item in network.supply_items}
    locations = network.location_crosswalk()
    centers = network.department_crosswalk()
    never = float("inf")
    published: dict[tuple[str, str], float] = {}
    retired: dict[str, CostCenterRetired] = {}
    for fact in truth:
        if isinstance(fact, MappingPublished):
            published.setdefault((fact.domain, fact.code), fact.at)
        elif isinstance(fact, CostCenterRetired):
            retired[fact.cost_center] = fact
    expected: list[Expected] = []
    movements: dict[tuple[str, str], list[Movement]] = {}
    for seq, fact in enumerate(truth):
        if isinstance(fact, ChargesPosted):
            for line in fact.lines:
                if not line.location:
                    continue
                item = items[line.code]
                key = (locations[line.location], item.erp_item)
                known = arrives(fact.at)
                if line.code in network.missing_items:
                    known = max(known, published.get(("item", line.code), never))
                center = centers[line.department]
                retirement = retired.get(center)
                alias = faults.aliased.get(line.txn_id) if faults.aliased else None
                if alias is not None:  # the department's own cost center, once the alias is governed
                    since = -1.0
                    if retirement is not None and retirement.at <= fact.at:
                        center, since = retirement.replacement, retirement.at
                    known = max(known, faults.alias_published(alias.alias, since))
                elif retirement is not None and retirement.at <= fact.at:
                    center = retirement.replacement
                    known = max(known, published.get(("department", line.department), never))
                if not faults.empty:
                    known = max(known, faults.line_hold(line.txn_id))
                if erp_down:
                    known = shift_ready(known, erp_down)
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
                movements.setdefault(key, []).append((known, 0, seq, "use", line.quantity))
        elif isinstance(fact, GoodsReceived):
            movements.setdefault((fact.location, fact.item), []).append((fact.at, 1, seq, "receipt", fact.quantity))
            unit_price = erp.orders[fact.po].unit_price if fact.po in erp.orders else 0
            expected.append(
                Expected(
                    SUPPLY,
                    INVOICE,
                    fact.po,
                    {"status": "paid", "matched": True, "amount": fact.quantity * unit_price},
                    max(fact.at, faults.document_hold(fact.po)) if not faults.empty else fact.at,
                )
            )
    set_up = {
        (loc, items[code].erp_item): published.get(("item", code), never)
        for code in network.missing_items
        for loc in set(locations.values())
    }
    expected.extend(_on_hand(erp.opening, movements, snapshots, lag, set_up))
    expected.extend(_purchase_orders(erp, movements))
    return expected


def _on_hand(
    opening: dict[tuple[str, str], int],
    movements: dict[tuple[str, str], list[Movement]],
    snapshots: Sequence[Snapshot],
    lag: float,
    set_up: dict[tuple[str, str], float],
) -> list[Expected]:
    """ERP on-hand at each quiet point: opening + receipts - usage the ERP could know by then.

    An item set up mid-run has no on-hand before its set-up; right after it (within the lag)
    the replayed usage may still be in flight, so that snapshot may show either."""
    expected = []
    for key, start in sorted(opening.items()):
        events = sorted(movements.get(key, []))
        since = set_up.get(key, -1.0)
        for at, _snapshot in snapshots:
            if at < since:
                continue
            level = start + sum(q if kind == "receipt" else -q for t, _o, _s, kind, q in events if t <= at)
            racing = at - lag < since or any(at - lag < t <= at for t, _o, _s, kind, _q in events if kind == "use")
            expected.append(
                Expected(SUPPLY, ON_HAND, snapshot_key(key[0], key[1], at), {"on_hand": level}, at, optional=racing)
            )
    return expected


def _purchase_orders(erp: ErpSupplyChain, movements: dict[tuple[str, str], list[Movement]]) -> list[Expected]:
    orders: dict[tuple[str, str], list[Movement]] = {}
    for order in erp.orders.values():
        orders.setdefault((order.location, order.item), []).append((order.created_at, 2, 0, "order", order.quantity))
    expected = []
    for key, policy in sorted(erp.policies.items()):
        on_hand, on_order, due, count = erp.opening.get(key, 0), 0, False, 0
        for at, _rank, _seq, kind, quantity in sorted(movements.get(key, []) + orders.get(key, [])):
            if kind == "use":
                on_hand -= quantity
            elif kind == "receipt":
                on_hand += quantity
                on_order -= quantity
            else:
                on_order += quantity
                due = False
            if kind == "use" and not due and on_hand + on_order <= policy.reorder_point:
                count += 1
                due = True
                expected.append(
                    Expected(
                        SUPPLY,
                        PURCHASE_ORDER,
                        f"{key[0]}/{key[1]}#{count}",
                        {"quantity": policy.par - on_hand - on_order},
                        at,
                    )
                )
    return expected
