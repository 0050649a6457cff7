"""``Run``: one finished run as data - summary, figures, tables and plots - that outlives the simulation.

A simulated run holds its whole network (millions of objects) in memory; a notebook wants the
business figures, a few tidy tables and the plots, and wants them again tomorrow without
re-simulating. ``Run.of`` reads a finished ``RunResult`` once into that form; ``save`` writes it
as ``summary.json``, ``metrics.json`` and Parquet tables under ``records/`` (the same layout as
``twin run --out``), and ``load`` reads it back, so a cached run and a fresh one are the same object.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from twin.analysis import frames, plots

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from twin.observe.view import RunResult

TABLES = ("records", "differences", "exceptions", "dead_letters", "consistency", "backlog", "inventory", "kpis")
PARQUET_NAMES = {"records": "messages"}  # records/messages.parquet sits beside records/messages.csv


@dataclass(slots=True)
class Run:
    """One run's ``summary`` (``summary.json``'s dict), ``metrics`` (the comparison's flat figures)
    and ``tables`` (``TABLES``, pandas DataFrames); ``label`` says what ran (scenario, seed, design,
    integration, overrides). ``wall_seconds`` is what the run cost when it was simulated."""

    label: dict[str, Any]
    summary: dict[str, Any]
    metrics: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    wall_seconds: float = 0.0
    from_cache: bool = False

    @classmethod
    def of(
        cls,
        result: RunResult,
        label: dict[str, Any],
        wall_seconds: float = 0.0,
        summary: dict[str, Any] | None = None,
        columns: dict[str, Sequence[Any]] | None = None,
    ) -> Run:
        """``summary``: the run's ``build_summary``, and ``columns`` its ``message_columns``, when the
        caller has built them already."""
        from twin.analysis.compare import measure
        from twin.observe.report import build_summary

        view = result.view
        consistent = frames.consistency(result)
        tables = {
            "records": frames.records(view, columns),
            "differences": frames.differences(result),
            "exceptions": frames.exceptions(view),
            "dead_letters": frames.dead_letters(view),
            "consistency": consistent,
            "backlog": frames.backlog(result, consistent),
            "inventory": frames.inventory(result),
            "kpis": frames.kpis(result),
        }
        # as JSON has them (tuples as lists): a run read back from the cache equals a fresh one
        summary, metrics = (
            json.loads(json.dumps(d, default=str)) for d in (summary or build_summary(result), measure(result))
        )
        return cls(label, summary, metrics, tables, wall_seconds)

    # -- the tables ---------------------------------------------------------------------------------
    @property
    def records(self) -> pd.DataFrame:
        return self.tables["records"]

    @property
    def differences(self) -> pd.DataFrame:
        return self.tables["differences"]

    @property
    def exceptions(self) -> pd.DataFrame:
        return self.tables["exceptions"]

    @property
    def dead_letters(self) -> pd.DataFrame:
        return self.tables["dead_letters"]

    @property
    def in_sync(self) -> bool:
        return bool(self.summary["in_sync"])

    def flows(self) -> pd.DataFrame:
        """Per flow: records expected and matched, differences by class, time to consistency p50/p95/p99."""
        return flows_table(self.summary)

    # -- the plots ----------------------------------------------------------------------------------
    def plot_consistency(self, ax: Axes | None = None) -> Axes:
        return plots.consistency(self.tables["consistency"], ax)

    def plot_backlog(self, ax: Axes | None = None) -> Axes:
        return plots.backlog(self.tables["backlog"], ax)

    def plot_inventory(self, ax: Axes | None = None) -> Axes:
        return plots.inventory(self.tables["inventory"], ax)

    def plot_kpis(self, kpi: str | None = None, ax: Axes | None = None) -> Axes:
        return plots.kpis(self.tables["kpis"], kpi, ax)

    # -- files --------------------------------------------------------------------------------------
    def save(self, out: Path | str) -> Path:
        """``summary.json``, ``metrics.json``, ``run.json`` (the label) and ``records/<table>.parquet``."""
        out = Path(out)
        (out / "records").mkdir(parents=True, exist_ok=True)
        if not (out / "summary.json").exists():  # ``twin run --out`` has written it already, byte for byte
            _write_json(out / "summary.json", self.summary)
        _write_json(out / "metrics.json", self.metrics)
        _write_json(out / "run.json", {"label": self.label, "wall_seconds": round(self.wall_seconds, 3)})
        for name, table in self.tables.items():
            table.to_parquet(out / "records" / f"{PARQUET_NAMES.get(name, name)}.parquet", index=False)
        return out

    @classmethod
    def load(cls, path: Path | str) -> Run:
        """A run saved by ``save`` or ``twin run --out``; ``FileNotFoundError`` names what is missing."""
        path = Path(path)
        missing = [name for name in ("summary.json", "metrics.json", "run.json") if not (path / name).exists()]
        if missing:
            raise FileNotFoundError(
                f"{path} is not a saved run: no {', '.join(missing)} (write one with twin run --out)"
            )
        meta = json.loads((path / "run.json").read_text(encoding="utf-8"))
        tables = {}
        for name in TABLES:
            file = path / "records" / f"{PARQUET_NAMES.get(name, name)}.parquet"
            if file.exists():
                tables[name] = pd.read_parquet(file)
        return cls(
            meta["label"],
            json.loads((path / "summary.json").read_text(encoding="utf-8")),
            json.loads((path / "metrics.json").read_text(encoding="utf-8")),
            tables,
            float(meta.get("wall_seconds", 0.0)),
        )

    def _repr_html_(self) -> str:
        verdict = "every target in sync" if self.in_sync else "OUT OF SYNC"
        label = ", ".join(f"{key} {value}" for key, value in self.label.items() if value not in (None, {}, ""))
        cached = " (from the cache)" if self.from_cache else ""
        table: str = self.flows().to_html()
        return f"<p><b>Run</b> {label}: <b>{verdict}</b>{cached}</p>" + table

    def __repr__(self) -> str:
        verdict = "in sync" if self.in_sync else "OUT OF SYNC"
        return (
            f"Run({self.label.get('scenario')!r}, seed {self.label.get('seed')}, {self.label.get('design')}: {verdict})"
        )


def flows_table(summary: dict[str, Any]) -> pd.DataFrame:
    """Per flow of a run's summary: in sync, records expected and matched, differences by class, lag p50/p95/p99."""
    rows = []
    for name, flow in summary["flows"].items():
        lags = flow["time_to_consistency_minutes"]
        rows.append(
            {
                "flow": name,
                "in_sync": flow["in_sync"],
                "expected": flow["expected_records"],
                "matched": flow["matched_records"],
                **flow["differences"],
                **{f"lag_{p}_minutes": value for p, value in lags.items()},
            }
        )
    return pd.DataFrame(rows).set_index("flow")


def _write_json(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
