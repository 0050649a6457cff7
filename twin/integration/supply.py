"""Clinical usage -> inventory: near-real-time consumption, replenishment and invoice relay.

The brief's scenario two. Every supply line the EHR documents (a charge line with a storeroom
and a case) is issued from ERP inventory at once, costed to the case's service line; when the
ERP's answer shows the item's position (on hand + on order) at or below its reorder point, the
integration raises one replenishment PO up to par and sends it to the vendor; the vendor's
invoice is relayed to ERP payables, which pays it only on a three-way match. Sans-IO.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from twin.domain.events import ChargesPosted
from twin.domain.exchange import TargetRequest, TargetResponse
from twin.domain.model import SimTime
from twin.integration.contract import IntegrationException, Outcome
from twin.integration.crosswalk import Crosswalk, Unmapped

FLOW = "usage_inventory"


@dataclass(slots=True)
class SupplyOrchestrator:
    crosswalk: Crosswalk
    raised: list[IntegrationException] = field(default_factory=list)
    _replenishing: set[tuple[str, str]] = field(default_factory=set)  # item-locations with a PO in flight
    _po_count: dict[tuple[str, str], int] = field(default_factory=dict)
    _po_seq: dict[tuple[str, str], int] = field(default_factory=dict)  # ERP version of the latest PO

    def apply(self, event: ChargesPosted, now: SimTime, outcome: Outcome) -> None:
        for line in event.lines:
            if not line.location:
                continue
            try:
                body = {
                    "reference": line.txn_id,
                    "location": self.crosswalk.location(line.location),
                    "item": self.crosswalk.item(line.code),
                    "quantity": line.quantity,
                    "cost_center": self.crosswalk.cost_center(line.department),
                    "case": line.case,
                }
            except Unmapped as unmapped:
                self._raise(line.txn_id, f"unmapped_{unmapped.domain}", f"{unmapped} (case supply line)", now)
                continue
            outcome.requests.append(
                TargetRequest("erp", "POST", "/inventory/issues", body, f"issue:{line.txn_id}", line.txn_id)
            )

    def on_response(self, request: TargetRequest, response: TargetResponse, now: SimTime) -> Outcome:
        outcome = Outcome()
        if request.path == "/inventory/issues":
            if not response.ok:
                self._raise(
                    request.correlation,
                    "erp_rejected",
                    "ERP refused the issue: " + "; ".join(map(str, response.body.get("errors", []))),
                    now,
                )
            else:
                self._replenish(request.body["location"], request.body["item"], response.body, outcome)
        elif request.path == "/purchasing/orders":
            key = (request.body["location"], request.body["item"])
            self._replenishing.discard(key)
            if not response.ok:
                self._raise(
                    request.correlation,
                    "erp_rejected",
                    "ERP refused the PO: " + "; ".join(map(str, response.body.get("errors", []))),
                    now,
                )
            else:
                self._po_seq[key] = int(response.body.get("seq", 0))
                order = {
                    **request.body,
                    "po": response.body["po"],
                    "vendor": response.body["vendor"],
                    "unit_price": response.body["unit_price"],
                }
                outcome.requests.append(
                    TargetRequest("vendor", "POST", "/orders", order, f"vendor-order:{order['po']}", order["po"])
                )
        elif request.system == "vendor":
            if not response.ok:
                self._raise(
                    request.correlation,
                    "vendor_rejected",
                    "vendor refused the PO: " + "; ".join(map(str, response.body.get("errors", []))),
                    now,
                )
        elif request.path == "/payables/invoices" and not response.ok:
            self._raise(
                request.correlation,
                "erp_rejected",
                "ERP refused the invoice: " + "; ".join(map(str, response.body.get("errors", []))),
                now,
            )
        return outcome

    def on_vendor_document(self, body: dict[str, Any], now: SimTime) -> Outcome:
        outcome = Outcome()
        if body.get("type") == "invoice":
            invoice = {k: body.get(k) for k in ("vendor_invoice", "po", "quantity", "amount")}
            outcome.requests.append(
                TargetRequest(
                    "erp",
                    "POST",
                    "/payables/invoices",
                    invoice,
                    f"invoice:{body.get('vendor_invoice')}",
                    str(body.get("po")),
                )
            )
        else:
            self._raise(str(body.get("po", "")), "unknown_document", f"vendor sent {body.get('type')!r}", now)
        return outcome

    def _replenish(self, location: str, item: str, position: dict[str, Any], outcome: Outcome) -> None:
        key = (location, item)
        if key in self._replenishing or int(position.get("seq", 0)) < self._po_seq.get(key, -1):
            return  # a PO is in flight, or this position predates the latest PO (responses overtake)
        available = int(position.get("on_hand", 0)) + int(position.get("on_order", 0))
        if available > int(position.get("reorder_point", 0)):
            return
        quantity = int(position.get("par", 0)) - available
        if quantity <= 0:
            return
        self._replenishing.add(key)
        number = self._po_count[key] = self._po_count.get(key, 0) + 1
        reference = f"{location}/{item}#{number}"
        outcome.requests.append(
            TargetRequest(
                "erp",
                "POST",
                "/purchasing/orders",
                {"location": location, "item": item, "quantity": quantity, "reference": reference},
                f"po:{reference}",
                reference,
            )
        )

    def _raise(self, key: str, reason_code: str, reason: str, now: SimTime) -> None:
        self.raised.append(IntegrationException(FLOW, key, reason_code, reason, now))
