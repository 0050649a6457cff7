"""``twin serve`` and ``twin check``: the live stack from the command line.

``twin serve`` starts every mock system as a server, the integration service (or points the world at
someone else's integration with ``--sut external``), prints where everything listens, runs the
scenario on the wall clock and judges it when it is over - or when Ctrl-C stops it early (then what
was not due yet is pending). While it runs, ``twin check URL`` asks its control endpoint for the
judge's verdict on the run as it stands.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from twin.scenario import DEFAULT_SCENARIO, load_scenario

if TYPE_CHECKING:
    from twin.live.stack import LiveOptions, LiveStack

EXTERNAL = "external"  # --sut: someone else's integration, at --ingress and --webhooks


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser], sut_help: str,
                number: Any, days: Any) -> None:  # fmt: skip
    """The ``serve`` and ``check`` subcommands (``number``/``days``: the CLI's argument types)."""
    serve = commands.add_parser(
        "serve",
        help="run the twin on the wall clock: mock systems as HTTP servers, HL7 over MLLP, the integration service",
        description="Start every mock system (FastAPI on loopback, OpenAPI at /docs), the integration service "
        "(MLLP listener, SQLite queues, admin API, /metrics) and the world on the wall clock; print the URLs; run "
        "the scenario (its workload, then a settle grace) and judge it as twin run does. Ctrl-C stops early and "
        "judges what was due. Exit 0 in sync, 1 out of sync, 2 bad input.",
    )
    serve.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO, help="scenario YAML (default: %(default)s)")
    serve.add_argument("--seed", type=number, help="override the scenario's seed")
    serve.add_argument("--days", type=days, help="override the simulated days of workload")
    serve.add_argument("--speed", type=_speed, default=60.0,
                       help="simulated seconds per wall second (default: %(default)s: an hour a minute)")  # fmt: skip
    serve.add_argument("--settle-speed", type=_speed, help="the speed once the workload is over (default: --speed)")
    serve.add_argument("--jitter", type=_seconds, default=1.0, metavar="SECONDS",
                       help="wall seconds the judge forgives on each allowed lag (default %(default)s)")  # fmt: skip
    serve.add_argument("--load", action="store_true",
                       help="hand the HL7 feed to a load generator (twin load --target CONTROL_URL)")  # fmt: skip
    serve.add_argument("--no-warp", action="store_true",
                       help="never jump the clock over idle time (by default it does, with our service)")  # fmt: skip
    external = "; or 'external': someone else's integration at --ingress and --webhooks"
    serve.add_argument("--sut", default="reference", metavar="SPEC", help=sut_help + external)
    serve.add_argument("--ingress", metavar="mllp://HOST:PORT", help="external: where the integration takes HL7")
    serve.add_argument(
        "--webhooks", metavar="URL",
        help="external: the integration's HTTP API (webhooks, master data, exceptions, dead letters)",
    )  # fmt: skip
    serve.add_argument("--host", default="127.0.0.1", metavar="ADDRESS",
                       help="the address every server binds and is reached at (default: loopback)")  # fmt: skip
    serve.add_argument("--port-base", type=int, metavar="PORT",
                       help="serve the mock systems on PORT and the next ports (default: free ports)")  # fmt: skip
    serve.add_argument("--client-id", default="twin-integration", help="the integration's OAuth2 client id")
    serve.add_argument("--client-secret", help="... and its secret (default: a new one, printed)")
    serve.add_argument("--workdir", type=Path, help="the service's SQLite file, config and log (default: a temp dir)")
    serve.add_argument("--out", type=Path, help="write summary.json, messages/, fhir/ and records/ here")
    check = commands.add_parser(
        "check",
        help="ask a running twin serve for the judge's verdict now",
        description="Judge the live run a twin serve is running, as it stands (what is not due yet is pending). "
        "The stack pauses while the judge reads it. Exit 0 in sync, 1 out of sync, 2 no such run.",
    )
    check.add_argument("url", help="the control URL twin serve printed (http://127.0.0.1:PORT)")


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected simulated seconds per wall second, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a speed > 0, got {value:g}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected wall seconds, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected seconds >= 0, got {value:g}")
    return value


