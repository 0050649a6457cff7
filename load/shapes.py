"""Load shapes: how many users run over the test, on Locust's own options.

Every shape reads Locust's ``--users`` (the baseline), ``--spawn-rate`` and ``--run-time``
(``use_common_options``), so a profile is tuned with Locust's flags or its config file, never by
editing code. The HL7 feed is the world's own pace (the live run's speed); the shapes move the people
and the applications around it.

- ``SteadyShape``: the baseline users for the whole run.
- ``DischargeSurgeShape``: the late-morning discharge peak - clinicians and billing at three times
  the baseline - then the charge burst after it at twice, then the afternoon at the baseline.
- ``MonthEndCloseShape``: the close: GL queries, AP and payroll bursts - three short bursts at four
  times the baseline over a quiet day.
- ``CensusShape``: users per hour of a simulated day of the twin's own network (admissions,
  transfers, discharges, charges, OR cases per hour: ``--census FILE``, written by ``twin load``),
  scaled so the busiest hour runs ``--users``, with the day compressed into the run time.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from locust import LoadTestShape, events


@events.init_command_line_parser.add_listener
def _arguments(parser: object) -> None:
    parser.add_argument(  # type: ignore[attr-defined]
        "--census", default="", help="census shape: the hourly activity of a simulated day (JSON, from twin load)"
    )


class _ProfileShape(LoadTestShape):
    """Stages as (share of the run time where the stage ends, multiple of --users)."""

    abstract = True
    use_common_options = True
    stages: tuple[tuple[float, float], ...] = ((1.0, 1.0),)

    def _options(self) -> tuple[int, float, float]:
        options = self.runner.environment.parsed_options
        users = int(options.num_users or 1)
        spawn = float(options.spawn_rate or users)
        return users, spawn, float(options.run_time or 60)

    def multiple(self, share: float) -> float:
        for end, multiple in self.stages:
            if share < end:
                return multiple
        return self.stages[-1][1]

    def tick(self) -> tuple[int, float] | None:
        users, spawn, run_time = self._options()
        elapsed = self.get_run_time()
        if elapsed >= run_time:
            return None
        target = max(1, math.ceil(users * self.multiple(elapsed / run_time)))
        return target, max(spawn, float(target))


class SteadyShape(_ProfileShape):
    stages = ((1.0, 1.0),)


class DischargeSurgeShape(_ProfileShape):
    stages = ((0.25, 1.0), (0.5, 3.0), (0.75, 2.0), (1.0, 1.0))


class MonthEndCloseShape(_ProfileShape):
    stages = ((0.2, 1.0), (0.3, 4.0), (0.45, 1.0), (0.55, 4.0), (0.7, 1.0), (0.8, 4.0), (1.0, 1.0))


class CensusShape(_ProfileShape):
    """Hours of a simulated day, each a stage, at its activity relative to the busiest hour."""

    def multiple(self, share: float) -> float:
        hourly = census_hours(self.runner.environment.parsed_options.census)
        busiest = max(hourly) or 1
        return hourly[min(23, int(share * 24))] / busiest


def census_hours(path: str) -> list[float]:
    """Activity per hour (24 numbers) from the census file ``twin load`` writes."""
    if not path:
        raise ValueError("the census shape needs --census FILE (twin load --profile census writes it)")
    table = json.loads(Path(path).read_text(encoding="utf-8"))
    return [float(sum(hour.values())) for hour in table["hours"]]
