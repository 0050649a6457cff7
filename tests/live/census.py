"""Live runs of the default network with half its usual census in house at the start.

Every patient of the starting census is admitted at minute 0 and documents supplies at minute 5:
hundreds of messages at one instant, which the integration drains at its real pace. At 1440x a wall
second is 24 simulated minutes, so on a slow shared CI machine the last of them landed 45 min after
they were ready, against the 39 the judge allowed (measured in the closing note landed with 3e7e298). The
tests that use this are about a live run ending in sync, not about throughput at high speed (the
load tests' SLOs measure that): with half the burst, the slowest inventory issue of the faults-demo
run landed in 18 min with a CPU hog on one of the two cores, against 38 with the usual census.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HALF_CENSUS = 0.35  # the default scenarios' ``initial_occupancy`` is 0.7


def half_census_scenario(folder: Path) -> Path:
    """``scenarios/default.yaml`` with half its starting census, written in ``folder`` (for a CLI)."""
    default = (ROOT / "scenarios" / "default.yaml").read_text(encoding="utf-8")
    usual = "initial_occupancy: 0.7 "
    assert usual in default, "the default scenario's starting census moved: update tests/live/census.py"
    path = folder / "half-census.yaml"
    path.write_text(default.replace(usual, f"initial_occupancy: {HALF_CENSUS}"), encoding="utf-8")
    return path
