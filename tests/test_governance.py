"""Master-data governance: a retired cost center and an item missing from the ERP item master are
raised as exceptions naming the code, fixed by the data steward, replayed and posted exactly once;
the master-data oracle catches every planted departure from that."""

from __future__ import annotations

import dataclasses

import pytest

from tests.conftest import run_small, small_scenario
from tests.test_reference_integration import _feed, _integration
from tests.test_supply_flow import ITEM, _orchestrator, _usage
from twin.domain.contract import IntegrationException, Outcome
from twin.domain.events import MappingPublished
from twin.domain.exchange import TargetResponse
from twin.observe.flows import check_all
from twin.observe.master_data import MASTER_DATA
from twin.scenario import ScenarioError, parse_scenario
from twin.sim import RunResult, Twin

INACTIVE = TargetResponse(
    422,
    {
        "errors": ["line 3: cost center '101-7010' is inactive"],
        "problems": [{"code": "inactive_cost_center", "cost_center": "101-7010"}],
    },
)


def test_journal_refused_for_a_retired_cost_center_waits_for_the_mapping_then_posts_once() -> None:
    integration = _integration()
    journal = _feed(integration)[3].requests[0]
    assert integration.receive_response(journal, INACTIVE, 3001.0).requests == []
    [exception] = integration.exceptions()
    assert (exception.reason_code, exception.domain, exception.code) == ("retired_cost_center", "department", "H01-LAB")
    # an unrelated publication changes nothing
    assert integration.receive_master_data(MappingPublished(3100.0, "department", "H01-MEDS", "101-6030"), 3100.0) == (
        Outcome()
    )
    replay = integration.receive_master_data(MappingPublished(3200.0, "department", "H01-LAB", "101-7015"), 3200.0)
    [again] = replay.requests
    assert again.idempotency_key == journal.idempotency_key  # the same posting, never a second one
    assert {line["cost_center"] for line in again.body["lines"]} >= {"101-7015"}
    assert "101-7010" not in {line["cost_center"] for line in again.body["lines"]}
    assert exception.resolved_at is None  # resolved only once the ERP accepted it
    integration.receive_response(again, TargetResponse(201, {}), 3201.0)
    assert exception.resolved_at == 3201.0
    # a second publication of the same mapping does not bill again
    assert integration.receive_master_data(MappingPublished(3300.0, "department", "H01-LAB", "101-7015"), 3300.0) == (
        Outcome()
    )


def test_unmapped_supply_line_is_parked_and_issued_once_when_the_item_is_published() -> None:
    supply = _orchestrator()
    outcome = Outcome()
    supply.apply(_usage("T1", code="278-NEW"), 1.0, outcome)
    supply.apply(_usage("T2", code="278-NEW"), 2.0, outcome)
    assert outcome.requests == []
    assert [(e.domain, e.code) for e in supply.raised] == [("item", "278-NEW")] * 2
    supply.crosswalk.publish("item", "278-NEW", ITEM)
    replay = supply.on_mapping(MappingPublished(5.0, "item", "278-NEW", ITEM), 5.0)
    # one item-location: the second issue waits for the first answer, so their order is kept
    assert [r.body["reference"] for r in replay.requests] == ["T1"]
    position = {"on_hand": 9, "on_order": 0, "reorder_point": 1, "par": 12, "seq": 1}
    follow = supply.on_response(replay.requests[0], TargetResponse(201, position), 5.1)
    assert [r.body["reference"] for r in follow.requests] == ["T2"]
    supply.on_response(follow.requests[0], TargetResponse(201, {**position, "seq": 2}), 5.2)
    assert all(e.resolved_at is not None for e in supply.raised)
    assert supply.on_mapping(MappingPublished(6.0, "item", "278-NEW", ITEM), 6.0).requests == []


def test_scenario_rejects_a_retirement_outside_the_network() -> None:
    base = "name: x\nseed: 1\nnetwork: {hospitals: 1}\n"
    with pytest.raises(ScenarioError, match="has 1 hospital"):
        parse_scenario(base + "governance: {retire_cost_center: {hospital: 2}}\n")
    with pytest.raises(ScenarioError, match="not a department kind"):
        parse_scenario(base + "governance: {retire_cost_center: {department: cardiology}}\n")


# -- a real run: retirement on day 1, one item missing from the ERP -----------------------------


@pytest.fixture(scope="module")
def governed() -> RunResult:
    result = run_small(
        days=3,
        governance={"items_missing_in_erp": 2, "retire_cost_center": {"hospital": 1, "department": "lab", "day": 1}},
    )
    assert result.in_sync, [d for f in result.flows for d in f.differences[:3]]
    return result


def _master(run: RunResult) -> dict[str, int]:
    return next(f for f in check_all(run.view) if f.flow == MASTER_DATA).counts


