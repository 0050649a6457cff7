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
