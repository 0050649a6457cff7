"""How the live world reaches the integration's HTTP API (``twin.live.service.api``, or an external
integration's implementation of it): documents pushed, publications, and the desk people work.

- ``Pusher``: the vendor's webhooks and governance's publications, each ``POST``ed until it is
  taken (2xx). A document goes with its ``Idempotency-Key`` (the vendor's invoice number), so a
  resend is taken once. The scenario's faults on documents are the fault plan's to decide, as in a
  simulated run (``FaultPlan.document_fate``): latency, a drifted schema, a second copy; while the
  integration is down the push fails and the SaaS tries again after the ACK timeout.
- ``RemoteDesk``: what the data steward and the support team see and do - the exceptions, the
  dead letters, a replay - through the API, synchronously (a round is a moment of the world: it
  looks, then acts). When the integration cannot be reached the round cannot happen: ``DeskDown``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

import httpx

from twin.domain.contract import DeadLetter, IntegrationException, Outcome
from twin.domain.events import Fact, MappingPublished
from twin.domain.model import SimTime
from twin.faults import DocumentFate, FaultPlan
from twin.faults.plan import INTEGRATION, document_facts, document_key
from twin.live.clock import LiveClock
from twin.live.http_wire import IDEMPOTENCY_HEADER
from twin.live.records import WireLog

log = logging.getLogger("twin.live.world")


class DeskDown(RuntimeError):
    """The integration's API cannot be reached: the people's round waits for the next one."""


class Pusher:
    """Documents and publications to the integration's API, each until it is taken."""

    def __init__(
        self,
        base_url: str,
        clock: LiveClock,
        wire: WireLog,
        *,
        ack_timeout_minutes: float,
        max_resends: int,
        plan: FaultPlan | None = None,
        witness: Callable[[Fact], None] = lambda fact: None,
        delivered: dict[str, float] | None = None,
        floor_seconds: float = 2.0,
    ) -> None:
        self.base = base_url.rstrip("/")
        self.clock = clock
        self.wire = wire
        self.ack_timeout = ack_timeout_minutes
        self.max_resends = max_resends
        self.plan = plan
        self.witness = witness
        self.delivered = delivered if delivered is not None else {}
        self.floor = floor_seconds
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(30.0))
        self.tasks: set[asyncio.Task[None]] = set()
        self.gave_up = 0
        self.resends = 0

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    @property
    def idle(self) -> bool:
        return not self.tasks

    # -- documents --------------------------------------------------------------------------------
    def push_document(self, source: str, body: dict[str, Any]) -> None:
        self.wire.document(source, str(body.get("type", "")))
        now = self.clock.now()
        fate = DocumentFate(body) if self.plan is None else self.plan.document_fate(source, body, now)
        for fact in document_facts(fate, now):
            self.witness(fact)
        self._spawn(self._document(source, document_key(source, body), fate))

    async def _document(self, source: str, key: str, fate: DocumentFate) -> None:
        if fate.delay > 0:
            await asyncio.sleep(self.clock.wall_seconds(fate.delay, floor=0.0))
        plan = self.plan
        for attempt in range(self.max_resends + 1):
            if plan is not None:
                plan.outages.tried(INTEGRATION, key)
            down = plan is not None and plan.outages.down(INTEGRATION) is not None
            if down and plan is not None:
                plan.counter.hit("outage", INTEGRATION, event=plan.outages.window_of(INTEGRATION))
            elif await self._post(f"/webhooks/{source}", fate.body, key):
                if fate.corruption is not None:
                    self.delivered.setdefault(fate.corruption.key, self.clock.now())
                if plan is not None:
                    plan.answered_ok(INTEGRATION, key, self.clock.now())
                if fate.duplicate_after is not None:
                    await asyncio.sleep(self.clock.wall_seconds(fate.duplicate_after, floor=0.0))
                    await self._document(source, key, DocumentFate(fate.body))
                return
            if attempt < self.max_resends:
                self.resends += 1
                await asyncio.sleep(self.clock.wall_seconds(self.ack_timeout, self.floor))
        self.gave_up += 1
        log.warning("gave up pushing document %s", key)

    # -- publications -----------------------------------------------------------------------------
    def publish(self, change: MappingPublished) -> None:
        self.wire.publication(change.domain)
        self._spawn(self._publication(change))

    async def _publication(self, change: MappingPublished) -> None:
        body = change._asdict()
        while not await self._post("/master-data", body, ""):  # governance publishes until it is taken
            await asyncio.sleep(self.clock.wall_seconds(self.ack_timeout, self.floor))

    async def _post(self, path: str, body: dict[str, Any], key: str) -> bool:
        headers = {IDEMPOTENCY_HEADER: key} if key else {}
        try:
            answer = await self.client.post(self.base + path, json=body, headers=headers)
        except (httpx.TransportError, httpx.TimeoutException):
            return False
        if answer.status_code >= 400 and answer.status_code < 500:
            log.warning("the integration refused %s: %s %s", path, answer.status_code, answer.text[:200])
            return True  # refused is an answer: resending the same would be refused again
        return answer.is_success

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.client.aclose()


class RemoteDesk:
    """The integration's queues through its API, for the steward and the support team."""

    def __init__(self, base_url: str, timeout_seconds: float = 10.0) -> None:
        self.base = base_url.rstrip("/")
        self.client = httpx.Client(timeout=timeout_seconds)

    def _get(self, path: str) -> Any:
        try:
            answer = self.client.get(self.base + path)
            answer.raise_for_status()
            return answer.json()
        except (httpx.HTTPError, ValueError) as error:
            raise DeskDown(f"GET {path}: {error}") from None

    def exceptions(self) -> list[IntegrationException]:
        return [IntegrationException(**item) for item in self._get("/exceptions")]

    def dead_letters(self) -> list[DeadLetter]:
        letters = []
        for item in self._get("/dead-letters"):
            item["history"] = [tuple(entry) for entry in item.get("history", [])]
            letters.append(DeadLetter(**item))
        return letters

    def replay(self, message_id: str, now: SimTime, payload: str | None = None) -> Outcome:
        """Replay through the API; what it sets off happens in the integration, not here."""
        try:
            answer = self.client.post(  # by filter: a message id may be anything, "" included
                f"{self.base}/dead-letters/replay",
                content=json.dumps({"message_id": message_id, "payload": payload}),
                headers={"content-type": "application/json"},
            )
        except httpx.HTTPError as error:
            raise DeskDown(f"replay {message_id}: {error}") from None
        if answer.status_code == 404:
            raise KeyError(message_id)
        if not answer.is_success:
            raise DeskDown(f"replay {message_id}: {answer.status_code}")
        return Outcome()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()
