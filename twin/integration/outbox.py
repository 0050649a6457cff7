"""The reference integration's outbox: every request to a target system goes through it.

The orchestrators decide *what* to send; the outbox decides *when* and *how often*, and never
loses a request silently. Per destination it keeps:

- order per key: one request per ordering key (an encounter, an item-location) on the wire at a
  time, so a retried journal is never overtaken by the claim that must follow it;
- retries: a timeout, a refused connection, a 5xx, 408, 425 or 429 is tried again after the
  destination's ``RetryPolicy`` delay (exponential backoff with jitter, or a pattern by attempt
  range, never sooner than a Retry-After); the same idempotency key every time, so a response
  lost after the target committed never becomes a second posting;
- a circuit breaker: while it is open nothing is sent to that endpoint (requests wait, their
  retry budget intact) until a half-open probe succeeds;
- authentication: a 401 makes it fetch a new token (``POST /oauth/token``) and send again;
- a dead-letter queue: a request whose attempts are used up is parked whole, with the reason and
  the history of every attempt, until someone replays it;
- release schedules: a batch design holds a flow's requests until its release time.

Sans-IO like the rest of the integration: it takes requests, responses and ``now`` and answers
with the requests to put on the wire now and the timers it needs.
"""

from __future__ import annotations

import dataclasses
import heapq
import json
import random
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from twin.domain.contract import DeadLetter, Outcome
from twin.domain.exchange import TOKEN_PATH, TRANSPORT_FAILURE, TargetRequest, TargetResponse
from twin.domain.model import SimTime
from twin.integration.resilience import CircuitBreaker, RetryPolicy

TOKEN_RETRY_MINUTES = 1.0
CLIENT_ID = "twin-reference-integration"

KeyOf = Callable[[TargetRequest], str | None]
ReleaseAt = Callable[[TargetRequest, SimTime], SimTime | None]  # None: send now; else hold until then


@dataclass(slots=True)
class Envelope:
    """One request the orchestrators asked for, and what happened to it so far."""

    request: TargetRequest
    key: str | None
    message_id: str
    first_at: SimTime
    attempts: int = 0
    history: list[tuple[SimTime, str]] = field(default_factory=list)
    probe: bool = False  # sent as a half-open breaker's probe: a failure is the endpoint's, not its own


@dataclass(slots=True)
class Delivered:
    """What ``on_response`` hands back: the orchestrator's own request and its final answer."""

    request: TargetRequest
    response: TargetResponse


