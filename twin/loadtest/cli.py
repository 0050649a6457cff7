"""``twin load``: a Locust profile against the live stack, then its SLOs and the judge.

``twin load --profile P`` starts the live stack (``twin.live.stack``) with the HL7 feed handed to
Locust (``twin.live.feed``), runs Locust headless as its own processes for the profile's duration (or
``--workers K``: a master and K workers; or ``--ui``: Locust's web UI, started for you), closes the
feed so the integration drains, judges the run as ``twin run`` does, and evaluates the profile's SLOs
(``twin.loadtest.verdict``). ``--target URL`` loads a stack someone started with ``twin serve --load``
instead; after the load the stack runs the rest of its workload at the integration's pace (the clock
jumps over idle time), settles, and hands over its final verdict (``--as-it-stands``: the judge on
the run as it stands, with what is not due yet pending). Exit 0: every SLO and the sync check passed; 1: one
failed; 2: bad input.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from twin.loadtest.locust_run import LocustRun, run_locust
from twin.loadtest.profiles import PROFILES_FILE, Profile, ProfileError, duration_seconds, load_profile
from twin.loadtest.verdict import Check, evaluate, read_stats, twin_kept_up, verdict_json, write_verdict
from twin.loadtest.watch import Watch

DAY_SECONDS = 86400


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser], sut_help: str) -> None:
    load = commands.add_parser(
        "load",
        help="run a Locust load profile against the live stack, check its SLOs, then synchronization",
        description=__doc__.split("\n\n", 1)[1],
    )
    load.add_argument("--profile", default="steady", help="a profile of load/profiles.toml (default: %(default)s)")
    load.add_argument("--profiles", type=Path, default=PROFILES_FILE, help="the profiles file (default: %(default)s)")
    load.add_argument("--scale", type=_positive, default=1.0,
                      help="multiply the world's speed (the HL7 feed's rate) and the HTTP users")  # fmt: skip
    load.add_argument("--duration", type=_duration, help="Locust's run time, e.g. 30s, 2m (default: the profile's)")
    load.add_argument("--users", type=_whole, help="HTTP users at the baseline (default: the profile's)")
    load.add_argument("--workers", type=_whole, default=0, help="run Locust distributed: a master and K workers")
    load.add_argument("--target", metavar="URL",
                      help="load a stack twin serve --load runs (its control URL) instead of starting one")  # fmt: skip
    load.add_argument("--as-it-stands", action="store_true",
                      help="--target: judge the stack's run as it stands after the load (what is not due yet "
                           "is pending) instead of hurrying it to its end and taking its final verdict")  # fmt: skip
    load.add_argument("--wait", type=_positive, default=1800.0, metavar="SECONDS",
                      help="--target: how long to wait for the stack's run to end (default: %(default)g)")  # fmt: skip
    load.add_argument("--scenario", type=Path, help="the world's scenario (default: the profile's)")
    load.add_argument("--seed", type=int, help="override the scenario's seed")
    load.add_argument("--sut", default="reference", metavar="SPEC", help=sut_help)
    load.add_argument("--out", type=Path, help="Locust's CSV and HTML, verdict.json, plots, the run's summary.json")
    load.add_argument("--ui", action="store_true", help="open Locust's web UI (started for you) instead of headless")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def _whole(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return int(text)


def _duration(text: str) -> float:
    try:
        return duration_seconds(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def load(args: argparse.Namespace, console: Console) -> int:
    """``twin load`` (see the module docstring)."""
    from twin.cli import UsageError

    try:
        profile = load_profile(args.profile, args.profiles)
    except ProfileError as error:
        raise UsageError(str(error)) from None
    out: Path = args.out or Path(tempfile.mkdtemp(prefix=f"twin-load-{profile.name}-"))
    out.mkdir(parents=True, exist_ok=True)
    duration = args.duration or profile.duration
    users = max(1, math.ceil((args.users or profile.users) * args.scale))
    speed = profile.speed * args.scale
    status = Console(stderr=True)
    started = time.perf_counter()
    if args.target:
        summary, speed, extra = _against_target(args, profile, out, users, duration, status)
    else:
        summary, extra = _against_own_stack(args, profile, out, users, duration, speed, status)
    stats = read_stats(out / "locust_stats.csv")
    checks = evaluate(profile, stats, summary, speed)
    kept_up = twin_kept_up(extra.get("resources") or {})
    if kept_up is not None:
        checks.append(kept_up)
    verdict = verdict_json(profile, checks, stats, {
        **extra, "speed": speed, "users": users, "duration_seconds": duration, "workers": args.workers,
        "wall_seconds": round(time.perf_counter() - started, 1),
    })  # fmt: skip
    write_verdict(out / "verdict.json", verdict)
    from twin.loadtest.plots import plot_history

    history = out / "locust_stats_history.csv"
    plots = plot_history(history, out) if history.is_file() else []
    print_verdict(profile, checks, console)
    if verdict.get("resources"):
        print_resources(verdict["resources"], console)
    console.print(f"wrote {out}/: locust_stats.csv, locust.html, verdict.json, summary.json"
                  + "".join(f", {p.name}" for p in plots))  # fmt: skip
    return 0 if verdict["passed"] else 1


def _against_own_stack(args: argparse.Namespace, profile: Profile, out: Path, users: int, duration: float,
                       speed: float, status: Console) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
    from twin.cli import UsageError
    from twin.live.stack import LiveOptions, LiveStack, run_live
    from twin.loadtest.census import write_census
    from twin.observe.report import build_summary, write_outputs
    from twin.scenario import load_scenario
    from twin.suts import load_sut

    load_sut(args.sut)  # a bad --sut is bad input here, not in the service's log
    scenario = load_scenario(args.scenario or profile.scenario)
    scenario = scenario.with_overrides(seed=args.seed, days=duration * speed / DAY_SECONDS)
    census = write_census(scenario, out / "census.json") if profile.locustfile.stem == "census" else None
    options = LiveOptions(speed=speed, sut=args.sut, feed=True, warp=False, workdir=out / "service",
                          settle_speed=speed * 8)  # fmt: skip
    feed: dict[str, Any] = {}
    codes: list[int] = []
    resources: dict[str, Any] = {}

    async def during(stack: LiveStack) -> None:
        await asyncio.sleep(max(0.0, stack.world.live.epoch - time.time()))
        status.print(f"load {profile.name}: {users} users for {duration:g} s at {speed:g}x, "
                     f"Locust {'with ' + str(args.workers) + ' workers' if args.workers else 'headless'}")  # fmt: skip
        run = LocustRun(profile, stack.control, out, users, duration, args.workers, args.ui, census)
        service = stack.service.process.pid if stack.service is not None and stack.service.process else None
        watch = Watch(
            lambda: {
                "twin (world + mock servers)": [os.getpid()],
                "integration service": [service] if service else [],
                "locust (busiest process)": list(run.pids),
            },
            f"{stack.ingress.api}/metrics",
        )
        stop = asyncio.Event()
        watching = asyncio.get_running_loop().create_task(watch.run(stop))
        try:
            codes.append(await run_locust(run, lambda url: status.print(f"Locust's web UI: {url}")))
        finally:
            stop.set()
            await watching
        resources.update(watch.report())
        assert stack.world.feed is not None
        stack.world.feed.close()  # the channels send what is left themselves: the integration drains
        stack.world.hurry()  # and the world jumps over idle time to settle
        feed.update(stack.world.feed.counts)
        status.print("load over: the integration drains, then the judge")

    import uvloop

    try:
        result = uvloop.run(run_live(scenario, options, during=during))
    except ValueError as error:
        raise UsageError(str(error)) from None
    if codes and codes[0] not in (0, 1):
        raise UsageError(f"Locust failed (exit {codes[0]}): see {out}/locust-*.log")
    summary = build_summary(result)
    write_outputs(result, summary, out)
    extra = {"feed": feed, "locust_exit": codes[0] if codes else None, "scenario": scenario.name}
    return summary, extra | {"resources": resources}


def _against_target(args: argparse.Namespace, profile: Profile, out: Path, users: int, duration: float,
                    status: Console) -> tuple[dict[str, Any], float, dict[str, Any]]:  # fmt: skip
    from twin.cli import UsageError

    control = args.target.rstrip("/")
    try:
        found = httpx.get(f"{control}/load/targets", timeout=10).json()
    except (httpx.HTTPError, ValueError) as error:
        raise UsageError(f"--target {control}: no twin serve --load answers there ({error})") from None
    speed = float(found["clock"]["speed"])
    status.print(f"load {profile.name} against {control}: {users} users for {duration:g} s")
    run = LocustRun(profile, control, out, users, duration, args.workers, args.ui)
    code = asyncio.run(run_locust(run, lambda url: status.print(f"Locust's web UI: {url}")))
    if code not in (0, 1):
        raise UsageError(f"Locust failed (exit {code}): see {out}/locust-*.log")
    httpx.post(f"{control}/feed/close", timeout=10).raise_for_status()  # the channels send what is left
    if args.as_it_stands:
        answer = httpx.get(f"{control}/check", timeout=300)
    else:
        hurried = httpx.post(f"{control}/hurry", timeout=10)
        hurried.raise_for_status()
        left = hurried.json()
        status.print(f"load over: the stack runs the rest of its workload at the integration's pace "
                     f"(minute {left['now_minute']:,.0f} of {left['workload_minutes']:,.0f}), settles, "
                     "and is judged")  # fmt: skip
        try:
            answer = httpx.get(f"{control}/check", params={"final": "true"}, timeout=args.wait)
        except httpx.TimeoutException:
            raise UsageError(f"--target {control}: its run did not end within --wait {args.wait:g} s "
                             "(--as-it-stands judges it as it stands)") from None  # fmt: skip
    answer.raise_for_status()
    summary = answer.json()
    (out / "summary.json").write_text(answer.text, encoding="utf-8")
    feed = httpx.get(f"{control}/feed/stats", timeout=10).json()
    return summary, speed, {"feed": feed, "locust_exit": code, "target": control}


def print_verdict(profile: Profile, checks: list[Check], console: Console) -> None:
    """The verdict table: every check, except that the passing latency checks of request names
    under the profile's ``*`` limit fold into one row per percentile (verdict.json has them all)."""
    table = Table(title=f"load profile {profile.name}: SLOs and synchronization")
    for column in ("SLO", "measured", "limit", "verdict"):
        table.add_column(column, justify="left" if column == "SLO" else "right")
    folded: dict[str, list[Check]] = {}
    for check in checks:
        percentile, _, name = check.slo.partition(" ")
        generic = percentile in ("p95", "p99") and check.limit == profile.slo.threshold(percentile, "\0")
        if check.passed and generic and name not in (profile.slo.p95_ms | profile.slo.p99_ms):
            folded.setdefault(percentile, []).append(check)
            continue
        _row(table, check)
    for percentile, group in folded.items():
        worst = max(group, key=lambda c: c.measured or 0.0)
        _row(table, Check(f"{percentile} of {len(group)} other request names (worst: {worst.slo.split(' ', 1)[1]})",
                          worst.measured, worst.limit, "ms", True))  # fmt: skip
    console.print(table)
    failed = [check.slo for check in checks if not check.passed]
    console.print("[green]every SLO held, and the targets are in sync[/green]" if not failed
                  else f"[red]failed:[/red] {escape('; '.join(failed))}")  # fmt: skip


