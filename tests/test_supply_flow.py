"""Clinical usage -> inventory: the ERP's rules, the vendor, the integration, and the oracle catching
every planted defect."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest

from mocks.erp.finance import ErpFinance
from mocks.erp.supply_chain import ErpSupplyChain, ItemMaster, StockPolicy
from mocks.saas.vendor import VendorPortal
from tests.conftest import run_small, small_scenario
from twin.domain.accounts import DRUG_EXPENSE, SUPPLY_EXPENSE
from twin.domain.events import ChargeLine, ChargesPosted
from twin.domain.exchange import TargetRequest, TargetResponse
from twin.domain.timebase import Timebase
from twin.integration.crosswalk import Crosswalk
from twin.integration.supply import SupplyOrchestrator
from twin.network import inventory_location
from twin.observe.flows import check_all
from twin.sim import RunResult, Twin
from twin.suts import load_sut

LOC, ITEM = "101-7510", "IM-1"


def _erp(on_hand: int = 10) -> ErpSupplyChain:
    finance = ErpFinance(Timebase(datetime(2026, 1, 5)), ("101-7510", "101-6510"))
    return ErpSupplyChain(
        finance,
        (ItemMaster(ITEM, "Knee", "V-APEX", 1000),),
        {(LOC, ITEM): StockPolicy(reorder_point=4, par=12)},
        {(LOC, ITEM): on_hand},
    )


def _issue(erp: ErpSupplyChain, quantity: int, ref: str = "T1", key: str = "") -> TargetResponse:
    body = {"reference": ref, "location": LOC, "item": ITEM, "quantity": quantity, "cost_center": "101-6510"}
    return erp.handle(TargetRequest("erp", "POST", "/inventory/issues", body, key), 1.0)


def test_issue_moves_stock_and_costs_the_service_line() -> None:
    erp = _erp()
    response = _issue(erp, 3)
    assert response.status == 201 and response.body["on_hand"] == 7 and response.body["reorder_point"] == 4
    journal = erp.finance.journals[-1]
    assert journal.source == "inventory-issue"
    assert {(line.account, line.cost_center, line.debit, line.credit) for line in journal.lines} == {
        ("5200", "101-6510", 3000, 0),
        ("1400", "101-7510", 0, 3000),
    }


def test_issue_rules_and_idempotency() -> None:
    erp = _erp()
    bad = erp.handle(
        TargetRequest(
            "erp",
            "POST",
            "/inventory/issues",
            {"reference": "T", "location": LOC, "item": "NOPE", "quantity": 0, "cost_center": "X"},
            "",
        ),
        1.0,
    )
    assert bad.status == 422 and len(bad.body["errors"]) >= 3
    _issue(erp, 2, key="issue:T1")
    _issue(erp, 2, key="issue:T1")
    assert erp.on_hand[(LOC, ITEM)] == 8 and len(erp.issues) == 1


def test_stock_out_is_recorded_when_usage_exceeds_on_hand() -> None:
    erp = _erp(on_hand=1)
    _issue(erp, 2)
    assert erp.on_hand[(LOC, ITEM)] == -1 and len(erp.stock_outs) == 1


def test_invoice_is_paid_only_on_a_three_way_match() -> None:
    erp = _erp()
    po = erp.handle(
        TargetRequest("erp", "POST", "/purchasing/orders", {"location": LOC, "item": ITEM, "quantity": 5}, ""), 1.0
    ).body["po"]

    def invoice(number: str, amount: int) -> TargetResponse:
        body = {"vendor_invoice": number, "po": po, "quantity": 5, "amount": amount}
        return erp.handle(TargetRequest("erp", "POST", "/payables/invoices", body, ""), 2.0)

    early = invoice("INV-1", 5000)
    assert early.status == 202 and early.body["hold"] == "awaiting goods receipt"
    wrong_price = invoice("INV-2", 9999)
    erp.receive(po, 5, 3.0)
    assert erp.on_hand[(LOC, ITEM)] == 15 and erp.on_order(LOC, ITEM) == 0
    statuses = {i.vendor_invoice: (i.status, i.hold_reason) for i in erp.invoices}
    assert statuses["INV-1"] == ("paid", "")  # re-matched when the goods arrived
    assert statuses["INV-2"][0] == "held"
    assert wrong_price.status == 202
    orphan = erp.handle(
        TargetRequest(
            "erp",
            "POST",
            "/payables/invoices",
            {"vendor_invoice": "INV-3", "po": "PO-NONE", "quantity": 1, "amount": 1},
            "",
        ),
        4.0,
    )
    assert orphan.body["hold"] == "no purchase order"


def test_vendor_ships_each_po_once_after_its_lead_time() -> None:
    vendor = VendorPortal({"V-APEX": 2.0})
    order = {"po": "PO1", "vendor": "V-APEX", "item": ITEM, "location": LOC, "quantity": 5, "unit_price": 1000}
    confirmed = vendor.handle(TargetRequest("vendor", "POST", "/orders", order, ""), 0.0)
    assert confirmed.status == 201 and confirmed.body["ship_at"] == 2 * 1440
    again = vendor.handle(TargetRequest("vendor", "POST", "/orders", order, ""), 5.0)
    assert again.status == 200 and again.body["confirmation"] == confirmed.body["confirmation"]
    assert vendor.ship_due(2 * 1440 - 1) == []
    shipped = vendor.ship_due(2 * 1440)
    assert len(shipped) == 1 and shipped[0][1].amount == 5000
    assert vendor.ship_due(9 * 1440) == []
    bad = vendor.handle(TargetRequest("vendor", "POST", "/orders", {**order, "vendor": "X", "po": "PO2"}, ""), 0.0)
    assert bad.status == 422


def _orchestrator() -> SupplyOrchestrator:
    return SupplyOrchestrator(
        Crosswalk(departments={"H01-ORTH": "101-6510"}, items={"278-1": ITEM}, locations={"H01-ORSUP": LOC})
    )


def _usage(txn: str, code: str = "278-1") -> ChargesPosted:
    return ChargesPosted(1.0, "H01", "V1", (ChargeLine(txn, code, "H01-ORTH", 1, 100, 1.0, None, "H01-ORSUP", "C1"),))


def test_integration_issues_usage_and_replenishes_once() -> None:
    from twin.domain.contract import Outcome

    supply = _orchestrator()
    outcome = Outcome()
    supply.apply(_usage("T1"), 1.0, outcome)
    issue = outcome.requests[0]
    assert issue.path == "/inventory/issues" and issue.body["item"] == ITEM and issue.body["cost_center"] == "101-6510"
    low = {"on_hand": 3, "on_order": 0, "reorder_point": 4, "par": 12, "seq": 5}
    po = supply.on_response(issue, TargetResponse(201, low), 2.0).requests
    assert [(r.path, r.body["quantity"]) for r in po] == [("/purchasing/orders", 9)]
    # a second low position while the PO is in flight raises nothing
    assert supply.on_response(issue, TargetResponse(201, {**low, "seq": 6}), 2.1).requests == []
    created = supply.on_response(
        po[0], TargetResponse(201, {"po": "PO1", "vendor": "V-APEX", "unit_price": 1000, "seq": 7}), 2.2
    ).requests
    assert [r.system for r in created] == ["vendor"] and created[0].body["po"] == "PO1"
    # a position older than the PO (a response that overtook) raises nothing either
    assert supply.on_response(issue, TargetResponse(201, {**low, "seq": 6}), 2.3).requests == []
    # the vendor's invoice is relayed to payables
    relay = supply.on_vendor_document(
        {"type": "invoice", "vendor_invoice": "I1", "po": "PO1", "quantity": 9, "amount": 9000}, 3.0
    ).requests
    assert relay[0].path == "/payables/invoices" and relay[0].idempotency_key == "invoice:I1"


def test_unmapped_item_is_an_exception_not_an_issue() -> None:
    from twin.domain.contract import Outcome

    supply = _orchestrator()
    outcome = Outcome()
    supply.apply(_usage("T9", code="278-UNKNOWN"), 1.0, outcome)
    assert outcome.requests == []
    assert [e.reason_code for e in supply.raised] == ["unmapped_item"]


# -- the oracle catches what is planted in a real run --------------------------------------------


@pytest.fixture()
def run() -> RunResult:
    result = run_small(days=4)
    assert result.view.erp.supply.orders, "the run must replenish something"
    assert result.in_sync, [d for f in result.flows for d in f.differences[:3]]
    return result


def _counts(run: RunResult) -> dict[str, int]:
    return check_all(run.view)[1].counts


def test_planted_lost_issue_is_caught_with_the_stock_drift(run: RunResult) -> None:
    supply = run.view.erp.supply
    issue = supply.issues.pop(0)
    for index, (at, levels) in enumerate(run.view.snapshots):
        if at >= issue.posted_at:
            run.view.snapshots[index] = (
                at,
                {**levels, (issue.location, issue.item): levels[(issue.location, issue.item)] + issue.quantity},
            )
    counts = _counts(run)
    assert counts["lost"] == 1
    assert counts["wrong_value"] >= 1  # every later snapshot of that item-location is off


def test_planted_double_issue_is_duplicated(run: RunResult) -> None:
    supply = run.view.erp.supply
    supply.issues.append(dataclasses.replace(supply.issues[3], issue_id="IS-COPY"))
    assert _counts(run)["duplicated"] == 1


def test_planted_wrong_cost_center_is_wrong_value(run: RunResult) -> None:
    supply = run.view.erp.supply
    supply.issues[2] = dataclasses.replace(supply.issues[2], cost_center="101-9999")
    assert _counts(run)["wrong_value"] == 1


def test_planted_late_issue_is_stale(run: RunResult) -> None:
    supply = run.view.erp.supply
    supply.issues[1] = dataclasses.replace(supply.issues[1], posted_at=supply.issues[1].posted_at + 60)
    assert _counts(run)["stale"] == 1


def test_planted_extra_po_is_caught(run: RunResult) -> None:
    supply = run.view.erp.supply
    first = next(iter(supply.orders.values()))
    supply.orders["PO-EXTRA"] = dataclasses.replace(first, po="PO-EXTRA", created_at=first.created_at + 1)
    counts = _counts(run)
    assert counts["unexpected"] + counts["wrong_value"] >= 1


def test_planted_invoice_paid_without_receipt_or_at_another_price_is_caught(run: RunResult) -> None:
    supply = run.view.erp.supply
    paid = next(i for i in supply.invoices if i.status == "paid")
    supply.invoices.append(dataclasses.replace(paid, invoice_id="AP-X", po="PO-NEVER-RECEIVED"))
    assert _counts(run)["unexpected"] == 1  # no goods were received for it: nothing says it is payable
    supply.invoices[-1] = dataclasses.replace(paid, invoice_id="AP-X", amount=paid.amount + 100)
    assert _counts(run)["duplicated"] == 1  # paid twice
    supply.invoices.pop()
    index = supply.invoices.index(paid)
    supply.invoices[index] = dataclasses.replace(paid, amount=paid.amount + 100)
    assert _counts(run)["wrong_value"] == 1


def test_planted_missed_replenishment_is_lost(run: RunResult) -> None:
    supply = run.view.erp.supply
    supply.orders.pop(next(iter(supply.orders)))
    counts = _counts(run)
    assert counts["lost"] + counts["wrong_value"] >= 1


def test_drugs_and_floor_stock_are_issued_from_their_own_locations(run: RunResult) -> None:
    """The pharmacy dispenses from its own stock, the units' floor stock comes from the central
    storeroom: each line is issued once, to the cost center that used it, in no surgical case."""
    view = run.view
    network = view.network
    hospital = network.hospitals[0]
    pharmacy, storeroom = hospital.department("pharmacy"), inventory_location(hospital)
    kinds = {item.erp_item: item.kind for item in network.supply_items}
    issues = view.erp.supply.issues
    drugs = [i for i in issues if kinds[i.item] == "drug"]
    floor = [i for i in issues if kinds[i.item] == "floor"]
    assert drugs and floor
    assert {(i.location, i.cost_center) for i in drugs} == {(pharmacy.cost_center, pharmacy.cost_center)}
    units = {unit.department.cost_center for unit in hospital.units}
    assert {i.location for i in floor} == {storeroom} and {i.cost_center for i in floor} <= units
    assert not [i for i in drugs + floor if i.case]
    journals = {j.journal_id: j for j in view.erp.finance.journals}
    assert {journals[i.journal_id].lines[0].account for i in drugs} == {DRUG_EXPENSE}
    assert {journals[i.journal_id].lines[0].account for i in floor} == {SUPPLY_EXPENSE}


@pytest.mark.parametrize(
    ("sut", "planted"), [("issues_case_supplies_only", {"drug", "floor"}), ("drugs_from_the_storeroom", {"drug"})]
)
def test_an_integration_that_skips_or_misplaces_drugs_and_floor_stock_is_caught(sut: str, planted: set[str]) -> None:
    """Skipped lines never reach ERP inventory; drugs sent to the storeroom, which does not stock
    them, are refused there: either way the judge names exactly those lines as lost issues."""
    result = Twin(small_scenario(), load_sut(f"tests.broken:{sut}").factory).run()
    network = result.view.network
    kinds = {item.ehr_code: item.kind for item in network.supply_items}
    lines = {
        line.txn_id: kinds[line.code]
        for fact in result.view.truth
        if isinstance(fact, ChargesPosted)
        for line in fact.lines
        if line.location
    }
    lost = {
        d.key
        for f in result.flows
        if f.flow == "usage_inventory"
        for d in f.differences
        if d.kind == "lost" and d.target == "erp.inventory_issue"
    }
    assert lost == {txn for txn, kind in lines.items() if kind in planted}
