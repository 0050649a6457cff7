"""Plots of a load from Locust's stats history: latency percentiles and throughput over time."""

from __future__ import annotations

import csv
from pathlib import Path


def plot_history(history: Path, out: Path) -> list[Path]:
    """``latency.png`` and ``throughput.png`` from ``locust_stats_history.csv`` (the aggregate rows)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = []
    with history.open(encoding="utf-8", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["Name"] == "Aggregated"]
    if not rows:
        return []
    start = int(rows[0]["Timestamp"])
    seconds = [int(row["Timestamp"]) - start for row in rows]

    def column(name: str) -> list[float]:
        return [float(row[name]) if row[name] not in ("", "N/A") else float("nan") for row in rows]

    written = []
    figure, axis = plt.subplots(figsize=(8, 4))
    for name in ("50%", "95%", "99%"):
        axis.plot(seconds, column(name), label=f"p{name.rstrip('%')}")
    axis.set(xlabel="seconds into the load", ylabel="response time (ms)", title="Latency percentiles (all requests)")
    axis.legend()
    figure.tight_layout()
    written.append(out / "latency.png")
    figure.savefig(written[-1], dpi=100)
    plt.close(figure)

    figure, axis = plt.subplots(figsize=(8, 4))
    axis.plot(seconds, column("Requests/s"), label="requests/s")
    axis.plot(seconds, column("Failures/s"), label="failures/s")
    users = axis.twinx()
    users.plot(seconds, column("User Count"), color="grey", linestyle=":", label="users")
    users.set_ylabel("users")
    axis.set(xlabel="seconds into the load", ylabel="per second", title="Throughput")
    axis.legend(loc="upper left")
    figure.tight_layout()
    written.append(out / "throughput.png")
    figure.savefig(written[-1], dpi=100)
    plt.close(figure)
    return written
