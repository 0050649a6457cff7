"""What the truth says faults made impossible, and until when: the oracle's allowances for faults.

The checker stays strict: a fault never excuses a difference, it only moves the moment a record
*can* exist to the moment the truth says it first could.

- A poison HL7 message (``MessageCorrupted``) carried an event no receiver could read until the
  support team repaired it (``MessageRepaired``, on the team's rounds, whatever the integration
  did): the visit's bill, when the message was its admission, discharge or final coding
  (``message_hold``); each charge line a spoiled charge message carried, and its supply issue
  (``line_hold``) - a charge repaired after its bill was due is a late charge.
- A vendor invoice in a drifted schema becomes payable when it was repaired.
- A charge line sent under a department alias (``DepartmentAliased``) posts when governance
  published the alias (``MappingPublished``; after a retirement of its cost center, the first
  publication since): the truth keeps the real department, only the message carried the alias.
- Outage windows: a record a target could not receive while its system was down is due at the
  window's end (``shift_for_outages``, generic, by the target's system). An ``integration`` window
  delays what the sources send - a message sent during it arrives when it ends - but not what the
  integration does on its own (its timers, a mapping governance publishes, a repaired message the
  support team replays): only the expectation functions know which moment is which, so they
  apply it to the moments messages arrive (``arrival``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from twin.domain.events import DepartmentAliased, MessageCorrupted, MessageRepaired
from twin.faults import Downtime, OutageWindow
from twin.observe.governance_facts import governance_facts
from twin.observe.records import Expected
from twin.observe.truth import TruthLedger, once_per_ledger

NEVER = math.inf
# Messages a bill waits for when spoiled: its registration, discharge and final coding (BAR^P05, or P01
# from a 2.3 feed) - what makes it due, however late they arrive - and the visit's other ADT events that
# reached the integration before the bill (coverage, cancellations, merges: whom and whether to bill).
BILL_EVENTS = ("ADT^A01", "ADT^A04", "ADT^A03", "BAR^")
VISIT_EVENTS = "ADT^"
INTEGRATION = "integration"


@dataclass(slots=True)
class FaultFacts:
    """The fault-related facts of one truth ledger, indexed for the expectation functions."""

    corrupted: list[MessageCorrupted] = field(default_factory=list)
    repaired: dict[str, float] = field(default_factory=dict)  # message id -> first repair
    aliased: dict[str, DepartmentAliased] = field(default_factory=dict)  # txn id -> the alias it was sent under
    published: dict[str, list[float]] = field(default_factory=dict)  # alias -> publications of its mapping
    _by_visit: dict[str, list[MessageCorrupted]] = field(default_factory=dict)
    _by_line: dict[str, list[MessageCorrupted]] = field(default_factory=dict)
    _by_po: dict[str, list[MessageCorrupted]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.corrupted and not self.aliased

    def repair(self, message: MessageCorrupted) -> float:
        return self.repaired.get(message.message_id, NEVER)

    def message_hold(self, visit: str, by: float = NEVER) -> float:
        """When the last spoiled ADT or final coding of a visit that reached the integration by ``by``
        - what a bill waits for, made at ``by`` - was repaired (0: none was spoiled)."""
        return max(
            (
                self.repair(m)
                for m in self._by_visit.get(visit, ())
                if m.message_type.startswith(BILL_EVENTS) or (m.at <= by and m.message_type.startswith(VISIT_EVENTS))
            ),
            default=0.0,
        )

    def coding_hold(self, visit: str) -> float:
        """When the integration could first learn that coding completed (its BAR repaired), 0 if not spoiled."""
        return max(
            (self.repair(m) for m in self._by_visit.get(visit, ()) if m.message_type.startswith("BAR^")),
            default=0.0,
        )

    def line_hold(self, txn_id: str) -> float:
        """When a charge line's spoiled message was repaired (0: it was not spoiled)."""
        return max((self.repair(m) for m in self._by_line.get(txn_id, ())), default=0.0)

    def document_hold(self, po: str) -> float:
        """When a purchase order's drifted invoice was repaired (0: it did not drift)."""
        return max((self.repair(m) for m in self._by_po.get(po, ())), default=0.0)

    def alias_published(self, alias: str, since: float = -math.inf) -> float:
        """The first publication of an alias's mapping at or after ``since`` (``NEVER``: none)."""
        return min((at for at in self.published.get(alias, ()) if at >= since), default=NEVER)


