"""Sweeps: a grid of scenario knobs x designs x replications, on local processes or a Dask cluster.

One run says little about a design: a week of a hospital is one draw. A sweep runs every point of a
grid of overrides (``{"faults.erp_outage.hours": [1, 2, 4]}``), through every design (or a user's
integration), ``replications`` times, and lays out one row per run with the comparison's figures
(``twin.analysis.compare.measure``). Replication ``r`` runs with seed ``seed + r`` at every grid
point and for every design (common random numbers): differences between designs are paired, and
their confidence intervals narrower for it (``Sweep.difference``).

Where the runs go is the caller's choice and never changes the table: in this process, local
worker processes (``jobs``), any ``concurrent.futures.Executor``, or a Dask distributed cluster
(a scheduler address or a ``distributed.Client``). Rows come back in task order whatever finished
first, and nothing on a row depends on where or when it ran (wall times are kept apart).
"""

from __future__ import annotations

import gc
import itertools
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from twin.analysis.cache import Cache, code_version
from twin.analysis.overrides import OverrideError, apply_overrides
from twin.scenario import Scenario

if TYPE_CHECKING:
    from matplotlib.axes import Axes

REFERENCE = "reference"
KEYS = ("design", "replication", "seed")  # a row's identity beside the grid's knobs


@dataclass(frozen=True, slots=True)
class Task:
    """One run of a sweep: everything a worker needs, plain and picklable."""

    index: int
    column: str  # the design's name, or the user's integration spec
    scenario_json: str  # the scenario with the grid point, seed and design applied, validated
    sut: str  # "reference" or package.module:factory
    point: tuple[tuple[str, Any], ...]  # the grid's knobs and their values at this point
    replication: int
    seed: int


def run_task(task: Task) -> dict[str, Any]:
    """Simulate one task and measure it (in whichever process the executor chose)."""
    from twin.analysis.compare import measure
    from twin.sim import run
    from twin.suts import load_sut

    scenario = Scenario.model_validate_json(task.scenario_json)
    sut = load_sut(task.sut)
    started = time.perf_counter()
    result = run(scenario, keep_traffic=False, integration=sut.factory, name=sut.name)
    metrics = measure(result)
    del result
    gc.collect()  # the driver keeps the cyclic collector off while it runs: free this run's network now
    return {"metrics": metrics, "wall_seconds": time.perf_counter() - started, "version": code_version()}


class ForeignWorker(RuntimeError):
    """A worker that runs other code than this process: its figures do not belong in the same table."""


def plan(
    scenario: Scenario,
    *,
    grid: Mapping[str, Sequence[Any]] | None = None,
    designs: Sequence[str] = (),
    suts: Sequence[str] = (),
    replications: int = 1,
) -> list[Task]:
    """Every task of the sweep, in table order: grid point, then column, then replication.

    Every grid point is validated before anything runs (``ScenarioError`` names the override)."""
    from twin.domain.designs import check_design

    if replications < 1:
        raise ValueError(f"replications must be at least 1, not {replications}")
    from twin.suts import load_sut

    for name in designs:
        check_design(name)
    for spec in suts:
        load_sut(spec)  # a spec that cannot load fails here, named, not in a worker halfway through
    grid = dict(grid or {})
    for key, values in grid.items():
        if isinstance(values, str | bytes) or not isinstance(values, Sequence) or not values:
            raise OverrideError(f"grid {key!r} needs a list of values to sweep, not {values!r}")
    columns = [(name, REFERENCE) for name in designs] + [(spec, spec) for spec in suts]
    if not columns:
        columns = [(scenario.integration.design, REFERENCE)]
    tasks: list[Task] = []
    for values in itertools.product(*grid.values()):
        point = tuple(zip(grid, values, strict=True))
        varied = apply_overrides(scenario, dict(point))
        for column, sut in columns:
            designed = varied if sut != REFERENCE else varied.with_overrides(design=column)
            for replication in range(replications):
                seed = scenario.seed + replication
                seeded = designed.with_overrides(seed=seed)
                tasks.append(Task(len(tasks), column, seeded.model_dump_json(), sut, point, replication, seed))
    return tasks


