"""Broken integrations: the reference integration wrapped so that it gets one thing wrong.

Each factory here is a ``--sut`` a skeptical user would try against the judge (``twin run --sut
tests.broken:drop_vendor_orders``): the integration does everything right but one thing, and the
judge must name that thing. ``Wrapped`` forwards the whole contract to the reference integration
and lets a subclass filter what goes out (``outgoing``) or what it shows (``dead_letters``).
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from twin.domain.contract import DeadLetter, Integration, IntegrationException, IntegrationFactory, Outcome, RunContext
from twin.domain.events import MappingPublished
from twin.domain.exchange import TargetRequest, TargetResponse
from twin.domain.model import SimTime
from twin.integration.hl7_reader import Hl7Reader, build_ack
from twin.reference_factory import reference_integration


class Wrapped:
    """The reference integration, every call forwarded; subclasses change one thing."""

    def __init__(self, context: RunContext, inner: IntegrationFactory = reference_integration) -> None:
        self.inner: Integration = inner(context)
        self._originals: dict[int, TargetRequest | None] = {}  # id(rewritten) -> what the inner sent (None: extra)

    def outgoing(self, request: TargetRequest) -> bool:
        """Whether ``request`` goes out (a broken integration drops some)."""
        return True

    def rewrite(self, request: TargetRequest) -> list[TargetRequest]:
        """What goes out instead of ``request`` (a broken integration changes some, or adds to them):
        the first stands for ``request`` (its answer is the inner integration's), the rest are extras."""
        return [request]

    def _out(self, outcome: Outcome) -> Outcome:
        sent: list[TargetRequest] = []
        for request in outcome.requests:
            if not self.outgoing(request):
                continue
            for index, going in enumerate(self.rewrite(request)):
                if going is not request:  # the inner integration hears the answer as the answer to its own
                    self._originals[id(going)] = request if index == 0 else None
                sent.append(going)
        outcome.requests = sent
        return outcome

    def start(self, now: SimTime) -> Outcome:
        return self._out(self.inner.start(now))

    def receive_hl7(self, payload: str, now: SimTime) -> Outcome:
        return self._out(self.inner.receive_hl7(payload, now))

    def receive_response(self, request: TargetRequest, response: TargetResponse, now: SimTime) -> Outcome:
        if id(request) in self._originals:
            original = self._originals.pop(id(request))
            if original is None:  # the answer to an extra request: the inner integration never asked
                return Outcome()
            request = original
        return self._out(self.inner.receive_response(request, response, now))

    def receive_webhook(self, source: str, body: dict[str, Any], now: SimTime) -> Outcome:
        return self._out(self.inner.receive_webhook(source, body, now))

    def on_timer(self, now: SimTime) -> Outcome:
        return self._out(self.inner.on_timer(now))

    def receive_master_data(self, change: MappingPublished, now: SimTime) -> Outcome:
        return self._out(self.inner.receive_master_data(change, now))

    def exceptions(self) -> list[IntegrationException]:
        return self.inner.exceptions()

    def dead_letters(self) -> list[DeadLetter]:
        return self.inner.dead_letters()

    def replay(self, message_id: str, now: SimTime, payload: str | None = None) -> Outcome:
        return self._out(self.inner.replay(message_id, now, payload))


class _NoVendorOrders(Wrapped):
    def outgoing(self, request: TargetRequest) -> bool:
        return request.system != "vendor"


class _EverySecondVendorOrder(Wrapped):
    def __init__(self, context: RunContext) -> None:
        super().__init__(context)
        self._sent: dict[str, bool] = {}  # vendor order -> whether it goes (a retry goes as its first try did)

    def outgoing(self, request: TargetRequest) -> bool:
        if request.system != "vendor":
            return True
        return self._sent.setdefault(request.idempotency_key, len(self._sent) % 2 == 0)


class _HiddenDeadLetters(Wrapped):
    def dead_letters(self) -> list[DeadLetter]:
        return []


class _AcksAndNothingElse:
    """ACKs every message AA, sends nothing anywhere, raises nothing, parks nothing."""

    def __init__(self, context: RunContext) -> None:
        self.timebase = context.timebase
        self.reader = Hl7Reader(context.timebase)

    def start(self, now: SimTime) -> Outcome:
        return Outcome()

    def receive_hl7(self, payload: str, now: SimTime) -> Outcome:
        return Outcome(ack=build_ack(self.reader.read(payload).header, "AA", self.timebase.hl7(now)))

    def receive_response(self, request: TargetRequest, response: TargetResponse, now: SimTime) -> Outcome:
        return Outcome()

    def receive_webhook(self, source: str, body: dict[str, Any], now: SimTime) -> Outcome:
        return Outcome()

    def on_timer(self, now: SimTime) -> Outcome:
        return Outcome()

    def receive_master_data(self, change: MappingPublished, now: SimTime) -> Outcome:
        return Outcome()

    def exceptions(self) -> list[IntegrationException]:
        return []

    def dead_letters(self) -> list[DeadLetter]:
        return []

    def replay(self, message_id: str, now: SimTime, payload: str | None = None) -> Outcome:
        raise KeyError(message_id)


def drop_vendor_orders(context: RunContext) -> Integration:
    """Raises every PO in the ERP and never sends one to the vendor."""
    return _NoVendorOrders(context)


def drop_every_second_vendor_order(context: RunContext) -> Integration:
    """Sends the vendor every other order."""
    return _EverySecondVendorOrder(context)


def hide_dead_letters(context: RunContext) -> Integration:
    """Dead-letters what it cannot read, and shows nobody its dead-letter queue."""
    return _HiddenDeadLetters(context)


def acks_and_nothing_else(context: RunContext) -> Integration:
    """ACKs the EHR's feed and does no work at all."""
    return _AcksAndNothingElse(context)


def _switched(context: RunContext, **switches: bool) -> Integration:
    """The reference integration with switches of its ``ResilienceConfig`` set."""
    from twin.integration.reference import ReferenceIntegration

    integration = reference_integration(context)
    assert isinstance(integration, ReferenceIntegration)
    config = integration.config
    resilience = dataclasses.replace(config.resilience, **switches)
    return ReferenceIntegration(dataclasses.replace(config, resilience=resilience), jitter=context.stream("outbox"))


def late_charge_exception_only(context: RunContext) -> Integration:
    """Raises a ``late_charge`` exception for a charge that arrives after the bill, and never bills it."""
    return _switched(context, adjust_late_charges=False)


def bills_at_once_and_adjusts(context: RunContext) -> Integration:
    """Never holds a bill for a dead letter of its encounter: bills at once, adjusts when it is replayed."""
    return _switched(context, hold_for_dead_letters=False)


class _NoKpis(Wrapped):
    def outgoing(self, request: TargetRequest) -> bool:
        return request.system != "dashboard"


class _NeverReplenishes(Wrapped):
    def outgoing(self, request: TargetRequest) -> bool:
        return request.path != "/purchasing/orders"


class _IssuesCaseSuppliesOnly(Wrapped):
    def outgoing(self, request: TargetRequest) -> bool:
        return request.path != "/inventory/issues" or bool(request.body.get("case"))


class _DrugsFromTheStoreroom(Wrapped):
    def rewrite(self, request: TargetRequest) -> list[TargetRequest]:
        if request.path != "/inventory/issues" or not str(request.body.get("item", "")).startswith("RX-"):
            return [request]
        storeroom = str(request.body["location"]).split("-")[0] + "-7510"
        return [dataclasses.replace(request, body={**request.body, "location": storeroom})]


def issues_case_supplies_only(context: RunContext) -> Integration:
    """Issues what an OR case used and nothing else: the pharmacy's dispenses and the units' floor
    stock never leave ERP inventory."""
    return _IssuesCaseSuppliesOnly(context)


def drugs_from_the_storeroom(context: RunContext) -> Integration:
    """Issues every dispensed drug from the central storeroom instead of the pharmacy's stock."""
    return _DrugsFromTheStoreroom(context)


def publish_no_kpis(context: RunContext) -> Integration:
    """Does everything but publish the executive KPIs."""
    return _NoKpis(context)


def never_replenish(context: RunContext) -> Integration:
    """Issues every supply line and never raises a purchase order."""
    return _NeverReplenishes(context)


class _RevenueTwice(Wrapped):
    def rewrite(self, request: TargetRequest) -> list[TargetRequest]:
        if request.path != "/finance/journals" or request.body.get("source") != "patient-billing":
            return [request]
        body = {key: value for key, value in request.body.items() if key != "receivable"}
        body["source"] = "patient-billing-rerun"  # a second revenue journal the billing source filter would not see
        rerun = dataclasses.replace(request, body=body, idempotency_key=request.idempotency_key + "/rerun")
        return [request, rerun]


def posts_revenue_twice_under_another_source(context: RunContext) -> Integration:
    """Bills right, and posts every revenue journal a second time under another journal source."""
    return _RevenueTwice(context)


class _WrongDrgFirst(Wrapped):
    def rewrite(self, request: TargetRequest) -> list[TargetRequest]:
        if request.path != "/claims" or request.body.get("related"):
            return [request]
        body = copy.deepcopy(request.body)
        for dx in body.get("diagnosis") or []:
            for coding in (dx.get("packageCode") or {}).get("coding") or []:
                coding["code"] = "999"  # an ungroupable DRG on the claim that goes first; its replacement is right
        return [dataclasses.replace(request, body=body)]


def wrong_drg_until_adjusted(context: RunContext) -> Integration:
    """Bills at once and adjusts (a correct policy), but the first claim of an encounter carries a wrong DRG."""
    return _WrongDrgFirst(context, bills_at_once_and_adjusts)


class _DropsOneInAHundred(Wrapped):
    """ACKs every HL7 message AA, and silently does nothing with one in a hundred."""

    def __init__(self, context: RunContext) -> None:
        super().__init__(context)
        self.seen = 0

    def receive_hl7(self, payload: str, now: SimTime) -> Outcome:
        self.seen += 1
        if self.seen % 100:
            return super().receive_hl7(payload, now)
        msh = payload.split("\r", 1)[0].split("|")
        control = msh[9] if len(msh) > 9 else ""
        sender = "|".join(msh[2:4]) if len(msh) > 3 else "|"
        return Outcome(ack=f"MSH|^~\\&|TWIN-INT|NETWORK|{sender}|||ACK|ACK{control}|P|2.5.1\rMSA|AA|{control}\r")


def drops_one_message_in_a_hundred(context: RunContext) -> Integration:
    """Answers AA to every HL7 message, and drops one in a hundred: fast, and it loses charges."""
    return _DropsOneInAHundred(context)


def _acked(payload: str) -> Outcome:
    """AA for ``payload``, and nothing done with it: how an integration ignores a message type."""
    msh = payload.split("\r", 1)[0].split("|")
    control = msh[9] if len(msh) > 9 else ""
    sender = "|".join(msh[2:4]) if len(msh) > 3 else "|"
    return Outcome(ack=f"MSH|^~\\&|TWIN-INT|NETWORK|{sender}|||ACK|ACK{control}|P|2.5.1\rMSA|AA|{control}\r")


def _message_type(payload: str) -> str:
    msh = payload.split("\r", 1)[0].split("|")
    return "^".join(msh[8].split("^")[:2]) if len(msh) > 8 else ""


def _visit(payload: str) -> str:
    for segment in payload.split("\r"):
        if segment.startswith("PV1|"):
            fields = segment.split("|")
            return fields[19].split("^")[0] if len(fields) > 19 else ""
    return ""


class _IgnoresAdt(Wrapped):
    """ACKs the ADT events in ``ignored`` AA and does nothing with them; everything else as the reference."""

    ignored: tuple[str, ...] = ()

    def receive_hl7(self, payload: str, now: SimTime) -> Outcome:
        if _message_type(payload) in self.ignored:
            return _acked(payload)
        return super().receive_hl7(payload, now)


class _IgnoresInsuranceUpdates(_IgnoresAdt):
    ignored = ("ADT^A08",)


class _IgnoresMerges(_IgnoresAdt):
    ignored = ("ADT^A40",)


class _FirstDischargeOnly(_IgnoresAdt):
    """Ignores A13 and takes a visit's second A03 for a duplicate of the first: the cancelled one counts."""

    ignored = ("ADT^A13",)

    def __init__(self, context: RunContext) -> None:
        super().__init__(context)
        self.discharged: set[str] = set()

    def receive_hl7(self, payload: str, now: SimTime) -> Outcome:
        if _message_type(payload) == "ADT^A03":
            visit = _visit(payload)
            if visit in self.discharged:
                return _acked(payload)
            self.discharged.add(visit)
        return super().receive_hl7(payload, now)


class _InstitutionalClaimsOnly(Wrapped):
    """Sends every claim as an institutional one, an emergency or outpatient visit's too."""

    def rewrite(self, request: TargetRequest) -> list[TargetRequest]:
        if request.method != "POST" or request.path != "/claims":
            return [request]
        body = copy.deepcopy(request.body)
        body["type"]["coding"][0]["code"] = "institutional"
        return [dataclasses.replace(request, body=body)]


def ignores_insurance_updates(context: RunContext) -> Integration:
    """ACKs ADT^A08 and bills the payer registered at admission: claims to the pre-update payer."""
    return _IgnoresInsuranceUpdates(context)


def ignores_merges(context: RunContext) -> Integration:
    """ACKs ADT^A40 and keeps billing under the merged-away MRN."""
    return _IgnoresMerges(context)


def first_discharge_only(context: RunContext) -> Integration:
    """Bills the discharge that was cancelled (A13 ignored, the real discharge taken for a duplicate)."""
    return _FirstDischargeOnly(context)


def institutional_claims_only(context: RunContext) -> Integration:
    """Every claim institutional: the emergency and outpatient visits' claims are the wrong type."""
    return _InstitutionalClaimsOnly(context)


class _HidesClaimRejections(Wrapped):
    """Sends corrected claims again like the reference, but never shows a rejected claim as an exception."""

    def exceptions(self) -> list[IntegrationException]:
        return [e for e in self.inner.exceptions() if e.reason_code != "claim_rejected"]


def hides_claim_rejections(context: RunContext) -> Integration:
    """A claim the payer's front end rejected is fixed by the billers, but the integration never said so."""
    return _HidesClaimRejections(context)
