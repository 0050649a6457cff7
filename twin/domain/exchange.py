"""Requests an integration sends to target systems, and what the targets answer.

Shaped like HTTP (method, path, JSON body, status) so the simulated driver can hand them to a
mock in-process and the live driver can put the very same objects on the wire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class TargetRequest:
    system: str  # "erp" | "clearinghouse" | ...
    method: str
    path: str
    body: JSON
    idempotency_key: str
    correlation: str = ""  # business key (an encounter's visit number) for tracing

    def __hash__(self) -> int:  # bodies are dicts; identity is the request itself
        return id(self)


@dataclass(frozen=True, slots=True)
class TargetResponse:
    status: int
    body: JSON = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300
