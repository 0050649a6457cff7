"""Same scenario and seed give byte-identical results, whatever the process's hash seed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import small_scenario


def _run_cli(out: Path, seed: int, hash_seed: str, scenario: Path) -> None:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    subprocess.run(
        [sys.executable, "-m", "twin.cli", "run", "--scenario", str(scenario), "--seed", str(seed), "--out", str(out)],
        check=True,
        env=env,
        capture_output=True,
    )


def _small_file(tmp_path: Path) -> Path:
    import yaml

    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(small_scenario().model_dump(mode="json"), sort_keys=False))
    return path


def test_same_seed_identical_outputs_across_processes(tmp_path: Path) -> None:
    scenario = _small_file(tmp_path)
    _run_cli(tmp_path / "a", 7, "1", scenario)
    _run_cli(tmp_path / "b", 7, "4242", scenario)
    for relative in (
        "summary.json",
        "messages/DFT_P03.hl7",
        "messages/ADT_A01.hl7",
        "fhir/Claim.submitted.ndjson",
        "records/messages.csv",
    ):
        assert (tmp_path / "a" / relative).read_bytes() == (tmp_path / "b" / relative).read_bytes(), relative


def test_different_seed_different_traffic(tmp_path: Path) -> None:
    scenario = _small_file(tmp_path)
    _run_cli(tmp_path / "a", 7, "0", scenario)
    _run_cli(tmp_path / "b", 8, "0", scenario)
    assert (tmp_path / "a" / "messages/ADT_A01.hl7").read_bytes() != (
        tmp_path / "b" / "messages/ADT_A01.hl7"
    ).read_bytes()
    assert (tmp_path / "a" / "summary.json").read_bytes() != (tmp_path / "b" / "summary.json").read_bytes()
