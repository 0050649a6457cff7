"""The fault plan: what happens at each boundary crossing instead of a clean delivery.

Sans-IO, like the core: a driver asks at each crossing ("this request is about to leave for the
ERP at t", "this HL7 message is about to reach the integration") and the plan answers with a
fate - deliver (perhaps later), answer in the target's place (503 refused, 500/502/503/429, 401,
a new token), hang, commit and lose the answer; or, for source messages, a spoiled payload, a
second copy, an overtaking. The plan counts every fault it injects, keeps the original of every
payload it spoiled (for the operator's repair) and the aliases it invented (for the steward).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from twin.domain.events import DepartmentAliased, Fact, MessageCorrupted
from twin.domain.exchange import TargetRequest, TargetResponse
from twin.domain.timebase import Timebase
from twin.faults.corrupt import alias_department, canonical, charge_lines, drift, keeps_visit, poison
from twin.faults.outages import OutageLog, OutageWindow
from twin.faults.specs import (
    ActiveWindow,
    AnySpec,
    DuplicateSpec,
    ErrorSpec,
    ExpiredTokenSpec,
    FaultCounter,
    LatencySpec,
    LostResponseSpec,
    OutageSpec,
    PoisonSpec,
    ReorderSpec,
    SchemaDriftSpec,
    TimeoutSpec,
    UnmappedSpec,
    fault_rng,
)
from twin.faults.tokens import TokenGate, is_token_request

if TYPE_CHECKING:
    import random

    from twin.scenario import Scenario

INTEGRATION = "integration"
REFUSED = TargetResponse(503, {"error": "service unavailable", "detail": "connection refused: the system is down"})


@dataclass(frozen=True, slots=True)
class RequestFate:
    """What becomes of one request. ``answer``: the plan answers in the target's place with
    ``response``, ``hops`` network hops after sending (1: refused at the door, 2: a server answer)."""

    action: Literal["deliver", "answer", "hang", "lost_response"]
    delay: float = 0.0  # extra minutes on the way to the target (latency)
    response: TargetResponse | None = None
    hops: int = 2


DELIVER = RequestFate("deliver")
HANG = RequestFate("hang")


@dataclass(frozen=True, slots=True)
class Corruption:
    """A source message the plan spoiled, with its original kept for the repair."""

    key: str  # the message control id, or the document's key
    channel: str  # "hl7" | "document"
    message_type: str
    business_key: str  # the visit (HL7), the purchase order (vendor document)
    variant: str
    how: str
    lines: tuple[str, ...]  # charge lines the message carried (DFT)
    at: float
    visit_readable: bool = True  # can a receiver still tell its encounter (``keeps_visit``)


@dataclass(frozen=True, slots=True)
class Alias:
    """A charge line sent under a department code nobody had governed yet."""

    txn_id: str
    department: str
    alias: str
    at: float


@dataclass(slots=True)
class Hl7Fate:
    """What becomes of one HL7 message on its way to the integration."""

    payload: str
    delay: float = 0.0  # extra minutes before it arrives (latency to the integration)
    reorder: bool = False  # the next message of the channel overtakes it
    duplicate_after: float | None = None  # minutes after delivery a second copy joins the channel
    corruption: Corruption | None = None
    aliases: list[Alias] = field(default_factory=list)


@dataclass(slots=True)
class DocumentFate:
    """What becomes of one pushed document (a vendor invoice) on its way to the integration."""

    body: dict[str, Any]
    delay: float = 0.0
    duplicate_after: float | None = None
    corruption: Corruption | None = None


_Entry = tuple[AnySpec, ActiveWindow, "random.Random"]


class FaultPlan:
    """The scenario's faults, ready to answer a driver at every boundary crossing."""

    def __init__(self, specs: Sequence[AnySpec], seed: int, clock_offset: float = 0.0) -> None:
        self.counter = FaultCounter()
        self.originals: dict[str, str] = {}  # control id / document key -> the payload before the fault
        self.corrupted: dict[str, Corruption] = {}
        self.aliases: dict[str, str] = {}  # alias code -> the EHR department it stands for
        self._by_payload: dict[str, str] = {}  # spoiled payload (canonical JSON for documents) -> key
        self._by_id: dict[str, str] = {}  # an id a receiver may file it under -> key
        entries: list[_Entry] = [
            (spec, ActiveWindow(spec, clock_offset), fault_rng(seed, index, spec)) for index, spec in enumerate(specs)
        ]
        self._index = {id(entry[1]): index for index, entry in enumerate(entries)}  # window -> its spec's position
        self.outages = OutageLog([(s, w) for s, w, _r in entries if isinstance(s, OutageSpec)])
        self._latency: dict[str, list[_Entry]] = {}
        self._failures: dict[str, list[_Entry]] = {}
        self._hl7: list[_Entry] = []
        self._documents: list[_Entry] = []
        tokens: dict[str, list[ExpiredTokenSpec]] = {}
        for entry in entries:
            spec = entry[0]
            if isinstance(spec, LatencySpec):
                self._latency.setdefault(spec.system, []).append(entry)
            elif isinstance(spec, ErrorSpec | TimeoutSpec | LostResponseSpec):
                self._failures.setdefault(spec.system, []).append(entry)
            elif isinstance(spec, ExpiredTokenSpec):
                tokens.setdefault(spec.system, []).append(spec)
            elif isinstance(spec, DuplicateSpec) and spec.source == "vendor" or isinstance(spec, SchemaDriftSpec):
                self._documents.append(entry)
            elif isinstance(spec, DuplicateSpec | ReorderSpec | PoisonSpec | UnmappedSpec):
                self._hl7.append(entry)
        self.gates = {system: TokenGate(system, found) for system, found in sorted(tokens.items())}
        # whether HL7 delivery needs the plan at all (the clean path stays as fast as without faults)
        self.touches_hl7 = bool(self._hl7 or INTEGRATION in self._latency or INTEGRATION in self.outage_systems)

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> FaultPlan:
        return cls(scenario.faults, scenario.seed, Timebase(scenario.start).start_clock)

    @property
    def outage_systems(self) -> set[str]:
        return {spec.system for spec, _window in self.outages.specs}

    def outage_windows(self, until: float) -> list[OutageWindow]:
        """Every outage window opening before ``until`` (known in advance: a function of the scenario)."""
        return self.outages.windows(until)

    # -- requests to target systems --------------------------------------------------------------
    def request_fate(self, request: TargetRequest, now: float, *, tokens: bool = True) -> RequestFate:
        """The fate of ``request``, leaving for its target at ``now``. ``tokens=False``: the target
        has an authorization server of its own (a live mock), which revokes on the expired-token
        schedule itself (``revocation``); the plan does not stand in for it."""
        system = request.system
        self.outages.tried(system, request.idempotency_key)
        mode = self.outages.down(system)
        if mode is not None:
            self.counter.hit("outage", system, event=self.outages.window_of(system))
            return RequestFate("answer", response=REFUSED, hops=1) if mode == "refused" else HANG
        delay = self._delay(system, now)
        gate = self.gates.get(system) if tokens else None
        if gate is not None:
            if is_token_request(request):
                return RequestFate("answer", delay, gate.issue(now))
            refusal = gate.refuse(request, now)
            if refusal is not None:
                self.counter.hit("expired_token", system, event=(system, gate.last_revocation(now)))
                return RequestFate("answer", delay, refusal)
        for spec, window, rng in self._failures.get(system, ()):
            if not window.active(now) or rng.random() >= spec.rate:  # type: ignore[union-attr]
                continue
            burst = (self._index[id(window)], window.span_start(now))
            if isinstance(spec, ErrorSpec):
                self.counter.hit("errors", f"{system} {spec.status}", event=burst)
                headers = {"Retry-After": f"{spec.retry_after_seconds:g}"} if spec.status == 429 else {}
                body = {"error": "too many requests" if spec.status == 429 else "server error", "injected": True}
                return RequestFate("answer", delay, TargetResponse(spec.status, body, headers))
            if isinstance(spec, TimeoutSpec):
                self.counter.hit("timeout", system, event=burst)
                return HANG
            self.counter.hit("lost_response", system, event=burst)
            return RequestFate("lost_response", delay)
        return RequestFate("deliver", delay) if delay else DELIVER

    def revocation(self, system: str) -> tuple[Callable[[float], float], Callable[[float], None]] | None:
        """For a live authorization server: when ``system``'s tokens were last revoked at a minute,
        and what to call when a call meets a revoked token (the fault is counted); ``None``: the
        scenario revokes no token of ``system``."""
        gate = self.gates.get(system)
        if gate is None:
            return None

        def met(revoked_at: float) -> None:
            self.counter.hit("expired_token", system, event=(system, revoked_at))

        return gate.last_revocation, met

    def answered_ok(self, system: str, key: str, at: float) -> None:
        """A request (message, document) was answered OK: the outage it was first tried in may have recovered."""
        self.outages.answered_ok(system, key, at)

    def _delay(self, system: str, now: float) -> float:
        delay = 0.0
        burst: tuple[int, float] | None = None
        for spec, window, rng in self._latency.get(system, ()):
            assert isinstance(spec, LatencySpec)
            if window.active(now) and (spec.rate >= 1 or rng.random() < spec.rate):
                delay += spec.sample_minutes(rng)
                burst = (self._index[id(window)], window.span_start(now))
        if delay:
            self.counter.hit("latency", system, event=burst)
        return delay

    # -- HL7 messages from the EHR ---------------------------------------------------------------
    def hl7_fate(
        self, control_id: str, message_type: str, visit: str, payload: str, now: float, *, can_reorder: bool
    ) -> Hl7Fate:
        """The fate of one EHR message reaching the integration for the first time (resends and
        copies travel as they were decided here)."""
        fate = Hl7Fate(payload, self._delay(INTEGRATION, now))
        duplicate: float | None = None
        alias: tuple[str, str, str, str] | None = None
        for spec, window, rng in self._hl7:
            if not window.active(now):
                continue
            if isinstance(spec, UnmappedSpec):
                if message_type.startswith("DFT") and rng.random() < spec.rate and alias is None:
                    alias = alias_department(payload, rng)
                continue
            if rng.random() >= spec.rate:  # type: ignore[union-attr]
                continue
            if isinstance(spec, PoisonSpec):
                if fate.corruption is None:
                    variant = rng.choice(spec.variants)
                    spoiled, how = poison(payload, variant, rng)
                    fate.payload = spoiled
                    fate.corruption = Corruption(
                        control_id,
                        "hl7",
                        message_type,
                        visit,
                        variant,
                        how,
                        charge_lines(payload),
                        now,
                        keeps_visit(variant, how),
                    )
            elif isinstance(spec, ReorderSpec):
                fate.reorder = fate.reorder or can_reorder
            elif isinstance(spec, DuplicateSpec) and duplicate is None:
                duplicate = rng.random() * spec.within_minutes
        if fate.reorder:
            self.counter.hit("reorder", event=control_id)
        if fate.corruption is not None:  # a spoiled message is spoiled alone: no copy, no alias on top
            self._keep(fate.corruption, payload, fate.payload)
            self.counter.hit("poison", fate.corruption.variant, event=control_id)
            return fate
        if duplicate is not None:
            fate.duplicate_after = duplicate
            self.counter.hit("duplicate", "hl7", event=control_id)
        if alias is not None:
            fate.payload, txn_id, department, code = alias
            self.aliases[code] = department
            fate.aliases.append(Alias(txn_id, department, code, now))
            self.counter.hit("unmapped", code, event=code)
        return fate

    # -- documents pushed by SaaS systems --------------------------------------------------------
    def document_fate(self, source: str, body: dict[str, Any], now: float) -> DocumentFate:
        """The fate of one document ``source`` pushes to the integration (a vendor invoice)."""
        fate = DocumentFate(body, self._delay(INTEGRATION, now))
        duplicate: float | None = None
        for spec, window, rng in self._documents:
            if not window.active(now):
                continue
            if isinstance(spec, SchemaDriftSpec):
                if spec.system == source and fate.corruption is None:
                    fate.body = drift(body, spec.rename, spec.version)
                    key = document_key(source, body)
                    renamed = ", ".join(f"{old} -> {new}" for old, new in sorted(spec.rename.items()))
                    fate.corruption = Corruption(
                        key,
                        "document",
                        str(body.get("type", "")),
                        str(body.get("po", "")),
                        "schema_drift",
                        f"API {spec.version}: {renamed}",
                        (),
                        now,
                    )
            elif isinstance(spec, DuplicateSpec) and spec.source == source and rng.random() < spec.rate:
                duplicate = rng.random() * spec.within_minutes if duplicate is None else duplicate
        if fate.corruption is not None:
            original = json.dumps(body, sort_keys=True)
            self._keep(fate.corruption, original, json.dumps(fate.body, sort_keys=True))
            for name in ("vendor_invoice", "id"):
                if body.get(name):
                    self._by_id[str(body[name])] = fate.corruption.key
            self.counter.hit("schema_drift", source, event=fate.corruption.key)
        elif duplicate is not None:
            fate.duplicate_after = duplicate
            self.counter.hit("duplicate", source, event=document_key(source, body))
        return fate

    def _keep(self, corruption: Corruption, original: str, spoiled: str) -> None:
        self.originals[corruption.key] = original
        self.corrupted[corruption.key] = corruption
        self._by_payload[canonical(spoiled) or spoiled] = corruption.key

    def original_for(self, message_id: str, payload: str) -> tuple[Corruption, str] | None:
        """The corruption behind a dead letter and the original to repair it with, found by the
        letter's id (the control id, the document's own id) or by its payload; ``None``: the
        plan spoiled nothing of that name (a genuinely bad message, or a transport failure)."""
        key = message_id if message_id in self.originals else self._by_id.get(message_id)
        if key is None:
            key = self._by_payload.get(payload) or self._by_payload.get(canonical(payload) or "")
        if key is None:
            return None
        return self.corrupted[key], self.originals[key]

    def report(self, horizon: float) -> dict[str, Any]:
        """Fault events injected per kind, the attempts they touched (and in detail), outage windows
        with their recovery, tokens."""
        return {
            "injected": self.counter.by_kind(),
            "attempts": self.counter.attempts(),
            "attempts_detail": self.counter.detail(),
            "outages": self.outages.report(),
            "token_revocations": {system: gate.revocations(horizon) for system, gate in self.gates.items()},
            "tokens_issued": {system: gate.issued for system, gate in self.gates.items()},
            "aliases": dict(sorted(self.aliases.items())),
        }


def hl7_facts(fate: Hl7Fate, visit: str, message_type: str, now: float) -> list[Fact]:
    """What the truth ledger learns from an HL7 message's fate: that it was spoiled, that a charge
    line went under an alias. Every driver's transport witnesses these, as it decides the fate."""
    facts: list[Fact] = []
    spoiled = fate.corruption
    if spoiled is not None:
        facts.append(
            MessageCorrupted(
                now, spoiled.key, "hl7", visit, message_type, spoiled.variant, spoiled.lines, spoiled.visit_readable
            )
        )
    facts.extend(DepartmentAliased(now, visit, alias.txn_id, alias.department, alias.alias) for alias in fate.aliases)
    return facts


def document_facts(fate: DocumentFate, now: float) -> list[Fact]:
    """What the truth ledger learns from a pushed document's fate: that it drifted."""
    spoiled = fate.corruption
    if spoiled is None:
        return []
    return [MessageCorrupted(now, spoiled.key, "document", spoiled.business_key, spoiled.message_type, "schema_drift")]


def document_key(source: str, body: dict[str, Any]) -> str:
    """How the plan files a document: its source and its own number (the invoice's)."""
    number = body.get("vendor_invoice") or body.get("id") or body.get("po") or ""
    return f"{source}:{number}"
