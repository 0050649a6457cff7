"""A live stack, started and stopped as one: the world with its mock servers, the integration service
(a child process, unless the integration under test is someone else's), and the judge at the end.

``run_live`` is what ``twin serve`` and the live tests call. The run's clock starts a few seconds
after the stack is asked for (``STARTUP_SECONDS``), so every server and the service listen before
the first event falls due; the service process gets the same clock (epoch and speed) in its
configuration, and can be killed and started again on the same SQLite file (``ServiceProcess``):
the crash test does exactly that.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twin.conformance.context import Simulate
from twin.domain.contract import Integration, RunContext, Sut
from twin.live.cli import EXTERNAL
from twin.live.clock import LiveClock
from twin.live.control import control_app
from twin.live.feed import Feed, feed_routes
from twin.live.service.service import ServiceConfig
from twin.live.world import INTEGRATION_CLIENT, LOAD_CLIENT, Ingress, LiveWorld, Progress
from twin.observe.view import RunResult
from twin.reference_factory import REFERENCE
from twin.scenario import Scenario

STARTUP_SECONDS = 4.0  # minute 0 of the run is this long after the stack is asked for


@dataclass(slots=True)
class LiveOptions:
    """How a live run is made."""

    speed: float = 60.0  # simulated seconds per wall second
    sut: str = REFERENCE  # "reference", package.module:factory (run as the service), or "external"
    ingress: str = ""  # external: the integration's MLLP address, mllp://HOST:PORT
    api: str = ""  # external: the integration's HTTP API (webhooks, master data, queues)
    workdir: Path | None = None  # the service's SQLite file, configuration and log (default: a temp dir)
    keep_traffic: bool = False
    drain_seconds: float = 60.0
    host: str = "127.0.0.1"
    startup_seconds: float = STARTUP_SECONDS
    warp: bool = True  # jump the clock over idle time (our service only: an external one keeps its own clock)
    epoch: float | None = None  # the wall instant of the run's minute 0 (default: a few seconds from now)
    port_base: int | None = None  # the mock systems on this port and the next ones (default: free ports)
    client_id: str = INTEGRATION_CLIENT  # the OAuth2 client the integration under test is
    client_secret: str | None = None  # ... and its secret (default: a new one per run)
    settle_speed: float | None = None  # the speed once the workload is over (our service only)
    request_floor_seconds: float = 0.1  # the shortest wall wait for a target's answer (our service)
    ack_floor_seconds: float = 0.5  # the shortest wall wait for an ACK before the EHR resends
    jitter_seconds: float = 1.0  # wall time forgiven on every allowed lag (``LiveWorld.clock_tolerance``)
    feed: bool = False  # load users carry the HL7 feed (``twin.live.feed``; twin load)


class ServiceError(RuntimeError):
    """The integration service did not start: its log says why."""


class ServiceProcess:
    """The integration service as a child process: start, kill (SIGKILL), start again on the same file."""

    def __init__(self, config: ServiceConfig, workdir: Path) -> None:
        self.config = config
        self.workdir = workdir
        self.config_path = workdir / "service.json"
        self.log_path = workdir / "service.log"
        self.process: asyncio.subprocess.Process | None = None
        self.ready: dict[str, Any] = {}
        self.starts = 0

    async def start(self, timeout: float = 60.0) -> dict[str, Any]:
        """Start it and wait for its ready line (its MLLP and HTTP addresses)."""
        self.config.write(self.config_path)
        log = self.log_path.open("ab")
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "twin.live.service", str(self.config_path),
                stdout=asyncio.subprocess.PIPE, stderr=log, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )  # fmt: skip
        finally:
            log.close()
        assert self.process.stdout is not None
        try:
            line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
            self.ready = json.loads(line)
        except (TimeoutError, ValueError):
            await self.stop()
            tail = self.log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise ServiceError(
                f"the integration service did not start; its log ({self.log_path}) ends:\n{tail}"
            ) from None
        self.starts += 1
        # later starts listen where this one did: the world's senders reconnect to the same ports
        self.config.mllp_port = int(self.ready["mllp"].rsplit(":", 1)[1])
        self.config.http_port = int(self.ready["http"].rsplit(":", 1)[1])
        return self.ready

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush - whatever was not committed is gone."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)

    async def wait(self) -> None:
        if self.process is not None:
            await self.process.wait()

    async def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM and wait (SIGKILL if it does not stop in time)."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            process.kill()
            await process.wait()


@dataclass(slots=True)
class LiveStack:
    """A running stack: the world, the integration service (ours), where everything listens."""

    world: LiveWorld
    ingress: Ingress
    service: ServiceProcess | None = None
    urls: dict[str, str] = field(default_factory=dict)
    control: str = ""  # the control endpoint (twin check, the run's clock)
    started: float = field(default_factory=time.perf_counter)

    async def stop(self) -> None:
        await self.world.close_doors()
        self.world.over.set()  # whoever still waits for a final verdict is told there is none
        await self.world.servers.stop()  # the control endpoint too
        if self.service is not None:
            await self.service.stop()
        self.world.close()


async def start_stack(scenario: Scenario, options: LiveOptions) -> LiveStack:
    """Serve the mocks, start the integration service (or point at the external one), connect the world."""
    clock = LiveClock(options.epoch or time.time() + options.startup_seconds, options.speed)
    name = options.sut if options.sut != EXTERNAL else f"{EXTERNAL} {options.ingress}"
    ours = options.sut != EXTERNAL
    world = LiveWorld(
        scenario, clock, name=name, keep_traffic=options.keep_traffic, warp=options.warp and ours,
        settle_speed=options.settle_speed if ours else None, ack_floor_seconds=options.ack_floor_seconds,
        client_id=options.client_id, client_secret=options.client_secret, jitter_seconds=options.jitter_seconds,
        feed=Feed() if options.feed else None,
    )  # fmt: skip
    urls = await world.serve(options.host, options.port_base)
    service: ServiceProcess | None = None
    if options.sut == EXTERNAL:
        ingress = Ingress.parse(options.ingress, options.api)
    else:
        workdir = options.workdir or Path(tempfile.mkdtemp(prefix="twin-live-"))
        workdir.mkdir(parents=True, exist_ok=True)
        config = ServiceConfig(
            scenario=scenario.model_dump(mode="json"),
            epoch=clock.epoch,
            speed=clock.speed,
            db=str(workdir / "integration.sqlite"),
            targets=urls,
            sut=options.sut,
            client_id=world.client_id,
            client_secret=world.client_secret,
            host=options.host,
            timeout_floor_seconds=options.request_floor_seconds,
        )
        service = ServiceProcess(config, workdir)
        try:
            ready = await service.start()
        except BaseException:
            await world.close_doors()
            raise
        ingress = Ingress.parse(ready["mllp"], ready["http"])
    world.connect(ingress)
    control_port = 0 if options.port_base is None else options.port_base + len(urls)
    app = control_app(world)
    if world.feed is not None:
        feed_routes(app, world.feed, load_targets(world, ingress, urls))
    control = await world.servers.start("control", app, options.host, control_port)
    return LiveStack(world, ingress, service, urls, control)


async def run_live(
    scenario: Scenario,
    options: LiveOptions,
    *,
    stop: asyncio.Event | None = None,
    progress: Progress | None = None,
    announce: Callable[[LiveStack], None] | None = None,
    during: Callable[[LiveStack], Coroutine[Any, Any, None]] | None = None,
) -> RunResult:
    """Run ``scenario`` live through the integration under test and judge it (see the module docstring).
    ``during``: something to do to the stack while the world runs (the crash test kills the service)."""
    stack = await start_stack(scenario, options)
    meddling: asyncio.Task[None] | None = None
    try:
        if announce is not None:
            announce(stack)
        if during is not None:
            meddling = asyncio.get_running_loop().create_task(during(stack))
        horizon = await stack.world.run(stop, progress, options.drain_seconds)
        if meddling is not None:
            await meddling  # it is done meddling before the run is judged (a service it killed is up again)
        await stack.world.drained(options.drain_seconds)
        await stack.world.close_doors()
        result = stack.world.judge(horizon, stack.started)
        if stack.world.feed is not None:  # a load generator may be waiting for the verdict
            from twin.observe.report import build_summary

            stack.world.publish(build_summary(result))
            await asyncio.sleep(0.2)  # its request is answered before the control endpoint stops
    finally:
        if meddling is not None and not meddling.done():
            meddling.cancel()
        with contextlib.suppress(Exception):
            await stack.stop()
    return result


def load_targets(world: LiveWorld, ingress: Ingress, urls: dict[str, str]) -> dict[str, Any]:
    """What a load user needs (``GET /load/targets``): every system's URL, the integration's MLLP
    listener and API, the load's OAuth2 client, and the run's clock."""
    client = world.clients[LOAD_CLIENT]
    return {
        "systems": dict(urls),
        "mllp": {"host": ingress.mllp_host, "port": ingress.mllp_port},
        "integration": ingress.api,
        "client_id": client.client_id,
        "client_secret": client.secret,
        "hospitals": [hospital.code for hospital in world.network.hospitals],
        "clock": {"epoch": world.live.epoch, "speed": world.live.speed, "start": world.scenario.start.isoformat()},
    }


def live_conformance(sut: str, speed: float, ingress: str = "", api: str = "") -> tuple[Sut, Simulate]:
    """``twin conform --live``: the integration under test and a driver that runs each scenario live
    (our service running ``sut``, or someone else's integration: ``external`` at ``ingress``/``api``)."""
    from twin.cli import UsageError
    from twin.suts import load_sut

    if sut == EXTERNAL:
        if not (ingress and api):
            raise UsageError("--live --sut external needs --ingress mllp://HOST:PORT and --webhooks URL")
        under_test = Sut(f"{EXTERNAL} {ingress}", _not_in_process)
    else:
        under_test = load_sut(sut)

    def simulate(scenario: Scenario, chosen: Sut) -> RunResult:
        options = LiveOptions(speed=speed, sut=sut if sut == EXTERNAL else chosen.name, ingress=ingress, api=api,
                              keep_traffic=True)  # fmt: skip
        return asyncio.run(run_live(scenario, options))

    return under_test, simulate


def _not_in_process(context: RunContext) -> Integration:
    raise RuntimeError("an external integration runs in its own process; the live driver reaches it over the wire")
