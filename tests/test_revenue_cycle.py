"""The back office's people: office hours, HIM's coding queue, the billers' worklist, the receiving
dock and the data steward.

Office hours decide when work that waits for people moves: a task taken late on a Friday finishes on
Monday. HIM's coders take the oldest chart first, a queried chart goes back to its place in line,
and finite coders build a backlog. The billers correct a rejected member id by an A08. A truck that
reaches the dock after hours is counted in the next weekday morning (and the judge's replenishment
window knows it); the data steward fixes master data in office hours unless on call.
"""

from __future__ import annotations

import random

import simpy

from tests.conftest import small_scenario
from twin.domain.events import Fact, MappingPublished, PatientUpdated
from twin.domain.office_hours import OfficeHours
from twin.domain.timebase import Timebase
from twin.network import build_network, stock_policies
from twin.observe.replenishment import replenishment_chain
from twin.scenario import LogNormal, Range, RevenueCycleSpec, Scenario
from twin.systems import build_erp
from twin.workflows.him import CodingDesk
from twin.workflows.receiving import ReceivingDock
from twin.workflows.stewardship import DataSteward

DAY = 1440.0
MONDAY = OfficeHours(offset=0.0, weekday0=0, opens=8 * 60, closes=16.5 * 60)  # the run starts Monday 00:00


def test_office_hours_count_only_open_time() -> None:
    assert MONDAY.next_open(0.0) == 8 * 60  # Monday 00:00: the office opens at 08:00
    assert MONDAY.next_open(9 * 60) == 9 * 60  # open: now
    assert MONDAY.finish(9 * 60, 30) == 9 * 60 + 30
    # Monday 16:00 plus an hour's work: half an hour that day, the rest Tuesday from 08:00
    assert MONDAY.finish(16 * 60, 60) == DAY + 8 * 60 + 30
    # Friday 16:00 plus an hour: Monday 08:30 (no one works the weekend)
    friday = 4 * DAY + 16 * 60
    assert MONDAY.finish(friday, 60) == 7 * DAY + 8 * 60 + 30
    assert MONDAY.next_open(5 * DAY + 12 * 60) == 7 * DAY + 8 * 60  # Saturday noon -> Monday 08:00
    # a run that starts on a Saturday at 06:00 (local clock offset 360, weekday 5)
    saturday = OfficeHours(offset=360.0, weekday0=5, opens=8 * 60, closes=16.5 * 60)
    assert saturday.next_open(0.0) == 2 * DAY + 8 * 60 - 360


def _desk(coders: int, *, query_hours: float = 10.0) -> tuple[simpy.Environment, CodingDesk]:
    env = simpy.Environment()
    spec = RevenueCycleSpec(
        coding_minutes={"inpatient": LogNormal(median=60, sigma=0)},  # type: ignore[arg-type]
        query_response_hours=LogNormal(median=query_hours, sigma=0),
    )
    return env, CodingDesk(env, coders, spec, MONDAY, random.Random(1))


def _coded(coders: int, charts: list[tuple[float, str, bool]], *, query_hours: float = 10.0) -> dict[str, float]:
    """When each chart (ready at, visit, deficient) was coded, by ``coders`` coders of an hour a chart."""
    env, desk = _desk(coders, query_hours=query_hours)
    done: dict[str, float] = {}

    def submit(at: float, visit: str, deficient: bool) -> simpy.events.ProcessGenerator:
        yield env.timeout(at)
        yield desk.submit(visit, "inpatient", deficient).done
        done[visit] = env.now

    for at, visit, deficient in charts:
        env.process(submit(at, visit, deficient))
    env.run()
    return done


def test_coders_take_the_oldest_chart_first_in_office_hours() -> None:
    done = _coded(1, [(60.0, "A", False), (120.0, "B", False), (180.0, "C", False)])  # ready overnight
    # one coder, an hour a chart, from 08:00: A at 09:00, B at 10:00, C at 11:00 - in the order discharged
    assert done == {"A": 9 * 60, "B": 10 * 60, "C": 11 * 60}


def test_a_queried_chart_goes_back_to_its_place_in_line() -> None:
    charts = [(0.0, "Q", True), *((1.0 + n, f"N{n}", False) for n in range(4))]
    done = _coded(1, charts, query_hours=2.0)
    # 08:00-09:00 the coder opens Q and queries the physician; N0 and N1 follow (09:00-11:00); the answer
    # comes at 11:00 and Q, the oldest, is next in line (11:00-12:00) - ahead of N2 and N3, discharged after it
    assert done == {"N0": 10 * 60, "N1": 11 * 60, "Q": 12 * 60, "N2": 13 * 60, "N3": 14 * 60}


