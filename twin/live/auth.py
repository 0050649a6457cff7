"""OAuth2 for the live mock systems: a client-credentials token endpoint and SMART-style system scopes.

Each mock system is its own authorization server, as each vendor's API is in a real network:
``POST /oauth/token`` takes a client-credentials grant (RFC 6749 section 4.4; the client
authenticates with HTTP Basic or with ``client_id``/``client_secret`` in the form) and answers a
bearer token with the scopes granted - the ones asked for (``scope``) that the client is registered
for, or all of them. Scopes follow SMART Backend Services: ``system/<Resource>.<permissions>`` with
permissions from ``cruds`` (create, read, update, delete, search; ``*`` for all; SMART v1's ``read``
and ``write`` are understood), and ``system/*.<permissions>`` for every resource.

Every API call carries ``Authorization: Bearer <token>``: a missing, unknown, expired or revoked
token is a 401 with ``WWW-Authenticate``; a token without the scope the call needs is a 403. The
expired-token fault (``twin.faults``) revokes tokens on its schedule through ``revoked_at``.

Tokens and times: a token's lifetime is in wall seconds (``expires_in`` means what it says to a
client); revocations are in the run's simulated minutes, as the fault plan states them.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

TOKEN_LIFETIME_SECONDS = 3600
PERMISSIONS = "cruds"
_V1 = {"read": "rs", "write": "cud", "*": PERMISSIONS}


@dataclass(frozen=True, slots=True)
class Client:
    """A registered OAuth2 client: its secret and the scopes it may be granted."""

    client_id: str
    secret: str
    scopes: tuple[str, ...] = ("system/*.cruds",)


@dataclass(frozen=True, slots=True)
class Token:
    value: str
    client_id: str
    scopes: tuple[str, ...]
    issued_wall: float  # time.time() when issued
    issued_minute: float  # simulated minute when issued (revocations are stated in simulated time)
    expires_wall: float


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a call is not authorized: the HTTP status (401 or 403), what to say, the challenge."""

    status: int
    error: str
    detail: str
    challenge: str


def _permissions(text: str) -> set[str]:
    return set(_V1.get(text, text))


def parse_scope(scope: str) -> tuple[str, str, set[str]] | None:
    """``system/ChargeItem.rs`` -> ("system", "ChargeItem", {"r", "s"}); ``None`` when malformed."""
    context, _, rest = scope.partition("/")
    resource, dot, permissions = rest.rpartition(".")
    if not context or not resource or not dot or not permissions:
        return None
    wanted = _permissions(permissions)
    if not wanted or not wanted <= set(PERMISSIONS):
        return None
    return context, resource, wanted


def covers(granted: str, required: str) -> bool:
    """Whether the granted scope allows what the required one names."""
    have, need = parse_scope(granted), parse_scope(required)
    if have is None or need is None:
        return False
    return have[0] == need[0] and have[1] in ("*", need[1]) and need[2] <= have[2]


@dataclass(slots=True)
class AuthServer:
    """One system's authorization server (see the module docstring)."""

    system: str
    clients: Mapping[str, Client]
    now: Callable[[], float]  # the run's simulated minute
    lifetime_seconds: int = TOKEN_LIFETIME_SECONDS
    revoked_at: Callable[[float], float] | None = None  # minute -> when tokens were last revoked (-inf: never)
    on_revoked: Callable[[float], None] | None = None  # a call met a revoked token (the fault plan counts it)
    tokens: dict[str, Token] = field(default_factory=dict)
    issued: int = 0

    # -- POST /oauth/token ----------------------------------------------------------------------
    def grant(self, form: Mapping[str, str], authorization: str = "") -> tuple[int, dict[str, object]]:
        """A client-credentials grant: (200, token response) or (400/401, OAuth error response)."""
        if form.get("grant_type") != "client_credentials":
            return 400, _oauth_error("unsupported_grant_type", "grant_type must be client_credentials")
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        basic = _basic(authorization)
        if basic is not None:
            client_id, secret = basic
        client = self.clients.get(client_id)
        if client is None or not secrets.compare_digest(client.secret, secret):
            return 401, _oauth_error("invalid_client", "unknown client or wrong secret")
        asked = form.get("scope", "").split()
        if any(parse_scope(scope) is None for scope in asked):
            return 400, _oauth_error("invalid_scope", f"malformed scope in {form.get('scope')!r}")
        granted = tuple(
            scope for scope in (asked or client.scopes) if any(covers(mine, scope) for mine in client.scopes)
        )
        if asked and not granted:
            return 400, _oauth_error("invalid_scope", "none of the scopes asked for is granted to this client")
        self.issued += 1
        value = f"{self.system}.{secrets.token_urlsafe(24)}"
        wall = time.time()
        self.tokens[value] = Token(value, client_id, granted, wall, self.now(), wall + self.lifetime_seconds)
        return 200, {
            "access_token": value,
            "token_type": "Bearer",
            "expires_in": self.lifetime_seconds,
            "scope": " ".join(granted),
        }

    # -- every API call ---------------------------------------------------------------------------
    def check(self, authorization: str, required: str) -> Refusal | None:
        """``None`` when the bearer token is valid and allows ``required``; else why not."""
        realm = f'Bearer realm="{self.system}"'
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value:
            return Refusal(401, "unauthorized", "no bearer access token", realm)
        token = self.tokens.get(value.strip())
        invalid = f'{realm}, error="invalid_token", error_description="The access token expired or was revoked"'
        if token is None or time.time() >= token.expires_wall:
            return Refusal(401, "invalid_token", "the access token is unknown or expired", invalid)
        if self.revoked_at is not None:
            revoked = self.revoked_at(self.now())
            if token.issued_minute < revoked:
                if self.on_revoked is not None:
                    self.on_revoked(revoked)
                return Refusal(401, "invalid_token", "the access token was revoked", invalid)
        if required and not any(covers(scope, required) for scope in token.scopes):
            return Refusal(
                403,
                "insufficient_scope",
                f"the token's scopes ({' '.join(token.scopes) or 'none'}) do not allow {required}",
                f'{realm}, error="insufficient_scope", scope="{required}"',
            )
        return None


def _basic(authorization: str) -> tuple[str, str] | None:
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip()).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    client_id, colon, secret = decoded.partition(":")
    return (client_id, secret) if colon else None


def _oauth_error(error: str, description: str) -> dict[str, object]:
    return {"error": error, "error_description": description}
