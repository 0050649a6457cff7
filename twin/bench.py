"""``twin bench``: end-to-end throughput of the twin beside bare SimPy, measured in one run.

Absolute rates depend on the machine and on what else it is doing, so the figure that matters is
the ratio to a baseline measured moments before on the same machine: SimPy passing messages
through a ``Store`` with nothing else to do.
"""

from __future__ import annotations

import gc
import resource
import sys
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

import simpy

from twin.domain.timebase import Timebase
from twin.integration.hl7_reader import Hl7Reader
from twin.scenario import DEFAULT_SCENARIO, Scenario, load_scenario
from twin.sim import run

BENCH_SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "bench.yaml"
BASELINE_MESSAGES = 300_000
# hl7apy parses ~100 messages/s at strict validation: this many of each type keeps it to seconds.
READER_SAMPLE_PER_TYPE = 100
READER_GOAL = 100.0  # the reader's messages/s over hl7apy's, on the same messages


@dataclass(frozen=True, slots=True)
class BenchResult:
    baseline_rate: float  # bare SimPy Store messages per wall second
    twin_messages: int  # source messages delivered end to end
    twin_seconds: float
    simulated_days: float
    hospitals: int
    phases: dict[str, float] = field(default_factory=dict)  # wall seconds: simulate, settle, judge
    peak_rss_bytes: int = 0  # the process's peak resident memory once the month was judged

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
    result = run(scenario, keep_traffic=False)
    view = result.view
    delivered = sum(n for (kind, _), n in view.counts.items() if kind == "hl7")
    return BenchResult(
        baseline,
        delivered,
        result.wall_seconds,
        scenario.days,
        len(view.network.hospitals),
        dict(result.phases),
        peak_rss_bytes(),
    )


def peak_rss_bytes() -> int:
    """This process's peak resident set size so far (Linux reports kilobytes, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


@dataclass(frozen=True, slots=True)
class ReaderBench:
    """The integration's HL7 reader beside hl7apy's parser on the same messages, one after the other.

    The reader exists because hl7apy is too slow for the hot path (a test proves they read the
    same values), so the figure that matters is how many times faster it is, on this machine now.
    """

    messages: int  # the sample, every type of the EHR's feed
    types: int
    reader_rate: float  # messages per wall second read into events by ``Hl7Reader``
    hl7apy_rate: float  # messages per wall second parsed by hl7apy (strict validation, groups found)
    rejected: int  # messages of the sample the reader rejected (0: it measured the real path)

    @property
    def ratio(self) -> float:
        return self.reader_rate / self.hl7apy_rate


def sample_messages(per_type: int = READER_SAMPLE_PER_TYPE, scenario: Scenario | None = None) -> list[str]:
    """Up to ``per_type`` messages of every type the EHR sends, evenly spread over a short run of the
    default scenario (one day) or ``scenario``."""
    view = run(scenario or load_scenario(DEFAULT_SCENARIO).with_overrides(days=1), keep_traffic=True).view
    sample: list[str] = []
    for message_type, messages in sorted(view.traffic.items()):
        if message_type != "ACK":
            sample.extend(messages[:: max(1, len(messages) // per_type)][:per_type])
    return sample


def reader_throughput(messages: list[str], timebase: Timebase, min_seconds: float = 1.0) -> ReaderBench:
    """Messages per second of ``Hl7Reader`` and of hl7apy on the same ``messages``.

    The reader is timed over repeated passes (a fresh reader each, so its caches only help within a
    pass, as within a feed) until ``min_seconds`` have passed; hl7apy over one pass, after parsing
    one message first so loading its structure definitions is not counted.
    """
    from hl7apy.consts import VALIDATION_LEVEL
    from hl7apy.parser import parse_message

    rejected = sum(Hl7Reader(timebase).read(text).rejected is not None for text in messages)
    # A run leaves millions of objects in reference cycles (the bench's twin, the sample's): were
    # the cyclic collector to sweep them inside a timed section, it would dwarf what is measured.
    gc.collect()
    passes, started = 0, time.perf_counter()
    while True:
        reader = Hl7Reader(timebase)
        for text in messages:
            reader.read(text)
        passes += 1
        elapsed = time.perf_counter() - started
        if elapsed >= min_seconds:
            break
    reader_rate = passes * len(messages) / elapsed
    parse_message(messages[0], validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
    gc.collect()
    started = time.perf_counter()
    for text in messages:
        parse_message(text, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
    hl7apy_rate = len(messages) / (time.perf_counter() - started)
    types = len({text.split("|", 9)[8].rpartition("^")[0] for text in messages})
    return ReaderBench(len(messages), types, reader_rate, hl7apy_rate, rejected)


def run_reader_bench(per_type: int = READER_SAMPLE_PER_TYPE, scenario: Scenario | None = None) -> ReaderBench:
    """``reader_throughput`` on a sample of the project's own messages."""
    scenario = scenario or load_scenario(DEFAULT_SCENARIO).with_overrides(days=1)
    return reader_throughput(sample_messages(per_type, scenario), Timebase(scenario.start))