def print_resources(resources: dict[str, Any], console: Console) -> None:
    """What the load used: CPU per process, the world's loop, the service's queue, and what ran out first."""
    table = Table(title="resources during the load")
    for column in ("resource", "mean", "p95", "max"):
        table.add_column(column, justify="left" if column == "resource" else "right")

    def row(name: str, figures: dict[str, float | None], unit: str, scale: float = 1.0) -> None:
        cells = ["-" if figures.get(k) is None else f"{figures[k] * scale:,.1f}{unit}" for k in ("mean", "p95", "max")]  # type: ignore[operator]
        table.add_row(name, *cells)

    for name, figures in resources["cpu_percent_of_a_core"].items():
        row(f"CPU: {name}", figures, "%")
    row("world's event loop lag", resources["world_loop_lag_seconds"], " ms", 1000)
    row("integration outbox depth", resources["service_outbox_depth"], "")
    console.print(table)
    ack = resources.get("service_ack_latency_p95_seconds")
    if ack is not None:
        console.print(f"integration ACK latency p95 (read to ACK, SQLite commit included): <= {ack * 1000:g} ms")
    console.print(f"first at its ceiling: {escape(resources['first_at_its_ceiling'])}")


def _row(table: Table, check: Check) -> None:
    measured = "-" if check.measured is None else f"{check.measured:,.4g} {check.unit}".strip()
    limit = "-" if check.limit is None else f"{check.limit:,.4g} {check.unit}".strip()
    verdict = "[green]pass[/green]" if check.passed else "[red]FAIL[/red]"
    table.add_row(escape(check.slo + (f"  ({check.note})" if check.note else "")), measured, limit, verdict)