def options_of(args: argparse.Namespace) -> LiveOptions:
    from twin.cli import UsageError
    from twin.live.stack import LiveOptions

    external = args.sut == EXTERNAL
    if external and not (args.ingress and args.webhooks):
        raise UsageError("--sut external needs --ingress mllp://HOST:PORT and --webhooks URL (the integration's API)")
    if not external and (args.ingress or args.webhooks):
        raise UsageError("--ingress and --webhooks name someone else's integration: use them with --sut external")
    return LiveOptions(
        speed=args.speed,
        sut=args.sut,
        ingress=args.ingress or "",
        api=args.webhooks or "",
        workdir=args.workdir,
        keep_traffic=args.out is not None,
        warp=not (args.no_warp or args.load),  # under load the wall clock is the load's: no jumps
        feed=args.load,
        settle_speed=args.settle_speed,
        port_base=args.port_base,
        host=args.host,
        client_id=args.client_id,
        client_secret=args.client_secret,
        jitter_seconds=args.jitter,
    )


def serve(args: argparse.Namespace, console: Console) -> int:
    """``twin serve``: run the live stack and judge it (see the module docstring)."""
    from twin.live.service.logs import configure_logging
    from twin.live.stack import run_live
    from twin.observe.report import build_summary, print_summary, write_outputs
    from twin.suts import load_sut

    configure_logging()  # the world's own warnings as JSON lines on stderr, identifiers masked
    options = options_of(args)
    if options.sut != EXTERNAL:
        load_sut(options.sut)  # a bad --sut is bad input here, not in the service's log
    scenario = load_scenario(args.scenario).with_overrides(seed=args.seed, days=args.days)
    status = Console(stderr=True)

    async def main() -> Any:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)

        def announce(stack: LiveStack) -> None:
            print_urls(stack, status)
            status.print(f"running {scenario.name} at {options.speed:g}x; Ctrl-C stops early and judges what was due")

        return await run_live(scenario, options, stop=stop, announce=announce)

    import uvloop

    result = uvloop.run(main())
    summary = build_summary(result)
    print_summary(summary, console, result.wall_seconds)
    if args.out is not None:
        write_outputs(result, summary, args.out)
        console.print(f"wrote {args.out}/summary.json, messages/, fhir/, records/")
    return 0 if result.in_sync else 1


def print_urls(stack: LiveStack, console: Console) -> None:
    """Where everything of a live stack listens."""
    table = Table(title="the live stack", show_header=True)
    table.add_column("what")
    table.add_column("where")
    for system, url in stack.urls.items():
        table.add_row(f"{system} API", f"{url}  (OpenAPI: {url}/docs)")
    ehr = stack.urls.get("ehr")
    if ehr:
        table.add_row("EHR FHIR R4 base", f"{ehr}/fhir  (CapabilityStatement: {ehr}/fhir/metadata)")
    table.add_row("integration MLLP", f"mllp://{stack.ingress.mllp_host}:{stack.ingress.mllp_port}")
    table.add_row("integration API", f"{stack.ingress.api}  (/dead-letters, /exceptions, /health, /docs)")
    table.add_row("integration metrics", f"{stack.ingress.api}/metrics")
    world = stack.world
    table.add_row("OAuth2 client (token URL: each API's /oauth/token)", f"{world.client_id} / {world.client_secret}")
    if stack.control:
        table.add_row("control", f"{stack.control}  (twin check {stack.control}; the run's clock: /clock)")
    console.print(table)


def check(args: argparse.Namespace, console: Console, errors: Console) -> int:
    """``twin check URL``: the judge's verdict on a running live stack."""
    import httpx

    from twin.observe.report import print_summary

    try:
        answer = httpx.get(args.url.rstrip("/") + "/check", timeout=120.0)
        answer.raise_for_status()
        summary = answer.json()
    except (httpx.HTTPError, json.JSONDecodeError) as error:
        errors.print(f"error: no twin serve answers at {args.url}: {error}")
        return 2
    print_summary(summary, console)
    return 0 if summary.get("in_sync") else 1
