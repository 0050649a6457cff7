"""The ``twin`` command line: ``run`` a scenario, ``compare`` integration designs on it, ``bench`` the twin,
``inspect`` an interface file.

Exit codes: 0 every target in sync, 1 a target out of sync, 2 bad input (a broken scenario
file, a wrong flag) with a one-paragraph explanation and no traceback.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from twin.analysis.cli import AnalysisUsageError
from twin.domain.designs import UnknownDesign, check_design, known_designs
from twin.scenario import DEFAULT_SCENARIO, ScenarioError, load_scenario
from twin.suts import SutError

if TYPE_CHECKING:
    from twin.bench import ReaderBench

EXIT_IN_SYNC, EXIT_OUT_OF_SYNC, EXIT_BAD_INPUT = 0, 1, 2


class UsageError(ValueError):
    """A flag combination that cannot work; the message says what to change."""


SUT_HELP = (
    "the integration under test: 'reference' (default) or package.module:factory, a function taking the run "
    "context (twin.domain.contract.RunContext) and returning an Integration, e.g. examples.naive_point_to_point:factory"
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="twin", description="Digital twin and conformance harness for ERP-EHR integration."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="run a scenario in simulated time and check every target")
    run.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO, help="scenario YAML (default: %(default)s)")
    run.add_argument("--seed", type=_non_negative, help="override the scenario's seed")
    run.add_argument("--days", type=_positive_float, help="override the simulated days of workload")
    run.add_argument(
        "--out", type=Path, help="write summary.json, messages/, fhir/ and records/ (CSV and Parquet) here"
    )
    run.add_argument("--kpis", action="store_true", help="also print the last day's executive KPIs beside the truth")
    run.add_argument(
        "--calibration",
        action="store_true",
        help="also print each operating statistic beside a published reference range and its source",
    )
    run.add_argument("--design", metavar="NAME", help=f"override the scenario's integration design ({known_designs()})")
    run.add_argument("--sut", default="reference", metavar="SPEC", help=SUT_HELP)
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a scenario field by dotted path, e.g. workload.transfer_share=0.3 or "
        "faults.erp_outage.hours=4 (repeatable; validated like the file)",
    )
    compare = commands.add_parser(
        "compare",
        help="run a scenario through several integration designs on one seed and compare their outcomes",
        description="Run the scenario once per design (same seed) and print business outcomes (days to bill, "
        "DNFB, stock accuracy, stock-outs, reconciliation gaps, exceptions, DLQ backlog) and integration health "
        "(lag percentiles per flow, retries, breaker trips) side by side. A comparison is not a verdict: exit 0, "
        "or 2 on bad input.",
    )
    compare.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO, help="scenario YAML (default: %(default)s)")
    compare.add_argument(
        "--designs",
        default="point-to-point-batch,event-driven,hybrid",
        metavar="A,B,C",
        help=f"comma-separated designs, in column order (of: {known_designs()}; default: %(default)s)",
    )
    compare.add_argument("--seed", type=_non_negative, help="override the scenario's seed")
    compare.add_argument("--days", type=_positive_float, help="override the simulated days of workload")
    compare.add_argument(
        "--out", type=Path, help="write compare.json and compare.csv here (with --replications: the sweep's files)"
    )
    compare.add_argument(
        "--replications",
        type=int,
        default=1,
        metavar="R",
        help="run every column on R seeds (seed, seed+1, ...: the same for every column) and print means with 95%% "
        "confidence intervals and the paired differences to the first column (default: 1, one seed)",
    )
    compare.add_argument(
        "--jobs", type=int, metavar="N", help="--replications: local worker processes (default: one per core)"
    )
    compare.add_argument(
        "--sut",
        action="append",
        default=[],
        metavar="SPEC",
        help="also run this integration (package.module:factory) on the same scenario and seed: one more column "
        "beside the reference designs (repeatable; --designs '' for none of them)",
    )
    bench = commands.add_parser(
        "bench", help="measure end-to-end throughput against bare SimPy, and the HL7 reader against hl7apy"
    )
    bench.add_argument(
        "--sweep",
        action="store_true",
        help="measure a sweep's parallel efficiency instead: the same replications on 1 and on 2 local workers",
    )
    bench.add_argument(
        "--save-baseline",
        action="store_true",
        help="write this run's figures to benchmarks/baseline.json: the release the next runs are printed beside",
    )
    bench.add_argument(
        "--live",
        action="store_true",
        help="measure the live stack instead: MLLP -> durable queue -> ERP posting (msg/s, latency p50/p99), and a "
        "mock endpoint's requests/s beside a bare uvicorn ASGI app's",
    )
    inspect = commands.add_parser(
        "inspect",
        help="show how the reference integration reads each message of an HL7 v2 or FHIR file, or why it rejects it",
        description="Read FILE - HL7 v2 ER7 (segments ending in CR, LF or CRLF; each message starts at a line "
        "beginning with MSH|) or FHIR JSON (a resource, a Bundle, or NDJSON) - and print for each message its "
        "canonical event as the reference integration reads it, or the ACK / OperationOutcome it rejects it with. "
        "The output contains identifiers from the file (MRNs, visit numbers: the integration's keys), never "
        "patient names; treat it like the file. Exit 0: every message read; 1: some rejected; 2: bad input.",
    )
    inspect.add_argument("file", type=Path, metavar="FILE", help="the interface file to inspect")
    inspect.add_argument("--json", action="store_true", help="print one JSON document per message (JSON Lines)")
    inspect.add_argument("--encoding", default="utf-8", help="the file's text encoding (default: %(default)s)")
    _conform_parser(commands)
    from twin.live.cli import add_parsers

    add_parsers(commands, SUT_HELP, _non_negative, _positive_float)
    from twin.loadtest.cli import add_parser as add_load_parser

    add_load_parser(commands, SUT_HELP)
    from twin.analysis.cli import add_parsers as add_analysis_parsers

    add_analysis_parsers(commands, SUT_HELP)
    return parser


def _conform_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    conform = commands.add_parser(
        "conform",
        help="run the BDD conformance suite against the reference integration or your own",
        description="Run Gherkin scenarios written in the brief's language against an integration in simulated "
        "time and report a verdict per scenario (pass / fail / skip / error) with its evidence and the requirement "
        "it traces to. The current working directory is put on sys.path (as python -m does), so --sut can name a "
        "package of the folder you run from. Exit 0: every scenario that ran passed; 1: a failure or error; "
        "2: bad input (an unknown --sut, no features, an unregistered requirement tag).",
    )
    conform.add_argument("--sut", default="reference", metavar="SPEC", help=SUT_HELP)
    conform.add_argument(
        "--features", type=Path, metavar="DIR", help="run the .feature files under DIR (default: the project's suite)"
    )
    conform.add_argument(
        "--tags",
        metavar="EXPR",
        help="select scenarios by tag, pytest -m syntax: 'req-resilience-outage or resilience', 'not slow'; "
        "@slow variants run only when EXPR names slow (or with --slow)",
    )
    conform.add_argument("--slow", action="store_true", help="also run the @slow larger variants (make test does)")
    conform.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML for CI")
    conform.add_argument("--json", type=Path, metavar="FILE", help="write every verdict with its evidence as JSON")
    conform.add_argument("--html", type=Path, metavar="FILE", help="write a self-contained HTML report")
    conform.add_argument(
        "--live",
        action="store_true",
        help="run the scenarios tagged @live on the wall clock instead: mock servers, MLLP, the integration as a "
        "service (--sut external with --ingress and --webhooks: someone else's integration)",
    )
    conform.add_argument("--speed", type=float, default=1440.0, help="--live: simulated seconds per wall second")
    conform.add_argument("--ingress", metavar="mllp://HOST:PORT", help="--live --sut external: its MLLP address")
    conform.add_argument("--webhooks", metavar="URL", help="--live --sut external: its HTTP API")
    conform.add_argument("--list-steps", action="store_true", help="print the step vocabulary with examples, then exit")
    conform.add_argument(
        "--list-requirements", action="store_true", help="print the requirement ids and their statements, then exit"
    )


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of days, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number of days > 0, got {value:g}")
    return value


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    console = Console()
    errors = Console(stderr=True)
    try:
        if args.command == "run":
            return _run(args, console)
        if args.command == "compare":
            return _compare(args, console)
        if args.command == "inspect":
            return _inspect(args, console, errors)
        if args.command == "conform":
            return _conform(args, console, errors)
        if args.command == "serve":
            from twin.live.cli import serve

            return serve(args, console)
        if args.command == "load":
            from twin.loadtest.cli import load

            return load(args, console)
        if args.command == "check":
            from twin.live.cli import check

            return check(args, console, errors)
        if args.command in ("sweep", "report"):
            from twin.analysis import cli as analysis

            return analysis.sweep(args, console) if args.command == "sweep" else analysis.report(args, console)
        if args.sweep:
            from twin.analysis.bench_sweep import bench_sweep

            return bench_sweep(console)
        if args.live:
            return _bench_live(console)
        return _bench(console, args.save_baseline)
    except (ScenarioError, UnknownDesign, SutError, UsageError, AnalysisUsageError) as exc:
        errors.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return EXIT_BAD_INPUT


def _run(args: argparse.Namespace, console: Console) -> int:
    from twin.analysis.cli import parse_assignments
    from twin.analysis.overrides import apply_overrides
    from twin.analysis.result import Run
    from twin.observe.report import build_summary, message_columns, print_calibration, print_summary, write_outputs
    from twin.sim import run
    from twin.suts import load_sut

    if args.design is not None:  # an unknown name is bad input before the scenario is even read
        try:
            check_design(args.design)
        except UnknownDesign as exc:
            raise UnknownDesign(f"--design: {exc}") from None
    sut = load_sut(args.sut)
    overrides = parse_assignments(args.set, "--set", many=False)
    scenario = apply_overrides(load_scenario(args.scenario), overrides)
    scenario = scenario.with_overrides(seed=args.seed, days=args.days, design=args.design)
    with Progress(
        TextColumn("[bold]simulating[/bold] {task.description}"),
        BarColumn(),
        TextColumn("day {task.completed:.1f}/{task.total:.0f}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(scenario.name, total=scenario.days)

        def progress(done: float, total: float) -> None:
            bar.update(task, completed=done / 1440)

        result = run(
            scenario, progress=progress, keep_traffic=args.out is not None, integration=sut.factory, name=sut.name
        )
    # The run's millions of objects live until this command exits and make no cyclic garbage:
    # frozen, the cyclic collector stops rescanning them all through the summary and the writers
    # (a 3-day stress cut: summary 3.5 s -> 1.0 s, outputs 22 s -> 17 s).
    gc.freeze()
    phases = dict(result.phases)
    started = time.perf_counter()
    summary = build_summary(result)
    phases["summary"] = time.perf_counter() - started
    print_summary(summary, console, show_kpis=args.kpis)
    if args.calibration:
        print_calibration(summary["calibration"], console)
    if args.out is not None:
        started = time.perf_counter()
        columns = message_columns(result.view)  # the CSV and the Parquet table: pseudonyms worked out once
        write_outputs(result, summary, args.out, columns)
        label = {"scenario": scenario.name, "seed": scenario.seed, "days": scenario.days}
        label |= {"design": scenario.integration.design, "integration": sut.name, "overrides": overrides}
        tables = Run.of(result, label, result.wall_seconds, summary, columns)
        del columns
        tables.save(args.out)  # the tables as Parquet: twin report, pandas
        phases["write"] = time.perf_counter() - started
        console.print(f"wrote {args.out}/summary.json, messages/, fhir/, records/ (CSV and Parquet)")
    console.print(wall_time_line(phases), soft_wrap=True)
    return EXIT_IN_SYNC if result.in_sync else EXIT_OUT_OF_SYNC


def wall_time_line(phases: dict[str, float]) -> str:
    """'wall time 142.3 s: simulate 60.1 s, settle 2.0 s, judge 30.2 s, summary 10.0 s, write 40.0 s'."""
    parts = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in phases.items())
    return f"wall time {sum(phases.values()):.1f} s: {parts}"


def _compare(args: argparse.Namespace, console: Console) -> int:
    from twin.analysis.compare import DesignResult, compare, parse_designs, print_comparison
    from twin.suts import load_sut

    suts = [load_sut(spec) for spec in args.sut]
    designs = parse_designs(args.designs, allow_none=bool(suts))
    if args.replications != 1 or args.jobs is not None:
        from twin.analysis.cli import compare_replicated

        return compare_replicated(args, designs, console)
    scenario = load_scenario(args.scenario).with_overrides(seed=args.seed, days=args.days)
    status = Console(stderr=True)
    with Progress(
        TextColumn("[bold]simulating[/bold] {task.description}"),
        BarColumn(),
        TextColumn("day {task.completed:.1f}/{task.total:.0f}"),
        TimeElapsedColumn(),
        console=status,
        transient=True,
    ) as bar:
        tasks = {
            name: bar.add_task(f"{scenario.name} / {name}", total=scenario.days)
            for name in [*designs, *(sut.name for sut in suts)]
        }

        def progress(design: str, done: float, total: float) -> None:
            bar.update(tasks[design], completed=done / 1440)

        def done(result: DesignResult) -> None:
            bar.update(tasks[result.design], completed=scenario.days)
            status.print(f"{result.design}: simulated, settled and checked in {result.wall_seconds:.1f} s")

        comparison = compare(scenario, designs, suts=suts, progress=progress, done=done)
    print_comparison(comparison, console)
    if args.out is not None:
        written = comparison.write(args.out)
        console.print("wrote " + ", ".join(str(path) for path in written))
    return 0  # a comparison is not a verdict


def _bench(console: Console, save: bool = False) -> int:
    from rich.table import Table

    from twin.bench import run_bench
    from twin.bench_baseline import BASELINE_FILE, figures, load_baseline, rows, save_baseline

    console.print("measuring bare SimPy Store message passing, then the twin on scenarios/bench.yaml ...")
    result = run_bench()
    console.print(
        f"twin end to end: {result.twin_messages:,} HL7 messages, {result.hospitals} hospitals, "
        f"{result.simulated_days:g} simulated days in {result.twin_seconds:.1f} s (simulated, settled and judged)"
    )
    reader = _bench_reader(console)
    measured = figures(result, reader)
    baseline = load_baseline()
    title = "twin bench"
    if baseline is not None:
        title += f" beside release {baseline.get('release', '?')} (measured {baseline.get('measured', '?')})"
    table = Table(title=title)
    for column in ("figure", "now", "baseline", "change"):
        table.add_column(column, justify="left" if column == "figure" else "right")
    for row in rows(measured, baseline):
        table.add_row(*row)
    console.print(table)
    console.print("targets: ratio twin / SimPy >= 0.10 (goal 0.15); peak resident memory <= 0.9 GiB;")
    console.print("a month of 10 hospitals <= 60 s; ratio reader / hl7apy >= 100")
    if save:
        save_baseline(measured)
        console.print(f"wrote {BASELINE_FILE}")
    return 0


def _bench_live(console: Console) -> int:
    import asyncio

    from twin.live.bench import ENDPOINT_GOAL, LATENCY_GOAL, PIPELINE_GOAL, endpoint, pipeline

    console.print("measuring a bare uvicorn ASGI app, then a mock endpoint, under the same HTTP load ...")
    served = asyncio.run(endpoint())
    console.print(f"bare ASGI app:           {served.bare_rate:>10,.0f} requests/s")
    console.print(f"mock endpoint (GET /kpis):{served.mock_rate:>10,.0f} requests/s")
    console.print(f"ratio mock / bare:        {served.ratio:>10.2f}  (goal >= {ENDPOINT_GOAL:g})")
    console.print("measuring HL7 over MLLP -> the integration service's SQLite queue -> ERP postings ...")
    result = asyncio.run(pipeline())
    console.print(
        f"pipeline:                {result.rate:>10,.0f} messages/s sustained over {result.connections} MLLP "
        f"connections for {result.seconds:.0f} s ({result.acked:,} messages, {result.posted:,} posted)"
    )
    console.print(f"ACK latency p50 / p99:    {result.ack_p50 * 1000:>7.1f} / {result.ack_p99 * 1000:.1f} ms")
    console.print(
        f"send-to-posting p50 / p99:{result.post_p50 * 1000:>7.1f} / {result.post_p99 * 1000:.1f} ms"
        f"  (goal >= {PIPELINE_GOAL:,.0f} messages/s with p99 <= {LATENCY_GOAL * 1000:.0f} ms)"
    )
    return 0


def _bench_reader(console: Console) -> ReaderBench:
    from twin.bench import READER_GOAL, run_reader_bench

    console.print("measuring the integration's HL7 reader, then hl7apy, on the same sample of the EHR's messages ...")
    reader = run_reader_bench()
    console.print(
        f"HL7 reader:             {reader.reader_rate:>12,.0f} messages/s "
        f"({reader.messages:,} messages of {reader.types} types, {reader.rejected} rejected)"
    )
    console.print(f"hl7apy parse (strict):  {reader.hl7apy_rate:>12,.0f} messages/s")
    console.print(f"ratio reader / hl7apy:  {reader.ratio:>12,.0f}  (goal >= {READER_GOAL:.0f})")
    return reader


def _inspect(args: argparse.Namespace, console: Console, errors: Console) -> int:
    from twin.inspection import InputError, describe, inspect_file

    try:
        inspected = inspect_file(args.file, args.encoding)
    except InputError as exc:
        errors.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True, markup=True)
        return EXIT_BAD_INPUT
    rejected = sum(not item.accepted for item in inspected)
    try:
        for item in inspected:
            if args.json:
                console.file.write(json.dumps(item.document(args.file), ensure_ascii=False) + "\n")
            else:  # plain text: rich's markup and wrapping would only slow thousands of messages down
                console.file.write("\n".join(describe(item)) + "\n")
        (errors if args.json else console).print(
            f"{len(inspected)} message(s) in {args.file}: {len(inspected) - rejected} read, {rejected} rejected "
            "(the output shows identifiers from the file)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    except BrokenPipeError:  # piped into ``head``: the reader has seen enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 1 if rejected else 0  # as ``run``: 0 all good, 1 found wanting, 2 bad input


def _conform(args: argparse.Namespace, console: Console, errors: Console) -> int:
    from twin.conformance.console import print_closing, print_requirements, print_run, print_steps
    from twin.conformance.context import Simulate
    from twin.conformance.runner import ConformError, ConformOptions, run_conformance
    from twin.suts import load_sut, simulate

    if args.list_steps:
        print_steps(console)
        return 0
    if args.list_requirements:
        print_requirements(console)
        return 0
    try:
        tags = args.tags
        driver: Simulate = simulate
        if args.live:
            from twin.live.stack import live_conformance

            sut, driver = live_conformance(args.sut, args.speed, args.ingress or "", args.webhooks or "")
            tags = "live" if args.tags is None else f"live and ({args.tags})"
        else:
            if args.ingress or args.webhooks:
                raise UsageError("--ingress and --webhooks go with --live --sut external")
            sut = load_sut(args.sut)
        options = ConformOptions(sut, driver, args.features, tags, args.junit, args.json, args.html, args.slow)
        result = run_conformance(options)
    except (ConformError, SutError, UsageError) as exc:
        errors.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return EXIT_BAD_INPUT
    print_run(result, console)
    for path in (args.junit, args.json, args.html):
        if path is not None:
            console.print(f"wrote {path}", highlight=False)
    print_closing(result, console)
    return 0 if result.ok else 1  # as ``run``: 0 all good, 1 found wanting, 2 bad input


if __name__ == "__main__":
    sys.exit(main())
