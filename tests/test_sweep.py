"""Sweeps: the same table on local processes and on a Dask cluster, confidence intervals, the CLI, twin report."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from concurrent.futures import Executor, Future
from pathlib import Path

import pandas as pd
import pytest

import twin
from tests.conftest import small_scenario
from twin.analysis.sweep import Sweep, _interval, plan
from twin.cli import main

GRID = {"revenue_cycle.documentation_hours.median": [12, 96]}
DESIGNS = ["event-driven", "point-to-point-batch"]


def _sweep(executor: object, cache: object = False, replications: int = 2) -> Sweep:
    return twin.sweep(
        small_scenario(days=1),
        GRID,
        designs=DESIGNS,
        replications=replications,
        executor=executor,
        cache=cache,
        progress=False,
    )


def test_this_process_and_a_dask_client_give_identical_tables() -> None:
    """(Local processes against a Dask cluster by address: the command line's test below.)"""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        on_dask = _sweep(client)
    here = _sweep(1)
    pd.testing.assert_frame_equal(here.table, on_dask.table)
    table = here.table
    assert len(table) == 2 * 2 * 2
    assert list(table.columns[:4]) == ["design", "revenue_cycle.documentation_hours.median", "replication", "seed"]
    # every design and grid point saw the same two seeds (paired), and the knob moved the figure
    assert set(table.groupby(["design", "revenue_cycle.documentation_hours.median"])["seed"].apply(tuple)) == {
        (table["seed"].min(), table["seed"].min() + 1)
    }
    by_delay = table.groupby("revenue_cycle.documentation_hours.median")["days_to_bill_mean"].mean()
    assert by_delay[96] > by_delay[12]


def test_the_cache_serves_a_repeated_sweep(tmp_path: Path) -> None:
    first = _sweep(1, cache=tmp_path, replications=1)
    assert len(list((tmp_path / "metrics").glob("*.json"))) == 4
    again = _sweep(1, cache=tmp_path, replications=1)
    pd.testing.assert_frame_equal(first.table, again.table)
    assert sum(again.wall_seconds) == 0.0  # nothing simulated


def test_the_interval_is_students_t_and_needs_two_runs() -> None:
    values = pd.Series([1.0, 2.0, 3.0, 4.0])
    interval = _interval(values)
    half = 3.182446305284263 * values.std(ddof=1) / 2  # t(0.975, 3) * s / sqrt(4)
    assert interval["n"] == 4 and interval["mean"] == 2.5
    assert interval["ci95_low"] == pytest.approx(2.5 - half) and interval["ci95_high"] == pytest.approx(2.5 + half)
    one = _interval(pd.Series([5.0]))
    assert one["mean"] == 5.0 and math.isnan(one["ci95_low"])


def _planted(offsets: list[float]) -> Sweep:
    """Two designs over four paired seeds: b = a + offset per seed."""
    rows = []
    for replication, offset in enumerate(offsets):
        base = 1.0 + replication  # seeds differ a lot: only pairing sees the offset
        rows.append({"design": "a", "replication": replication, "seed": replication, "days": base + offset})
        rows.append({"design": "b", "replication": replication, "seed": replication, "days": base})
    return Sweep("planted", [], pd.DataFrame(rows))


def test_a_paired_difference_larger_than_its_interval_is_told_apart_from_noise() -> None:
    clear = _planted([0.5, 0.52, 0.49, 0.51]).difference("days", "a", "b").iloc[0]
    assert clear["mean"] == pytest.approx(0.505) and clear["excludes_zero"]
    assert clear["ci95_low"] > 0
    noise = _planted([0.5, -0.5, 0.4, -0.45]).difference("days", "a", "b").iloc[0]
    assert not noise["excludes_zero"] and noise["ci95_low"] < 0 < noise["ci95_high"]
    with pytest.raises(KeyError, match="no metric 'nope'"):
        _planted([0.1]).difference("nope", "a", "b")
    with pytest.raises(KeyError, match="must both be in the sweep"):
        _planted([0.1]).difference("days", "a", "c")


def test_a_grid_point_is_validated_before_anything_runs() -> None:
    with pytest.raises(twin.api.ScenarioError, match=r"workload.transfer_share=7"):
        plan(small_scenario(), grid={"workload.transfer_share": [0.1, 7]})
    with pytest.raises(twin.api.ScenarioError, match="needs a list of values"):
        plan(small_scenario(), grid={"workload.transfer_share": 0.1})  # type: ignore[dict-item]


# -- the command line ----------------------------------------------------------------------------
def _scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    data = json.loads(small_scenario(days=1).model_dump_json())
    path.write_text(json.dumps(data), encoding="utf-8")  # JSON is YAML
    return path


def test_twin_sweep_prints_intervals_writes_tables_and_twin_report_renders_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "160")  # a terminal, not the 80 columns of a captured stream
    scenario = _scenario_file(tmp_path)
    out = tmp_path / "sweep"
    argv = ["sweep", "--scenario", str(scenario), "--grid", "revenue_cycle.documentation_hours.median=12,96"]
    argv += ["--designs", "event-driven", "--replications", "2", "--jobs", "1", "--no-cache", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "days_to_bill_mean" in printed and "event-driven" in printed and "[" in printed  # mean [low, high]
    table = pd.read_parquet(out / "sweep.parquet")
    assert len(table) == 4 and (pd.read_csv(out / "summary.csv")["metric"] == "days_to_bill_mean").any()
    page = tmp_path / "sweep.html"
    assert main(["report", str(out), "-o", str(page)]) == 0
    text = page.read_text(encoding="utf-8")
    assert text.count("data:image/png;base64,") >= 3 and "<table" in text and "95% confidence" in text
    assert "http://" not in text and "https://" not in text  # self-contained: nothing fetched when opened


def test_twin_report_of_a_run_and_of_a_comparison(tmp_path: Path) -> None:
    scenario = _scenario_file(tmp_path)
    run_dir, compare_dir = tmp_path / "run", tmp_path / "compare"
    assert main(["run", "--scenario", str(scenario), "--out", str(run_dir)]) == 0
    assert (
        pd.read_parquet(run_dir / "records" / "messages.parquet").shape[0]
        == (pd.read_csv(run_dir / "records" / "messages.csv").shape[0])
    )
    assert main(["report", str(run_dir), "-o", str(tmp_path / "run.html")]) == 0
    page = (tmp_path / "run.html").read_text(encoding="utf-8")
    assert "every target in sync" in page and page.count("data:image/png;base64,") >= 4
    assert "discharge_billing" in page and "Calibration" in page
    assert main(["compare", "--scenario", str(scenario), "--out", str(compare_dir)]) == 0
    assert main(["report", str(compare_dir), "-o", str(tmp_path / "compare.html")]) == 0
    compared = (tmp_path / "compare.html").read_text(encoding="utf-8")
    assert "point-to-point-batch" in compared and "data:image/png;base64," in compared


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sweep", "--grid", "workload.transfer_share"], "--grid 'workload.transfer_share' is not KEY=V1,V2"),
        (["sweep", "--grid", "workload.nope=1,2"], "no field 'nope' in workload"),
        (["sweep", "--set", "days=0"], "field 'days'"),
        (["sweep", "--designs", "fastest"], "unknown integration design"),
        (["sweep", "--replications", "0"], "--replications must be at least 1"),
        (["sweep", "--jobs", "0"], "--jobs must be at least 1"),
        (["sweep", "--sut", "nowhere.module:factory"], "cannot import module 'nowhere.module'"),
        (["run", "--set", "workload.transfer_share=2"], "transfer_share"),
        (["report", "."], "holds no sweep.json, compare.json or summary.json"),
        (["report", "no-such-folder"], "is not a folder"),
    ],
)
def test_bad_analysis_flags_exit_2_naming_the_problem(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert message in " ".join(capsys.readouterr().err.split())


def test_twin_sweep_help_names_both_executors() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "twin.cli", "sweep", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "--jobs" in shown and "--dask ADDRESS" in shown


def test_bench_sweep_prints_both_legs_and_the_machines_ceiling(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The benchmark's plumbing, cut to seconds (its figures are for `twin bench --sweep`, not for a test)."""
    from twin.analysis import bench_sweep

    monkeypatch.setattr(bench_sweep, "REPLICATIONS", 2)
    monkeypatch.setattr(bench_sweep, "DAYS", 0.25)
    monkeypatch.setattr(bench_sweep, "OVERRIDES", {"network.hospitals": 1})
    monkeypatch.setattr(bench_sweep, "SPIN_ROUNDS", 1000)
    monkeypatch.setenv("COLUMNS", "160")
    assert main(["bench", "--sweep"]) == 0
    shown = capsys.readouterr().out
    assert "parallel efficiency with 2 workers:" in shown and "tables identical" in shown
    assert "this machine's own ceiling" in shown


def test_twin_sweep_on_jobs_2_and_on_a_dask_scheduler_address_writes_identical_tables(tmp_path: Path) -> None:
    """The command line's two ways out: local processes, and a Dask cluster reached by its address."""
    from distributed import LocalCluster

    scenario = _scenario_file(tmp_path)
    argv = ["sweep", "--scenario", str(scenario), "--grid", "revenue_cycle.documentation_hours.median=12,96"]
    argv += ["--designs", "event-driven,point-to-point-batch", "--replications", "2", "--no-cache"]
    assert main([*argv, "--jobs", "2", "--out", str(tmp_path / "local")]) == 0
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        assert main([*argv, "--dask", cluster.scheduler_address, "--out", str(tmp_path / "dask")]) == 0
    local = pd.read_parquet(tmp_path / "local" / "sweep.parquet")
    pd.testing.assert_frame_equal(local, pd.read_parquet(tmp_path / "dask" / "sweep.parquet"))
    assert len(local) == 8
    assert (tmp_path / "local" / "summary.csv").read_bytes() == (tmp_path / "dask" / "summary.csv").read_bytes()


class _ForeignCluster(Executor):
    """An executor whose worker runs another twin (a cluster node on an older checkout): planted."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        future: Future[dict[str, object]] = Future()
        future.set_result({**fn(*args, **kwargs), "version": "0.0.9+elsewhere"})
        return future


def test_figures_from_a_worker_running_other_code_are_refused() -> None:
    from twin.analysis.sweep import ForeignWorker

    with pytest.raises(ForeignWorker, match=r"with twin 0.0.9\+elsewhere, this process is twin 0.1.0\+"):
        twin.sweep(small_scenario(days=0.5), replications=1, executor=_ForeignCluster(), cache=False, progress=False)


def test_twin_compare_with_replications_prints_intervals_and_paired_differences(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    scenario = _scenario_file(tmp_path)
    argv = ["compare", "--scenario", str(scenario), "--designs", "point-to-point-batch,event-driven"]
    assert main([*argv, "--replications", "2", "--jobs", "1", "--out", str(tmp_path / "cmp")]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert "2 paired seed(s) per column" in shown
    assert "days_to_bill_mean: event-driven minus point-to-point-batch = -" in shown and "2 pairs" in shown
    assert len(pd.read_parquet(tmp_path / "cmp" / "sweep.parquet")) == 4
    assert main([*argv, "--replications", "0"]) == 2
    assert "--replications must be at least 1" in capsys.readouterr().err


UNGUARDED = """
import twin
sweep = twin.sweep("default", replications=2, days=0.25, overrides={"network.hospitals": 1}, executor=2,
                   cache=False, progress=False)
print(len(sweep.table), "runs")
"""


@pytest.mark.parametrize("how", ["script", "stdin"])
def test_a_sweep_on_local_processes_runs_from_a_plain_script_and_from_stdin(how: str, tmp_path: Path) -> None:
    """A script without an ``if __name__ == "__main__"`` guard, or piped to python: workers that first re-ran
    the caller's main module broke the pool (from stdin) or would start its sweep again (unguarded)."""
    script = tmp_path / "unguarded.py"
    script.write_text(UNGUARDED, encoding="utf-8")
    argv = [sys.executable, str(script)] if how == "script" else [sys.executable, "-"]
    done = subprocess.run(
        argv, input=None if how == "script" else UNGUARDED, capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["2", "runs"]