def execute(
    tasks: Sequence[Task], executor: Any = None, *, cache: Cache | None = None, progress: bool = True
) -> list[dict[str, Any]]:
    """Every task's result, in task order. ``executor``: ``None`` (local processes, one per core),
    an int (that many local processes; 1 runs here), a ``concurrent.futures.Executor``, a Dask
    scheduler address (``tcp://host:8786``) or a ``distributed.Client``."""
    from tqdm.auto import tqdm

    cache = cache or Cache(None)
    results: list[dict[str, Any] | None] = [None] * len(tasks)
    keys = [Cache.key("metrics", task.scenario_json, task.sut) for task in tasks]
    waiting = []
    for task, key in zip(tasks, keys, strict=True):
        cached = cache.load_metrics(key) if task.sut == REFERENCE else None
        if cached is not None:
            results[task.index] = {"metrics": cached, "wall_seconds": 0.0, "cached": True}
        else:
            waiting.append(task)
    with tqdm(total=len(tasks), initial=len(tasks) - len(waiting), desc="runs", disable=not progress) as bar:
        mine = code_version()
        for task, outcome in _run_all(waiting, executor):
            if outcome.get("version") != mine:  # a cluster's worker on another checkout or release
                raise ForeignWorker(
                    f"a worker ran run {task.index} ({task.column}, seed {task.seed}) with twin "
                    f"{outcome.get('version')}, this process is twin {mine}: install the same checkout on every "
                    "worker (pip install -e .) "
                    "so one table holds one twin's figures"
                )
            results[task.index] = outcome
            if task.sut == REFERENCE:
                cache.save_metrics(keys[task.index], outcome["metrics"])
            bar.update(1)
    return [result for result in results if result is not None]


def _run_all(tasks: list[Task], executor: Any) -> Any:
    """(task, result) pairs as they finish, on the executor asked for."""
    if not tasks:
        return
    if isinstance(executor, str):
        from distributed import Client

        with Client(executor) as client:  # type: ignore[no-untyped-call]
            yield from _on_dask(tasks, client)
        return
    if _is_dask_client(executor):
        yield from _on_dask(tasks, executor)
        return
    if isinstance(executor, Executor):
        yield from _on_executor(tasks, executor)
        return
    jobs = int(executor) if executor is not None else (os.cpu_count() or 1)
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, not {jobs}")
    if jobs == 1 or len(tasks) == 1:
        for task in tasks:
            yield task, run_task(task)
        return
    with worker_pool(min(jobs, len(tasks))) as pool:
        yield from _on_executor(tasks, pool)


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """Local worker processes that start with the twin already imported, whoever called.

    - From a script (``python sweep.py``, ``python -c``, stdin): forked, as Linux scripts expect. A fork
      server or a spawned interpreter would first re-run the script's ``__main__`` in every worker: from
      stdin that fails, and a script without an ``if __name__ == "__main__"`` guard would start its sweep
      again in each worker.
    - From Jupyter, IPython or a REPL (no main file to re-run, and threads a fork could catch holding a
      lock): forked from a fork server that imported the twin once - safe, and no import per worker.
    - Where neither exists: spawned interpreters.
    """
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    script = getattr(sys.modules.get("__main__"), "__file__", None) is not None
    if script and "fork" in methods:
        return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))
    if "forkserver" in methods:
        server = multiprocessing.get_context("forkserver")
        server.set_forkserver_preload(["twin.analysis.sweep", "twin.analysis.compare", "twin.sim", "twin.suts"])
        return ProcessPoolExecutor(max_workers=workers, mp_context=server)
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def _on_executor(tasks: list[Task], executor: Executor) -> Any:
    futures = {executor.submit(run_task, task): task for task in tasks}
    for future in as_completed(futures):
        yield futures[future], future.result()


def _on_dask(tasks: list[Task], client: Any) -> Any:
    from distributed import as_completed as dask_completed

    futures = client.map(run_task, tasks, pure=False)
    by_future = dict(zip(futures, tasks, strict=True))
    for future in dask_completed(futures):  # type: ignore[no-untyped-call]
        yield by_future[future], future.result()


def _is_dask_client(executor: Any) -> bool:
    return type(executor).__name__ == "Client" and type(executor).__module__.startswith("distributed")


