"""``twin report``: one self-contained HTML page of a run, a design comparison or a sweep.

The page is what an architect forwards to people without the twin: verdict tables first, then the
figures and plots, every image inline (base64 PNG) and the style in the page, so it opens from a
mail attachment or an artifact store with no network. The folder says what it holds: ``sweep.json``
(``twin sweep --out``), ``compare.json`` (``twin compare --out``) or ``summary.json`` with the
Parquet tables (``twin run --out``).
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from twin.analysis import plots

if TYPE_CHECKING:
    from matplotlib.axes import Axes

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 1em 0; font-size: .9em; }
th, td { border: 1px solid #ddd; padding: .3em .6em; text-align: right; }
th { background: #f4f4f4; } td:first-child, th:first-child { text-align: left; }
td, th { white-space: nowrap; } .wide { overflow-x: auto; max-width: 100%; }
.pass { color: #1a7f37; font-weight: bold; } .fail { color: #cf222e; font-weight: bold; }
img { max-width: 100%; border: 1px solid #eee; margin: .5em 0; }
.note { color: #555; font-size: .9em; }
"""
SWEEP_PLOTS = ("days_to_bill_mean", "dnfb_days", "stock_accuracy", "gaps", "dlq_backlog")


class ReportError(ValueError):
    """A folder ``twin report`` cannot read; the message says what it expected."""


def write_report(folder: Path, output: Path) -> str:
    """Write the page for ``folder`` to ``output``; returns what kind of folder it was."""
    import matplotlib

    matplotlib.use("Agg")
    if (folder / "sweep.json").exists():
        kind, title, body = "sweep", *_sweep(folder)
    elif (folder / "compare.json").exists():
        kind, title, body = "comparison", *_comparison(folder)
    elif (folder / "summary.json").exists():
        kind, title, body = "run", *_run(folder)
    else:
        raise ReportError(
            f"{folder} holds no sweep.json, compare.json or summary.json: give the folder twin run, twin compare "
            "or twin sweep wrote with --out"
        )
    page = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}"
        f"<p class='note'>Written by twin report from {html.escape(str(folder))}. Identifiers are pseudonyms.</p>"
        "</body></html>\n"
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(page, encoding="utf-8")
    return kind


# -- a run ------------------------------------------------------------------------------------------
def _run(folder: Path) -> tuple[str, str]:
    from twin.analysis.result import Run, flows_table

    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    title = f"Run of {summary['scenario']} (seed {summary['seed']}, {summary['design']}, {summary['days']:g} days)"
    verdict = "every target in sync" if summary["in_sync"] else "OUT OF SYNC"
    parts = [f"<p>Verdict: <span class='{'pass' if summary['in_sync'] else 'fail'}'>{verdict}</span></p>"]
    parts.append("<h2>Flows</h2>" + _table(flows_table(summary), True))
    if summary.get("differences"):
        parts.append("<h2>Differences (first 50)</h2>" + _table(pd.DataFrame(summary["differences"])))
    try:
        run = Run.load(folder)
    except FileNotFoundError:
        parts.append("<p class='note'>No Parquet tables in this folder (written before twin 0.1's API): no plots.</p>")
        return title, "".join(parts)
    parts.append("<h2>Business figures</h2>" + _table(pd.DataFrame([run.metrics]).T.rename(columns={0: "value"}), True))
    tables = run.tables
    for name, heading, draw in (
        ("consistency", "Time to consistency per flow", plots.consistency),
        ("backlog", "Backlog over time", plots.backlog),
        ("inventory", "Inventory drift", plots.inventory),
    ):
        if name in tables:
            parts.append(f"<h2>{heading}</h2>" + _image(lambda ax, t=tables[name], d=draw: d(t, ax)))
    if "kpis" in tables and not tables["kpis"].empty:
        parts.append("<h2>Executive KPIs beside the truth</h2>")
        for kpi in sorted(tables["kpis"]["kpi"].unique()):
            parts.append(_image(lambda ax, k=kpi: plots.kpis(tables["kpis"], k, ax)))
    if summary.get("calibration"):
        parts.append("<h2>Calibration</h2>" + _table(pd.DataFrame(summary["calibration"])))
    return title, "".join(parts)