class Outbox:
    """Per-destination delivery with ordering, retries, breaker, re-authentication and a DLQ."""

    def __init__(
        self,
        rng: random.Random,
        *,
        policies: dict[str, RetryPolicy] | None = None,
        default_policy: RetryPolicy | None = None,
        breaker: Callable[[], CircuitBreaker] = CircuitBreaker,
        key_of: KeyOf = lambda request: None,
        release_at: ReleaseAt | None = None,
        retries: bool = True,
        idempotency: bool = True,
    ) -> None:
        self.rng = rng
        self.policies = dict(policies or {})
        self.default_policy = default_policy or RetryPolicy()
        self._new_breaker = breaker
        self.breakers: dict[str, CircuitBreaker] = {}
        self.key_of = key_of
        self.release_at = release_at
        self.retries = retries  # a planted weakness when False: failures go back as final answers
        self.idempotency = idempotency  # a planted weakness when False: requests go without their keys
        self.stats: Counter[str] = Counter()
        self._ready: dict[str, deque[Envelope]] = {}  # per system, in the order they may go
        self._waiting: dict[str, deque[Envelope]] = {}  # per ordering key, behind the one in progress
        self._busy: set[str] = set()  # ordering keys with a request in progress (sent or retrying)
        self._in_flight: dict[int, tuple[Envelope | None, TargetRequest]] = {}  # id(wire) -> envelope
        self._retry: list[tuple[SimTime, int, Envelope]] = []
        self._held: list[tuple[SimTime, int, Envelope]] = []
        self._tokens: dict[str, str] = {}
        self._token_wanted: dict[str, list[Envelope]] = {}  # system -> waiting for a token
        self._token_retry: list[tuple[SimTime, str]] = []  # token requests to send again
        self._dead: dict[str, tuple[Envelope, DeadLetter]] = {}
        self._sequence = 0
        self._wake: set[SimTime] = set()  # timers already asked for

    # -- what the integration calls ------------------------------------------------------------
    def submit(self, requests: Iterable[TargetRequest], now: SimTime, outcome: Outcome) -> None:
        """Take the orchestrators' new requests; the ones that may go now go into ``outcome``."""
        for request in requests:
            self._sequence += 1
            envelope = Envelope(
                request,
                self.key_of(request),
                request.idempotency_key or f"{request.system}:{request.path}#{self._sequence}",
                now,
            )
            release = self.release_at(request, now) if self.release_at else None
            if release is not None and release > now:
                heapq.heappush(self._held, (release, self._sequence, envelope))
                self._timer(release, outcome)
                self.stats["held"] += 1
            else:
                self._enqueue(envelope)
        self._pump(now, outcome)

    def on_response(
        self, wire: TargetRequest, response: TargetResponse, now: SimTime, outcome: Outcome
    ) -> Delivered | None:
        """An answer came back. Returns the orchestrator's request and the final answer when there
        is one (success, a business rejection, or - without retries - a failure); ``None`` while
        the outbox keeps trying, or for an answer to nothing it is waiting for."""
        entry = self._in_flight.pop(id(wire), None)
        if entry is None:
            self.stats["stray_answers"] += 1
            return None
        envelope, _ = entry
        system = wire.system
        if envelope is None:  # the answer to a token request
            self._token_answer(system, response, now, outcome)
            return None
        breaker = self._breaker(system)
        if response.status == 401 and self.retries:
            breaker.record(now, success=True)  # the endpoint answered (a half-open probe passes)
            envelope.history.append((now, "401 unauthorized: re-authenticating"))
            envelope.attempts -= 1  # the token's fault, not the request's: no attempt spent
            self.stats["reauthentications"] += 1
            self._tokens.pop(system, None)
            self._want_token(system, envelope, now, outcome)
            return None
        if self.retries and self._policy(system).retryable(response.status):
            breaker.record(now, success=False)
            if envelope.probe:  # the endpoint is still down: the request waits, its budget intact
                envelope.attempts -= 1
                envelope.history.append((now, f"{_status(response)} (breaker probe)"))
                self._ready.setdefault(system, deque()).appendleft(envelope)
                self.stats["failed_probes"] += 1
            else:
                self._failed(envelope, response, now, outcome)
            self._pump(now, outcome)
            return None
        breaker.record(now, success=response.status != TRANSPORT_FAILURE and response.status < 500)
        envelope.history.append((now, str(response.status)))
        self._finish(envelope)
        self._pump(now, outcome)
        return Delivered(envelope.request, response)

    def on_timer(self, now: SimTime, outcome: Outcome) -> None:
        """Retries and held requests whose time has come; breakers that may half-open."""
        self._wake = {t for t in self._wake if t > now}
        while self._retry and self._retry[0][0] <= now:
            _, _, envelope = heapq.heappop(self._retry)
            self._ready.setdefault(envelope.request.system, deque()).appendleft(envelope)
        while self._held and self._held[0][0] <= now:
            _, _, envelope = heapq.heappop(self._held)
            self._enqueue(envelope)
        while self._token_retry and self._token_retry[0][0] <= now:
            _, system = heapq.heappop(self._token_retry)
            self._request_token(system, outcome)
        self._pump(now, outcome)

    def dead_letters(self) -> list[DeadLetter]:
        return [letter for _, letter in self._dead.values()]

    def replay(self, message_id: str, now: SimTime, outcome: Outcome, payload: str | None = None) -> bool:
        """Send a dead-lettered request again with a fresh retry budget (``payload``: a corrected
        JSON body). ``False`` when no such dead letter is here."""
        found = self._dead.pop(message_id, None)
        if found is None:
            return False
        envelope, letter = found
        if payload is not None:
            envelope.request = dataclasses.replace(envelope.request, body=json.loads(payload))
        envelope.attempts = 0
        envelope.history.append((now, "replayed"))
        self.stats["replayed"] += 1
        self._enqueue(envelope)
        self._pump(now, outcome)
        return True

    def health(self) -> dict[str, int]:
        """Counters for reports: retries, breaker trips, dead letters, requests waiting."""
        waiting = sum(len(q) for q in self._ready.values()) + sum(len(q) for q in self._waiting.values())
        return {
            **dict(sorted(self.stats.items())),
            "breaker_trips": sum(b.trips for b in self.breakers.values()),
            "dead_letters": len(self._dead),
            "waiting": waiting + len(self._retry) + len(self._held),
        }

    # -- inside --------------------------------------------------------------------------------
    def _policy(self, system: str) -> RetryPolicy:
        return self.policies.get(system, self.default_policy)

    def _breaker(self, system: str) -> CircuitBreaker:
        breaker = self.breakers.get(system)
        if breaker is None:
            breaker = self.breakers[system] = self._new_breaker()
        return breaker

    def _enqueue(self, envelope: Envelope) -> None:
        key = envelope.key
        if key is not None:
            if key in self._busy:
                self._waiting.setdefault(key, deque()).append(envelope)
                return
            self._busy.add(key)
        self._ready.setdefault(envelope.request.system, deque()).append(envelope)

    def _finish(self, envelope: Envelope) -> None:
        """The envelope is done (answered, or dead): the next one of its key may go."""
        key = envelope.key
        if key is None:
            return
        waiting = self._waiting.get(key)
        if waiting:
            self._ready.setdefault(waiting[0].request.system, deque()).append(waiting.popleft())
            if not waiting:
                del self._waiting[key]
        else:
            self._busy.discard(key)

    def _pump(self, now: SimTime, outcome: Outcome) -> None:
        """Send what may go: per system, in order, while its breaker allows and a token is there."""
        for system, queue in self._ready.items():
            if not queue or system in self._token_wanted:
                continue
            breaker = self._breaker(system)
            while queue:
                if self.retries and not breaker.allows(now):
                    reopens = breaker.reopens_at()
                    if reopens is not None:
                        self._timer(reopens, outcome)
                    break
                self._send(queue.popleft(), now, outcome)

    def _send(self, envelope: Envelope, now: SimTime, outcome: Outcome) -> None:
        request = envelope.request
        policy = self._policy(request.system)
        headers = dict(request.headers)
        token = self._tokens.get(request.system)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        wire = TargetRequest(  # the request as sent, its own copy per attempt: ``replace`` spelled out (hot)
            request.system,
            request.method,
            request.path,
            request.body,
            request.idempotency_key if self.idempotency else "",
            request.correlation,
            headers,
            request.timeout or policy.timeout,
        )
        envelope.attempts += 1
        envelope.probe = self._breaker(request.system).state == "half_open"
        if envelope.attempts > 1:
            self.stats["retries"] += 1
        self._in_flight[id(wire)] = (envelope, wire)
        outcome.requests.append(wire)
        self.stats["sent"] += 1

    def _failed(self, envelope: Envelope, response: TargetResponse, now: SimTime, outcome: Outcome) -> None:
        status = _status(response)
        envelope.history.append((now, status))
        retry_after = _retry_after(response)
        delay = self._policy(envelope.request.system).delay(envelope.attempts, self.rng, retry_after)
        if delay is None:
            self._dead_letter(envelope, f"gave up after {envelope.attempts} attempts (last: {status})", now)
            self._finish(envelope)
            return
        self._sequence += 1
        heapq.heappush(self._retry, (now + delay, self._sequence, envelope))
        self._timer(now + delay, outcome)

    def _dead_letter(self, envelope: Envelope, reason: str, now: SimTime) -> None:
        request = envelope.request
        letter = DeadLetter(
            envelope.message_id,
            json.dumps(request.body, sort_keys=True),
            f"{request.method} {request.path} on {request.system}: {reason}",
            envelope.first_at,
            envelope.attempts,
            channel="request",
            history=list(envelope.history),
        )
        self._dead[envelope.message_id] = (envelope, letter)
        self.stats["dead_lettered"] += 1

    def _want_token(self, system: str, envelope: Envelope, now: SimTime, outcome: Outcome) -> None:
        waiting = self._token_wanted.get(system)
        if waiting is None:
            self._token_wanted[system] = [envelope]
            self._request_token(system, outcome)
        else:
            waiting.append(envelope)

    def _request_token(self, system: str, outcome: Outcome) -> None:
        wire = TargetRequest(system, "POST", TOKEN_PATH, {"client_id": CLIENT_ID}, "", "auth", timeout=0.5)
        self._in_flight[id(wire)] = (None, wire)
        outcome.requests.append(wire)

    def _token_answer(self, system: str, response: TargetResponse, now: SimTime, outcome: Outcome) -> None:
        token = response.body.get("access_token") if response.ok else None
        if not token:  # the auth server is failing too: ask again shortly
            self.stats["token_failures"] += 1
            heapq.heappush(self._token_retry, (now + TOKEN_RETRY_MINUTES, system))
            self._timer(now + TOKEN_RETRY_MINUTES, outcome)
            return
        self._tokens[system] = str(token)
        waiting = self._token_wanted.pop(system, [])
        queue = self._ready.setdefault(system, deque())
        for envelope in reversed(waiting):
            queue.appendleft(envelope)
        self._pump(now, outcome)

    def _timer(self, at: SimTime, outcome: Outcome) -> None:
        if at not in self._wake:
            self._wake.add(at)
            outcome.timers.append(at)


def _status(response: TargetResponse) -> str:
    return "timeout" if response.status == TRANSPORT_FAILURE else str(response.status)


def _retry_after(response: TargetResponse) -> float | None:
    """Retry-After in minutes (the header is in seconds), if the server sent one."""
    value = response.headers.get("Retry-After")
    try:
        return float(value) / 60 if value is not None else None
    except ValueError:
        return None
