"""The twin on the wall clock ends in sync: the default network, and the same with every fault kind.

Real uvicorn servers for the mock systems on loopback, the integration service as a child process
with its SQLite file, HL7 over MLLP, the world stepped on the wall clock (accelerated), the same judge
as a simulated run. A run is cut a settle grace after its workload (``RunView.settled`` False): what
was not due by then is pending, not judged.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.live.census import HALF_CENSUS
from twin.live.stack import LiveOptions, run_live
from twin.observe.view import RunResult
from twin.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[2]


def _differences(result: RunResult) -> list[tuple[str, str, str, str]]:
    return [(d.kind, d.target, d.key, d.detail[:120]) for f in result.flows for d in f.differences]


def _live(path: str, days: float, tmp_path: Path, speed: float = 1440, *, steward_on_call: bool = False) -> RunResult:
    # no bill hold: a bill falls due when coding completes, inside the half day the run lasts
    data = load_scenario(ROOT / path).with_overrides(days=days).model_dump()
    data["billing"]["bill_hold_hours"] = 0
    # half the usual census: its opening burst is a throughput test at 1440x (tests/live/census.py)
    data["workload"]["initial_occupancy"] = HALF_CENSUS
    if steward_on_call:
        data["governance"].update(steward_on_call=True, steward_delay_hours={"median": 0.5, "sigma": 0.3})
    scenario = Scenario.model_validate(data)
    return asyncio.run(run_live(scenario, LiveOptions(speed=speed, workdir=tmp_path)))


def test_the_default_network_on_the_wall_clock_ends_in_sync(tmp_path: Path) -> None:
    result = _live("scenarios/default.yaml", 0.5, tmp_path)
    assert result.in_sync, _differences(result)[:5]
    assert not result.view.settled and result.horizon > result.scenario.days * 1440  # cut after its grace
    hl7 = [r for r in result.view.records if r.record_type == "hl7"]
    requests = [r for r in result.view.records if r.record_type == "request"]
    assert len(hl7) > 500 and len(requests) > 300  # over MLLP and HTTP, for real
    assert {r.outcome for r in hl7} == {"AA"}
    flows = {f.flow: f for f in result.flows}
    assert flows["discharge_billing"].expected > 50 and flows["usage_inventory"].expected > 50


def test_every_fault_kind_on_the_wall_clock_ends_in_sync(tmp_path: Path) -> None:
    # the run is cut at 02:00 of its second day: a steward in office hours (or taking six hours) would
    # fix the evening's master-data problems - a new department code on a bedside supply or a drug
    # dispensed at night - after the cut, so this one is on call and quick
    result = _live("scenarios/faults-demo.yaml", 1, tmp_path, steward_on_call=True)
    assert result.in_sync, _differences(result)[:5]
    faults = result.view.faults
    assert faults is not None
    injected = faults.plan["injected"]
    for kind in ("outage", "latency", "errors", "timeout", "lost_response", "poison", "expired_token"):
        assert injected.get(kind, 0) > 0, (kind, injected)  # the door and the senders did inject them
    flows = {f.flow: f for f in result.flows}
    assert flows["dead_letter_queue"].expected > 0  # spoiled messages found in the queue by the support team
