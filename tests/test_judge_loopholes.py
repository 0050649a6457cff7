"""The judge cannot be fooled: each loophole a skeptical user found, planted as a broken integration
(``tests/broken.py``) and caught by both ``twin run --sut`` (exit 1, the difference named with its
key) and ``twin conform --sut`` (the scenario fails, with evidence).

1. the vendor leg: an integration that drops every vendor order, or every second one;
2. hidden dead letters: one that parks what it cannot read and shows nobody its queue;
3. a late charge only reported: one that raises ``late_charge`` and never bills it - while one that
   bills at once and adjusts, and one that holds the bill, both pass; an amended bill is judged as it
   first went out too; a second revenue journal under another journal source is a duplicate;
4. verdicts on no evidence: one that publishes no KPI, one that never replenishes, and one that ACKs
   everything and does nothing at all, which fails every scenario that names a flow;
5. fault figures: fault events, not the attempts they touched.

(The sans-IO rule is in ``test_architecture``.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import conform, small_scenario
from twin.cli import main
from twin.conformance.runner import ConformRun
from twin.domain.pseudonym import pseudonym
from twin.observe.expectations import TIED_SUBSETS, _billable_states
from twin.observe.replenishment import PURCHASE_ORDER, VENDOR_ORDER
from twin.observe.supply_expectations import supply_expectations
from twin.scenario import Scenario
from twin.sim import Twin
from twin.suts import load_sut

POISON = [{"kind": "poison", "source": "ehr", "rate": 0.4, "variants": ["truncated", "missing_pid"]}]
# coders' charges spoiled, repaired after the bill: the bill goes when coding completes (no bill hold)
LATE = {"faults": POISON, "operations": {"dlq_review_hours": 8}, "billing": {"bill_hold_hours": 0}}


def _scenario_file(tmp_path: Path, **overrides: Any) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(small_scenario(**overrides).model_dump(mode="json")), encoding="utf-8")
    return path


def _run(tmp_path: Path, sut: str, **overrides: Any) -> tuple[int, list[dict[str, Any]]]:
    """``twin run --sut`` on a small scenario: the exit code and the differences summary.json lists."""
    out = tmp_path / "out"
    code = main(["run", "--scenario", str(_scenario_file(tmp_path, **overrides)), "--sut", sut, "--out", str(out)])
    return code, json.loads((out / "summary.json").read_text(encoding="utf-8"))["differences"]


def _failing(run: ConformRun) -> dict[str, str]:
    """Scenario -> the summary of its first failing check."""
    return {r.scenario: next(e.summary for e in r.evidence if not e.passed) for r in run.results if r.verdict == "fail"}


# -- 1. the vendor leg -------------------------------------------------------------------------------------
@pytest.mark.parametrize("sut", ["drop_vendor_orders", "drop_every_second_vendor_order"])
def test_dropped_vendor_orders_are_lost_at_the_vendor_portal(tmp_path: Path, sut: str) -> None:
    code, differences = _run(tmp_path, f"tests.broken:{sut}")
    assert code == 1
    lost = [d for d in differences if (d["class"], d["target"]) == ("lost", VENDOR_ORDER)]
    assert lost and all("#" in d["key"] and "reorder point" in d["detail"] for d in lost), differences[:3]
    assert not [d for d in differences if d["target"] == PURCHASE_ORDER]  # the POs themselves were raised
    failing = _failing(conform(f"tests.broken:{sut}", tags="req-usage-inventory-replenishment"))
    [summary] = [s for name, s in failing.items() if "raises one order" in name]
    assert "vendor order" in summary and "lost" in summary


def test_the_replenishment_the_truth_expects_does_not_depend_on_what_the_integration_ordered() -> None:
    scenario = small_scenario()
    chains = []
    for spec in ("reference", "tests.broken:drop_vendor_orders"):
        view = Twin(scenario, load_sut(spec).factory).run().view
        expected = supply_expectations(view.truth, view.network, view.scenario)
        chains.append(
            sorted((e.target, e.key, str(e.value)) for e in expected if e.target in (PURCHASE_ORDER, VENDOR_ORDER))
        )
    assert chains[0] and chains[0] == chains[1]


# -- 2. hidden dead letters ----------------------------------------------------------------------------------
def test_a_dead_letter_queue_nobody_can_see_is_caught(tmp_path: Path) -> None:
    code, differences = _run(tmp_path, "tests.broken:hide_dead_letters", faults=POISON)
    assert code == 1
    hidden = [d for d in differences if d["target"] == "integration.dead_letter" and d["class"] == "lost"]
    assert hidden and all(d["key"].startswith("MSG") and "spoiled" in d["detail"] for d in hidden)
    # what the spoiled messages carried never reached the targets: lost there too, not parked as "pending"
    assert any(d["class"] == "lost" and d["target"] == "erp.gl_journal" for d in differences)
    failing = _failing(conform("tests.broken:hide_dead_letters", tags="req-resilience-dead-letter"))
    summary = failing["Malformed HL7 messages are parked with their reason, repaired and replayed once"]
    assert "never reached the dead-letter queue" in summary


# -- 3. late charges: held or adjusted, never only reported ------------------------------------------------------
def test_a_late_charge_only_reported_is_a_wrong_bill(tmp_path: Path) -> None:
    code, differences = _run(tmp_path, "tests.broken:late_charge_exception_only", **LATE)
    assert code == 1
    short = [d for d in differences if d["class"] == "wrong_value" and d["target"] == "erp.gl_journal"]
    assert short and all(d["key"].startswith("enc-") for d in short)  # named by the encounter's pseudonym
    failing = _failing(conform("tests.broken:late_charge_exception_only", tags="req-discharge-billing-late-charges"))
    assert "late charges not billed in full" in next(iter(failing.values()))


@pytest.mark.parametrize("sut", ["reference", "tests.broken:bills_at_once_and_adjusts"])
def test_holding_the_bill_and_adjusting_it_are_both_right(tmp_path: Path, sut: str) -> None:
    code, differences = _run(tmp_path, sut, **LATE)
    assert code == 0, differences[:3]
    run = conform(sut, tags="req-discharge-billing-late-charges")
    assert run.ok and [r.verdict for r in run.results] == ["pass"]


def test_the_two_policies_differ_where_a_dead_letter_held_the_bill() -> None:
    adjusted = {}
    for spec in ("reference", "tests.broken:bills_at_once_and_adjusts"):
        view = Twin(small_scenario(**LATE), load_sut(spec).factory).run().view
        adjusted[spec] = sum(1 for journal in view.erp.finance.journals if journal.adjusts)
    # the reference holds a bill while a message of its encounter is dead-lettered; the other bills and adjusts
    assert adjusted["tests.broken:bills_at_once_and_adjusts"] > adjusted["reference"]


def test_lines_repaired_in_one_round_may_reach_the_first_bill_in_any_order() -> None:
    # a lab line repaired at 960, two therapy lines and a supply line at 1440: a bill that went out between
    # two replays of the 1440 round holds any of those three; it never holds a 1440 line without the lab's
    late = [
        (960.0, "repaired", "lab", 100, 960.0),
        (1440.0, "repaired", "ther", 20, 1440.0),
        (1440.0, "repaired", "ther", 30, 1440.0),
        (1440.0, "repaired", "sup", 7, 1440.0),
    ]
    states = _billable_states({"room": 1000, "lab": 100, "ther": 50, "sup": 7}, late)
    totals = sorted({sum(state.values()) for state in states})
    assert totals == [1000, 1100, 1107, 1120, 1127, 1130, 1137, 1150, 1157]
    assert {"room": 1000, "lab": 0, "ther": 20, "sup": 0} not in states  # a later line without an earlier one
    assert states[0] == {"room": 1000, "lab": 0, "ther": 0, "sup": 0} and states[-1]["ther"] == 50
    # beyond TIED_SUBSETS lines at one moment, only their order is tried: the states stay few
    many = [(960.0, "repaired", f"s{i}", 1, 960.0) for i in range(TIED_SUBSETS + 1)]
    assert len(_billable_states({f"s{i}": 1 for i in range(TIED_SUBSETS + 1)}, many)) == TIED_SUBSETS + 2


def test_an_amended_bill_is_judged_as_it_first_went_out_too(tmp_path: Path) -> None:
    # a correct policy (bill at once, adjust later), but the first claim carries a wrong DRG until replaced
    code, differences = _run(tmp_path, "tests.broken:wrong_drg_until_adjusted", **LATE)
    assert code == 1 and any("as it first landed" in d["detail"] for d in differences)
    result = Twin(small_scenario(**LATE), load_sut("tests.broken:wrong_drg_until_adjusted").factory).run()
    # claims with a DRG to get wrong (an emergency or outpatient visit's claim has none)
    replaced = {s.claim_number for s in result.view.clearinghouse.submissions if s.replaces and s.accepted and s.drg}
    first_wrong = {
        d.key for f in result.flows for d in f.differences if d.kind == "wrong_value" and "first landed" in d.detail
    }
    assert replaced and replaced <= first_wrong  # every claim that was replaced had gone out wrong first


def test_a_second_revenue_journal_under_another_source_is_a_duplicate(tmp_path: Path) -> None:
    code, differences = _run(tmp_path, "tests.broken:posts_revenue_twice_under_another_source")
    assert code == 1
    twice = [d for d in differences if (d["class"], d["target"]) == ("duplicated", "erp.gl_journal")]
    assert twice and all(d["key"].startswith("enc-") for d in twice)
    failing = _failing(
        conform("tests.broken:posts_revenue_twice_under_another_source", tags="req-discharge-billing-exactly-once")
    )
    assert any("duplicated" in summary for summary in failing.values())


# -- 4. verdicts need observed work --------------------------------------------------------------------------------
def test_no_kpi_published_fails_consistency_and_lineage(tmp_path: Path) -> None:
    code, differences = _run(tmp_path, "tests.broken:publish_no_kpis")
    assert code == 1 and any(d["target"] == "dashboard.kpi" and d["class"] == "lost" for d in differences)
    failing = _failing(conform("tests.broken:publish_no_kpis", tags="executive-reporting"))
    assert set(failing) == {
        "Every KPI on the dashboard agrees with the systems of record, on time",
        "Every KPI traces back to exactly the source records behind it",
    }
    assert "nothing to judge" in failing["Every KPI traces back to exactly the source records behind it"]


def test_never_replenishing_fails_on_hand_and_replenishment(tmp_path: Path) -> None:
    code, differences = _run(tmp_path, "tests.broken:never_replenish")
    assert code == 1
    lost = [d for d in differences if d["class"] == "lost" and d["target"] == PURCHASE_ORDER]
    assert lost and any("downstream" in d["detail"] for d in lost)  # the vendor order and the shelf follow from it
    failing = _failing(conform("tests.broken:never_replenish", tags="usage-to-inventory and not slow"))
    assert "On-hand stock equals receipts minus usage at every quiet point" in failing
    assert any("raises one order" in name for name in failing)


ACK_ONLY = {  # Then steps about the wire alone: they name no flow
    "every message the EHR sent is acknowledged, and every well-formed one with AA",
    "every acknowledgement echoes the control id of the message it answers",
    "every acknowledgement is a valid HL7 v2 ACK",
}


def test_an_integration_that_acks_everything_and_does_nothing_fails_every_scenario_naming_a_flow() -> None:
    run = conform("tests.broken:acks_and_nothing_else", tags="not slow")
    flows = [r for r in run.results if set(_checks(r)) - ACK_ONLY]
    assert len(flows) >= 30
    assert not [r.scenario for r in flows if r.verdict != "fail"]


def _checks(result: Any) -> list[str]:
    """The texts of a scenario's Then steps (every step after its When step)."""
    texts = [step.text for step in result.steps]
    whens = [i for i, step in enumerate(result.steps) if step.keyword.strip().lower() == "when"]
    return texts[whens[-1] + 1 :] if whens else texts


