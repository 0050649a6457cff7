"""Races the KPI oracle must allow, each found by the randomized scenario probe
(``tests/probe_scenarios.py``) calling a correct reference run wrong - and the defect each race
could hide still caught.

- A claim due just before an outage of its target may land after the outage: the billing check
  grants that grace; the KPI oracle's days-to-bill did not (faults-demo, billing lag 5 minutes).
- The labor sync at the very instant of the KPI publish (both at midnight) may post a work date
  just after the publish read the ERP: the value first appears a publish later. A run cut between
  the two publishes had it lost.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from tests.conftest import faults_demo
from twin.observe.flows import check_all
from twin.observe.kpi import REPORTING
from twin.observe.kpi_check import kpi_truth
from twin.scenario import Scenario
from twin.sim import Twin


def _faults_demo(
    days: int, seed: int, start: str, network: dict[str, Any], adt: dict[str, float] | None = None, **sections: Any
) -> Scenario:
    """faults-demo as the probe drew it: ``sections`` override fields of the scenario's sections."""
    overrides: dict[str, Any] = {"days": days, "seed": seed, "start": start, "network": network}
    overrides |= {f"workload.adt.{share}": value for share, value in (adt or {}).items()}
    overrides |= {f"{section}.{name}": value for section, values in sections.items() for name, value in values.items()}
    return faults_demo(overrides)


def _reporting(twin: Twin, horizon: float) -> list[tuple[str, str]]:
    [flow] = [f for f in twin.check(horizon) if f.flow == REPORTING]
    return [(d.kind, d.key) for d in flow.differences]


def test_days_to_bill_allows_a_claim_the_outage_after_its_due_moment_delayed() -> None:
    scenario = _faults_demo(
        2, 564, "2026-01-11T00:00:00", {"hospitals": 2, "beds": {"min": 80, "max": 140}},
        reporting={"allowed_lag_minutes": 10}, billing={"allowed_lag_minutes": 5, "bill_hold_hours": 72},
        supply={"allowed_lag_minutes": 15}, governance={"steward_on_call": True, "items_missing_in_erp": 2},
        adt={"cancel_admission_share": 0.2},
    )  # fmt: skip
    twin = Twin(scenario)
    result = twin.run()
    assert all(f.in_sync for f in result.flows if f.flow == REPORTING), result.flows
    view = result.view
    key = "days_to_bill/H02/2026-01-25"
    truth = kpi_truth(view, view.horizon).values[key]
    lag_days = 5 / 1440
    widened = [m for m, (low, high) in truth.members.items() if high - low > lag_days + 1 / 1440]
    assert widened  # a claim the outage may have held: its range is wider than the billing lag
    board = view.dashboard
    saved = list(board.kpis)
    index, shown = next((i, p) for i, p in enumerate(board.kpis) if p.key == key)
    _low, high = truth.bounds(set(shown.lineage)) or (0.0, 0.0)
    try:
        board.kpis[index] = dataclasses.replace(shown, value=high + 0.01)  # a quarter hour beyond the grace
        assert [(d.kind, d.key) for f in check_all(view) if f.flow == REPORTING for d in f.differences] == [
            ("wrong_value", key)
        ]
    finally:
        board.kpis[:] = saved


def test_a_work_date_the_sync_posts_as_the_publish_reads_is_due_at_the_next_publish_too() -> None:
    scenario = _faults_demo(
        3, 805, "2026-01-05T00:30:00", {"hospitals": 1, "beds": {"min": 80, "max": 140}},
        reporting={"publish_hour": 0, "allowed_lag_minutes": 240}, labor={"sync_hour": 0},
        billing={"allowed_lag_minutes": 5, "bill_hold_hours": 0}, supply={"allowed_lag_minutes": 5},
    )  # fmt: skip
    twin = Twin(scenario)
    twin.begin()
    key = "labor_cost_per_patient_day/101-6020/2026-01-05"
    between = 3200.0  # after the publish at 2850 (local midnight) and its lag, before the next at 4290
    twin.clock.run(until=between)
    view = twin.view_at(between, settled=False)
    assert kpi_truth(view, between).values[key].dues == [2850.0, 4290.0]
    assert key not in {p.key for p in twin.systems.dashboard.kpis}  # the publish at 2850 read before the sync
    assert _reporting(twin, between) == []  # pending: its last chance is not over
    after = 4290.0 + 240 + 60
    twin.clock.run(until=after)
    board = twin.systems.dashboard
    index = next(i for i, p in enumerate(board.kpis) if p.key == key)
    assert _reporting(twin, after) == []
    del board.kpis[index]
    assert ("lost", key) in _reporting(twin, after)  # its last chance over: lost