def test_every_problem_is_raised_fixed_replayed_and_posted_to_the_governed_codes(governed: RunResult) -> None:
    twin = governed.view
    retirement = twin.network.retirement
    assert retirement is not None
    checked = next(f for f in governed.flows if f.flow == MASTER_DATA)
    assert checked.expected >= 2 and checked.matched == checked.expected
    fixes = {f.reason for f in twin.truth if isinstance(f, MappingPublished)}
    assert f"cost center {retirement.cost_center} retired" in fixes  # the steward published the fix
    assert all(e.resolved_at is not None for e in twin.exceptions if e.domain)
    after = [j for j in twin.erp.finance.journals if j.posted_at >= retirement.at]
    assert not any(line.cost_center == retirement.cost_center for j in after for line in j.lines)
    assert any(line.cost_center == retirement.replacement for j in after for line in j.lines)
    missing = {i.erp_item for i in twin.network.supply_items if i.ehr_code in twin.network.missing_items}
    assert missing & {issue.item for issue in twin.erp.supply.issues}  # parked usage was replayed


def _restore(run: RunResult) -> list[IntegrationException]:
    return [e for e in run.view.exceptions if e.domain]


def test_planted_unresolved_exception_is_wrong_value(governed: RunResult) -> None:
    exception = _restore(governed)[0]
    resolved, exception.resolved_at = exception.resolved_at, None
    try:
        assert _master(governed)["wrong_value"] == 1
    finally:
        exception.resolved_at = resolved


def test_planted_silence_is_lost(governed: RunResult) -> None:
    mine = _restore(governed)
    saved = [(e, e.domain) for e in mine]
    for exception in mine:
        exception.domain = ""
    try:
        assert _master(governed)["lost"] >= 2
    finally:
        for exception, domain in saved:
            exception.domain = domain


def test_planted_invented_problem_is_unexpected(governed: RunResult) -> None:
    view = governed.view
    invented = IntegrationException("discharge_billing", "V0", "unmapped_item", "?", 10.0, 11.0, "item", "X")
    seen = dataclasses.replace(view.integration, exceptions=(*view.exceptions, invented))
    planted = dataclasses.replace(view, integration=seen)
    assert next(f for f in check_all(planted) if f.flow == MASTER_DATA).counts["unexpected"] == 1


def test_planted_posting_to_the_retired_cost_center_is_wrong_value(governed: RunResult) -> None:
    finance = governed.view.erp.finance
    retirement = governed.view.network.retirement
    assert retirement is not None
    index = next(
        i
        for i, j in enumerate(finance.journals)
        if j.source == "patient-billing" and any(line.cost_center == retirement.replacement for line in j.lines)
    )
    journal = finance.journals[index]
    lines = tuple(
        dataclasses.replace(line, cost_center=retirement.cost_center)
        if line.cost_center == retirement.replacement
        else line
        for line in journal.lines
    )
    finance.journals[index] = dataclasses.replace(journal, lines=lines)
    try:
        billing = next(f for f in check_all(governed.view) if f.flow == "discharge_billing")
        assert billing.counts["wrong_value"] == 1
    finally:
        finance.journals[index] = journal


def test_planted_dropped_replay_is_lost(governed: RunResult) -> None:
    supply = governed.view.erp.supply
    missing = {
        i.erp_item for i in governed.view.network.supply_items if i.ehr_code in governed.view.network.missing_items
    }
    index = next(i for i, issue in enumerate(supply.issues) if issue.item in missing)
    issue = supply.issues.pop(index)
    try:
        flow = next(f for f in check_all(governed.view) if f.flow == "usage_inventory")
        assert flow.counts["lost"] == 1
    finally:
        supply.issues.insert(index, issue)


def test_a_retired_service_line_parks_supply_issues_and_replays_them_to_the_replacement() -> None:
    twin = Twin(
        small_scenario(days=3, governance={"retire_cost_center": {"hospital": 1, "department": "ortho", "day": 1}})
    )
    result = twin.run()
    assert result.in_sync, [d for f in result.flows for d in f.differences[:3]]
    retirement = result.view.network.retirement
    assert retirement is not None
    issues = result.view.erp.supply.issues
    assert any(i.cost_center == retirement.replacement for i in issues)
    assert not any(i.cost_center == retirement.cost_center and i.posted_at >= retirement.at for i in issues)
    supply = twin.integration.supply  # type: ignore[attr-defined]
    assert any(e.reason_code == "retired_cost_center" for e in supply.raised)
    assert not supply._parked.get(("department", "H01-ORTH"))


def test_the_steward_reads_a_subclass_that_changes_exceptions_through_exceptions() -> None:
    """The steward reads only what grew in the integration's ``exception_queues``; a design that
    subclasses ours and adds to ``exceptions`` without changing the queues would hide its own
    exceptions from the steward, so it is read through ``exceptions`` instead."""
    from twin.integration.reference import ReferenceIntegration
    from twin.world import exception_queues

    class AddsItsOwn(ReferenceIntegration):
        def exceptions(self) -> list[IntegrationException]:
            return [*super().exceptions(), *self.own]

    class AddsItsOwnQueueToo(AddsItsOwn):
        def exception_queues(self) -> tuple[list[IntegrationException], ...]:
            return (*super().exception_queues(), self.own)

    ours, forgot, kept = (object.__new__(cls) for cls in (ReferenceIntegration, AddsItsOwn, AddsItsOwnQueueToo))
    assert exception_queues(ours) == ours.exception_queues
    assert exception_queues(forgot) is None
    assert exception_queues(kept) == kept.exception_queues
    ours.exceptions = lambda: []  # type: ignore[method-assign]  # changed on the instance: read through it
    assert exception_queues(ours) is None