# -- 5. fault figures: events, beside the attempts they touched --------------------------------------------------------
def test_fault_figures_count_fault_events_not_attempts(tmp_path: Path) -> None:
    faults = [
        {"kind": "outage", "system": "erp", "daily": "09:00-11:00"},
        {"kind": "poison", "source": "ehr", "rate": 0.05},
    ]
    scenario: Scenario = small_scenario(faults=faults)
    out = tmp_path / "out"
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario.model_dump(mode="json")), encoding="utf-8")
    assert main(["run", "--scenario", str(path), "--out", str(out)]) == 0
    resilience = json.loads((out / "summary.json").read_text(encoding="utf-8"))["resilience"]
    windows = [o for o in resilience["outage_windows"] if o["system"] == "erp" and o["first_tried"]]
    assert resilience["faults_injected"]["outage"] == len(windows)  # one fault per window that met a request
    touched = sum(o["first_tried"] for o in windows)
    assert resilience["attempts_touched"]["outage"] >= touched > len(windows)  # every try, retries included
    spoiled = resilience["attempts_detail"]["poison"]
    assert resilience["faults_injected"]["poison"] == sum(spoiled.values())  # one event per spoiled message


def test_pseudonyms_in_evidence_are_the_encounters_own(tmp_path: Path) -> None:
    code, differences = _run(tmp_path, "tests.broken:late_charge_exception_only", **LATE)
    twin = Twin(small_scenario(**LATE), load_sut("tests.broken:late_charge_exception_only").factory)
    result = twin.run()
    wrong = [d for f in result.flows for d in f.differences if d.kind == "wrong_value" and d.target == "erp.gl_journal"]
    assert wrong and {pseudonym(d.key) for d in wrong} <= {d["key"] for d in differences}


def test_a_run_with_nothing_to_judge_is_not_in_sync(tmp_path: Path) -> None:
    from twin.observe.checker import FlowResult
    from twin.observe.view import RunResult

    view = Twin(small_scenario(days=0.1)).run().view
    idle = RunResult(view, [FlowResult("discharge_billing", 30.0), FlowResult("usage_inventory", 15.0)])
    assert not idle.judged and not idle.in_sync  # no record due anywhere: not a pass
