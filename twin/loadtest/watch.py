"""What a load used up, and what ran out first: CPU per process, the event loop, the service's queue.

While Locust runs, once a second: the CPU of each process of the stack (the world with the mock
servers, the integration service, Locust's runner or master and workers) as a share of one core -
each is one asyncio or gevent loop, so one core is its ceiling - the lateness of the world's event
loop (a timer due in 0.25 s, how late it fired), and the integration service's outbox depth (its
``/metrics``: requests taken and not answered yet) with its ACK latency histogram (message read to
ACK written, the SQLite commit included). ``saturated`` names what reached its ceiling first.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from twin.loadtest.verdict import TWIN_LAG_LIMIT

CPU_CEILING = 90.0  # % of one core: a single-threaded loop is as busy as it gets
SAMPLE_SECONDS = 1.0
LAG_PROBE_SECONDS = 0.25


@dataclass(slots=True)
class Watch:
    """Samples taken during one load (see the module docstring)."""

    processes: Callable[[], dict[str, list[int]]]  # name -> pids, asked each sample (Locust's come and go)
    metrics_url: str = ""
    cpu: dict[str, list[float]] = field(default_factory=dict)
    loop_lag: list[float] = field(default_factory=list)
    outbox: list[float] = field(default_factory=list)
    ack_p95: float | None = None
    first_ceiling: str = ""
    _handles: dict[int, psutil.Process] = field(default_factory=dict)

    async def run(self, stop: asyncio.Event) -> None:
        lag = asyncio.get_running_loop().create_task(self._probe_lag(stop))
        async with httpx.AsyncClient(timeout=2.0) as client:
            while not stop.is_set():
                self._sample_cpu()
                await self._sample_service(client)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), SAMPLE_SECONDS)
            await self._sample_service(client, histogram=True)
        await lag

    async def _probe_lag(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            due = loop.time() + LAG_PROBE_SECONDS
            await asyncio.sleep(LAG_PROBE_SECONDS)
            self.loop_lag.append(max(0.0, loop.time() - due))
            if self.loop_lag[-1] > TWIN_LAG_LIMIT and not self.first_ceiling:
                self.first_ceiling = f"the world's event loop (a timer {self.loop_lag[-1] * 1000:.0f} ms late)"

    def _sample_cpu(self) -> None:
        for name, pids in self.processes().items():
            total = 0.0
            for pid in pids:
                handle = self._handles.get(pid)
                try:
                    if handle is None:
                        handle = self._handles[pid] = psutil.Process(pid)
                        handle.cpu_percent(None)  # the first call starts the measure
                        continue
                    total = max(total, handle.cpu_percent(None))  # the busiest process of the group
                except psutil.Error:
                    self._handles.pop(pid, None)
            self.cpu.setdefault(name, []).append(total)
            if total >= CPU_CEILING and not self.first_ceiling:
                self.first_ceiling = f"CPU of {name} ({total:.0f}% of a core)"

    async def _sample_service(self, client: httpx.AsyncClient, *, histogram: bool = False) -> None:
        if not self.metrics_url:
            return
        try:
            text = (await client.get(self.metrics_url)).text
        except httpx.HTTPError:
            return
        samples = _parse(text)
        self.outbox.append(_value(samples, "twin_outbox_depth") or 0.0)
        if histogram:
            self.ack_p95 = _histogram_p95(samples, "twin_ack_latency_seconds")

    def report(self) -> dict[str, Any]:
        """Means and 95th percentiles per resource, and what reached its ceiling first."""

        def summary(values: list[float]) -> dict[str, float | None]:
            ordered = sorted(values)
            p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)] if ordered else None
            if not ordered or p95 is None:
                return {"mean": None, "p95": None, "max": None}
            return {"mean": round(sum(ordered) / len(ordered), 3), "p95": round(p95, 3), "max": round(ordered[-1], 3)}

        return {
            "cpu_percent_of_a_core": {name: summary(values[1:]) for name, values in self.cpu.items()},
            "world_loop_lag_seconds": summary(self.loop_lag),
            "service_outbox_depth": summary(self.outbox),
            "service_ack_latency_p95_seconds": self.ack_p95,
            "first_at_its_ceiling": self.first_ceiling or "nothing",
        }


def _parse(text: str) -> list[Sample]:
    """Prometheus text exposition -> its samples (prometheus_client's own parser)."""
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def _value(samples: list[Sample], name: str) -> float | None:
    return next((sample.value for sample in samples if sample.name == name), None)


def _histogram_p95(samples: list[Sample], name: str) -> float | None:
    """The upper bound of the bucket that holds the 95th percentile."""
    total = _value(samples, f"{name}_count")
    if not total:
        return None
    buckets = sorted(
        (float(sample.labels["le"]), sample.value)
        for sample in samples
        if sample.name == f"{name}_bucket" and sample.labels.get("le") != "+Inf"
    )
    for bound, count in buckets:
        if count >= 0.95 * total:
            return bound
    return math.inf
