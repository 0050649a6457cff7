"""``twin load``: Locust against the live stack, its SLO verdict, and the judge after the load.

Each test runs a short real load (Locust as its own processes, the stack on loopback): the steady
profile passes with nothing lost or duplicated; distributed over two workers it reports the same
kinds of statistics; a latency fault above a p95 limit fails that SLO by name; an integration that
drops one message in a hundred fails the sync check.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from twin.cli import main

SECONDS = "10s"
ROOT = Path(__file__).resolve().parents[2]


def _load(out: Path, *args: str) -> tuple[int, dict]:
    code = main(["load", "--duration", SECONDS, "--out", str(out), *args])
    verdict = json.loads((out / "verdict.json").read_text(encoding="utf-8"))
    return code, verdict


def _kinds(out: Path) -> set[str]:
    with (out / "locust_stats.csv").open(encoding="utf-8", newline="") as handle:
        return {row["Type"] for row in csv.DictReader(handle) if row["Name"] != "Aggregated"}


def _check(verdict: dict, slo: str) -> dict:
    return next(check for check in verdict["checks"] if check["slo"] == slo)


def _sync_failures(out: Path) -> dict[str, object]:
    """What the judge found beside lateness, flow by flow, with the records it lists: a failing
    assertion then names the flow and the records (a rare one in CI cannot be rerun to ask)."""
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    counts = {
        name: {kind: n for kind, n in flow["differences"].items() if n and kind != "stale"}
        for name, flow in summary["flows"].items()
    }
    listed = [row for row in summary["differences"] if row["class"] != "stale"]
    return {"counts": {name: kinds for name, kinds in counts.items() if kinds}, "listed": listed}


@pytest.fixture(scope="module")
def steady(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict, Path]:
    out = tmp_path_factory.mktemp("steady")
    code, verdict = _load(out, "--profile", "steady")
    return code, verdict, out


def test_a_steady_load_passes_its_slos_and_the_judge(steady: tuple[int, dict, Path],
                                                      capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    code, verdict, out = steady
    assert code == 0, verdict["failed"]
    assert verdict["passed"] and _check(verdict, "sync: lost")["measured"] == 0
    assert _check(verdict, "sync: duplicated")["measured"] == 0
    assert _check(verdict, "HL7 feed carried over MLLP")["measured"] > 50
    assert verdict["feed"]["answered"] > 50  # Locust's MLLP users carried the world's messages
    for name in ("locust_stats.csv", "locust_stats_history.csv", "locust.html", "latency.png", "throughput.png",
                 "summary.json"):  # fmt: skip
        assert (out / name).stat().st_size > 0, name
    assert {"MLLP", "GET", "POST"} <= _kinds(out)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    differences = [flow["differences"] for flow in summary["flows"].values()]
    assert all(found["lost"] == 0 and found["duplicated"] == 0 for found in differences)


def test_distributed_over_two_workers_reports_the_same_kinds_of_stats(steady: tuple[int, dict, Path],
                                                                     tmp_path: Path) -> None:  # fmt: skip
    code, verdict = _load(tmp_path, "--profile", "steady", "--workers", "2")
    # Nothing lost or duplicated, but the latency SLOs are not this test's: a master, two workers and
    # the stack share two cores, and on a slow shared machine the opening census's usage took more
    # than the steady profile's 10 s to post (its e2e p95 failed there; the single-worker test holds it)
    assert code in (0, 1) and not [slo for slo in verdict["failed"] if slo.startswith("sync")], verdict["failed"]
    assert _check(verdict, "sync: lost")["measured"] == 0 and _check(verdict, "sync: duplicated")["measured"] == 0
    assert verdict["workers"] == 2
    single, distributed = steady[2], tmp_path
    assert _kinds(distributed) == _kinds(single)
    mllp = {row["key"] for row in verdict["requests"] if row["kind"] == "MLLP"}
    assert {"MLLP ADT^A01", "MLLP DFT^P03"} <= mllp


def test_a_latency_fault_above_the_p95_limit_fails_that_slo(tmp_path: Path) -> None:
    scenario = tmp_path / "slow-ehr.yaml"
    default = Path("scenarios/default.yaml").read_text(encoding="utf-8")
    # 100 simulated seconds on every request to the EHR: 139 ms of wall time at 720x
    scenario.write_text(default + "\nfaults:\n  - {kind: latency, system: ehr, distribution: fixed, ms: 100000}\n",
                        encoding="utf-8")  # fmt: skip
    profiles = tmp_path / "profiles.toml"
    profiles.write_text(
        f"""[slow-ehr]
