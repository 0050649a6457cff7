"""The load verdict's own checks that need no Locust run: whether the twin kept up with the load."""

from __future__ import annotations

from twin.loadtest.verdict import TWIN_LAG_LIMIT, twin_kept_up


def _resources(p95: float | None) -> dict[str, object]:
    return {"world_loop_lag_seconds": {"mean": p95, "p95": p95, "max": p95}}


def test_a_saturated_world_fails_the_check_that_it_kept_up() -> None:
    check = twin_kept_up(_resources(TWIN_LAG_LIMIT * 4))  # planted: timers firing 0.4 s late
    assert check is not None and not check.passed and "overran the twin" in check.note


def test_a_world_with_room_to_spare_passes_it() -> None:
    check = twin_kept_up(_resources(0.001))
    assert check is not None and check.passed and check.limit == TWIN_LAG_LIMIT


def test_nothing_watched_is_no_check() -> None:  # a --target stack runs elsewhere: its loop is not ours to see
    assert twin_kept_up({}) is None and twin_kept_up(_resources(None)) is None


def test_the_watch_reads_the_services_metrics_as_prometheus_writes_them() -> None:
    from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest

    from twin.loadtest.watch import _histogram_p95, _parse, _value

    registry = CollectorRegistry()
    Gauge("twin_outbox_depth", "queued", registry=registry).set(3)
    latency = Histogram("twin_ack_latency_seconds", "ack", buckets=(0.005, 0.05, 0.5), registry=registry)
    for seconds in [0.001] * 90 + [0.03] * 9 + [0.3]:
        latency.observe(seconds)
    samples = _parse(generate_latest(registry).decode())
    assert _value(samples, "twin_outbox_depth") == 3
    assert _histogram_p95(samples, "twin_ack_latency_seconds") == 0.05  # 90 within 5 ms, 99 within 50 ms
