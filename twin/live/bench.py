"""``twin bench --live``: the live stack's throughput and latency, each beside a baseline measured in the same run.

1. **The pipeline.** HL7 messages over MLLP into the integration service, committed to its SQLite
   queue (fsynced) before each ACK, delivered to the ERP mock over HTTP: each message is one supply
   line, so one inventory issue. Several MLLP connections send stop-and-wait (as interface engines
   do, one channel each) for a fixed time; the figures are messages acknowledged per second, and
   per message the latency from send to ACK and from send to the ERP's posting (p50/p99), read from
   the ERP mock's door records on the same wall clock.
2. **A mock endpoint beside bare ASGI.** The same small HTTP/1.1 load - keep-alive connections, a
   fixed number of requests in flight - against a mock system's endpoint (the dashboard's KPI query:
   the door, the bearer token check, the router, the mock) and against a bare uvicorn ASGI app that
   answers a constant JSON body, each server in its own process; the ratio of their request rates.

The load generators are plain asyncio sockets, not an HTTP client library: on a shared machine the
client must not be what is measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PIPELINE_GOAL = 1000.0  # messages per second
LATENCY_GOAL = 0.2  # seconds, p99 from send to posting
ENDPOINT_GOAL = 0.5  # a mock endpoint's requests per second over bare ASGI's
FRAME_END = b"\x1c\r"
MAX_OUTSTANDING = 400  # messages taken and not yet posted: beyond this the senders wait (a sustained rate)

SUPPLY_LINE = (
    "MSH|^~\\&|EHR|H01|TWIN-INT|NETWORK|20260105084527||DFT^P03^DFT_P03|{control}|P|2.5.1\r"
    "EVN|P03|20260105084527\r"
    "PID|1||H01M9000001^^^H01^MR||Bench^Patient||19700101|F\r"
    "PV1|1|I|H01-3T^008^A^H01||||9010000004^Martinez^Sheri|||MED|||||||||H01V9000001^^^H01^VN|SP\r"
    "FT1|1|{txn}||20260105084527|20260105084527|CG|{item}^Supply^CDM|||1|3.50||"
    "H01-CARD^Interventional Cardiology^L|||H01-ORSUP^^^H01|||||||H01C000001\r"
)


@dataclass(frozen=True, slots=True)
class PipelineResult:
    connections: int
    seconds: float
    acked: int
    posted: int
    ack_p50: float
    ack_p99: float
    post_p50: float
    post_p99: float

    @property
    def rate(self) -> float:
        return self.acked / self.seconds


@dataclass(frozen=True, slots=True)
class EndpointResult:
    mock_rate: float
    bare_rate: float

    @property
    def ratio(self) -> float:
        return self.mock_rate / self.bare_rate if self.bare_rate else 0.0


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (nan for none)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = math.ceil(p / 100 * len(ordered))
    return ordered[min(len(ordered) - 1, max(0, rank - 1))]


def bench_scenario() -> Any:
    """A one-hospital network: the mocks' master data and the integration's crosswalk."""
    from twin.scenario import DEFAULT_SCENARIO, Scenario, load_scenario

    data = load_scenario(DEFAULT_SCENARIO).model_dump()
    data["days"] = 1
    data["network"] = {"hospitals": 1, "beds": {"min": 120, "max": 120}}
    return Scenario.model_validate(data)


# -- 1. the pipeline ---------------------------------------------------------------------------------
async def pipeline(seconds: float = 10.0, connections: int = 16, workdir: Path | None = None) -> PipelineResult:
    """MLLP -> durable queue -> ERP posting, sustained for ``seconds`` over ``connections`` channels."""
    from hl7.mllp import open_hl7_connection

    from twin.live.clock import LiveClock
    from twin.live.service.service import ServiceConfig
    from twin.live.stack import ServiceProcess
    from twin.live.world import LiveWorld

    scenario = bench_scenario()
    clock = LiveClock.starting_now(speed=1.0)  # simulated minutes are wall minutes: latencies read off records
    world = LiveWorld(scenario, clock)  # its mock systems only: no workflow runs
    urls = await world.serve()
    work = workdir or Path(tempfile.mkdtemp(prefix="twin-bench-"))
    config = ServiceConfig(
        scenario=scenario.model_dump(mode="json"), epoch=clock.epoch, speed=1.0, db=str(work / "bench.sqlite"),
        targets=urls, client_id=world.client_id, client_secret=world.client_secret,
    )  # fmt: skip
    service = ServiceProcess(config, work)
    ready = await service.start()
    host, port = ready["mllp"].removeprefix("mllp://").rsplit(":", 1)
    numbers = itertools.count(1)
    sent: dict[str, float] = {}  # transaction id -> wall time sent
    acks: list[float] = []
    # every item the storeroom stocks (drugs are the pharmacy's): the integration keeps one request
    # per item-location on the wire at a time
    items = [
        item.ehr_code
        for item in world.network.supply_items
        if item.ehr_code not in world.network.missing_items and item.kind != "drug"
    ]
    posted = _Posted(world)

    taken = itertools.count(1)

    async def channel(until: float, measure: bool) -> None:
        reader, writer = await open_hl7_connection(host, int(port))
        try:
            while time.time() < until:
                while last_taken[0] - posted.count() > MAX_OUTSTANDING:
                    await asyncio.sleep(0.001)  # a sustained rate: the ERP postings keep up, the queue stays bounded
                last_taken[0] = next(taken)
                number = next(numbers)
                txn = f"H01V9000001-B{number:08d}"
                payload = SUPPLY_LINE.format(control=f"BENCH{number:010d}", txn=txn, item=items[number % len(items)])
                started = time.time()
                writer.writeblock(payload.encode())
                await writer.drain()
                await reader.readuntil(FRAME_END)
                if measure:
                    sent[txn] = started
                    acks.append(time.time() - started)
        finally:
            writer.close()

    last_taken = [0]
    try:
        await asyncio.gather(*(channel(time.time() + 2.0, False) for _ in range(connections)))  # warm up
        while posted.count() < last_taken[0]:  # ... and its backlog posted
            await asyncio.sleep(0.05)
        started = time.time()
        await asyncio.gather(*(channel(started + seconds, True) for _ in range(connections)))
        elapsed = time.time() - started
        postings = await _postings(world, sent, deadline=time.time() + 30.0)
    finally:
        await service.stop()
        await world.close_doors()
        world.close()
    return PipelineResult(
        connections, elapsed, len(acks), len(postings),
        percentile(acks, 50), percentile(acks, 99), percentile(postings, 50), percentile(postings, 99),
    )  # fmt: skip


class _Posted:
    """How many inventory issues the ERP has posted so far (read off its door's records, incrementally)."""

    def __init__(self, world: Any) -> None:
        self.records = world.wire_log.records
        self.seen = 0
        self.posted = 0

    def count(self) -> int:
        records = self.records
        for record in records[self.seen :]:
            if record.message_type == "POST /inventory/issues" and record.outcome == "201":
                self.posted += 1
        self.seen = len(records)
        return self.posted


async def _postings(world: Any, sent: dict[str, float], deadline: float) -> list[float]:
    """Send-to-posting latency of every measured message, once the ERP has them all (or the deadline)."""
    clock = world.live
    found: dict[str, float] = {}
    while time.time() < deadline:
        for record in world.wire_log.records:
            if record.message_type == "POST /inventory/issues" and record.outcome == "201":
                txn = record.message_id.removeprefix("issue:")
                if txn in sent and txn not in found:
                    found[txn] = clock.wall_at(record.answered_at) - sent[txn]
        if len(found) >= len(sent):
            break
        await asyncio.sleep(0.2)
    return list(found.values())


# -- 2. a mock endpoint beside bare ASGI ------------------------------------------------------------------
async def endpoint(seconds: float = 5.0, concurrency: int = 32) -> EndpointResult:
    """Requests per second of the dashboard's KPI query and of a bare ASGI app, the same load on each."""
    rates = {}
    for kind in ("bare", "mock"):
        process = subprocess.Popen(
            [sys.executable, "-m", "twin.live.bench_server", kind], stdout=subprocess.PIPE, text=True
        )
        try:
            assert process.stdout is not None
            ready = json.loads(await asyncio.to_thread(process.stdout.readline))
            request = (
                f"GET /kpis?kpi=dnfb_days HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {ready['token']}\r\n\r\n"
            ).encode()
            await _load(ready["port"], request, 1.0, concurrency)  # warm up
            done = await _load(ready["port"], request, seconds, concurrency)
            rates[kind] = done / seconds
        finally:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(10)
    return EndpointResult(rates["mock"], rates["bare"])


async def _load(port: int, request: bytes, seconds: float, concurrency: int) -> int:
    """Keep-alive HTTP/1.1 GETs from ``concurrency`` connections for ``seconds``; how many were answered 200."""
    until = time.time() + seconds
    answered = 0

    async def connection() -> None:
        nonlocal answered
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.time() < until:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                await reader.readexactly(length)
                if head.startswith(b"HTTP/1.1 200"):
                    answered += 1
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return answered
