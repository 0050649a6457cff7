"""``twin sweep`` and ``twin report``: the analysis commands of the command line.

``twin sweep`` runs a grid of scenario overrides x designs x replications on local worker
processes (``--jobs``) or a Dask cluster (``--dask``) and prints each figure's mean with its 95%
confidence interval; ``twin report`` turns a run, comparison or sweep folder into one
self-contained HTML page. Neither is a verdict: both exit 0, or 2 on bad input.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from twin.scenario import DEFAULT_SCENARIO

DEFAULT_METRICS = (
    "days_to_bill_mean",
    "dnfb_days",
    "stock_accuracy",
    "stock_outs",
    "gaps",
    "exceptions_raised",
    "dlq_backlog",
    "retries",
    "in_sync",
)


class AnalysisUsageError(ValueError):
    """A flag of ``twin sweep`` / ``twin report`` that cannot work; the message says what to change."""


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser], sut_help: str) -> None:
    sweep = commands.add_parser(
        "sweep",
        help="run a grid of scenario knobs x designs x replications; print means with 95%% confidence intervals",
        description="Run every point of --grid (scenario fields by dotted path) through every design (and --sut), "
        "--replications times with seeds seed, seed+1, ... (the same seeds for every design: paired), on local "
        "worker processes (--jobs) or a Dask distributed cluster (--dask). The same seeds give the same table "
        "whichever way it ran. Results are cached by scenario, overrides, seed and the twin's code. Not a verdict: "
        "exit 0, or 2 on bad input.",
    )
    sweep.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO, help="scenario YAML (default: %(default)s)")
    sweep.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="a knob and its values, e.g. faults.erp_outage.hours=1,2,4 (repeatable: the grid is every combination)",
    )
    sweep.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a fixed override for every run, e.g. network.hospitals=2 (repeatable)",
    )
    sweep.add_argument(
        "--designs", default="", metavar="A,B", help="designs to run, in column order (default: the scenario's)"
    )
    sweep.add_argument(
        "--sut", action="append", default=[], metavar="SPEC", help=f"also run this integration: {sut_help}"
    )
    sweep.add_argument("--replications", type=int, default=1, help="runs per grid point and design (default: 1)")
    sweep.add_argument("--seed", type=int, help="the first replication's seed (default: the scenario's)")
    sweep.add_argument("--days", type=float, help="override the simulated days of workload")
    where = sweep.add_mutually_exclusive_group()
    where.add_argument("--jobs", type=int, help="local worker processes (default: one per core; 1: in this process)")
    where.add_argument(
        "--dask", metavar="ADDRESS", help="run on the Dask distributed cluster at ADDRESS (tcp://host:8786)"
    )
    sweep.add_argument("--metrics", metavar="A,B", help=f"figures to print (default: {','.join(DEFAULT_METRICS)})")
    sweep.add_argument("--out", type=Path, help="write sweep.json, sweep.parquet, sweep.csv and summary.csv here")
    sweep.add_argument("--no-cache", action="store_true", help="simulate every run again instead of reading the cache")
    report = commands.add_parser(
        "report",
        help="write a self-contained HTML report of a run, comparison or sweep folder",
        description="Read the folder that twin run --out, twin compare --out or twin sweep --out wrote and write "
        "one HTML page with its verdict tables and plots (images inline: it opens anywhere, offline).",
    )
    report.add_argument("folder", type=Path, metavar="RUN_OR_SWEEP_DIR")
    report.add_argument("-o", "--output", type=Path, default=Path("report.html"), help="default: %(default)s")


def parse_assignments(items: list[str], flag: str, *, many: bool) -> dict[str, Any]:
    """``KEY=VALUE`` (``many``: ``KEY=V1,V2``) flags as overrides; values read as YAML scalars."""
    from twin.analysis.overrides import parse_value

    parsed: dict[str, Any] = {}
    for item in items:
        key, equals, text = item.partition("=")
        if not equals or not key.strip() or not text.strip():
            shape = "KEY=V1,V2" if many else "KEY=VALUE"
            raise AnalysisUsageError(f"{flag} {item!r} is not {shape} (a dotted scenario field, '=', the value)")
        if key.strip() in parsed:
            raise AnalysisUsageError(f"{flag} {key.strip()!r} given twice")
        values = [parse_value(part.strip()) for part in text.split(",")] if many else parse_value(text.strip())
        parsed[key.strip()] = values
    return parsed


def sweep(args: argparse.Namespace, console: Console) -> int:
    from twin.analysis.compare import parse_designs
    from twin.analysis.sweep import ForeignWorker
    from twin.api import sweep as run_sweep

    if args.replications < 1:
        raise AnalysisUsageError(f"--replications must be at least 1, not {args.replications}")
    if args.jobs is not None and args.jobs < 1:
        raise AnalysisUsageError(f"--jobs must be at least 1, not {args.jobs}")
    grid = parse_assignments(args.grid, "--grid", many=True)
    overrides = parse_assignments(args.set, "--set", many=False)
    designs = parse_designs(args.designs, allow_none=True)
    executor: Any = args.dask if args.dask else args.jobs
    try:
        result = run_sweep(
            args.scenario,
            grid,
            designs=designs,
            suts=args.sut,
            replications=args.replications,
            seed=args.seed,
            days=args.days,
            overrides=overrides,
            executor=executor,
            cache=not args.no_cache,
        )
    except ForeignWorker as exc:  # a cluster of other code: bad input, said plainly
        raise AnalysisUsageError(str(exc)) from None
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else list(DEFAULT_METRICS)
    unknown = [m for m in metrics if m not in result.metrics]
    if unknown:
        raise AnalysisUsageError(
            f"--metrics: no figure {', '.join(unknown)}; the figures are {', '.join(result.metrics)}"
        )
    print_sweep(result.summary(metrics), result.grid, metrics, console, title=_title(args, result.scenario))
    if args.out is not None:
        result.save(args.out)
        console.print(f"wrote {args.out}/sweep.json, sweep.parquet, sweep.csv, summary.csv")
    return 0


def compare_replicated(args: argparse.Namespace, designs: list[str], console: Console) -> int:
    """``twin compare --replications R``: every column on R paired seeds, means with 95% CIs, and each
    column's paired difference to the first on the headline figures."""
    from twin.api import compare

    if args.replications < 1:
        raise AnalysisUsageError(f"--replications must be at least 1, not {args.replications}")
    if args.jobs is not None and args.jobs < 1:
        raise AnalysisUsageError(f"--jobs must be at least 1, not {args.jobs}")
    result = compare(
        args.scenario, designs, suts=args.sut, replications=args.replications, seed=args.seed, days=args.days,
        executor=args.jobs,
    )  # fmt: skip
    metrics = list(DEFAULT_METRICS)
    where = f"{args.jobs or 'one per core'} local process(es)"
    title = f"Designs on {result.scenario}: {args.replications} paired seed(s) per column, on {where}"
    print_sweep(result.summary(metrics), [], metrics, console, title=title)
    columns = list(dict.fromkeys(result.table["design"]))
    if args.replications > 1:
        for other in columns[1:]:
            for metric in ("days_to_bill_mean", "dnfb_days", "stock_accuracy"):
                row = result.difference(metric, other, columns[0]).iloc[0]
                verdict = "larger than its interval" if row["excludes_zero"] else "not distinguishable from none"
                console.print(
                    f"{metric}: {other} minus {columns[0]} = {row['mean']:+.3g} "
                    f"(95% CI {row['ci95_low']:+.3g} .. {row['ci95_high']:+.3g}, {row['n']} pairs): {verdict}"
                )
    if args.out is not None:
        result.save(args.out)
        console.print(f"wrote {args.out}/sweep.json, sweep.parquet, sweep.csv, summary.csv (twin report reads them)")
    return 0  # a comparison is not a verdict


