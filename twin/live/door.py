"""The door of a live mock system: the scenario's faults where a request crosses into it, and its record.

In a simulated run the fault transport asks the fault plan what becomes of each request to a target
(``twin.faults.FaultPlan.request_fate``); live, the same question is asked by this ASGI middleware in
front of the target's app, from the same plan, and its answer is carried out on the wire:

- ``deliver`` (perhaps after a latency fault's delay): the app handles it;
- ``answer``: the door answers in the target's place - 503 in an outage, 500/502/503 in an error
  burst, 429 with ``Retry-After`` when throttling - after the delay;
- ``hang``: nothing answers; the door holds the connection until the client gives up (a timeout,
  or an outage that drops packets);
- ``lost_response``: the app handles it and commits, and the answer is lost on the way back.

Expired tokens are the system's authorization server's to refuse (``twin.live.auth`` revokes on the
plan's schedule). Every request that came through the door is written to the run's ``WireLog`` with
what the door answered (``0`` when nothing was). Business code never branches on a fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from twin.domain.exchange import TargetRequest
from twin.faults import FaultPlan
from twin.faults.plan import DELIVER, RequestFate
from twin.live.clock import LiveClock
from twin.live.http_wire import CORRELATION_HEADER, IDEMPOTENCY_HEADER, PROBLEM_JSON, SEARCH_SUFFIX, problem
from twin.live.records import WireLog

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

NOT_THE_API = ("/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc", "/health")  # of any app mounted here
HOLD_SECONDS = 120.0  # the longest a door holds a connection nobody answers (a client gives up sooner)


class Door:
    """ASGI middleware: the fault plan's fate for each request to ``system``, and its record."""

    def __init__(self, app: App, system: str, clock: LiveClock, wire: WireLog, plan: FaultPlan | None = None,
                 hold_seconds: float = HOLD_SECONDS) -> None:  # fmt: skip
        self.app = app
        self.system = system
        self.clock = clock
        self.wire = wire
        self.plan = plan
        self.hold_seconds = hold_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].endswith(NOT_THE_API):
            await self.app(scope, receive, send)
            return
        clock = self.clock
        arrived = clock.now()
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        method, path = scope["method"], scope["path"]
        if method == "POST" and path.endswith(SEARCH_SUFFIX):
            method, path = "GET", path[: -len(SEARCH_SUFFIX)]
        key = headers.get(IDEMPOTENCY_HEADER.lower(), "")
        probe = TargetRequest(
            self.system, method, path, {}, key, headers.get(CORRELATION_HEADER.lower(), ""),
            {"Authorization": headers["authorization"]} if "authorization" in headers else {},
        )  # fmt: skip
        fate: RequestFate = DELIVER if self.plan is None else self.plan.request_fate(probe, arrived, tokens=False)
        if fate.delay > 0:
            await asyncio.sleep(clock.wall_seconds(fate.delay, floor=0.0))
        answered = _Answered(send)
        if fate.action == "answer":
            assert fate.response is not None
            body = problem(fate.response.status, dict(fate.response.body))
            await _send_json(send, fate.response.status, body, dict(fate.response.headers))
            answered.status = fate.response.status
        elif fate.action == "hang":
            await self._hold(receive, send)
        elif fate.action == "lost_response":
            await self.app(scope, receive, _discard)  # the target commits; its answer goes nowhere
            await self._hold(receive, send)
        else:
            await self.app(scope, receive, answered)
        if self.plan is not None and 200 <= answered.status < 300:
            self.plan.answered_ok(self.system, key, clock.now())
        self.wire.request(
            arrived,
            clock.now(),
            self.system,
            f"{method} {path}",
            key,
            probe.correlation,
            answered.status,
            answered.size,
        )

    async def _hold(self, receive: Receive, send: Send) -> None:
        """Keep the connection open and silent until the client hangs up (or the door gives up)."""
        try:
            async with asyncio.timeout(self.hold_seconds):
                while (await receive())["type"] != "http.disconnect":
                    pass
        except TimeoutError:
            with contextlib.suppress(Exception):
                await _send_json(send, 504, problem(504, detail="no answer in time"), {})


class _Answered:
    """A ``send`` that remembers the status and size of what went out."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.status = 0
        self.size = 0

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
        elif message["type"] == "http.response.body":
            self.size += len(message.get("body", b""))
        await self.send(message)


async def _discard(_message: Message) -> None:
    return None


async def _send_json(send: Send, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
    payload = json.dumps(body).encode()
    raw = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(payload)).encode())]
    raw += [(name.lower().encode("latin-1"), str(value).encode("latin-1")) for name, value in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})
