"""The EHR's outbound interface on the wall clock: one MLLP connection per hospital, stop-and-wait.

Each hospital's messages leave in the order the EHR published them, one at a time, as an interface
engine's outbound channel sends them: the next goes when the last one's ACK came back. The ACK must
answer the message just sent - its MSA-2 equal to the message's MSH-10 - so a late ACK for an
earlier try is read and set aside, never taken for the next message's. No ACK within the
scenario's ``operations.ack_timeout_minutes`` (as wall seconds at the run's speed), or a broken
connection: the message is sent again, at most ``max_resends`` times, then given up and counted.
An AE or AR is the receiver's answer, not a transport failure: the sender moves on, as the
simulated sender does.

The scenario's faults on the EHR's messages are the fault plan's to decide (``FaultPlan.hl7_fate``),
as in a simulated run: latency before a message arrives, a message overtaken by the next one, a
second copy later, a spoiled payload, a department code under an alias; and while the integration is
down (an outage window of ``integration``) nothing reaches it, so the sender waits for its ACK in
vain and resends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hl7.mllp import open_hl7_connection

from mocks.ehr.ehr import OutboundMessage
from twin.domain.events import Fact
from twin.faults import FaultPlan, Hl7Fate
from twin.faults.plan import INTEGRATION, hl7_facts
from twin.live.clock import LiveClock
from twin.live.records import WireLog
from twin.live.service.mllp_listener import FRAME_END, frame_text
from twin.sim.transport import ack_code

log = logging.getLogger("twin.live.ehr")


def msa_control_id(ack: str) -> str:
    """MSA-2 of an ACK: the control id of the message it answers."""
    for segment in ack.replace("\n", "\r").split("\r"):
        if segment.startswith("MSA|"):
            fields = segment.split("|")
            return fields[2] if len(fields) > 2 else ""
    return ""


@dataclass(slots=True)
class _Queued:
    queued_at: float
    message: OutboundMessage
    fate: Hl7Fate | None = None
    tries: int = 0


@dataclass(slots=True)
class SenderStats:
    """What the senders did about faults, the same counters the simulated transport keeps."""

    counts: Counter[str] = field(default_factory=Counter)


class MllpSender:
    """One hospital's outbound MLLP channel (see the module docstring)."""

    def __init__(
        self,
        hospital: str,
        host: str,
        port: int,
        clock: LiveClock,
        wire: WireLog,
        *,
        ack_timeout_minutes: float,
        max_resends: int,
        plan: FaultPlan | None = None,
        witness: Callable[[Fact], None] = lambda fact: None,
        delivered: dict[str, float] | None = None,
        stats: SenderStats | None = None,
        ack_floor_seconds: float = 0.5,
    ) -> None:
        self.hospital = hospital
        self.host, self.port = host, port
        self.clock = clock
        self.wire = wire
        self.ack_timeout = ack_timeout_minutes
        self.max_resends = max_resends
        self.plan = plan
        self.witness = witness
        self.delivered = delivered if delivered is not None else {}  # spoiled message -> when it got through
        self.stats = stats or SenderStats()
        self.ack_floor = ack_floor_seconds
        self.queue: deque[_Queued] = deque()
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._reader: Any = None  # hl7.mllp.HL7StreamReader
        self._writer: Any = None  # hl7.mllp.HL7StreamWriter
        self.source = f"ehr/{hospital}"
        self.copies_due = 0  # second copies the fault plan scheduled, not sent yet

    # -- the EHR publishes ----------------------------------------------------------------------
    def send(self, message: OutboundMessage, fate: Hl7Fate | None = None) -> None:
        """``message`` joins the channel (``fate``: a copy travels as its original was decided)."""
        self.queue.append(_Queued(self.clock.now(), message, fate))
        self._idle.clear()
        self._ready.set()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"mllp-{self.hospital}")

    @property
    def idle(self) -> bool:
        """Nothing queued, nothing on its way, no copy waiting to be sent."""
        return not self.queue and not self.copies_due

    async def drained(self) -> None:
        await self._idle.wait()

    # -- the channel ----------------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            if not self.queue:
                self._idle.set()
                self._ready.clear()
                await self._ready.wait()
                continue
            head = self.queue[0]
            if head.fate is None and self.plan is not None:
                head.fate = self._decide(head, can_reorder=len(self.queue) > 1)
                if head.fate.reorder:  # the next message overtakes this one
                    self.queue[0], self.queue[1] = self.queue[1], self.queue[0]
                    head = self.queue[0]
                    if head.fate is None:
                        head.fate = self._decide(head, can_reorder=False)
            fate = head.fate
            if fate is not None and fate.delay > 0:
                delay, fate.delay = fate.delay, 0.0
                await asyncio.sleep(self.clock.wall_seconds(delay, floor=0.0))
            payload = fate.payload if fate is not None else head.message.payload
            await self._deliver(head, payload)

    def _decide(self, queued: _Queued, *, can_reorder: bool) -> Hl7Fate:
        assert self.plan is not None
        message = queued.message
        now = self.clock.now()
        fate = self.plan.hl7_fate(
            message.control_id, message.message_type, message.visit, message.payload, now, can_reorder=can_reorder
        )
        for fact in hl7_facts(fate, message.visit, message.message_type, now):
            self.witness(fact)
        return fate

    async def _deliver(self, head: _Queued, payload: str) -> None:
        """One try of the head message; on its ACK the channel moves on, else it tries again later."""
        message = head.message
        plan = self.plan
        sent_at = self.clock.now()
        ack: str | None = None
        if plan is not None:
            plan.outages.tried(INTEGRATION, message.control_id)
        if plan is not None and plan.outages.down(INTEGRATION) is not None:  # nobody answers
            plan.counter.hit("outage", INTEGRATION, event=plan.outages.window_of(INTEGRATION))
            await asyncio.sleep(self._ack_wait())
        else:
            ack = await self._exchange(payload, message.control_id)
        if ack is None:
            head.tries += 1
            if head.tries <= self.max_resends:
                self.stats.counts["sender_resends"] += 1
                return
            self.stats.counts["sender_gave_up"] += 1
            log.warning("%s gave up on %s after %d tries", self.source, message.control_id, head.tries)
            self._done()
            return
        answered_at = self.clock.now()
        fate = head.fate
        if fate is not None and fate.corruption is not None:
            self.delivered.setdefault(fate.corruption.key, sent_at)
        self.wire.hl7(head.queued_at, sent_at, answered_at, self.source, message.message_type, message.control_id,
                      message.visit, ack_code(ack), payload, ack)  # fmt: skip
        if plan is not None:
            plan.answered_ok(INTEGRATION, message.control_id, answered_at)
        self._done()
        if fate is not None and fate.duplicate_after is not None:
            copy = message._replace(payload=payload)
            self.copies_due += 1
            asyncio.get_running_loop().call_later(
                self.clock.wall_seconds(fate.duplicate_after, floor=0.0), self._send_copy, copy, Hl7Fate(payload)
            )

    def _send_copy(self, copy: OutboundMessage, fate: Hl7Fate) -> None:
        self.copies_due -= 1
        self.send(copy, fate)

    def _done(self) -> None:
        self.queue.popleft()
        if not self.queue:
            self._idle.set()

    def _ack_wait(self) -> float:
        return self.clock.wall_seconds(self.ack_timeout, self.ack_floor)

    async def _exchange(self, payload: str, control_id: str) -> str | None:
        """Send once and wait for the ACK answering ``control_id``; ``None``: none in time (a refused
        connection waits out the ACK timeout too, as a sender does before it tries again)."""
        started = asyncio.get_running_loop().time()
        ack = await self._try(payload, control_id)
        if ack is None:
            left = self._ack_wait() - (asyncio.get_running_loop().time() - started)
            if left > 0:
                await asyncio.sleep(left)
        return ack

    async def _try(self, payload: str, control_id: str) -> str | None:
        try:
            if self._writer is None or self._writer.is_closing():
                self._reader, self._writer = await asyncio.wait_for(
                    open_hl7_connection(self.host, self.port), self._ack_wait()
                )
            assert self._reader is not None and self._writer is not None
            self._writer.writeblock(payload.encode("utf-8"))
            await self._writer.drain()
            async with asyncio.timeout(self._ack_wait()):
                while True:
                    ack = frame_text(await self._reader.readuntil(FRAME_END))
                    if msa_control_id(ack) == control_id or not control_id:
                        return ack
                    self.stats.counts["late_acks_set_aside"] += 1  # an earlier try's answer
        except TimeoutError:  # the connection stays: a late ACK that comes is read and set aside
            return None
        except (OSError, asyncio.IncompleteReadError, ConnectionError):
            await self._close()
            return None

    async def _close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close()