def _title(args: argparse.Namespace, scenario: str) -> str:
    where = f"Dask at {args.dask}" if args.dask else f"{args.jobs or 'one per core'} local process(es)"
    return f"Sweep of {scenario}: {args.replications} replication(s) per point and design, on {where}"


def print_sweep(summary: Any, grid: list[str], metrics: list[str], console: Console, *, title: str) -> None:
    """One row per figure, grid point and design: runs, mean and its 95% CI (long, so any width reads)."""
    table = Table(title=title)
    table.add_column("figure", min_width=12, overflow="fold")
    for key in [*grid, "design"]:
        table.add_column(key, overflow="fold")
    for key in ("runs", "mean", "95% CI"):
        table.add_column(key, justify="right", no_wrap=True)
    for metric in metrics:
        rows = summary[summary["metric"] == metric].to_dict("records")
        for position, row in enumerate(rows):
            mean, low, high = row["mean"], row["ci95_low"], row["ci95_high"]
            interval = "-" if low != low else f"[{low:.3g}, {high:.3g}]"  # NaN: one run, no interval
            shown = "-" if mean != mean else f"{mean:.3g}"
            label = metric if position == 0 else ""
            table.add_row(label, *(str(row[k]) for k in grid), str(row["design"]), str(row["n"]), shown, interval)
        table.add_section()
    console.print(table)


def report(args: argparse.Namespace, console: Console) -> int:
    from twin.analysis.html_report import ReportError, write_report

    if not args.folder.is_dir():
        raise AnalysisUsageError(f"{args.folder} is not a folder: give what twin run/compare/sweep --out wrote")
    try:
        kind = write_report(args.folder, args.output)
    except ReportError as exc:
        raise AnalysisUsageError(str(exc)) from None
    console.print(f"wrote {args.output} (a {kind} report of {args.folder})")
    return 0
