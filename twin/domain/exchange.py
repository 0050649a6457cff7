"""Requests an integration sends to target systems, and what the targets answer.

Shaped like HTTP (method, path, headers, JSON body, status) so the simulated driver can hand them
to a mock in-process and the live driver can put the very same objects on the wire. A request
that gets no answer - the endpoint is down, the answer was lost, nothing came back within the
request's ``timeout`` - is answered by the transport with status ``TRANSPORT_FAILURE`` (0), as an
HTTP client raises a timeout: the integration cannot tell whether the target committed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, NamedTuple

JSON = dict[str, Any]


def canonical_json(resource: Any) -> str:
    """``resource`` as one line of compact JSON with its keys sorted: the same resource always
    gives the same text (the run's NDJSON files are written this way, so they compare byte for byte)."""
    return json.dumps(resource, sort_keys=True, separators=(",", ":"), check_circular=False)


@dataclass(frozen=True, slots=True)
class TargetRequest:
    system: str  # "erp" | "clearinghouse" | ...
    method: str
    path: str
    body: JSON
    idempotency_key: str
    correlation: str = ""  # business key (an encounter's visit number) for tracing
    headers: dict[str, str] = field(default_factory=dict)  # e.g. Authorization
    timeout: float = 0.0  # minutes the client waits for an answer; 0: the transport's default

    def __hash__(self) -> int:  # bodies are dicts; identity is the request itself
        return id(self)


TRANSPORT_FAILURE = 0  # status of a request that got no answer (timeout, refused connection)
TOKEN_PATH = "/oauth/token"  # where a client gets a bearer token from a target (OAuth2 client credentials)


@dataclass(frozen=True, slots=True)
class TargetResponse:
    status: int
    body: JSON = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # e.g. Retry-After (seconds)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class MessageRecord(NamedTuple):
    """One completed exchange across a boundary, written once, flat (Ciw's data record).

    ``hl7``: an EHR message sent, delivered to the integration and acknowledged (``outcome`` is
    the ACK code); ``request``: an integration request sent, handled by a target and answered
    (``outcome`` is the HTTP status). Every driver writes the same records, so the judge reads
    the wire of a simulated run and of a live one alike.
    """

    seq: int
    record_type: str  # "hl7" | "request"
    sent_at: float
    delivered_at: float
    answered_at: float
    source: str
    destination: str
    message_type: str
    message_id: str
    key: str  # business key (visit number); pseudonymised whenever written out
    outcome: str
    size: int
