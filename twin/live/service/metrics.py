"""What the integration service shows Prometheus (``GET /metrics``).

Gauges are read when scraped, from the service's own state (nothing is counted twice): the outbox
depth (requests taken and not answered yet), the age of the oldest of them, the dead-letter queue,
the breaker state per endpoint (0 closed, 1 half open, 2 open - from the integration's optional
``breakers()``), the inputs taken. Histograms are observed as things happen: ACK latency (message
read to ACK written, commit included) and delivery latency per target system.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0)


class _State(Collector):
    """Gauges read from the service at scrape time."""

    def __init__(self, read: Callable[[], Mapping[str, Any]]) -> None:
        self.read = read

    def collect(self) -> Iterator[Metric]:
        state = self.read()
        depth = GaugeMetricFamily("twin_outbox_depth", "requests taken and not answered yet")
        depth.add_metric([], state["outbox_depth"])
        yield depth
        oldest = GaugeMetricFamily("twin_outbox_oldest_age_seconds", "wall seconds the oldest unanswered request waits")
        oldest.add_metric([], state["oldest_age_seconds"])
        yield oldest
        letters = GaugeMetricFamily("twin_dead_letters", "messages and requests in the dead-letter queue")
        letters.add_metric([], state["dead_letters"])
        yield letters
        taken = GaugeMetricFamily("twin_inputs_taken", "inputs the integration was given since the service started")
        taken.add_metric([], state["inputs"])
        yield taken
        breakers = GaugeMetricFamily(
            "twin_breaker_state", "circuit breaker per endpoint: 0 closed, 1 half open, 2 open", labels=["endpoint"]
        )
        for endpoint, breaker in sorted(state["breakers"].items()):
            breakers.add_metric([endpoint], BREAKER_STATES.get(breaker, -1))
        yield breakers


class ServiceMetrics:
    """The service's registry: its gauges and its latency histograms."""

    def __init__(self, read: Callable[[], Mapping[str, Any]]) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_State(read))
        self.ack_latency = Histogram(
            "twin_ack_latency_seconds",
            "MLLP message read to ACK written (the commit included)",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.delivery_latency = Histogram(
            "twin_delivery_latency_seconds",
            "one attempt of a request to a target system, sent to answered",
            ["system"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.started = time.time()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
