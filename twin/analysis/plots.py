"""Plots of runs and sweeps (matplotlib): each takes the tables and an optional ``Axes``, returns the ``Axes``.

One function per question the brief asks of a design: how long until the targets agree (time to
consistency per flow), how much waits and where (the business backlog per flow, the dead-letter
queue), how far the ERP's stock is from the shelf, whether the executives' KPIs tell the truth, and
- over many runs - how a figure moves with a knob, with its 95% confidence interval.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes


def _axes(ax: Axes | None, size: tuple[float, float] = (8, 4)) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _figure, new = plt.subplots(figsize=size, layout="constrained")
    return new


def consistency(table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Time to consistency per flow: a box per flow (log scale: seconds to days live side by side)."""
    ax = _axes(ax)
    flows = [flow for flow, group in table.groupby("flow", observed=True) if len(group)]
    data = [table.loc[table["flow"] == flow, "lag_minutes"].clip(lower=1e-3) for flow in flows]
    if data:
        ax.boxplot(data, tick_labels=flows, showfliers=False, whis=(5, 95))
    ax.set_yscale("log")
    ax.set_ylabel("minutes from due to consistent (p5-p95 whiskers)")
    ax.set_title("Time to consistency per flow")
    ax.tick_params(axis="x", labelrotation=20)
    return ax


def backlog(table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Keys due but not yet consistent, per flow, over the run; and the dead-letter queue's backlog."""
    ax = _axes(ax)
    for column in table.columns:
        if column.startswith("due_not_consistent_"):
            ax.plot(table["day"], table[column], label=column.removeprefix("due_not_consistent_"))
    ax.plot(table["day"], table["dead_letters"], label="dead-letter queue", color="black", ls="--")
    # the settling tail is flat but for seconds-long waits (a KPI shown moments after 06:00): show up to a
    # day past the last hour in which anything waited more than a minute on average
    waiting = table.drop(columns=["minute", "day"]).gt(1 / 60).any(axis=1)
    if waiting.any():
        ax.set_xlim(0, min(float(table["day"].max()), float(table.loc[waiting, "day"].max()) + 1))
    ax.set_xlabel("day of the run")
    ax.set_ylabel("keys due, not consistent (hourly mean)")
    ax.set_title("Backlog over time")
    ax.legend(fontsize="small", ncols=2)
    return ax


def inventory(table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """ERP on-hand off the shelf at each quiet point: units summed over item-locations, and how many are off."""
    ax = _axes(ax)
    ax.bar(table["day"], table["drift_units"], width=0.3, label="units off the shelf")
    ax.set_xlabel("day of the run")
    ax.set_ylabel("units")
    twin = ax.twinx()
    twin.plot(table["day"], table["off"], color="tab:red", marker="o", label="item-locations off")
    twin.set_ylabel("item-locations off")
    ax.set_title("Inventory drift: the ERP's on-hand against the shelf")
    return ax


def kpis(table: pd.DataFrame, kpi: str | None = None, ax: Axes | None = None) -> Axes:
    """One KPI over the days, network-wide scope first: reported beside the truth's range."""
    ax = _axes(ax)
    if table.empty:
        ax.set_title("No KPI published")
        return ax
    kpi = kpi or str(table["kpi"].iloc[0])
    rows = table[table["kpi"] == kpi]
    scope = sorted(rows["scope"].unique(), key=lambda s: (len(s), s))[0]
    rows = rows[rows["scope"] == scope].sort_values("period")
    ax.fill_between(rows["period"], rows["truth_low"], rows["truth_high"], alpha=0.3, step="mid", label="truth")
    ax.plot(rows["period"], rows["reported"], marker="o", label="dashboard")
    ax.set_title(f"KPI {kpi} ({scope}): dashboard beside the truth")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(8))
    ax.tick_params(axis="x", labelrotation=30)
    ax.legend()
    return ax


def by_knob(summary: pd.DataFrame, metric: str, x: str | None = None, ax: Axes | None = None) -> Axes:
    """A sweep's ``metric`` per design: mean with its 95% confidence interval, against knob ``x``
    (the first grid key; one point per design when the sweep has no grid)."""
    ax = _axes(ax)
    rows = summary[summary["metric"] == metric]
    for design, group in rows.groupby("design", sort=False):
        if x is None:
            positions: Any = [design]
        else:
            group = group.sort_values(x)
            positions = group[x]
        low = group["mean"] - group["ci95_low"]
        high = group["ci95_high"] - group["mean"]
        ax.errorbar(positions, group["mean"], yerr=[low.fillna(0), high.fillna(0)], marker="o", capsize=4, label=design)
    ax.set_xlabel(x or "design")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric}: mean and 95% CI per design")
    ax.legend(fontsize="small")
    return ax
