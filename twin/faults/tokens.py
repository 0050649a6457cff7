"""An OAuth bearer-token gate in front of one target system (the expired-token fault).

Requests must carry ``Authorization: Bearer <current token>``; ``POST /oauth/token`` issues a new
one. The system revokes the current token every ``every_hours`` from the fault's first day -
earlier than the ``expires_in`` it announced, as key rotations and revocations do - so a client
that only refreshes on schedule still meets 401s and must re-authenticate when it gets one.
"""

from __future__ import annotations

import math

from twin.domain.exchange import TOKEN_PATH, TargetRequest, TargetResponse
from twin.faults.specs import DAY, ExpiredTokenSpec


def is_token_request(request: TargetRequest) -> bool:
    return request.method == "POST" and request.path == TOKEN_PATH


class TokenGate:
    """The tokens one system has issued and the revocation schedule of its expired-token faults."""

    def __init__(self, system: str, specs: list[ExpiredTokenSpec]) -> None:
        self.system = system
        self.schedules = [
            (spec.from_day * DAY, math.inf if spec.until_day is None else spec.until_day * DAY, spec.every_hours * 60)
            for spec in specs
        ]
        self.lifetime_seconds = int(min(spec.every_hours for spec in specs) * 3600)
        self.token: str | None = None
        self.issued_at = 0.0
        self.issued = 0

    def issue(self, now: float) -> TargetResponse:
        """``POST /oauth/token``: a new token replaces the current one."""
        self.issued += 1
        self.token = f"{self.system}-token-{self.issued:06d}"
        self.issued_at = now
        return TargetResponse(
            200, {"access_token": self.token, "token_type": "Bearer", "expires_in": self.lifetime_seconds}
        )

    def last_revocation(self, now: float) -> float:
        """When the current token was last revoked at or before ``now`` (``-inf``: never)."""
        latest = -math.inf
        for start, end, period in self.schedules:
            if now < start:
                continue
            point = start + math.floor((min(now, end) - start) / period) * period
            latest = max(latest, min(point, end))
        return latest

    def refuse(self, request: TargetRequest, now: float) -> TargetResponse | None:
        """401 when the request's token is missing, unknown or revoked; ``None`` lets it through."""
        given = request.headers.get("Authorization", "")
        realm = f'Bearer realm="{self.system}"'
        if not given:
            return TargetResponse(
                401, {"error": "unauthorized", "detail": "no access token"}, {"WWW-Authenticate": realm}
            )
        if self.token is not None and given == f"Bearer {self.token}" and self.issued_at >= self.last_revocation(now):
            return None
        return TargetResponse(
            401,
            {"error": "invalid_token", "detail": "the access token expired or was revoked"},
            {"WWW-Authenticate": f'{realm}, error="invalid_token", error_description="The access token expired"'},
        )

    def revocations(self, until: float) -> int:
        """How many times the gate revoked tokens before ``until``."""
        count = 0
        for start, end, period in self.schedules:
            if until > start:
                count += math.floor((min(until, end) - start) / period) + 1
        return count
