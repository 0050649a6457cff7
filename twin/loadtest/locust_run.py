"""Locust as its own processes: one headless runner, or a master and K workers, or the web UI.

The command lines are Locust's own (``-f``, ``--headless``, ``-u``, ``-r``, ``-t``, ``--csv``,
``--html``, ``--master``/``--worker``), so what ``twin load`` runs a user can run by hand; the
profile's mix and pace reach the locustfiles through the environment (``Profile.environment``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

from twin.loadtest.profiles import LOAD_DIR, Profile

STOP_TIMEOUT = 5  # seconds Locust lets a task finish when the run time is over


@dataclass(slots=True)
class LocustRun:
    """What one load needs of Locust, and where its outputs go."""

    profile: Profile
    host: str  # the live stack's control URL: the users find everything else there
    out: Path
    users: int
    duration: float
    workers: int = 0
    ui: bool = False
    census: Path | None = None
    logs: list[Path] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)  # Locust's processes while they run (the watch reads them)

    @property
    def csv_prefix(self) -> Path:
        return self.out / "locust"

    def common(self) -> list[str]:
        args = ["-f", str(self.profile.locustfile), "--host", self.host]
        if self.census is not None:
            args += ["--census", str(self.census)]
        return args

    def runner_args(self, web_port: int) -> list[str]:
        """The headless runner's (or the master's) arguments."""
        args = [
            *self.common(),
            "-u", str(self.users), "-r", f"{max(self.profile.spawn_rate, 1):g}", "-t", f"{self.duration:g}s",
            "--csv", str(self.csv_prefix), "--csv-full-history", "--html", str(self.out / "locust.html"),
            "--stop-timeout", str(STOP_TIMEOUT), "--loglevel", "WARNING", "--exit-code-on-error", "0",
        ]  # fmt: skip
        if self.ui:
            args += ["--web-host", "127.0.0.1", "--web-port", str(web_port), "--autostart", "--autoquit", "30"]
        else:
            args += ["--headless", "--only-summary"]
        return args

    def environment(self) -> dict[str, str]:
        return {**os.environ, **self.profile.environment(), "PYTHONUNBUFFERED": "1"}


def _locust() -> list[str]:
    return [sys.executable, "-m", "locust"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def run_locust(run: LocustRun, announce: object = None) -> int:
    """Run Locust to the end of the run time; returns the runner's (master's) exit code."""
    run.out.mkdir(parents=True, exist_ok=True)
    web_port = free_port()
    processes: list[asyncio.subprocess.Process] = []

    async def start(name: str, args: list[str]) -> asyncio.subprocess.Process:
        log_path = run.out / f"locust-{name}.log"
        run.logs.append(log_path)
        with log_path.open("ab") as log:
            process = await asyncio.create_subprocess_exec(
                *_locust(), *args, cwd=str(LOAD_DIR), env=run.environment(), stdout=log, stderr=log
            )
        processes.append(process)
        run.pids.append(process.pid)
        return process

    try:
        if run.workers:
            master_port = free_port()
            master = await start("master", [
                *run.runner_args(web_port), "--master", "--master-bind-host", "127.0.0.1",
                "--master-bind-port", str(master_port), "--expect-workers", str(run.workers),
                "--expect-workers-max-wait", "60",
            ])  # fmt: skip
            for index in range(run.workers):
                await start(f"worker-{index + 1}", [
                    *run.common(), "--worker", "--master-host", "127.0.0.1", "--master-port", str(master_port),
                    "--loglevel", "WARNING",
                ])  # fmt: skip
        else:
            master = await start("runner", run.runner_args(web_port))
        if run.ui and callable(announce):
            announce(f"http://127.0.0.1:{web_port}")
        code = await master.wait()
        for process in processes[1:]:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 15)
        return code
    finally:
        for process in processes:
            if process.returncode is None:
                process.terminate()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(process.wait(), 10)
                if process.returncode is None:
                    process.kill()
