"""Tallies kept as things happen instead of recounted on every question (issue 14).

A month's run asked the ERP for open order quantities at every issue, the data steward reread the
whole exception queue every round, and the circuit breaker recounted its window at every answer:
each recount grew with the run. Each tally here is checked against the recount it replaced, on
the cases where a running tally goes wrong (an over-delivery, an exception resolved in place,
outcomes leaving the window).
"""

from __future__ import annotations

import random
from collections import deque

import simpy

from mocks.erp.supply_chain import ErpSupplyChain
from tests.conftest import small_scenario
from twin.domain.contract import IntegrationException
from twin.domain.events import CaseCompleted, MappingPublished
from twin.domain.exchange import TargetRequest
from twin.domain.timebase import Timebase
from twin.integration.resilience import CircuitBreaker
from twin.network import build_network
from twin.observe.truth import TruthLedger
from twin.systems import build_erp
from twin.workflows.stewardship import DataSteward


def _recount(supply: ErpSupplyChain, location: str, item: str) -> int:
    """The open quantity as the ERP used to compute it: every order, every time."""
    return sum(
        o.quantity - o.received
        for o in supply.orders.values()
        if o.location == location and o.item == item and o.received < o.quantity
    )


def test_open_order_quantity_follows_orders_receipts_and_over_deliveries() -> None:
    scenario = small_scenario()
    network = build_network(scenario)
    erp = build_erp(network, scenario, Timebase(scenario.start))
    supply = erp.supply
    location, item = sorted(supply.policies)[0]
    other_location, other_item = sorted(supply.policies)[-1]

    def order(where: str, what: str, quantity: int) -> str:
        body = {"location": where, "item": what, "quantity": quantity}
        response = erp.handle(TargetRequest("erp", "POST", "/purchasing/orders", body, ""), 1.0)
        assert response.status == 201, response
        return str(response.body["po"])

    first, second = order(location, item, 10), order(location, item, 4)
    order(other_location, other_item, 7)
    assert supply.on_order(location, item) == _recount(supply, location, item) == 14
    supply.receive(first, 6, 2.0)
    assert supply.on_order(location, item) == _recount(supply, location, item) == 8
    supply.receive(first, 9, 3.0)  # five more than ordered: the order counts as none, not as minus five
    assert supply.on_order(location, item) == _recount(supply, location, item) == 4
    supply.receive(second, 4, 4.0)
    assert supply.on_order(location, item) == _recount(supply, location, item) == 0
    assert supply.on_order(other_location, other_item) == _recount(supply, other_location, other_item) == 7


def _steward(queues: list[list[IntegrationException]], incremental: bool) -> DataSteward:
    scenario = small_scenario()
    network = build_network(scenario)
    erp = build_erp(network, scenario, Timebase(scenario.start))
    published: list[MappingPublished] = []
    return DataSteward(
        simpy.Environment(), network, scenario, erp,
        lambda: [e for queue in queues for e in queue], published.append, lambda fact: None, random.Random(3),
        queues=(lambda: queues) if incremental else None,
    )  # fmt: skip


def test_a_steward_reading_only_new_exceptions_takes_what_one_rereading_the_queue_takes() -> None:
    """Rounds over growing queues, with exceptions resolved in place, duplicates of a taken
    problem and exceptions that are no master-data problem: both stewards take the same problems
    in the same order."""
    codes = build_network(small_scenario()).hospitals[0].departments
    rng = random.Random(11)
    queues: list[list[IntegrationException]] = [[], [], []]
    whole, incremental = _steward(queues, False), _steward(queues, True)
    for round_ in range(12):
        for _ in range(rng.randrange(0, 6)):
            queue = rng.choice(queues)
            domain = rng.choice(["department", "item", ""])
            code = codes[rng.randrange(len(codes))].ehr_code if domain == "department" else f"I{rng.randrange(4)}"
            raised = IntegrationException("billing", "V1", "unmapped", "no mapping", float(round_), None, domain, code)
            queue.append(raised)
        for queue in queues:  # some exceptions are resolved between rounds (a replay after a fix)
            for exception in queue:
                if exception.resolved_at is None and rng.random() < 0.2:
                    exception.resolved_at = float(round_)
        whole.review()
        incremental.review()
        assert list(incremental.taken) == list(whole.taken)
    assert len(whole.taken) >= 3, "the rounds must take several problems for the comparison to mean anything"


def test_a_steward_reading_queues_still_sees_an_exception_raised_after_its_last_round() -> None:
    queues: list[list[IntegrationException]] = [[], []]
    steward = _steward(queues, True)
    steward.review()
    queues[1].append(IntegrationException("supply", "V2", "unmapped", "no mapping", 1.0, None, "item", "I9"))
    steward.review()
    assert list(steward.taken) == [("item", "I9")]


def test_the_breaker_counts_failures_in_its_window_as_a_recount_would() -> None:
    rng = random.Random(5)
    breaker = CircuitBreaker(window=5, failure_rate=0.5, min_calls=4, open_for=2, probes=1)
    window: deque[tuple[float, bool]] = deque()
    now = 0.0
    for _ in range(2_000):
        now += rng.random()
        if not breaker.allows(now):
            window.clear()
            continue
        success = rng.random() < 0.7
        state = breaker.state
        breaker.record(now, success)
        if state == "closed":
            window.append((now, success))
            while window and window[0][0] < now - 5:
                window.popleft()
        if breaker.state != "closed":
            window.clear()
        assert breaker._failures == sum(1 for _, ok in window if not ok)
    assert breaker.trips >= 5, "the run must open the breaker several times for the check to mean anything"


def test_a_pass_over_the_truth_reads_the_facts_there_were_when_it_began() -> None:
    """The ledger is iterated without a copy: a fact appended during a pass is not read by it (a
    reader that appends, as a workflow may while the judge reads mid-run, never loops), the next
    pass reads it, and two passes can run side by side."""
    truth = TruthLedger()
    first, second, late = (
        CaseCompleted(float(n), "H01", f"V{n}", f"C{n}", "hip", "ortho", "OR1", 0.0) for n in range(3)
    )
    truth.append(first)
    truth.append(second)
    seen = []
    for fact in truth:
        seen.append(fact)
        truth.append(late)
        if len(seen) > 4:  # a pass that reads what is appended would never end
            break
    assert seen == [first, second]
    assert list(truth) == [first, second, late, late]  # the next pass reads them
    one, other = iter(truth), iter(truth)
    assert (next(one), next(one), next(other)) == (first, second, first)
