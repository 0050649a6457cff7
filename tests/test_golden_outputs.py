"""The same scenario and seed write the same outputs, byte for byte, release after release.

``tests/golden/`` holds a short run's scenario (every fault kind, two hospitals, one day), its
``summary.json`` as written, and the SHA-256 of every file under ``messages/`` and ``fhir/`` and of
``records/messages.csv`` (the files themselves are 12 MB). A change meant to alter no output - the
speed and memory work - must leave all of them as they are; a change that alters an output on
purpose regenerates them with ``TWIN_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden_outputs.py``
and says why in its commit.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from twin.cli import main

GOLDEN = Path(__file__).resolve().parent / "golden"
COMPARED = ("messages", "fhir")  # besides summary.json; records/ holds Parquet, whose metadata may vary
COMPARED_FILES = ("records/messages.csv",)  # ... and the exchanges as CSV


def digests(out: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file of ``COMPARED`` and ``COMPARED_FILES`` under ``out``."""
    paths = [path for folder in COMPARED for path in sorted((out / folder).rglob("*")) if path.is_file()]
    paths += [out / name for name in COMPARED_FILES if (out / name).is_file()]
    return {path.relative_to(out).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest() for path in paths}


def golden_differences(out: Path, golden: Path = GOLDEN) -> list[str]:
    """What in ``out`` differs from the golden files: each file named, with what changed."""
    problems = []
    summary, expected = (
        (out / "summary.json").read_text(encoding="utf-8"),
        (golden / "summary.json").read_text(encoding="utf-8"),
    )
    if summary != expected:
        changed = _first_difference(expected.splitlines(), summary.splitlines())
        problems.append(f"summary.json differs from line {changed[0]}: {changed[1]!r} became {changed[2]!r}")
    want = json.loads((golden / "digests.json").read_text(encoding="utf-8"))
    have = digests(out)
    for name in sorted(want.keys() | have.keys()):
        if name not in have:
            problems.append(f"{name} is no longer written")
        elif name not in want:
            problems.append(f"{name} is new")
        elif have[name] != want[name]:
            problems.append(f"{name} differs (sha256 {have[name][:12]}, golden {want[name][:12]})")
    return problems


def _first_difference(old: list[str], new: list[str]) -> tuple[int, str, str]:
    for number, (before, after) in enumerate(zip(old, new, strict=False), start=1):
        if before != after:
            return number, before, after
    shorter = min(len(old), len(new))
    return shorter + 1, (old[shorter:] or [""])[0], (new[shorter:] or [""])[0]


def _run_golden(out: Path) -> None:
    assert main(["run", "--scenario", str(GOLDEN / "scenario.yaml"), "--out", str(out)]) == 0


def test_the_golden_run_writes_its_outputs_byte_for_byte(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _run_golden(out)
    if os.environ.get("TWIN_UPDATE_GOLDEN") == "1":
        shutil.copyfile(out / "summary.json", GOLDEN / "summary.json")
        text = json.dumps(digests(out), indent=1, sort_keys=True) + "\n"
        (GOLDEN / "digests.json").write_text(text, encoding="utf-8")
    assert golden_differences(out) == []


def test_a_changed_byte_or_file_is_named(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _run_golden(out)
    assert golden_differences(out) == []
    dft = out / "messages" / "DFT_P03.hl7"
    dft.write_bytes(dft.read_bytes().replace(b"FT1|1|", b"FT1|2|", 1))  # one byte of one message
    (out / "fhir" / "Patient.ndjson").unlink()
    summary = out / "summary.json"
    summary.write_text(summary.read_text(encoding="utf-8").replace('"in_sync": true', '"in_sync": false'))
    problems = golden_differences(out)
    assert len(problems) == 3, problems
    assert problems[0].startswith("summary.json differs from line") and "in_sync" in problems[0]
    assert "fhir/Patient.ndjson is no longer written" in problems
    assert any(p.startswith("messages/DFT_P03.hl7 differs") for p in problems)