@once_per_ledger
def fault_facts(truth: TruthLedger) -> FaultFacts:
    """The ledger's fault facts, gathered once per ledger length (several oracles ask)."""
    facts = FaultFacts()
    for fact in truth:
        if isinstance(fact, MessageCorrupted):
            facts.corrupted.append(fact)
            if fact.channel == "document":
                facts._by_po.setdefault(fact.key, []).append(fact)
            else:
                facts._by_visit.setdefault(fact.key, []).append(fact)
                for line in fact.lines:
                    facts._by_line.setdefault(line, []).append(fact)
        elif isinstance(fact, MessageRepaired):
            facts.repaired.setdefault(fact.message_id, fact.at)
        elif isinstance(fact, DepartmentAliased):
            facts.aliased.setdefault(fact.txn_id, fact)
    governance = governance_facts(truth)
    for alias in {a.alias for a in facts.aliased.values()}:
        for change in governance.publications("department", alias):
            facts.published.setdefault(alias, []).append(change.at)
    return facts


def arrival(windows: Sequence[OutageWindow]) -> Callable[[float], float]:
    """When a message a source sent at ``t`` could reach the integration: ``t``, or the end of the
    integration outage it was sent in (the sender resends until it gets its ACK)."""
    down = Downtime((w.start, w.end) for w in windows if w.system == INTEGRATION)
    return down.shift if down else _same


def _same(at: float) -> float:
    return at


def shift_for_outages(
    expected: Sequence[Expected],
    windows: Sequence[OutageWindow],
    unshifted: Iterable[str] = (),
    allowed_lag: float = 0.0,
) -> list[Expected]:
    """Each record ready while its target's system was down becomes ready when the window ended;
    one ready before a window that opens within its allowed lag gets the window's length as
    ``grace`` (it may land before the window or after it, and the minutes down are nobody's lag).

    The system is the target's prefix (``erp`` in ``erp.gl_journal``); ``integration`` windows
    are the expectation functions' to apply (``arrival``), and here only grant that grace (a message
    at the integration's door as one opens waits for it to end). ``unshifted`` names targets no outage
    can delay: state read at fixed instants, records a system makes itself (an on-hand snapshot,
    the HCM's payroll register, an invoice the ERP pays when the goods are counted in).
    """
    if not windows:
        return list(expected)
    spans: dict[str, list[tuple[float, float]]] = {}
    for window in windows:
        spans.setdefault(window.system, []).append((window.start, window.end))
    skip = set(unshifted)
    # The integration's own windows move no record (the expectation functions' ``arrival`` did), but one
    # opening within a record's allowed lag is its grace: the message it comes from may have been queued
    # or in flight to the integration's door as the window opened, and its sender resends after it.
    door = spans.get(INTEGRATION, []) if allowed_lag > 0 else []
    downtimes: dict[str, tuple[Downtime, Downtime]] = {}  # system -> its windows; with the door's
    shifted = []
    moved: set[str] = set()
    for record in expected:
        if record.target in skip:
            shifted.append(record)
            continue
        system = record.target.partition(".")[0]
        known = downtimes.get(system)
        if known is None:
            relevant = spans.get(system, []) if system != INTEGRATION else []
            known = downtimes[system] = (Downtime(relevant), Downtime(relevant + door))
        down, near = known
        if not near:
            shifted.append(record)
            continue
        ready = down.shift(record.ready_at)
        # what the truth already lets it wait (a bill held for late charges) counts from the old moment
        grace = max(0.0, record.ready_at + record.grace - ready)
        if allowed_lag > 0:
            grace += near.within(ready, allowed_lag + grace)
        settles = record.settles_at
        if settles is not None and math.isfinite(settles):
            settles = down.shift(settles)
        if (ready, grace, settles) == (record.ready_at, record.grace, record.settles_at):
            shifted.append(record)
            continue
        shifted.append(dataclasses.replace(record, ready_at=ready, grace=grace, settles_at=settles))
        moved.add(record.key)
    return _in_sequence(shifted, moved) if moved else shifted


def _in_sequence(expected: list[Expected], keys: set[str]) -> list[Expected]:
    """A record that must follow another of its key (a higher ``seq``: the claim after the journal)
    cannot be ready before that one is, nor be due before it: a delay or a grace of the first holds
    the next as well."""
    known: dict[str, dict[int, tuple[float, float]]] = {}  # key -> seq -> (ready, ready + grace)
    for record in expected:
        if record.key in keys:
            by_seq = known.setdefault(record.key, {})
            ready, until = by_seq.get(record.seq, (-math.inf, -math.inf))
            by_seq[record.seq] = (max(ready, record.ready_at), max(until, record.ready_at + record.grace))
    out = []
    for record in expected:
        if record.seq > 0 and record.key in keys:
            earlier = [times for seq, times in known[record.key].items() if seq < record.seq]
            before = max((ready for ready, _ in earlier), default=-math.inf)
            if before > record.ready_at:
                record = dataclasses.replace(record, ready_at=before)
            until = max((until for _, until in earlier), default=-math.inf)
            if until > record.ready_at + record.grace:
                record = dataclasses.replace(record, grace=until - record.ready_at)
        out.append(record)
    return out
