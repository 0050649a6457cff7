"""Vendor-management SaaS: receives purchase orders, confirms them, ships after a lead time, invoices.

Sans-IO: ``handle(request, now)`` takes an order and answers with a confirmation and ship date;
``ship_due(now)`` releases the orders whose ship date has come and returns what the vendor sends
out: the shipment (goods travelling to the hospital) and the invoice (a document for the buyer's
integration).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeGuard

from twin.domain.exchange import TargetRequest, TargetResponse

MINUTES_PER_DAY = 1440.0


@dataclass(slots=True)
class VendorOrder:
    confirmation: str
    po: str
    vendor: str
    item: str
    location: str
    quantity: int
    unit_price: int
    received_at: float
    ship_at: float
    shipped: bool = False


@dataclass(frozen=True, slots=True)
class Shipment:
    po: str
    item: str
    location: str
    quantity: int
    shipped_at: float


@dataclass(frozen=True, slots=True)
class VendorInvoice:
    vendor_invoice: str
    vendor: str
    po: str
    quantity: int
    amount: int
    issued_at: float

    def document(self) -> dict[str, Any]:
        """The invoice as the SaaS sends it to the buyer (webhook body)."""
        return {
            "type": "invoice",
            "vendor_invoice": self.vendor_invoice,
            "vendor": self.vendor,
            "po": self.po,
            "quantity": self.quantity,
            "amount": self.amount,
        }


class VendorPortal:
    def __init__(self, lead_time_days: dict[str, float]) -> None:
        self.lead_time_days = dict(lead_time_days)
        self.orders: dict[str, VendorOrder] = {}  # by PO number: a vendor accepts a PO once
        self.invoices: list[VendorInvoice] = []

    def handle(self, request: TargetRequest, now: float) -> TargetResponse:
        if request.method != "POST" or request.path != "/orders":
            return TargetResponse(404, {"errors": [f"no such operation: {request.method} {request.path}"]})
        body = request.body
        vendor, po = body.get("vendor"), body.get("po")
        errors = []
        if not isinstance(vendor, str) or vendor not in self.lead_time_days:
            errors.append(f"unknown vendor {vendor!r}")
        for name in ("po", "item", "location"):
            if not body.get(name):
                errors.append(f"order has no {name}")
            elif not isinstance(body[name], str):
                errors.append(f"{name}: expected text, got {body[name]!r}")
        if not _whole(body.get("quantity")) or body["quantity"] <= 0:
            errors.append("quantity must be a positive whole number")
        if not _whole(body.get("unit_price", 0)) or body.get("unit_price", 0) < 0:
            errors.append(f"unit_price must be whole cents >= 0, got {body.get('unit_price')!r}")
        if errors:
            return TargetResponse(422, {"errors": errors})
        existing = self.orders.get(str(po))
        if existing is not None:  # the same PO again: confirm it again, never ship it twice
            return TargetResponse(200, {"confirmation": existing.confirmation, "ship_at": existing.ship_at})
        order = VendorOrder(
            f"CNF{len(self.orders) + 1:07d}",
            str(po),
            str(vendor),
            str(body["item"]),
            str(body["location"]),
            int(body["quantity"]),
            int(body.get("unit_price", 0)),
            now,
            now + self.lead_time_days[str(vendor)] * MINUTES_PER_DAY,
        )
        self.orders[order.po] = order
        return TargetResponse(201, {"confirmation": order.confirmation, "ship_at": order.ship_at})

    def ship_due(self, now: float) -> list[tuple[Shipment, VendorInvoice]]:
        """Ship every confirmed order whose ship date has come; each shipment is invoiced at once."""
        out = []
        for order in self.orders.values():
            if not order.shipped and order.ship_at <= now:
                order.shipped = True
                invoice = VendorInvoice(
                    f"INV-{order.vendor}-{len(self.invoices) + 1:06d}",
                    order.vendor,
                    order.po,
                    order.quantity,
                    order.quantity * order.unit_price,
                    now,
                )
                self.invoices.append(invoice)
                out.append((Shipment(order.po, order.item, order.location, order.quantity, now), invoice))
        return out


def _whole(value: Any) -> TypeGuard[int]:
    """A JSON integer (``true`` is no quantity)."""
    return isinstance(value, int) and not isinstance(value, bool)