@dataclass(slots=True)
class Sweep:
    """A sweep's ``table`` (one row per run) and what it ran: ``summary()`` with 95% CIs, ``difference()``
    between two designs, ``plot()``; ``wall_seconds`` per row is kept apart from the table."""

    scenario: str
    grid: list[str]
    table: pd.DataFrame
    wall_seconds: list[float] = field(default_factory=list)
    spec: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls, scenario: Scenario, tasks: Sequence[Task], results: Sequence[dict[str, Any]], spec: dict[str, Any]
    ) -> Sweep:
        rows = []
        for task, result in zip(tasks, results, strict=True):
            rows.append(
                {"design": task.column, **dict(task.point), "replication": task.replication, "seed": task.seed}
                | result["metrics"]
            )
        grid = list(spec.get("grid", {}))
        table = pd.DataFrame(rows)
        return cls(scenario.name, grid, table, [float(r.get("wall_seconds", 0.0)) for r in results], spec)

    @property
    def metrics(self) -> list[str]:
        """The figures of every run that are numbers (or yes/no, as a share)."""
        skip = {*KEYS, *self.grid}
        return [
            c
            for c in self.table.columns
            if c not in skip
            and (pd.api.types.is_numeric_dtype(self.table[c]) or pd.api.types.is_bool_dtype(self.table[c]))
        ]

    def summary(self, metrics: Sequence[str] | None = None) -> pd.DataFrame:
        """Tidy: per grid point, design and metric: runs, mean, standard deviation, 95% CI (Student's t)."""
        metrics = list(metrics or self.metrics)
        by = [*self.grid, "design"]
        rows = []
        for keys, group in self.table.groupby(by, sort=False, dropna=False):
            keys = keys if isinstance(keys, tuple) else (keys,)
            for metric in metrics:
                rows.append({**dict(zip(by, keys, strict=True)), "metric": metric, **_interval(group[metric])})
        return pd.DataFrame(rows)

    def difference(self, metric: str, a: str, b: str) -> pd.DataFrame:
        """``a`` minus ``b`` on ``metric``, paired by replication (same seed), per grid point: mean and 95% CI.
        ``excludes_zero`` says whether the difference is larger than its confidence interval."""
        if metric not in self.table.columns:
            raise KeyError(f"no metric {metric!r}; the metrics are {', '.join(self.metrics)}")
        keys = [*self.grid, "replication"]
        left = self.table[self.table["design"] == a].set_index(keys)[metric]
        right = self.table[self.table["design"] == b].set_index(keys)[metric]
        if left.empty or right.empty:
            raise KeyError(
                f"designs {a!r} and {b!r} must both be in the sweep; it has {sorted(self.table['design'].unique())}"
            )
        paired = (left.astype(float) - right.astype(float)).dropna().reset_index()
        rows = []
        groups = paired.groupby(self.grid, sort=False) if self.grid else [((), paired)]
        for point, group in groups:
            point = point if isinstance(point, tuple) else (point,)
            interval = _interval(group[metric])
            low, high = interval["ci95_low"], interval["ci95_high"]
            excludes = bool(pd.notna(low) and pd.notna(high) and (low > 0 or high < 0))
            rows.append(
                {**dict(zip(self.grid, point, strict=True)), "a": a, "b": b, **interval, "excludes_zero": excludes}
            )
        return pd.DataFrame(rows)

    def plot(self, metric: str, ax: Axes | None = None) -> Axes:
        from twin.analysis import plots

        return plots.by_knob(self.summary([metric]), metric, self.grid[0] if self.grid else None, ax)

    def save(self, out: Path | str) -> Path:
        """``sweep.json`` (what ran), ``sweep.parquet`` and ``sweep.csv`` (the table), ``summary.csv``."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        values = self.spec.get("grid") or {key: sorted(self.table[key].unique().tolist()) for key in self.grid}
        document = {**self.spec, "scenario": self.scenario, "grid": values}
        (out / "sweep.json").write_text(
            json.dumps(document, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
        )
        self.table.to_parquet(out / "sweep.parquet", index=False)
        self.table.to_csv(out / "sweep.csv", index=False)
        self.summary().to_csv(out / "summary.csv", index=False)
        return out

    @classmethod
    def load(cls, path: Path | str) -> Sweep:
        path = Path(path)
        if not (path / "sweep.json").exists():
            raise FileNotFoundError(f"{path} is not a saved sweep: no sweep.json (write one with twin sweep --out)")
        spec = json.loads((path / "sweep.json").read_text(encoding="utf-8"))
        scenario = spec.pop("scenario")
        return cls(scenario, list(spec["grid"]), pd.read_parquet(path / "sweep.parquet"), [], spec)

    def _repr_html_(self) -> str:
        table: str = self.table.to_html(max_rows=20)
        return f"<p><b>Sweep</b> of {self.scenario}: {len(self.table)} runs</p>" + table


def _interval(values: pd.Series) -> dict[str, Any]:
    """n, mean, std and the 95% confidence interval of the mean (Student's t; none from one run)."""
    from scipy import stats

    data = values.dropna().astype(float)
    n = len(data)
    mean = float(data.mean()) if n else float("nan")
    std = float(data.std(ddof=1)) if n > 1 else float("nan")
    if n > 1:
        half = float(stats.t.ppf(0.975, n - 1)) * std / n**0.5
        low, high = mean - half, mean + half
    else:
        low = high = float("nan")
    return {"n": n, "mean": mean, "std": std, "ci95_low": low, "ci95_high": high}
