"""The census shape's table: activity per hour of a simulated day of the twin's own network.

One day of the scenario runs in simulated time (the second day: the first starts with the whole
census admitted at midnight); its truth gives admissions, transfers, discharges, charge lines and OR
cases per hour, which the census shape turns into users per hour (``load/shapes.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

from twin.domain.events import CaseCompleted, ChargesPosted, PatientAdmitted, PatientDischarged, PatientTransferred
from twin.scenario import Scenario
from twin.sim import Twin

DAY = 24 * 60


def census_table(scenario: Scenario) -> dict[str, object]:
    twin = Twin(scenario.with_overrides(days=2), keep_traffic=False)
    twin.run()
    hours: list[dict[str, int]] = [
        {"admissions": 0, "transfers": 0, "discharges": 0, "charges": 0, "or_cases": 0} for _ in range(24)
    ]
    kinds = {PatientAdmitted: "admissions", PatientTransferred: "transfers", PatientDischarged: "discharges",
             CaseCompleted: "or_cases"}  # fmt: skip
    for fact in twin.truth:
        at = float(getattr(fact, "at", -1))
        if not DAY <= at < 2 * DAY:
            continue
        hour = int((at - DAY) // 60)
        if isinstance(fact, ChargesPosted):
            hours[hour]["charges"] += len(fact.lines)
        elif type(fact) in kinds:
            hours[hour][kinds[type(fact)]] += 1
    return {"scenario": scenario.name, "seed": scenario.seed, "day": 2, "hours": hours}


def write_census(scenario: Scenario, path: Path) -> Path:
    path.write_text(json.dumps(census_table(scenario), indent=1) + "\n", encoding="utf-8")
    return path
