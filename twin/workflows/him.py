"""Health-information management: the coders a discharged chart waits for.

Coding is the stage of the revenue cycle that waits longest for people. A chart enters HIM's
coding queue once the physician has signed the discharge summary; coders take the oldest chart
first and work it in office hours (``OfficeHours``), minutes each by encounter type. A chart that
lacks something goes back to the physician as a query and returns to the head of the queue when
answered. With finite coders, charts discharged on a Friday evening wait for Monday, and a busy
week builds a backlog - the discharged-not-final-coded days an HIM director watches. Every design
of the integration waits for the same coders: coding is the EHR's work, not the integration's.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Generator
from dataclasses import dataclass

import simpy

from twin.domain.office_hours import OfficeHours
from twin.scenario import LogNormal, RevenueCycleSpec


def _draw(spec: LogNormal, rng: random.Random) -> float:
    return spec.median * math.exp(rng.gauss(0.0, spec.sigma)) if spec.sigma else spec.median


@dataclass(slots=True)
class Chart:
    """A discharged encounter's chart on its way through coding."""

    visit: str
    encounter_type: str
    deficient: bool  # the coder will have to query the physician
    done: simpy.Event
    queried: bool = False
    ready_at: float = 0.0  # when it first entered the queue: its place in line


class CodingDesk:
    """The coders of one hospital and the queue of charts they work."""

    def __init__(
        self, env: simpy.Environment, coders: int, spec: RevenueCycleSpec, hours: OfficeHours, rng: random.Random
    ) -> None:
        self.env = env
        self.spec = spec
        self.hours = hours
        self.rng = rng
        self.coders = coders
        self.queue: simpy.PriorityStore = simpy.PriorityStore(env)
        self._order = itertools.count()
        for _ in range(coders):
            env.process(self._coder())

    def submit(self, visit: str, encounter_type: str, deficient: bool) -> Chart:
        """A chart ready to code; its ``done`` event fires when coding is complete."""
        chart = Chart(visit, encounter_type, deficient, self.env.event(), ready_at=self.env.now)
        self._enqueue(chart)
        return chart

    def _enqueue(self, chart: Chart) -> None:
        self.queue.put(simpy.PriorityItem((chart.ready_at, next(self._order)), chart))

    def _coder(self) -> Generator[simpy.Event, object, None]:
        spec_minutes = self.spec.coding_minutes
        while True:
            item = yield self.queue.get()
            chart = item.item  # type: ignore[attr-defined]
            assert isinstance(chart, Chart)
            minutes = _draw(getattr(spec_minutes, chart.encounter_type), self.rng)
            yield self.env.timeout(self.hours.finish(self.env.now, minutes) - self.env.now)
            if chart.deficient and not chart.queried:  # the physician must answer before it can be coded
                chart.queried = True
                self.env.process(self._query(chart))
                continue
            chart.done.succeed(chart)

    def _query(self, chart: Chart) -> Generator[simpy.Event, None, None]:
        """The physician answers the coder's query; the chart goes back to its place in line."""
        yield self.env.timeout(_draw(self.spec.query_response_hours, self.rng) * 60)
        self._enqueue(chart)