def test_more_coders_shorten_the_wait() -> None:
    charts = [(float(n), f"V{n}", False) for n in range(16)]
    one, four = max(_coded(1, charts).values()), max(_coded(4, charts).values())
    assert one == DAY + 8 * 60 + 7.5 * 60  # 16 charts, 8.5 office hours a day: Tuesday 15:30
    assert four == 12 * 60  # four at a time: Monday 08:00-12:00


def test_billers_correct_every_rejected_member_id_by_an_a08() -> None:
    from twin.sim import Twin

    data = small_scenario(days=2).model_dump()
    data["revenue_cycle"]["registration_error_share"] = 0.3
    twin = Twin(Scenario.model_validate(data))
    result = twin.run()
    rejected = {s.claim_number for s in result.view.clearinghouse.submissions if not s.accepted}
    assert rejected
    corrected = twin.billing_office.corrected
    assert set(corrected) == rejected
    for at in corrected.values():  # in office hours (the run starts on a Monday at 00:00)
        assert int(at // DAY) % 7 < 5 and 8 * 60 <= at % DAY <= 16.5 * 60
    updates = {f.visit for f in result.view.truth.of_type(PatientUpdated) if f.visit in rejected}  # type: ignore[attr-defined]
    assert updates == rejected and result.in_sync


# -- materials staff and the data steward: the same hours in every design -------------------------------------
def test_a_delivery_after_dock_hours_is_counted_in_the_next_weekday_morning() -> None:
    env = simpy.Environment()
    spec = small_scenario().supply.model_copy(
        update={"transit_hours": Range(min=2, max=2), "receiving_minutes": Range(min=30, max=30)}
    )
    dock_hours = OfficeHours(0.0, 0, spec.dock_opens_hour * 60, spec.dock_closes_hour * 60)
    received: list[tuple[str, float]] = []
    facts: list[Fact] = []
    dock = ReceivingDock(
        env, spec, random.Random(1), lambda po, qty, at: received.append((po, at)), facts.append, {}, dock_hours
    )

    def ship(at: float, po: str) -> simpy.events.ProcessGenerator:
        yield env.timeout(at)
        dock.ship(po, "IM-1", "101-7510", 5)

    env.process(ship(9 * 60, "PO-MORNING"))  # Monday 09:00: on the dock 11:00, counted in 11:30
    env.process(ship(4 * DAY + 15 * 60, "PO-FRIDAY"))  # Friday 15:00: on the dock 17:00, after hours
    env.run()
    assert received == [("PO-MORNING", 11 * 60 + 30), ("PO-FRIDAY", 7 * DAY + 7 * 60 + 30)]  # Monday 07:30
    assert [fact.at for fact in facts] == [at for _, at in received]


def test_the_judges_replenishment_window_waits_for_the_dock_too() -> None:
    scenario = small_scenario()  # starts on a Monday at 00:00
    network = build_network(scenario)
    policies = stock_policies(network, scenario)
    key = next(k for k in sorted(policies) if k[1].startswith("SU-"))
    reorder_point, par = policies[key]
    lead = {v.vendor_id: v.lead_time_days for v in network.vendors}
    vendor = next(i.vendor for i in network.supply_items if i.erp_item == key[1])
    friday = 4 * DAY + 10 * 60 - lead[vendor] * DAY  # ships on Friday 10:00 + lead time, no receipt yet
    usage = {key: [(friday, 0, "use", par - reorder_point)]}
    [link] = replenishment_chain(network, scenario, policies, {}, usage, [])
    supply = scenario.supply
    shipped = friday + lead[vendor] * DAY
    assert link.arrives[0] == shipped + supply.transit_hours.min * 60 + supply.receiving_minutes.min  # same day
    # the slowest truck reaches the dock after 15:30: counted in on Monday
    assert link.arrives[1] == 7 * DAY + supply.dock_opens_hour * 60 + supply.receiving_minutes.max


def test_the_data_steward_fixes_in_office_hours_unless_on_call() -> None:
    scenario = small_scenario(
        governance={**small_scenario().governance.model_dump(), "steward_delay_hours": {"median": 2, "sigma": 0}}
    )
    network = build_network(scenario)
    saturday = 5 * DAY + 10 * 60
    for hours, fixed in ((MONDAY, 7 * DAY + 10 * 60), (None, saturday + 120)):
        env = simpy.Environment()
        published: list[MappingPublished] = []
        erp = build_erp(network, scenario, Timebase(scenario.start))
        steward = DataSteward(
            env, network, scenario, erp, list, published.append, lambda fact: None, random.Random(1), hours=hours
        )
        problem = ("department", network.hospitals[0].departments[0].ehr_code)
        steward.taken[problem] = saturday

        def take(steward: DataSteward = steward, problem: tuple[str, str] = problem) -> simpy.events.ProcessGenerator:
            yield steward.env.timeout(saturday)
            yield steward.env.process(steward._fix(problem))

        env.process(take())
        env.run()
        assert steward.fixed[problem] == fixed  # Saturday 10:00 + two hours: Monday 10:00 in office hours