# -- a comparison -------------------------------------------------------------------------------------
def _comparison(folder: Path) -> tuple[str, str]:
    document = json.loads((folder / "compare.json").read_text(encoding="utf-8"))
    title = f"Integration designs on {document['scenario']} (seed {document['seed']}, {document['days']:g} days)"
    frame = pd.DataFrame(document["designs"]).T
    descriptions = frame.pop("description") if "description" in frame else None
    parts = []
    if descriptions is not None:
        parts.append("<h2>Designs</h2><ul>")
        parts += [f"<li><b>{html.escape(d)}</b>: {html.escape(str(text))}</li>" for d, text in descriptions.items()]
        parts.append("</ul>")
    parts.append("<h2>Figures per design</h2>" + _table(frame.T, True))
    for metric in ("days_to_bill_mean", "dnfb_days", "stock_accuracy", "gaps"):
        if metric in frame and frame[metric].notna().any():
            values = pd.to_numeric(frame[metric], errors="coerce")
            parts.append(_image(lambda ax, v=values, m=metric: _bars(ax, v, m)))
    return title, "".join(parts)


def _bars(ax: Axes, values: pd.Series, metric: str) -> Axes:
    ax.bar([str(i) for i in values.index], values.fillna(0))
    ax.set_title(metric)
    ax.set_ylabel(metric)
    return ax


# -- a sweep ------------------------------------------------------------------------------------------
def _sweep(folder: Path) -> tuple[str, str]:
    from twin.analysis.sweep import Sweep

    sweep = Sweep.load(folder)
    spec = sweep.spec
    title = f"Sweep of {sweep.scenario}: {len(sweep.table)} runs"
    grid = ", ".join(f"{k} = {v}" for k, v in spec.get("grid", {}).items()) or "none (designs only)"
    parts = [
        f"<p>Grid: {html.escape(grid)}. Replications: {spec.get('replications')} (seeds {spec.get('seed')} "
        f"onwards, the same for every design). Means with 95% confidence intervals (Student's t).</p>"
    ]
    metrics = [m for m in SWEEP_PLOTS if m in sweep.metrics]
    summary = sweep.summary(metrics)
    shown = summary.copy()
    shown["mean [95% CI]"] = [
        f"{r.mean:.3g}" if r.ci95_low != r.ci95_low else f"{r.mean:.3g} [{r.ci95_low:.3g}, {r.ci95_high:.3g}]"
        for r in summary.itertuples()
    ]
    pivot = shown.pivot_table(index=[*sweep.grid, "design"], columns="metric", values="mean [95% CI]", aggfunc="first")
    parts.append("<h2>Summary</h2>" + _table(pivot, True))
    designs = list(dict.fromkeys(sweep.table["design"]))
    if len(designs) >= 2:
        for metric in metrics:
            diff = sweep.difference(metric, designs[0], designs[1])
            parts.append(f"<h3>{html.escape(metric)}: {html.escape(designs[0])} minus {html.escape(designs[1])}</h3>")
            parts.append(_table(diff))
    parts.append("<h2>Plots</h2>")
    for metric in metrics:
        parts.append(_image(lambda ax, m=metric: sweep.plot(m, ax)))
    parts.append("<h2>Every run</h2>" + _table(sweep.table))
    return title, "".join(parts)


# -- pieces -------------------------------------------------------------------------------------------
def _table(frame: pd.DataFrame, index: bool = False) -> str:
    text: str = frame.to_html(index=index, border=0, na_rep="-", float_format=lambda v: f"{v:.4g}", escape=True)
    return f"<div class='wide'>{text}</div>"  # a wide table scrolls inside the page, not the page itself


def _image(draw: Any) -> str:
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(9, 4), layout="constrained")
    draw(ax)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"<img alt='plot' src='data:image/png;base64,{encoded}'>"
