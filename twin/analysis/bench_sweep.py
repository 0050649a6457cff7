"""``twin bench --sweep``: a sweep's parallel efficiency on this machine, measured in one go.

The same replications (a few seconds of simulation each) run first on one worker process, then on
two; efficiency is the one-worker time over twice the two-worker time (1.0: two workers halve the
wall time). Both legs start their worker processes the same way (``sweep.worker_pool``), so the
ratio shows what a sweep really gains, start-up included. The tables of both legs must be equal:
a sweep that ran faster by computing something else would be no gain.
"""

from __future__ import annotations

import time

import pandas as pd
from rich.console import Console
from rich.table import Table

from twin.analysis.cache import Cache
from twin.analysis.sweep import Sweep, execute, plan, worker_pool
from twin.api import load_scenario

REPLICATIONS = 8
DAYS = 2.0
OVERRIDES = {"network.hospitals": 2}
GOAL = 0.8


def bench_sweep(console: Console) -> int:
    base = load_scenario("default", days=DAYS, overrides=OVERRIDES)
    tasks = plan(base, replications=REPLICATIONS)
    legs: dict[int, tuple[float, Sweep]] = {}
    for workers in (1, 2):
        started = time.perf_counter()
        # one worker in its own process too: the same start-up cost as the two-worker leg
        with worker_pool(workers) as pool:
            results = execute(tasks, pool, cache=Cache(None), progress=False)
        legs[workers] = (time.perf_counter() - started, Sweep.of(base, tasks, results, {}))
    (one, first), (two, second) = legs[1], legs[2]
    pd.testing.assert_frame_equal(first.table, second.table)  # same seeds, same table, wherever it ran
    per_run = sum(first.wall_seconds) / len(tasks)
    efficiency = one / (2 * two)
    table = Table(
        title=f"Sweep parallel efficiency: {REPLICATIONS} replications of default ({DAYS:g} days, 2 hospitals)"
    )
    for column in ("workers", "wall s", "runs/min", "simulation s per run"):
        table.add_column(column, justify="right")
    table.add_row("1", f"{one:.1f}", f"{60 * REPLICATIONS / one:.1f}", f"{per_run:.2f}")
    table.add_row("2", f"{two:.1f}", f"{60 * REPLICATIONS / two:.1f}", f"{sum(second.wall_seconds) / len(tasks):.2f}")
    console.print(table)
    verdict = "meets" if efficiency >= GOAL else "below"
    console.print(
        f"parallel efficiency with 2 workers: {efficiency:.2f} ({verdict} the goal of {GOAL}); tables identical"
    )
    return 0
