"""The sans-IO integration hosted on the wall clock, every input journaled before it is acknowledged.

The host owns the one core object of the service - the reference integration, or any
``IntegrationFactory``'s - and is the only caller of it. Each input (``take``) is given to the core
at the run's current simulated minute; the input and the requests the core asked for go into the
current ``Batch``; the caller awaits the batch's commit before it answers anyone (the MLLP listener
its ACK, the HTTP API its 202), and the requests are released to the delivery workers only once
committed. So nothing acknowledged is ever lost, and nothing sent came from an input a crash could
take back.

Recovery (``recover``) builds a fresh core and feeds it the journal in order. The core is
deterministic for its inputs (its randomness comes from the scenario's seed), so it asks for the
same requests in the same order: the k-th request asked for is outbox row k again, which the host
checks - a core that asks for something else on replay is reported, not trusted. The requests still
pending go out again (their idempotency keys make a second delivery harmless) and the timers still
due are set again.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import heapq
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from twin.domain.contract import DeadLetter, Integration, Outcome
from twin.domain.events import MappingPublished
from twin.domain.exchange import TargetRequest, TargetResponse
from twin.live.clock import LiveClock
from twin.live.service.store import Batch, Store, rows_of

log = logging.getLogger("twin.live.service")

Release = Callable[[int, TargetRequest], None]


@dataclasses.dataclass(frozen=True, slots=True)
class Failure:
    """An input the integration raised an exception on: kept whole, with why, to be replayed."""

    journal_seq: int
    kind: str
    data: dict[str, Any]
    reason: str
    at: float

    def letter(self) -> DeadLetter:
        """As a dead letter of the service's own (source ``service``), beside the integration's: an HL7
        message on channel ``hl7`` under its control id, any other input on ``intake`` as ``intake-N``."""
        if self.kind == "hl7":  # filed under its control id (MSH-10), as the integration files its own
            payload = str(self.data["payload"])
            first = payload.split("\r", 1)[0].split("|")
            message_id = first[9] if payload.startswith("MSH|") and len(first) > 9 else ""
            return DeadLetter(message_id, payload, self.reason, self.at, history=[(self.at, "failed")],
                              source="service")  # fmt: skip
        payload = json.dumps(self.data, sort_keys=True)
        return DeadLetter(f"intake-{self.journal_seq}", payload, self.reason, self.at, channel="intake",
                          history=[(self.at, "failed")], source="service")  # fmt: skip


def nak(message: str, reason: str, code: str = "AE", error: str = "207^Application internal error",
        location: str = "MSH^1^10") -> str:  # fmt: skip
    """An HL7 ACK (AE by default) with an ERR segment (207, application internal error by default)."""
    first = message.split("\r", 1)[0]
    fields = first.split("|") if first.startswith("MSH|") else []
    facility, application = (fields[3], fields[2]) if len(fields) > 3 else ("", "")
    control = fields[9] if len(fields) > 9 else ""
    trigger = fields[8].split("^")[1] if len(fields) > 8 and "^" in fields[8] else ""
    kind = f"ACK^{trigger}^ACK" if trigger else "ACK"
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    text = reason.replace("|", "/").replace("^", "/").replace("\r", " ")[:250]
    return (
        f"MSH|^~\\&|TWIN-SERVICE|NETWORK|{application}|{facility}|{stamp}||{kind}|NAK{control}|P|2.5.1\r"
        f"MSA|{code}|{control}\rERR||{location}|{error}^HL70357|E||||{text}\r"
    )


class ReplayDiverged(RuntimeError):
    """On recovery the core asked for other requests than it had before: it is not deterministic."""


def request_json(request: TargetRequest) -> dict[str, Any]:
    return dataclasses.asdict(request)


def request_from_json(data: dict[str, Any]) -> TargetRequest:
    return TargetRequest(**data)


class Host:
    """One integration core, its journal and its outbox (see the module docstring)."""

    def __init__(self, make_core: Callable[[], Integration], store: Store, clock: LiveClock) -> None:
        self.make_core = make_core
        self.store = store
        self.clock = clock
        self.core: Integration = make_core()
        self.release: Release = lambda seq, request: None  # the delivery workers' door (set by the service)
        self.in_flight: dict[int, TargetRequest] = {}  # outbox seq -> the request object the core made
        self.sent_at: dict[int, float] = {}  # outbox seq -> wall time first released (oldest-message age)
        self.answers: dict[str, str] = {}  # idempotency store, as committed
        self.journal_seq, self.outbox_seq = store.last_sequences()
        self._timers: list[float] = []
        self._timer_task: asyncio.Task[None] | None = None
        self._batch = Batch()
        self._future: asyncio.Future[None] | None = None
        self._releases: list[tuple[int, TargetRequest]] = []
        self._new_timers: list[float] = []
        self._new_answers: dict[str, str] = {}
        self._committing = False
        self._dead_signature: tuple[Any, ...] = ()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self.inputs = 0
        self.replayed = 0
        self.failures: list[Failure] = []  # inputs the integration failed on

    # -- recovery ------------------------------------------------------------------------------
    def recover(self) -> int:
        """Rebuild the core from the journal. Returns the inputs replayed (0: a fresh file, the core is
        still to be switched on: ``take("start", {})`` at the run's minute 0)."""
        self.answers = self.store.answers()
        rows = {row.seq: row for row in self.store.outbox()}
        due: set[float] = set()
        asked = 0
        replayed = 0
        for entry in self.store.journal():
            outcome = self._apply(entry.kind, entry.data, entry.at)
            replayed += 1
            if entry.kind == "timer":
                due = {t for t in due if t > entry.at}
            for request in outcome.requests:
                asked += 1
                row = rows.get(asked)
                if row is None or (row.system, row.path, row.idempotency_key) != (
                    request.system, request.path, request.idempotency_key
                ):  # fmt: skip
                    raise ReplayDiverged(
                        f"on replay, request {asked} is {request.method} {request.path} on {request.system}, "
                        f"not outbox row {asked} ({'missing' if row is None else row.path})"
                    )
                self.in_flight[asked] = request  # until the journal says it was answered
            due.update(outcome.timers)
        pending = {seq for seq, row in rows.items() if row.state == "pending"}
        if asked != len(rows) or set(self.in_flight) != pending:
            raise ReplayDiverged(
                f"on replay the core asked for {asked} request(s) and left {len(self.in_flight)} unanswered; "
                f"the outbox holds {len(rows)}, {len(pending)} pending"
            )
        self.replayed = replayed
        self._dead_signature = _signature(self.core.dead_letters())
        for seq in sorted(self.in_flight):
            self._releases.append((seq, self.in_flight[seq]))
        self._new_timers.extend(sorted(due))
        return replayed

    # -- inputs ----------------------------------------------------------------------------------
    async def take(self, kind: str, data: dict[str, Any], answer_key: str = "", answer: str | None = None) -> Outcome:
        """Give the core one input now; returns its outcome once the input is on disk. ``answer_key``:
        the sender's id for it, under which the answer given (``answer``, else the ACK) is kept."""
        outcome, committed = self._take(kind, data, answer_key, answer)
        await committed
        return outcome

    def _take(
        self, kind: str, data: dict[str, Any], answer_key: str = "", answer: str | None = None
    ) -> tuple[Outcome, asyncio.Future[None]]:
        now = self.clock.now()
        self.journal_seq += 1
        journal_seq = self.journal_seq
        batch = self._batch
        batch.journal.append((journal_seq, kind, now, json.dumps(data)))
        outcome = self._apply(kind, data, now)
        self.inputs += 1
        for request in outcome.requests:
            self.outbox_seq += 1
            seq = self.outbox_seq
            batch.outbox.append(
                (seq, journal_seq, request.system, request.method, request.path, request.idempotency_key,
                 json.dumps(request_json(request)), now)
            )  # fmt: skip
            self.in_flight[seq] = request
            self._releases.append((seq, request))
        self._new_timers.extend(outcome.timers)
        given = answer if answer is not None else outcome.ack
        if answer_key and given is not None:
            batch.idempotency.append((answer_key, journal_seq, given))
            self._new_answers[answer_key] = given
        return outcome, self._commit_soon()

    def _apply(self, kind: str, data: dict[str, Any], now: float) -> Outcome:
        """The core's call for one journaled input (the same on first delivery and on recovery). An
        integration that fails on an input does not take the service down: the input is kept as a
        failure (listed with the dead letters, replayable) and an HL7 sender gets AE saying so."""
        try:
            return self._call(kind, data, now)
        except Exception as error:  # the integration under test's bug, not the service's
            reason = f"the integration failed on this {kind}: {type(error).__name__}: {error}"
            log.exception("integration failed on a %s input", kind)
            self.failures.append(Failure(self.journal_seq, kind, data, reason, now))
            return Outcome(ack=nak(str(data.get("payload", "")), reason) if kind == "hl7" else None)

    def _call(self, kind: str, data: dict[str, Any], now: float) -> Outcome:
        core = self.core
        if kind == "hl7":
            return core.receive_hl7(str(data["payload"]), now)
        if kind == "response":
            request = self.in_flight.pop(int(data["seq"]))
            self.sent_at.pop(int(data["seq"]), None)
            response = TargetResponse(int(data["status"]), dict(data["body"]), dict(data["headers"]))
            return core.receive_response(request, response, now)
        if kind == "timer":
            return core.on_timer(now)
        if kind == "webhook":
            return core.receive_webhook(str(data["source"]), dict(data["body"]), now)
        if kind == "master":
            return core.receive_master_data(MappingPublished(**data), now)
        if kind == "replay":
            try:
                return core.replay(str(data["message_id"]), now, data.get("payload"))
            except KeyError:
                return Outcome()
        if kind == "start":
            return core.start(now)
        if kind == "unreadable":  # the service's own dead letter: the integration never sees it
            payload, reason = str(data["payload"]), str(data["reason"])
            self.failures.append(Failure(self.journal_seq, "hl7", {"payload": payload}, reason, now))
            return Outcome(ack=nak(payload, reason, "AR", "102^Data type error", "MSH^1^18"))
        raise ValueError(f"unknown journal entry kind {kind!r}")

    def answered(self, seq: int, response: TargetResponse) -> asyncio.Future[None]:
        """A target answered request ``seq`` (status 0: no answer): the core hears of it."""
        outcome, committed = self._take(
            "response", {"seq": seq, "status": response.status, "body": response.body, "headers": response.headers}
        )
        self._batch.answered.append((seq, self.clock.now(), response.status))
        del outcome
        return committed

    def leased(self, seq: int, until_wall: float) -> None:
        """A worker took request ``seq`` until ``until_wall`` (one more attempt)."""
        self._batch.leases.append((until_wall, seq))
        self.sent_at.setdefault(seq, time.time())

    # -- group commit ---------------------------------------------------------------------------------
    def _commit_soon(self) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        if self._future is None:
            self._future = loop.create_future()
        if not self._committing:
            self._committing = True
            loop.create_task(self._commit_loop())
        return self._future

    async def _commit_loop(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._batch or self._releases or self._new_timers:
                batch, future = self._batch, self._future
                releases, timers, answers = self._releases, self._new_timers, self._new_answers
                self._batch, self._future = Batch(), None
                self._releases, self._new_timers, self._new_answers = [], [], {}
                letters = self.core.dead_letters()
                signature = _signature(letters)
                if signature != self._dead_signature:
                    batch.dead_letters = rows_of(letters)
                    self._dead_signature = signature
                if batch:
                    await loop.run_in_executor(self._executor, self.store.commit, batch)
                self.answers.update(answers)
                if future is not None and not future.done():
                    future.set_result(None)
                for seq, request in releases:
                    if seq in self.in_flight:
                        self.release(seq, request)
                for at in timers:
                    self._set_timer(at)
        finally:
            self._committing = False

    async def flush(self) -> None:
        """Wait until everything taken so far is on disk."""
        if self._future is not None:
            await self._future
        while self._committing:
            await asyncio.sleep(0.001)

    # -- timers -------------------------------------------------------------------------------------
    def _set_timer(self, at: float) -> None:
        if at in self._timers:
            return
        heapq.heappush(self._timers, at)
        if self._timer_task is None or self._timer_task.done():
            self._timer_task = asyncio.get_running_loop().create_task(self._run_timers())

    async def _run_timers(self) -> None:
        while self._timers:
            first = self._timers[0]
            wait = self.clock.seconds_until(first)
            if wait > 0:
                await asyncio.sleep(min(wait, 0.5))  # a new earlier timer is picked up within half a second
                continue
            now = self.clock.now()
            while self._timers and self._timers[0] <= now:
                heapq.heappop(self._timers)
            self._take("timer", {})

    def clock_changed(self) -> None:
        """The clock jumped: timers due by now fire now, not when the old wait would have ended."""
        if self._timer_task is not None and not self._timer_task.done():
            self._timer_task.cancel()
        if self._timers:
            self._timer_task = asyncio.get_running_loop().create_task(self._run_timers())

    async def keep(self, name: str, value: str) -> None:
        """Write a setting of the run (the clock's segments) to the file, on the store's thread."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self.store.set_meta, name, value)

    def pending_timers(self) -> list[float]:
        return sorted(self._timers)

    async def close(self) -> None:
        if self._timer_task is not None:
            self._timer_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer_task
        await self.flush()
        self._executor.shutdown(wait=True)


def _signature(letters: list[DeadLetter]) -> tuple[Any, ...]:
    return tuple((letter.channel, letter.message_id, letter.attempts, letter.reason) for letter in letters)