locustfile = "steady.py"
scenario = "{scenario}"
speed = 720
users = 4
feed_users = 3
[slow-ehr.slo]
p95_ms = {{"GET FHIR Encounter/[id]" = 60}}
""",
        encoding="utf-8",
    )
    code, verdict = _load(tmp_path / "out", "--profile", "slow-ehr", "--profiles", str(profiles))
    assert code == 1
    assert "p95 GET FHIR Encounter/[id]" in verdict["failed"]
    assert _check(verdict, "p95 GET FHIR Encounter/[id]")["measured"] > 100
    # slow, but nothing lost
    assert not any(slo.startswith("sync") for slo in verdict["failed"]), _sync_failures(tmp_path / "out")


def test_an_integration_that_drops_one_message_in_a_hundred_fails_the_sync_check(tmp_path: Path) -> None:
    # no bill hold: bills fall due (and a dropped charge shows) inside the day the load's window spans
    scenario = tmp_path / "no-hold.yaml"
    data = yaml.safe_load((ROOT / "scenarios" / "default.yaml").read_text(encoding="utf-8"))
    data["billing"]["bill_hold_hours"] = 0
    scenario.write_text(yaml.safe_dump(data), encoding="utf-8")
    args = ["--profile", "steady", "--scenario", str(scenario), "--sut", "tests.broken:drops_one_message_in_a_hundred"]
    code, verdict = _load(tmp_path, *args)
    assert code == 1
    assert "sync: lost" in verdict["failed"] or "sync: wrong_value" in verdict["failed"], verdict["failed"]
    assert _check(verdict, "failure ratio")["passed"]  # every message was ACKed AA: only the judge can tell


def test_bad_flags_are_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["load", "--profile", "no-such", "--out", str(tmp_path)]) == 2
    assert "no profile 'no-such'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["load", "--duration", "soon"])
    assert exited.value.code == 2


def test_a_stack_twin_serve_runs_is_loaded_and_judged_through_its_control_url(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
    serve = subprocess.Popen(
        [sys.executable, "-m", "twin.cli", "serve", "--load", "--days", "0.25", "--speed", "720",
         "--workdir", str(tmp_path / "service")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        control, deadline = "", time.monotonic() + 60
        assert serve.stderr is not None
        while not control and time.monotonic() < deadline:
            found = re.search(r"control\s*│\s*(http://127\.0\.0\.1:\d+)", serve.stderr.readline())
            control = found.group(1) if found else ""
        assert control
        code, verdict = _load(tmp_path / "out", "--profile", "steady", "--target", control)
        assert verdict["target"] == control and verdict["feed"]["answered"] > 20
        assert code == 0, verdict["failed"]
        summary = json.loads((tmp_path / "out" / "summary.json").read_text())
        # The stack's final verdict, judged: nothing lost, wrong, posted twice or invented. Not its
        # timeliness: at 720x on a slow shared machine the opening census's usage landed stale in CI
        # (tests/live/census.py); the verdict on it is the exit code's, below
        broken = {(name, kind): n for name, flow in summary["flows"].items() for kind, n in flow["differences"].items()
                  if kind != "stale" and n}  # fmt: skip
        assert summary["judged"] and not broken, (broken, summary["differences"][:5])
        assert summary.get("cut_at_minute", 1e9) > 0.25 * 1440  # the run's final verdict, past its workload
        assert serve.wait(timeout=120) == (0 if summary["in_sync"] else 1)  # the stack ended its run itself
    finally:
        serve.send_signal(signal.SIGINT)
        try:
            serve.communicate(timeout=120)
        finally:
            if serve.poll() is None:
                serve.kill()
