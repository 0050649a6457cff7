"""What crossed the wire in a live run, written as the simulated driver writes it.

The judge reads the exchanges of a run as ``MessageRecord``s (``twin.domain.exchange``) and counts
per message and request type, whichever driver ran it. In a live run the EHR's MLLP sender writes
one per message it got an ACK for, and each mock system's door one per request it answered (or
held without an answer: outcome ``0``, as a client that timed out sees it). Times are the run's
simulated minutes (``twin.live.clock``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from twin.domain.record_log import RecordLog


@dataclass(slots=True)
class WireLog:
    """The records, counts and (optionally) HL7 traffic of one live run."""

    keep_traffic: bool = False
    records: RecordLog = field(default_factory=RecordLog)
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    traffic: dict[str, list[str]] = field(default_factory=dict)

    def hl7(self, sent_at: float, delivered_at: float, answered_at: float, source: str, message_type: str,
            control_id: str, key: str, outcome: str, payload: str, ack: str) -> None:  # fmt: skip
        """An HL7 message delivered and acknowledged (``outcome``: MSA-1 of the ACK)."""
        self.counts[("hl7", message_type)] += 1
        self.records.add("hl7", sent_at, delivered_at, answered_at, source, "integration", message_type, control_id,
                         key, outcome, len(payload))  # fmt: skip
        if self.keep_traffic:
            self.traffic.setdefault(message_type, []).append(payload)
            if ack:
                self.traffic.setdefault("ACK", []).append(ack)

    def request(self, arrived_at: float, answered_at: float, system: str, operation: str, key: str,
                correlation: str, status: int, size: int) -> None:  # fmt: skip
        """A request that reached a target's door, and what the door answered (0: no answer)."""
        self.counts[("request", operation)] += 1
        self.records.add("request", arrived_at, arrived_at, answered_at, "integration", system, operation, key,
                         correlation, str(status), size)  # fmt: skip

    def document(self, source: str, kind: str) -> None:
        self.counts[("webhook", f"{source} {kind}")] += 1

    def publication(self, domain: str) -> None:
        self.counts[("master data", domain)] += 1
