"""ERP supply chain: inventory per item and location, purchasing, receiving and payables.

Sans-IO: ``handle(request, now)`` for the integration's API calls; ``receive(...)`` is what
receiving staff do in the ERP's own screens when a shipment is counted in. The rules a real ERP
applies: issues and receipts move on-hand and post the GL (supply cost to the consuming cost
center), purchase orders carry the item master's vendor and standard cost, and an invoice is
paid only on a three-way match (PO, goods receipt, invoice quantity and price); otherwise it is
held, and re-matched whenever a receipt arrives.

Storeroom staff also enter cycle counts in the ERP's screens (``record_count``): the ERP keeps the
count with its variance against on-hand and does *not* adjust on-hand - variances go to review.
Reporting services read issues, stock-outs (each with the issue that caused it) and counts
through ``GET`` queries over a posting window (``posted_from``/``posted_before``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeGuard

from mocks.erp.finance import ErpFinance, in_window
from mocks.queries import answer_query
from mocks.replies import Replies
from twin.domain.accounts import (
    AP_PAYMENT,
    CASH,
    GOODS_RECEIPT,
    GRNI,
    INVENTORY_ISSUE,
    SUPPLY_EXPENSE,
    SUPPLY_INVENTORY,
)
from twin.domain.exchange import TargetRequest, TargetResponse

QUERIES = ("/inventory/issues", "/inventory/stock-outs", "/inventory/counts")  # GET, body as query


@dataclass(frozen=True, slots=True)
class ItemMaster:
    item: str
    description: str
    vendor: str
    standard_cost: int  # cents per unit
    expense_account: str = SUPPLY_EXPENSE  # what an issue costs to: supplies, or drugs (DRUG_EXPENSE)


@dataclass(frozen=True, slots=True)
class StockPolicy:
    reorder_point: int  # raise a PO when on-hand + on-order falls to or below this
    par: int  # order up to this


@dataclass(frozen=True, slots=True)
class Issue:
    issue_id: str
    reference: str  # the source line (the EHR's transaction id)
    location: str
    item: str
    quantity: int
    cost_center: str
    cost: int
    posted_at: float
    journal_id: str
    case: str = ""  # the surgical case the supplies were used in


@dataclass(frozen=True, slots=True)
class StockOut:
    """An issue left on-hand below zero: the ERP's record says which issue did it."""

    posted_at: float
    location: str
    item: str
    reference: str  # the issue's source line
    on_hand: int  # after the issue


@dataclass(frozen=True, slots=True)
class CountDocument:
    """A cycle count as entered: what the ERP held, what was counted, and the difference."""

    count_id: str
    location: str
    item: str
    system_on_hand: int
    counted: int
    variance: int  # counted - system_on_hand
    posted_at: float


@dataclass(slots=True)
class PurchaseOrder:
    po: str
    vendor: str
    item: str
    location: str
    quantity: int
    unit_price: int
    created_at: float
    reference: str
    received: int = 0


@dataclass(frozen=True, slots=True)
class Receipt:
    receipt_id: str
    po: str
    item: str
    location: str
    quantity: int
    received_at: float


@dataclass(slots=True)
class Invoice:
    invoice_id: str
    vendor_invoice: str
    po: str
    quantity: int
    amount: int
    received_at: float
    status: str  # "paid" | "held"
    hold_reason: str = ""
    paid_at: float | None = None


