"""``twin bench``: end-to-end throughput of the twin beside bare SimPy, measured in one run.

Absolute rates depend on the machine and on what else it is doing, so the figure that matters is
the ratio to a baseline measured moments before on the same machine: SimPy passing messages
through a ``Store`` with nothing else to do.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import simpy

from twin.scenario import Scenario, load_scenario
from twin.sim import Twin

BENCH_SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "bench.yaml"
BASELINE_MESSAGES = 300_000


@dataclass(frozen=True, slots=True)
class BenchResult:
    baseline_rate: float  # bare SimPy Store messages per wall second
    twin_messages: int  # source messages delivered end to end
    twin_seconds: float
    simulated_days: float
    hospitals: int

    @property
    def twin_rate(self) -> float:
        return self.twin_messages / self.twin_seconds

    @property
    def ratio(self) -> float:
        return self.twin_rate / self.baseline_rate


def simpy_store_rate(messages: int = BASELINE_MESSAGES) -> float:
    """Messages per second one producer and one consumer pass through a ``simpy.Store``."""
    env = simpy.Environment()
    store = simpy.Store(env)

    def producer() -> Generator[simpy.Event, None, None]:
        for number in range(messages):
            yield store.put(number)

    def consumer() -> Generator[simpy.Event, None, None]:
        for _ in range(messages):
            yield store.get()

    env.process(producer())
    env.process(consumer())
    started = time.perf_counter()
    env.run()
    return messages / (time.perf_counter() - started)


def run_bench(scenario: Scenario | None = None) -> BenchResult:
    scenario = scenario or load_scenario(BENCH_SCENARIO)
    baseline = simpy_store_rate()
    twin = Twin(scenario, keep_traffic=False)
    result = twin.run()
    delivered = sum(n for (kind, _), n in twin.counts.items() if kind == "hl7")
    return BenchResult(baseline, delivered, result.wall_seconds, scenario.days, len(twin.network.hospitals))
