"""Reference-data governance as it happens in a network: finance retires a cost center without
telling the integration, and a data steward works the integration's exception queue.

The steward reviews the queue on rounds (the driver calls ``review`` every few minutes of
simulated time). Each open exception that names a code set and a code (``domain``/``code``) is a
master-data problem; the steward takes each problem once, works on it for a lognormal while - in
office hours, on weekdays, so a problem that bites at night waits for the morning in every design -
then fixes it where it must be fixed: sets a missing item up in the ERP (item master, stock
policy, opening balance) and publishes the governed crosswalk entries. For a retired cost
center that means every code that pointed at it, in every code set, at once. Publications are
facts (``MappingPublished``) for the truth ledger and messages for the integration; whether the
integration then replays what it parked is the integration's business, and the checker's.
A problem with no governed answer (a code the network does not know) is left open: the steward
cannot invent master data.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Generator, Mapping, Sequence

import simpy

from mocks.erp.erp import Erp
from twin.domain.contract import IntegrationException
from twin.domain.events import CostCenterRetired, Fact, MappingPublished
from twin.domain.model import Hospital
from twin.domain.office_hours import OfficeHours
from twin.governance import Problem, governed_mappings, problem_of
from twin.network import Network
from twin.scenario import Scenario
from twin.systems import item_setup

ONBOARDING_LEAD = 60.0  # minutes before an acquired hospital's go-live its mappings are published


class DataSteward:
    """Finance's cost-center retirement and the steward who fixes what the integration reports."""

    def __init__(
        self,
        env: simpy.Environment,
        network: Network,
        scenario: Scenario,
        erp: Erp,
        exceptions: Callable[[], list[IntegrationException]],
        publish: Callable[[MappingPublished], None],
        witness: Callable[[Fact], None],
        rng: random.Random,
        aliases: Mapping[str, str] | None = None,
        hours: OfficeHours | None = None,
        queues: Callable[[], Sequence[Sequence[IntegrationException]]] | None = None,
    ) -> None:
        self.env = env
        self.network = network
        self.scenario = scenario
        self.erp = erp
        self.exceptions = exceptions
        self.publish = publish
        self.witness = witness
        self.rng = rng
        self.aliases = aliases if aliases is not None else {}  # new EHR department codes -> the department
        self.hours = hours  # when the steward works (None: around the clock)
        # An integration whose exception lists only grow (the reference's) lets a round read only
        # what was raised since the last one: an exception read once never matters again (its
        # problem is taken, or it is resolved, or it is no master-data problem), and rereading a
        # month's queue every round made the rounds quadratic. Others are read whole.
        self.queues = queues
        self._read: list[int] = []  # per queue: how many exceptions earlier rounds read
        self.taken: dict[Problem, float] = {}  # problem -> when the steward took it
        self.fixed: dict[Problem, float] = {}  # problem -> when its fix was published
        self.unresolvable: set[Problem] = set()

    @property
    def rounds(self) -> float:
        """Minutes between two reviews of the exception queue."""
        return self.scenario.governance.steward_rounds_minutes

    def start(self) -> None:
        if self.network.retirement is not None:
            self.env.process(self._retire())
        for hospital in self.network.hospitals:
            if hospital.joins_at > 0:
                self.env.process(self._onboard(hospital))

    def _onboard(self, hospital: Hospital) -> Generator[simpy.Event, None, None]:
        """An acquired hospital goes live: governance publishes its code sets' crosswalk entries
        an hour before (onboarding is data, not code)."""
        yield self.env.timeout(max(0.0, hospital.joins_at - ONBOARDING_LEAD))
        for domain, code, target in self.network.onboarding(hospital):
            self.publish(MappingPublished(self.env.now, domain, code, target, f"onboarding {hospital.code}"))

    def _retire(self) -> Generator[simpy.Event, None, None]:
        retirement = self.network.retirement
        assert retirement is not None
        yield self.env.timeout(retirement.at)
        self.erp.finance.retire_cost_center(retirement.cost_center, retirement.replacement)
        self.witness(CostCenterRetired(self.env.now, retirement.cost_center, retirement.replacement))

    def review(self) -> None:
        """One round: take every new master-data problem in the open exceptions."""
        for exception in self._unread():
            if exception.resolved_at is not None or not exception.domain:
                continue
            problem = problem_of(self.network, exception.domain, exception.code)
            if problem in self.taken:
                continue
            self.taken[problem] = self.env.now
            self.env.process(self._fix(problem))

    def _unread(self) -> Sequence[IntegrationException]:
        """The exceptions this round has to look at, in the order the integration lists them."""
        if self.queues is None:
            return self.exceptions()
        queues = self.queues()
        if len(self._read) != len(queues):
            self._read = [0] * len(queues)
        unread: list[IntegrationException] = []
        for index, queue in enumerate(queues):
            unread.extend(queue[self._read[index] :])
            self._read[index] = len(queue)
        return unread

    def _fix(self, problem: Problem) -> Generator[simpy.Event, None, None]:
        spec = self.scenario.governance.steward_delay_hours
        minutes = spec.median * math.exp(self.rng.gauss(0.0, spec.sigma)) * 60
        done = self.env.now + minutes if self.hours is None else self.hours.finish(self.env.now, minutes)
        yield self.env.timeout(done - self.env.now)
        now = self.env.now
        entries = governed_mappings(self.network, problem, now, self.aliases)
        if not entries:
            self.unresolvable.add(problem)
            return
        if problem[0] == "item":
            self._set_up_item(problem[1])
        reason = (
            f"cost center {problem[1]} retired" if problem[0] == "retired" else f"{problem[0]} {problem[1]} governed"
        )
        for domain, code, target in entries:
            self.publish(MappingPublished(now, domain, code, target, reason))
        self.fixed[problem] = now

    def _set_up_item(self, ehr_code: str) -> None:
        item, policies, opening = item_setup(self.network, self.scenario, ehr_code)
        if item.item not in self.erp.supply.items:
            self.erp.supply.add_item(item, policies, opening)