class ErpSupplyChain:
    def __init__(
        self,
        finance: ErpFinance,
        items: tuple[ItemMaster, ...],
        policies: dict[tuple[str, str], StockPolicy],
        opening: dict[tuple[str, str], int],
    ) -> None:
        self.finance = finance
        self.items = {item.item: item for item in items}
        self.policies = dict(policies)
        self.on_hand: dict[tuple[str, str], int] = dict(opening)
        self.opening = dict(opening)
        self.issues: list[Issue] = []
        self.orders: dict[str, PurchaseOrder] = {}
        # What is still to come per (location, item), kept as orders are placed and received: the
        # replenishment screen asks for it at every issue, and a month holds thousands of orders.
        self._open: dict[tuple[str, str], int] = {}
        self.receipts: list[Receipt] = []
        self.invoices: list[Invoice] = []
        self.stock_outs: list[StockOut] = []  # issues that left on-hand negative
        self.counts: list[CountDocument] = []
        self.sequence = 0  # bumped by every stock movement and order: positions carry it as a version
        self._replies = Replies()

    def add_item(
        self, item: ItemMaster, policies: dict[tuple[str, str], StockPolicy], opening: dict[tuple[str, str], int]
    ) -> None:
        """Materials management sets up an item (ERP screens): item master, stock policy, opening balance."""
        self.items[item.item] = item
        self.policies.update(policies)
        for key, quantity in opening.items():
            self.opening[key] = quantity
            self.on_hand[key] = self.on_hand.get(key, 0) + quantity
        self.sequence += 1

    def on_order(self, location: str, item: str) -> int:
        """Quantity ordered and not yet received at ``location`` (an over-delivery counts as none)."""
        return self._open.get((location, item), 0)

    def stocks(self, location: str, item: str) -> bool:
        """Whether the ERP keeps ``item`` at ``location`` (it has an item master and a stock policy)."""
        return item in self.items and (location, item) in self.policies

    def record_count(self, location: str, item: str, counted: int, now: float) -> CountDocument:
        """Storeroom staff enter a cycle count (ERP screens). On-hand is left as it is: a variance
        is for materials management to review, not for the count to overwrite."""
        if not self.stocks(location, item):
            raise ValueError(f"item {item!r} is not stocked at location {location!r}")
        system = self.on_hand.get((location, item), 0)
        document = CountDocument(
            f"CC{len(self.counts) + 1:08d}", location, item, system, counted, counted - system, now
        )
        self.counts.append(document)
        return document

    def query(self, path: str, query: dict[str, Any]) -> dict[str, Any]:
        """Reporting queries (``GET``, body as query) over a posting window."""
        if path == "/inventory/issues":
            return {
                "issues": [
                    {
                        "issue_id": i.issue_id,
                        "reference": i.reference,
                        "location": i.location,
                        "item": i.item,
                        "quantity": i.quantity,
                        "cost_center": i.cost_center,
                        "cost": i.cost,
                        "case": i.case,
                        "posted_at": i.posted_at,
                    }
                    for i in in_window(self.issues, query)
                ]
            }
        if path == "/inventory/stock-outs":
            return {
                "stock_outs": [
                    {
                        "location": s.location,
                        "item": s.item,
                        "reference": s.reference,
                        "on_hand": s.on_hand,
                        "posted_at": s.posted_at,
                    }
                    for s in in_window(self.stock_outs, query)
                ]
            }
        return {
            "counts": [
                {
                    "count_id": c.count_id,
                    "location": c.location,
                    "item": c.item,
                    "system_on_hand": c.system_on_hand,
                    "counted": c.counted,
                    "variance": c.variance,
                    "posted_at": c.posted_at,
                }
                for c in in_window(self.counts, query)
            ]
        }

    def handle(self, request: TargetRequest, now: float) -> TargetResponse:
        if request.method == "GET" and request.path in QUERIES:
            return answer_query(lambda: self.query(request.path, request.body))
        replied = self._replies.get(request.idempotency_key)
        if replied is not None:
            return replied
        route = {
            "/inventory/issues": self._issue,
            "/purchasing/orders": self._order,
            "/payables/invoices": self._invoice,
        }.get(request.path)
        if request.method != "POST" or route is None:
            return TargetResponse(404, {"errors": [f"no such operation: {request.method} {request.path}"]})
        response = route(request.body, now)
        if request.idempotency_key and response.ok:  # a refused request may be corrected and sent again
            self._replies.keep(request.idempotency_key, response)
        return response

    def _stocked(self, location: Any, item: Any) -> bool:
        """Whether a request's location and item name a stocked pair (what is not text names none)."""
        return isinstance(location, str) and isinstance(item, str) and (location, item) in self.policies

    def _position(self, location: str, item: str) -> dict[str, Any]:
        policy = self.policies.get((location, item), StockPolicy(0, 0))
        return {
            "on_hand": self.on_hand.get((location, item), 0),
            "on_order": self.on_order(location, item),
            "reorder_point": policy.reorder_point,
            "par": policy.par,
            "seq": self.sequence,
        }

    def _issue(self, body: dict[str, Any], now: float) -> TargetResponse:
        location, item_code, center = body.get("location"), body.get("item"), body.get("cost_center")
        quantity = body.get("quantity")
        errors = []
        item = self.items.get(str(item_code))
        if item is None:
            errors.append(f"unknown item {item_code!r}")
        if not self._stocked(location, item_code):
            errors.append(f"item {item_code!r} is not stocked at location {location!r}")
        if not _whole(quantity) or quantity <= 0:
            errors.append("quantity must be a positive whole number")
        problems: list[dict[str, Any]] = []
        self.finance.check_cost_center(center, "issue", errors, problems)
        if not body.get("reference"):
            errors.append("issue has no reference")
        elif not isinstance(body["reference"], str):
            errors.append(f"reference: expected text, got {body['reference']!r}")
        if errors:
            return TargetResponse(422, {"errors": errors, "problems": problems})
        assert item is not None and isinstance(quantity, int)
        key = (str(location), item.item)
        cost = quantity * item.standard_cost
        journal = self.finance.post_internal(
            reference=str(body["reference"]),
            source=INVENTORY_ISSUE,
            now=now,
            lines=((item.expense_account, str(center), cost, 0), (SUPPLY_INVENTORY, str(location), 0, cost)),
        )
        self.on_hand[key] = self.on_hand.get(key, 0) - quantity
        self.sequence += 1
        if self.on_hand[key] < 0:
            self.stock_outs.append(StockOut(now, key[0], key[1], str(body["reference"]), self.on_hand[key]))
        issue = Issue(
            f"IS{len(self.issues) + 1:08d}",
            str(body["reference"]),
            key[0],
            key[1],
            quantity,
            str(center),
            cost,
            now,
            journal,
            str(body.get("case") or ""),
        )
        self.issues.append(issue)
        return TargetResponse(201, {"issue_id": issue.issue_id, **self._position(*key)})

    def _order(self, body: dict[str, Any], now: float) -> TargetResponse:
        location, item_code, quantity = body.get("location"), body.get("item"), body.get("quantity")
        item = self.items.get(str(item_code))
        errors = []
        if item is None:
            errors.append(f"unknown item {item_code!r}")
        if not self._stocked(location, item_code):
            errors.append(f"item {item_code!r} is not stocked at location {location!r}")
        if not _whole(quantity) or quantity <= 0:
            errors.append("quantity must be a positive whole number")
        if errors:
            return TargetResponse(422, {"errors": errors})
        assert item is not None and isinstance(quantity, int)
        po = f"PO{len(self.orders) + 1:07d}"
        self.orders[po] = PurchaseOrder(
            po, item.vendor, item.item, str(location), quantity, item.standard_cost, now, str(body.get("reference", ""))
        )
        key = (str(location), item.item)
        self._open[key] = self._open.get(key, 0) + quantity
        self.sequence += 1
        return TargetResponse(
            201, {"po": po, "vendor": item.vendor, "unit_price": item.standard_cost, "seq": self.sequence}
        )

    def receive(self, po: str, quantity: int, now: float) -> Receipt:
        """Receiving staff count a delivery in: on-hand rises, GRNI accrues, held invoices re-match."""
        order = self.orders[po]
        outstanding = max(0, order.quantity - order.received)
        order.received += quantity
        key = (order.location, order.item)
        self._open[key] -= outstanding - max(0, order.quantity - order.received)
        self.on_hand[key] = self.on_hand.get(key, 0) + quantity
        self.sequence += 1
        receipt = Receipt(f"GR{len(self.receipts) + 1:08d}", po, order.item, order.location, quantity, now)
        self.receipts.append(receipt)
        value = quantity * order.unit_price
        self.finance.post_internal(
            reference=po,
            source=GOODS_RECEIPT,
            now=now,
            lines=((SUPPLY_INVENTORY, order.location, value, 0), (GRNI, order.location, 0, value)),
        )
        for invoice in self.invoices:
            if invoice.po == po and invoice.status == "held":
                self._match(invoice, now)
        return receipt

    def _invoice(self, body: dict[str, Any], now: float) -> TargetResponse:
        po, quantity, amount = body.get("po"), body.get("quantity"), body.get("amount")
        if not body.get("vendor_invoice") or not isinstance(quantity, int) or not isinstance(amount, int):
            return TargetResponse(422, {"errors": ["invoice needs vendor_invoice, whole quantity and amount in cents"]})
        errors = []  # a negative invoice would be matched, paid and posted as negative cash
        if isinstance(quantity, bool) or quantity <= 0:
            errors.append(f"quantity must be a positive whole number, got {quantity!r}")
        if isinstance(amount, bool) or amount < 0:
            errors.append(f"amount must be whole cents >= 0, got {amount!r}")
        if not isinstance(body["vendor_invoice"], str):
            errors.append(f"vendor_invoice: expected text, got {body['vendor_invoice']!r}")
        if po is not None and not isinstance(po, str):  # none at all: held, "no purchase order"
            errors.append(f"po: expected text, got {po!r}")
        if errors:
            return TargetResponse(422, {"errors": errors})
        invoice = Invoice(
            f"AP{len(self.invoices) + 1:08d}", str(body["vendor_invoice"]), str(po), quantity, amount, now, "held"
        )
        self.invoices.append(invoice)
        self._match(invoice, now)
        return TargetResponse(
            201 if invoice.status == "paid" else 202,
            {"invoice_id": invoice.invoice_id, "status": invoice.status, "hold": invoice.hold_reason},
        )

    def _match(self, invoice: Invoice, now: float) -> None:
        """Three-way match: the PO exists, enough was received, and the price is the PO's."""
        order = self.orders.get(invoice.po)
        invoiced_before = sum(i.quantity for i in self.invoices if i.po == invoice.po and i.status == "paid")
        if order is None:
            invoice.hold_reason = "no purchase order"
        elif order.received < invoiced_before + invoice.quantity:
            invoice.hold_reason = "awaiting goods receipt"
        elif invoice.amount != invoice.quantity * order.unit_price:
            invoice.hold_reason = "price differs from purchase order"
        else:
            invoice.status, invoice.hold_reason, invoice.paid_at = "paid", "", now
            self.finance.post_internal(
                reference=invoice.po,
                source=AP_PAYMENT,
                now=now,
                lines=(
                    (GRNI, order.location, invoice.amount, 0),
                    (CASH, order.location, 0, invoice.amount),
                ),
            )


def _whole(value: Any) -> TypeGuard[int]:
    """A JSON integer (``true`` is no quantity)."""
    return isinstance(value, int) and not isinstance(value, bool)
