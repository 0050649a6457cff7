"""Clinical usage -> inventory: near-real-time consumption, replenishment and invoice relay.

The brief's scenario two. Every supply line the EHR documents (a charge line with a storeroom
and a case) is issued from ERP inventory at once, costed to the case's service line; when the
ERP's answer shows the item's position (on hand + on order) at or below its reorder point, the
integration raises one replenishment PO up to par and sends it to the vendor; the vendor's
invoice is relayed to ERP payables, which pays it only on a three-way match. Sans-IO.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from twin.domain import reasons
from twin.domain.contract import IntegrationException, Outcome
from twin.domain.events import ChargeLine, ChargesPosted, MappingPublished
from twin.domain.exchange import TargetRequest, TargetResponse
from twin.domain.model import SimTime
from twin.domain.reasons import COST_CENTER_PROBLEMS
from twin.integration.crosswalk import Crosswalk, Unmapped

FLOW = "usage_inventory"


@dataclass(slots=True)
class SupplyOrchestrator:
    crosswalk: Crosswalk
    raised: list[IntegrationException] = field(default_factory=list)
    _replenishing: set[tuple[str, str]] = field(default_factory=set)  # item-locations with a PO in flight
    _po_count: dict[tuple[str, str], int] = field(default_factory=dict)
    _po_seq: dict[tuple[str, str], int] = field(default_factory=dict)  # ERP version of the latest PO
    _parked: dict[tuple[str, str], list[ChargeLine]] = field(default_factory=dict)  # (code set, code) -> lines
    _open: dict[str, list[IntegrationException]] = field(default_factory=dict)  # line -> its master-data exceptions
    _in_flight: dict[str, ChargeLine] = field(default_factory=dict)  # issue sent, answer pending
    _waiting: dict[tuple[str, str], deque[TargetRequest]] = field(default_factory=dict)  # per item-location

    def apply(self, event: ChargesPosted, now: SimTime, outcome: Outcome) -> None:
        for line in event.lines:
            if line.location:
                self._issue(line, now, outcome)

    def on_mapping(self, change: MappingPublished, now: SimTime) -> Outcome:
        """A crosswalk entry was published: issue the supply lines parked for it (each exactly once:
        the ERP request keeps the line's idempotency key)."""
        outcome = Outcome()
        for line in self._parked.pop((change.domain, change.code), []):
            self._issue(line, now, outcome)
        return outcome

    def _issue(self, line: ChargeLine, now: SimTime, outcome: Outcome) -> None:
        try:
            location, item = self.crosswalk.location(line.location), self.crosswalk.item(line.code)
            body = {
                "reference": line.txn_id,
                "location": location,
                "item": item,
                "quantity": line.quantity,
                "cost_center": self.crosswalk.cost_center(line.department),
                "case": line.case,
            }
        except Unmapped as unmapped:
            self._parked.setdefault((unmapped.domain, unmapped.code), []).append(line)
            self._raise(
                line.txn_id,
                reasons.unmapped(unmapped.domain),
                f"{unmapped} (case supply line parked until it is mapped)",
                now,
                domain=unmapped.domain,
                code=unmapped.code,
            )
            return
        request = TargetRequest("erp", "POST", "/inventory/issues", body, f"issue:{line.txn_id}", line.txn_id)
        self._in_flight[line.txn_id] = line
        key = (location, item)
        if key in self._waiting:
            self._waiting[key].append(request)  # one issue per item-location at a time: keeps their order
        else:
            self._waiting[key] = deque()
            outcome.requests.append(request)

    def _next_in_line(self, key: tuple[str, str], outcome: Outcome) -> None:
        waiting = self._waiting[key]
        if waiting:
            outcome.requests.append(waiting.popleft())
        else:
            del self._waiting[key]

    def _rejected(
        self, line: ChargeLine, request: TargetRequest, response: TargetResponse, now: SimTime, outcome: Outcome
    ) -> None:
        """ERP refused an issue. A cost center it no longer accepts is a master-data problem: park
        the line for its department's mapping (or, if the mapping changed while the issue was on
        its way, issue it again at once); anything else is an exception for a person."""
        errors = "; ".join(map(str, response.body.get("errors", [])))
        for problem in response.body.get("problems", []):
            if isinstance(problem, dict) and problem.get("code") in COST_CENTER_PROBLEMS:
                if self.crosswalk.departments.get(line.department) != request.body.get("cost_center"):
                    self._issue(line, now, outcome)
                    return
                self._parked.setdefault(("department", line.department), []).append(line)
                reason = reasons.refused_cost_center(str(problem["code"]))
                self._raise(
                    line.txn_id,
                    reason,
                    f"ERP refused the issue: {errors}",
                    now,
                    domain="department",
                    code=line.department,
                )
                return
        self._raise(line.txn_id, reasons.ERP_REJECTED, f"ERP refused the issue: {errors}", now)

    def on_response(self, request: TargetRequest, response: TargetResponse, now: SimTime) -> Outcome:
        outcome = Outcome()
        if request.path == "/inventory/issues":
            line = self._in_flight.pop(request.correlation, None)
            if line is not None:  # not an answer repeated by the transport
                self._next_in_line((str(request.body["location"]), str(request.body["item"])), outcome)
            if not response.ok:
                if line is not None:
                    self._rejected(line, request, response, now, outcome)
            else:
                for exception in self._open.pop(request.correlation, []):
                    exception.resolved_at = now
                self._replenish(request.body["location"], request.body["item"], response.body, outcome)
        elif request.path == "/purchasing/orders":
            key = (request.body["location"], request.body["item"])
            self._replenishing.discard(key)
            if not response.ok:
                self._raise(
                    request.correlation,
                    reasons.ERP_REJECTED,
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
                    reasons.VENDOR_REJECTED,
                    "vendor refused the PO: " + "; ".join(map(str, response.body.get("errors", []))),
                    now,
                )
        elif request.path == "/payables/invoices" and not response.ok:
            self._raise(
                request.correlation,
                reasons.ERP_REJECTED,
                "ERP refused the invoice: " + "; ".join(map(str, response.body.get("errors", []))),
                now,
            )
        return outcome

    def document_problem(self, body: dict[str, Any]) -> str:
        """Why a vendor document cannot be read as the API version this integration was built for
        (empty when it can). A renamed field is schema drift: the document is parked, not guessed."""
        if body.get("type") != "invoice":
            return ""
        fields = {"vendor_invoice": str, "po": str, "quantity": int, "amount": int}
        missing = [name for name in fields if name not in body]
        wrong = [name for name, kind in fields.items() if name in body and not isinstance(body[name], kind)]
        if not missing and not wrong:
            return ""
        known = set(fields) | {"type", "vendor", "api_version"}
        unexpected = sorted(set(body) - known)
        parts = []
        if missing:
            parts.append("missing field(s) " + ", ".join(missing))
        if wrong:
            parts.append("wrong type in " + ", ".join(wrong))
        if unexpected:
            parts.append("unexpected field(s) " + ", ".join(unexpected))
        version = f" (document says api_version {body['api_version']!r})" if "api_version" in body else ""
        return "schema drift in vendor invoice: " + "; ".join(parts) + version

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
            self._raise(str(body.get("po", "")), reasons.UNKNOWN_DOCUMENT, f"vendor sent {body.get('type')!r}", now)
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

    def _raise(
        self, key: str, reason_code: str, reason: str, now: SimTime, *, domain: str = "", code: str = ""
    ) -> None:
        exception = IntegrationException(FLOW, key, reason_code, reason, now, domain=domain, code=code)
        self.raised.append(exception)
        if domain:
            self._open.setdefault(key, []).append(exception)
