"""The Python API for notebooks and scripts: ``twin.run``, ``twin.compare``, ``twin.sweep``.

    import twin
    result = twin.run("default", days=3)                  # one run: summary, tables, plots
    result.plot_consistency()
    table = twin.compare("default", replications=5)       # designs side by side, with 95% CIs
    table.difference("days_to_bill_mean", "point-to-point-batch", "event-driven")
    sweep = twin.sweep("faults-demo", grid={"faults.erp_outage.hours": [1, 2, 4]}, replications=3)
    sweep.plot("stock_accuracy")

A scenario is a ``Scenario``, a YAML path, or the name of one in ``scenarios/`` (``"default"``).
Overrides address scenario fields by dotted path and are validated like the file
(``twin.analysis.overrides``). Results are cached by scenario, overrides, seed and the twin's code
(``twin.analysis.cache``), so re-running a notebook reads what it simulated before; ``cache=False``
simulates again. Progress shows as a bar in terminals and notebooks (``progress=False``: none).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from twin.analysis.cache import Cache
from twin.analysis.compare import DEFAULT_DESIGNS
from twin.analysis.overrides import apply_overrides
from twin.analysis.result import Run
from twin.analysis.sweep import Sweep, execute, plan
from twin.scenario import DEFAULT_SCENARIO, Scenario, ScenarioError
from twin.scenario import load_scenario as read_scenario

SCENARIOS = DEFAULT_SCENARIO.parent
ScenarioLike = Scenario | str | Path

__all__ = ["Run", "Sweep", "compare", "load_run", "load_scenario", "load_sweep", "run", "sweep"]


def load_scenario(
    which: ScenarioLike = "default",
    *,
    seed: int | None = None,
    days: float | None = None,
    design: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Scenario:
    """A validated scenario: a ``Scenario``, a YAML path, or a name in ``scenarios/``, with overrides applied."""
    if isinstance(which, Scenario):
        loaded = which
    else:
        path = Path(which)
        if not path.suffix and not path.exists():
            named = SCENARIOS / f"{which}.yaml"
            if not named.exists():
                known = ", ".join(sorted(p.stem for p in SCENARIOS.glob("*.yaml")))
                raise ScenarioError(f"no scenario named {str(which)!r}: give a YAML path or one of {known}")
            path = named
        loaded = read_scenario(path)
    varied = apply_overrides(loaded, overrides)
    return varied.with_overrides(seed=seed, days=days, design=design)


def run(
    which: ScenarioLike = "default",
    *,
    sut: str | Callable[..., Any] = "reference",
    design: str | None = None,
    seed: int | None = None,
    days: float | None = None,
    overrides: Mapping[str, Any] | None = None,
    cache: bool | str | Path = True,
    progress: bool = True,
) -> Run:
    """Simulate one scenario through an integration and return it as a ``Run`` (summary, tables, plots).

    ``sut``: ``"reference"`` (in the scenario's design, or ``design``), a ``package.module:factory``
    spec, or a factory itself (never cached: the twin cannot fingerprint a user's code)."""
    from twin.domain.contract import Sut
    from twin.sim import run as simulate
    from twin.suts import load_sut

    chosen = load_scenario(which, seed=seed, days=days, design=design, overrides=overrides)
    integration = load_sut(sut) if isinstance(sut, str) else Sut(getattr(sut, "__name__", "sut"), sut)
    store = Cache.of(cache if integration.name == "reference" else False)
    key = Cache.key("run", chosen.model_dump_json(), integration.name)
    cached = store.load_run(key)
    if cached is not None:
        return cached
    label = {
        "scenario": chosen.name,
        "seed": chosen.seed,
        "days": chosen.days,
        "design": chosen.integration.design,
        "integration": integration.name,
        "overrides": dict(overrides or {}),
    }
    started = time.perf_counter()
    with _bar(chosen, progress) as report:
        result = simulate(
            chosen, progress=report, keep_traffic=False, integration=integration.factory, name=integration.name
        )
    done = Run.of(result, label, time.perf_counter() - started)
    store.save_run(key, done)
    return done


def compare(
    which: ScenarioLike = "default",
    designs: Sequence[str] = DEFAULT_DESIGNS,
    *,
    suts: Sequence[str] = (),
    replications: int = 1,
    seed: int | None = None,
    days: float | None = None,
    overrides: Mapping[str, Any] | None = None,
    executor: Any = None,
    cache: bool | str | Path = True,
    progress: bool = True,
) -> Sweep:
    """Designs (and ``suts``, user integrations by spec) side by side on the same seeds: a ``Sweep``
    without a grid - ``table`` one row per run, ``summary()`` means with 95% CIs, ``difference()``."""
    return sweep(
        which,
        designs=designs,
        suts=suts,
        replications=replications,
        seed=seed,
        days=days,
        overrides=overrides,
        executor=executor,
        cache=cache,
        progress=progress,
    )


def sweep(
    which: ScenarioLike = "default",
    grid: Mapping[str, Sequence[Any]] | None = None,
    *,
    designs: Sequence[str] = (),
    suts: Sequence[str] = (),
    replications: int = 1,
    seed: int | None = None,
    days: float | None = None,
    overrides: Mapping[str, Any] | None = None,
    executor: Any = None,
    cache: bool | str | Path = True,
    progress: bool = True,
) -> Sweep:
    """Every point of ``grid`` (dotted path -> values) x every design (default: the scenario's) x
    ``replications`` seeds (``seed``, ``seed + 1``, ...), on ``executor`` (``twin.analysis.sweep.execute``)."""
    base = load_scenario(which, seed=seed, days=days, overrides=overrides)
    tasks = plan(base, grid=grid, designs=designs, suts=suts, replications=replications)
    results = execute(tasks, executor, cache=Cache.of(cache), progress=progress)
    spec = {
        "grid": {key: list(values) for key, values in (grid or {}).items()},
        "designs": list(designs),
        "suts": list(suts),
        "replications": replications,
        "seed": base.seed,
        "days": base.days,
        "overrides": dict(overrides or {}),
    }
    return Sweep.of(base, tasks, results, spec)


def load_run(path: str | Path) -> Run:
    """A run written by ``twin run --out`` or ``Run.save``."""
    return Run.load(path)


def load_sweep(path: str | Path) -> Sweep:
    """A sweep written by ``twin sweep --out`` or ``Sweep.save``."""
    return Sweep.load(path)


class _bar:
    """A tqdm bar over simulated days (terminal or notebook), fed by the driver's progress callback."""

    def __init__(self, chosen: Scenario, enabled: bool) -> None:
        self.chosen, self.enabled = chosen, enabled
        self.bar: Any = None

    def __enter__(self) -> Callable[[float, float], None] | None:
        if not self.enabled:
            return None
        from tqdm.auto import tqdm

        self.bar = tqdm(total=round(self.chosen.days, 2), desc=f"{self.chosen.name} days", unit="day")

        def report(now: float, total: float) -> None:
            self.bar.n = round(min(now, total) / 1440, 2)
            self.bar.refresh()

        return report

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()
