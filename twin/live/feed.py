"""The EHR's HL7 feed handed to a load generator: Locust's MLLP users carry the world's messages.

Under load (``twin load``) the world still decides every message - its patients, charges and
discharges go into the truth as they happen, so the judge stays the judge - but the messages leave
through Locust: each hospital's channel (``FeedSender``, an ``MllpSender``) offers its head message
here instead of writing it to its own socket; a Locust MLLP user leases it (``GET /feed/next``),
sends it over its own MLLP connection, and reports the ACK it read (``POST /feed/leases/{lease}``). The
channel keeps everything else a sender does: one message of a hospital at a time, in order; the
scenario's faults on the feed; an offer nobody answered within the ACK timeout is withdrawn and
offered again (a resend). An offer no load user came for within the ACK timeout - and everything once
the load is over and the feed closes - the channel sends itself, so the integration drains and
nothing the world said waits on, or is dropped by, the load generator. So does the go-live census
(what the EHR queued at the run's first instant: the registrations of the patients already in
house): that is the conversion before an interface goes live, not load, and a few hundred
registrations carried one lease at a time per hospital would hold up the first minutes' charges
behind them.

The vendor's webhooks are kept as they were pushed, so a load user can push them again: a
webhook delivered twice is what at-least-once senders do, and the judge then checks that no invoice
was entered twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from mocks.ehr.ehr import OutboundMessage
from twin.faults import Hl7Fate
from twin.live.mllp_sender import MllpSender, msa_control_id

KEPT_DOCUMENTS = 500  # webhooks kept for replays: the latest ones


@dataclass(slots=True)
class Offer:
    """One try of a hospital's head message, waiting for a load user to carry it."""

    lease: str
    hospital: str
    message_type: str
    control_id: str
    payload: str
    answer: asyncio.Future[str | None]
    leased: bool = False


@dataclass(slots=True)
class Feed:
    """The offers of every hospital's channel, and the webhooks kept for replays."""

    offers: deque[Offer] = field(default_factory=deque)
    documents: deque[tuple[str, dict[str, Any]]] = field(default_factory=lambda: deque(maxlen=KEPT_DOCUMENTS))
    counts: Counter[str] = field(default_factory=Counter)
    closed: bool = False
    go_live: bool = True  # the world is still at its first instant (the live world clears it)
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _waiting: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, hospital: str, message_type: str, control_id: str, payload: str) -> Offer:
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        offer = Offer(f"L{next(self._ids)}", hospital, message_type, control_id, payload, future)
        self.offers.append(offer)
        self._waiting.set()
        self.counts["offered"] += 1
        return offer

    def withdraw(self, offer: Offer) -> None:
        """Nobody carried it in time: the channel will offer it again (or send it itself)."""
        if not offer.answer.done():
            offer.answer.set_result(None)
        if not offer.leased:
            self.counts["withdrawn"] += 1
            with contextlib.suppress(ValueError):
                self.offers.remove(offer)

    async def lease(self, wait_seconds: float) -> Offer | None:
        """The oldest offer nobody carries yet; ``None`` if none came within ``wait_seconds``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        while not self.offers and not self.closed:
            self._waiting.clear()
            left = deadline - loop.time()
            if left <= 0:
                return None
            try:
                async with asyncio.timeout(left):
                    await self._waiting.wait()
            except TimeoutError:
                return None
        if not self.offers:
            return None
        offer = self.offers.popleft()
        offer.leased = True
        self.counts["leased"] += 1
        return offer

    def answered(self, lease: str, ack: str | None, leased: dict[str, Offer]) -> bool:
        """A load user's report on ``lease``: the ACK it read (``None``: none came). False: the offer
        was withdrawn before the answer came (the channel has moved on or will resend)."""
        offer = leased.pop(lease, None)
        if offer is None or offer.answer.done():
            self.counts["late_reports"] += 1
            return False
        offer.answer.set_result(ack)
        self.counts["answered" if ack is not None else "unanswered"] += 1
        return True

    def close(self) -> None:
        """The load is over: every channel sends for itself again; whoever waits for a lease gets none."""
        self.closed = True
        for offer in list(self.offers):
            self.withdraw(offer)
        self._waiting.set()

    def keep(self, source: str, body: dict[str, Any]) -> None:
        self.documents.append((source, body))


class LeaseAnswer(BaseModel):
    """What a load user read for a leased message: the ACK's text, or null when none came."""

    ack: str | None


class FeedSender(MllpSender):
    """A hospital's MLLP channel whose tries are carried by load users while the feed is open."""

    def __init__(self, *args: Any, feed: Feed, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.feed = feed
        self._go_live: set[str] = set()  # control ids of the go-live census: the channel sends them itself

    def send(self, message: OutboundMessage, fate: Hl7Fate | None = None) -> None:
        if self.feed.go_live:
            self._go_live.add(message.control_id)
        super().send(message, fate)

    async def _exchange(self, payload: str, control_id: str) -> str | None:
        if self.feed.closed or self.queue[0].message.control_id in self._go_live:
            if not self.feed.closed:
                self.feed.counts["go_live_by_world"] += 1
            return await super()._exchange(payload, control_id)
        head = self.queue[0].message
        offer = self.feed.offer(self.hospital, head.message_type, control_id, payload)
        try:
            async with asyncio.timeout(self._ack_wait()):
                ack = await asyncio.shield(offer.answer)
        except TimeoutError:
            ack = None
        if ack is None:
            self.feed.withdraw(offer)
            if self.feed.closed or not offer.leased:  # the load is over, or no load user came for it in time:
                self.feed.counts["sent_by_world"] += 1  # the channel sends it itself, nothing waits on the load
                return await super()._exchange(payload, control_id)
            return None
        if msa_control_id(ack) != control_id:  # an answer to something else is no answer to this one
            self.stats.counts["late_acks_set_aside"] += 1
            return None
        return ack


def feed_routes(app: FastAPI, feed: Feed, targets: dict[str, Any]) -> None:
    """The load generator's side of the feed, on the control app (``twin.live.control``)."""
    leased: dict[str, Offer] = {}

    @app.get("/load/targets", summary="Where a load user finds every system, and its credentials")
    async def load_targets() -> Response:
        return JSONResponse(targets)

    @app.get("/feed/next", summary="Lease the next HL7 message to carry (204: none within wait seconds)")
    async def next_message(wait: float = 1.0) -> Response:
        offer = await feed.lease(min(max(wait, 0.0), 10.0))
        if offer is None:
            return Response(status_code=204)
        leased[offer.lease] = offer
        body = {
            "lease": offer.lease,
            "hospital": offer.hospital,
            "message_type": offer.message_type,
            "control_id": offer.control_id,
            "payload": offer.payload,
        }
        return JSONResponse(body)

    @app.post("/feed/leases/{lease}", summary="Report the ACK read for a leased message (null: none came)")
    async def report(lease: str, answer: LeaseAnswer) -> Response:
        return JSONResponse({"taken": feed.answered(lease, answer.ack, leased)})

    @app.get("/feed/documents", summary="Webhooks the world pushed, for replays (a random few)")
    async def documents(count: int = 1) -> Response:
        kept = list(feed.documents)
        chosen = random.sample(kept, min(max(count, 0), len(kept)))
        return JSONResponse([{"source": source, "body": body} for source, body in chosen])

    @app.post("/feed/close", summary="The load is over: every channel sends for itself again")
    async def close() -> Response:
        feed.close()
        return JSONResponse(dict(feed.counts))

    @app.get("/feed/stats", summary="What the feed handed out")
    async def stats() -> Response:
        return JSONResponse(dict(feed.counts))
