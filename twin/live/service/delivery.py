"""The integration service's delivery workers: the core's requests on real HTTP, one attempt each.

(aiohttp: its C parser keeps the client from being what limits the service.)

Retries, the circuit breaker, ordering per key and re-authentication are the core's decisions (the
reference integration's outbox), exactly as in a simulated run: a worker makes one attempt and
reports what came back - the answer, or status 0 when nothing did within the request's timeout (the
core's minutes, as wall seconds at the run's speed, never below a floor: a loopback server under load
cannot answer in the microseconds an accelerated minute lasts). Before it sends, the worker takes a
lease on the outbox row, so a row whose worker died is known to be free again.

Credentials: a token request from the core (``POST /oauth/token``) goes out as the service's OAuth2
client (``twin.live.http_wire.outgoing``); the token the target grants comes back to the core, which
puts it on the requests that follow.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping

import aiohttp
from prometheus_client import Histogram

from twin.domain.exchange import TargetRequest, TargetResponse
from twin.domain.pseudonym import mask
from twin.live.clock import LiveClock
from twin.live.http_wire import NO_ANSWER, Credentials, HttpCall, incoming_response, outgoing

log = logging.getLogger("twin.live.service")

Answered = Callable[[int, TargetResponse], object]
Leased = Callable[[int, float], None]


class Delivery:
    """Sends requests to the target systems' base URLs and reports their answers."""

    def __init__(
        self,
        targets: Mapping[str, str],
        clock: LiveClock,
        answered: Answered,
        leased: Leased,
        *,
        credentials: Credentials | None = None,
        default_timeout_minutes: float = 0.5,
        timeout_floor_seconds: float = 0.1,
        latency: Histogram | None = None,
        max_connections: int = 200,
    ) -> None:
        self.targets = dict(targets)
        self.clock = clock
        self.answered = answered
        self.leased = leased
        self.credentials = credentials
        self.default_timeout = default_timeout_minutes
        self.floor = timeout_floor_seconds
        self.latency = latency
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None  # made on the first attempt, inside the loop
        self.tasks: set[asyncio.Task[None]] = set()
        self.sent = 0

    def send(self, seq: int, request: TargetRequest) -> None:
        """Start one attempt of request ``seq`` (returns at once)."""
        task = asyncio.get_running_loop().create_task(self._attempt(seq, request))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _attempt(self, seq: int, request: TargetRequest) -> None:
        timeout = self.clock.wall_seconds(request.timeout or self.default_timeout, self.floor)
        self.leased(seq, time.time() + timeout)
        base = self.targets.get(request.system)
        started = time.perf_counter()
        if base is None:
            response = TargetResponse(0, {"errors": [f"no URL is configured for the {request.system} system"]})
        else:
            call = outgoing(request, self.credentials)
            try:
                response = await self._exchange(base, call, timeout)
            except (TimeoutError, aiohttp.ClientError) as error:
                response = NO_ANSWER
                log.info("delivery: no answer from %s %s (%s)", request.system, call.path, type(error).__name__)
        self.sent += 1
        if self.latency is not None:
            self.latency.labels(request.system).observe(time.perf_counter() - started)
        log.debug(
            "delivered %s %s %s -> %s", request.system, request.method, request.path,
            response.status, extra={"key": mask(request.idempotency_key)},
        )  # fmt: skip
        self.answered(seq, response)

    async def _exchange(self, base: str, call: HttpCall, timeout: float) -> TargetResponse:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.max_connections), auto_decompress=False
            )
        async with self._session.request(
            call.method,
            base + call.path,
            headers=call.headers,
            params=call.params,
            json=call.json_body if call.form is None and call.method != "GET" else None,
            data=call.form,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as answer:
            body = await answer.read()
            return incoming_response(answer.status, body, dict(answer.headers))

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
