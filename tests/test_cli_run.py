"""``twin run`` end to end: table, exit code, files; ``twin bench`` measures its figures and prints them
beside the committed baseline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import small_scenario
from twin.bench import run_bench, simpy_store_rate
from twin.bench_baseline import BASELINE_FILE, FIGURES, figures, load_baseline, rows, save_baseline
from twin.cli import main


def test_run_prints_summary_writes_files_and_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "small.yaml"
    scenario.write_text(yaml.safe_dump(small_scenario().model_dump(mode="json")))
    assert main(["run", "--scenario", str(scenario), "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    for label in (
        "encounters admitted",
        "messages DFT^P03",
        "erp revenue journals",
        "inventory issues",
        "usage_inventory",
        "lost",
        "duplicated",
        "unexpected",
        "stale",
        "out of order",
        "wrong value",
        "time to consistency p95",
        "in sync",
    ):
        assert label in printed
    # where the wall time went: the run's phases, then the summary and the files, and their total
    [timed] = [line for line in printed.splitlines() if line.startswith("wall time ")]
    phases = dict(part.rsplit(" ", 2)[:2] for part in timed.split(": ", 1)[1].split(", "))
    assert list(phases) == ["simulate", "settle", "judge", "summary", "write"]
    total = float(timed.split()[2])
    assert abs(sum(float(seconds) for seconds in phases.values()) - total) < 0.1 * len(phases)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["in_sync"] is True
    for flow in ("discharge_billing", "usage_inventory"):
        assert summary["flows"][flow]["differences"] == dict.fromkeys(
            ["lost", "duplicated", "unexpected", "stale", "out_of_order", "wrong_value"], 0
        )
    assert summary["encounters"]["admitted"] > 20
    assert (tmp_path / "out" / "records" / "messages.csv").exists()
    assert list((tmp_path / "out" / "messages").glob("*.hl7"))
    assert "wall" not in json.dumps(summary)


def test_run_never_prints_patient_names_or_identifiers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from twin.sim import Twin

    scenario = small_scenario()
    twin = Twin(scenario)
    twin.run()
    names = {p.family for p in twin.ehr.patients.values()} | set(twin.ehr.patients) | set(twin.ehr.encounters)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario.model_dump(mode="json")))
    main(["run", "--scenario", str(path), "--out", str(tmp_path / "out")])
    printed = capsys.readouterr().out
    written = (tmp_path / "out" / "summary.json").read_text() + (
        tmp_path / "out" / "records" / "messages.csv"
    ).read_text()
    leaked = [n for n in names if n in printed or n in written]
    assert not leaked, leaked[:5]


def test_bench_measures_baseline_and_twin() -> None:
    assert simpy_store_rate(20_000) > 1_000
    result = run_bench(small_scenario(days=1))
    assert result.twin_messages > 100
    assert result.baseline_rate > 0 and result.twin_rate > 0
    assert result.ratio == pytest.approx(result.twin_rate / result.baseline_rate)
    assert set(result.phases) == {"simulate", "settle", "judge"} and result.peak_rss_bytes > 10 * 1024**2


def test_bench_figures_are_printed_beside_the_committed_baseline(tmp_path: Path) -> None:
    result = run_bench(small_scenario(days=1))
    measured = figures(result)
    assert measured["ratio twin / SimPy"] == pytest.approx(result.ratio)
    assert "ratio reader / hl7apy" not in measured  # not measured in this run: not printed as zero
    path = tmp_path / "baseline.json"
    save_baseline(measured, path, release="v-test")
    baseline = load_baseline(path)
    assert baseline is not None and baseline["release"] == "v-test"
    assert {name: change for name, _now, _was, change in rows(measured, baseline)}["ratio twin / SimPy"] == "same"
    # a planted regression: half the throughput, twice the memory - each named worse, by how much
    slower = measured | {"ratio twin / SimPy": measured["ratio twin / SimPy"] / 2}
    slower["peak resident memory"] = measured["peak resident memory"] * 2
    changes = {name: change for name, _now, _was, change in rows(slower, baseline)}
    assert changes["ratio twin / SimPy"] == "x0.50 worse" and changes["peak resident memory"] == "x2.00 worse"
    faster = measured | {"judge": measured["judge"] / 4}
    assert {n: c for n, _, _, c in rows(faster, baseline)}["judge"] == "x0.25 better"
    assert rows(measured, None)[0][2:] == ("-", "-")  # no baseline file: nothing to compare with
    path.write_text("[]", encoding="utf-8")
    with pytest.raises(ValueError, match="not a bench baseline"):
        load_baseline(path)


def test_the_committed_baseline_names_every_figure() -> None:
    baseline = load_baseline(BASELINE_FILE)
    assert baseline is not None, f"{BASELINE_FILE} is missing: twin bench --save-baseline writes it"
    assert set(baseline["figures"]) == {figure.name for figure in FIGURES}
