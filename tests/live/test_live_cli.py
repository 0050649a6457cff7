"""The live mode from the command line: ``twin serve`` (its URLs, Ctrl-C, its verdict), ``twin check``
against a running stack, ``twin conform --live``, and the flag combinations that cannot work."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.live.census import half_census_scenario
from twin.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_conform_live_runs_the_live_scenarios_on_the_wall_clock(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["conform", "--live", "--speed", "2880", "--tags", "discharge-to-billing"])
    out = capsys.readouterr().out
    assert code == 0, out[-2000:]
    assert "4 pass, 0 fail" in out and "1 simulated runs, 3 reused" in out  # one live run, judged four ways


@pytest.mark.parametrize(
    "argv",
    [
        ["serve", "--sut", "external"],  # where is it?
        ["serve", "--ingress", "mllp://127.0.0.1:2575"],  # external flags without --sut external
        ["serve", "--speed", "0"],
        ["serve", "--sut", "no.such.module:factory"],
        ["conform", "--live", "--sut", "external"],
        ["conform", "--ingress", "mllp://127.0.0.1:2575"],
    ],
)
def test_live_flags_that_cannot_work_are_bad_input(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(argv)
    except SystemExit as exit:  # argparse refuses a bad value itself
        code = int(exit.code or 0)
    assert code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_serve_prints_its_urls_answers_twin_check_and_judges_on_ctrl_c(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
    scenario = half_census_scenario(tmp_path)  # its opening burst is a throughput test at 1440x
    serve = subprocess.Popen(
        [sys.executable, "-m", "twin.cli", "serve", "--scenario", str(scenario), "--days", "1", "--speed", "1440",
         "--workdir", str(tmp_path)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        control = ""
        lines = []
        deadline = time.monotonic() + 60
        assert serve.stderr is not None
        while not control and time.monotonic() < deadline:
            line = serve.stderr.readline()
            lines.append(line)
            found = re.search(r"control\s*│\s*(http://127\.0\.0\.1:\d+)", line)
            control = found.group(1) if found else ""
        banner = "".join(lines)
        assert control, banner
        assert "/fhir" in banner and "mllp://127.0.0.1:" in banner and "/metrics" in banner and "/docs" in banner
        time.sleep(8)  # some of the workload on the wall clock
        checked = subprocess.run(
            [sys.executable, "-m", "twin.cli", "check", control], cwd=ROOT, env=env, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        assert checked.returncode in (0, 1) and "Synchronization (at the cut)" in checked.stdout, checked.stderr
        serve.send_signal(signal.SIGINT)  # Ctrl-C: stop early, judge what was due
        out, err = serve.communicate(timeout=120)
    finally:
        if serve.poll() is None:
            serve.kill()
    assert serve.returncode == 0, err[-2000:]
    assert "Synchronization (at the cut)" in out and "pending, not judged" in out


def test_the_live_bench_measures_both_sides() -> None:
    import asyncio

    from twin.live.bench import endpoint, pipeline

    served = asyncio.run(endpoint(seconds=0.5, concurrency=4))
    assert served.mock_rate > 0 and served.bare_rate > 0  # both servers answered 200s under the same load
    result = asyncio.run(pipeline(seconds=1.0, connections=2))
    assert result.acked > 0 and result.posted == result.acked  # every measured message reached the ERP
    assert 0 < result.ack_p50 <= result.ack_p99 and 0 < result.post_p50 <= result.post_p99
