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
SPIN_ROUNDS = 3_000_000  # about a second of plain Python per task


def spin(rounds: int) -> int:
    """Plain CPU-bound Python (dicts, lists, strings): what this machine's two cores give any such work."""
    table: dict[int, list[object]] = {}
    total = 0
    for i in range(rounds):
        table[i % 5000] = [i, str(i)]
        total += len(str(i))
    return total


def machine_efficiency(rounds: int, tasks: int) -> float:
    """The same pure-Python work on one worker and on two: the ceiling any sweep meets on this machine."""
    times = {}
    for workers in (1, 2):
        with worker_pool(workers) as pool:
            pool.submit(spin, 1).result()  # workers up before the clock starts
            started = time.perf_counter()
            list(pool.map(spin, [rounds] * tasks))
            times[workers] = time.perf_counter() - started
    return times[1] / (2 * times[2])


def bench_sweep(console: Console) -> int:
    base = load_scenario("default", days=DAYS, overrides=OVERRIDES)
    tasks = plan(base, replications=REPLICATIONS)
    with worker_pool(1) as warm:  # the fork server imports the twin once, before either leg is timed
        warm.submit(spin, 1).result()
    legs: dict[int, tuple[float, Sweep]] = {}
    for workers in (1, 2):
        started = time.perf_counter()
        # one worker in its own process too: the same start-up cost as the two-worker leg
        with worker_pool(workers) as pool:
            results = execute(tasks, pool, cache=Cache(None), progress=False)
        legs[workers] = (time.perf_counter() - started, Sweep.of(base, tasks, results, {}))
    ceiling = machine_efficiency(SPIN_ROUNDS, REPLICATIONS)
    (one, first), (two, second) = legs[1], legs[2]
    pd.testing.assert_frame_equal(first.table, second.table)  # same seeds, same table, wherever it ran
    per_run = sum(first.wall_seconds) / len(tasks)
    efficiency = one / (2 * two)
    table = Table(
        title=f"Sweep parallel efficiency: {REPLICATIONS} replications of default ({DAYS:g} days, {OVERRIDES})"
    )
    for column in ("workers", "wall s", "runs/min", "simulation s per run"):
        table.add_column(column, justify="right")
    table.add_row("1", f"{one:.1f}", f"{60 * REPLICATIONS / one:.1f}", f"{per_run:.2f}")
    table.add_row("2", f"{two:.1f}", f"{60 * REPLICATIONS / two:.1f}", f"{sum(second.wall_seconds) / len(tasks):.2f}")
    console.print(table)
    console.print(
        f"this machine's own ceiling, plain CPU-bound Python on 1 vs 2 workers in the same run: {ceiling:.2f}; "
        f"the sweep reaches {efficiency / ceiling:.0%} of it"
    )
    verdict = "meets" if efficiency >= GOAL else "below"
    console.print(
        f"parallel efficiency with 2 workers: {efficiency:.2f} ({verdict} the goal of {GOAL}); tables identical"
    )
    return 0
