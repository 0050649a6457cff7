"""The answers a mock system gives again to a request it has seen (``Idempotency-Key``), as modern
ERP and clearinghouse APIs do: a retried posting is answered as the first time, and posts nothing.

Every posting of a run leaves one, and a run never forgets them (a support team may replay a
message days later), so they are kept as what a real API keeps: the status and the body's JSON
text, not the body's dict. A month of ten hospitals keeps about a million, and a dict with its
values cost twice the text. The body comes back equal to what was answered (JSON's own types: a
tuple comes back as a list, as it would over HTTP); the headers are kept as they were. Sans-IO.
"""

from __future__ import annotations

import json

from twin.domain.exchange import TargetResponse

_NO_HEADERS: dict[str, str] = {}  # shared by the answers without any (never handed out: get copies)


class Replies:
    """The first answer to each idempotency key, kept compact (see the module docstring)."""

    __slots__ = ("_kept",)

    def __init__(self) -> None:
        self._kept: dict[str, tuple[int, str, dict[str, str]]] = {}

    def __len__(self) -> int:
        return len(self._kept)

    def get(self, key: str) -> TargetResponse | None:
        """The answer kept for ``key``, or ``None`` for a key never answered (or no key)."""
        kept = self._kept.get(key) if key else None
        if kept is None:
            return None
        status, body, headers = kept
        return TargetResponse(status, json.loads(body), dict(headers))

    def keep(self, key: str, response: TargetResponse) -> None:
        """Answer ``key`` with ``response`` from now on (a request without a key keeps nothing)."""
        if key:
            body = json.dumps(response.body, separators=(",", ":"), ensure_ascii=False, check_circular=False)
            self._kept[key] = (response.status, body, response.headers or _NO_HEADERS)
