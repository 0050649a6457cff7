"""``twin bench``'s figures beside the previous release's, from a committed baseline file.

Absolute rates move with the machine and its load, so a release records what it measured
(``benchmarks/baseline.json``, written by ``twin bench --save-baseline``) and the next run prints
each figure beside it: a ratio or a memory figure that got worse shows at a glance. Ratios to a
baseline measured in the same run (bare SimPy, hl7apy) are the comparable ones across machines.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from twin.bench import BenchResult, ReaderBench

BASELINE_FILE = Path(__file__).resolve().parent.parent / "benchmarks" / "baseline.json"
GIB = 1024**3


@dataclass(frozen=True, slots=True)
class Figure:
    """One figure of ``twin bench``: its name, unit, and whether more of it is better."""

    name: str
    unit: str
    higher_is_better: bool
    digits: int = 1


FIGURES = (
    Figure("bare SimPy Store", "messages/s", True, 0),
    Figure("twin end to end", "messages/s", True, 0),
    Figure("ratio twin / SimPy", "", True, 3),
    Figure("simulate", "s", False),
    Figure("settle", "s", False),
    Figure("judge", "s", False),
    Figure("a month of 10 hospitals", "s", False),
    Figure("peak resident memory", "GiB", False, 2),
    Figure("ratio reader / hl7apy", "", True, 0),
)


def figures(result: BenchResult, reader: ReaderBench | None = None) -> dict[str, float]:
    """The run's figures by name (``FIGURES``); the reader's only when it was measured."""
    month = result.twin_seconds * 30 / result.simulated_days * 10 / result.hospitals
    measured = {
        "bare SimPy Store": result.baseline_rate,
        "twin end to end": result.twin_rate,
        "ratio twin / SimPy": result.ratio,
        **{phase: seconds for phase, seconds in result.phases.items() if phase in ("simulate", "settle", "judge")},
        "a month of 10 hospitals": month,
        "peak resident memory": result.peak_rss_bytes / GIB,
    }
    if reader is not None:
        measured["ratio reader / hl7apy"] = reader.ratio
    return measured


def load_baseline(path: Path = BASELINE_FILE) -> dict[str, Any] | None:
    """The committed baseline (``release``, ``measured``, ``figures``), or None when there is none."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a bench baseline: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("figures"), dict):
        raise ValueError(f"{path}: not a bench baseline: it needs a 'figures' object")
    return data


def save_baseline(measured: dict[str, float], path: Path = BASELINE_FILE, release: str | None = None) -> None:
    """Write ``measured`` as the baseline the next releases are compared with."""
    data = {
        "release": release or _commit(),
        "measured": date.today().isoformat(),
        "figures": {name: round(value, 6) for name, value in measured.items()},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def rows(measured: dict[str, float], baseline: dict[str, Any] | None) -> list[tuple[str, str, str, str]]:
    """(figure, now, baseline, change) per figure measured: the change as 'x1.23 better' or 'worse'."""
    before = (baseline or {}).get("figures", {})
    table = []
    for figure in FIGURES:
        if figure.name not in measured:
            continue
        now = measured[figure.name]
        was = before.get(figure.name)
        change = "-"
        if isinstance(was, int | float) and was > 0 and now > 0:
            factor = now / was
            better = factor > 1 if figure.higher_is_better else factor < 1
            change = "same" if abs(factor - 1) < 0.005 else f"x{factor:.2f} {'better' if better else 'worse'}"
        table.append((figure.name, _fmt(now, figure), "-" if was is None else _fmt(float(was), figure), change))
    return table


def _fmt(value: float, figure: Figure) -> str:
    text = f"{value:,.{figure.digits}f}"
    return f"{text} {figure.unit}".strip()


def _commit() -> str:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=BASELINE_FILE.parent.parent,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return done.stdout.strip()
