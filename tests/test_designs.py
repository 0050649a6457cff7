"""Integration designs: release schedules on the local clock, selection, and ``twin compare``."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import small_scenario
from twin.cli import main
from twin.domain.designs import UnknownDesign
from twin.domain.exchange import TargetRequest
from twin.domain.timebase import Timebase
from twin.integration.designs import (
    AP_INVOICE,
    CLAIM,
    DESIGNS,
    LABOR_POSTING,
    MANUAL_POSTING,
    NIGHTLY_BATCH,
    REVENUE_JOURNAL,
    SUPPLY_USAGE,
    design_named,
    request_kind,
)
from twin.scenario import ScenarioError, parse_scenario

DAY = 1440.0
MONDAY = datetime(2026, 1, 5)  # the default scenario's start
FRIDAY_1400 = 4 * DAY + 14 * 60


def _journal(visit: str = "V1") -> TargetRequest:
    return TargetRequest("erp", "POST", "/finance/journals", {"reference": visit}, f"journal:{visit}", visit)


def _claim(visit: str = "V1") -> TargetRequest:
    return TargetRequest("clearinghouse", "POST", "/claims", {"resourceType": "Claim"}, f"claim:{visit}", visit)


def _issue(item: str = "IM-1", line: str = "T1") -> TargetRequest:
    body = {"reference": line, "location": "101-7510", "item": item, "quantity": 1}
    return TargetRequest("erp", "POST", "/inventory/issues", body, f"issue:{line}", line)


def _invoice() -> TargetRequest:
    body = {"vendor_invoice": "INV1", "po": "PO1", "quantity": 1, "amount": 100}
    return TargetRequest("erp", "POST", "/payables/invoices", body, "invoice:INV1", "PO1")


# -- schedules -----------------------------------------------------------------------------------
def test_nightly_batch_and_next_business_day_on_the_local_clock() -> None:
    monday = MONDAY.weekday()
    assert NIGHTLY_BATCH.next_run(FRIDAY_1400, monday) == 5 * DAY + 60  # Saturday 01:00
    assert MANUAL_POSTING.next_run(FRIDAY_1400, monday) == 7 * DAY + 600  # Monday 10:00
    assert NIGHTLY_BATCH.next_run(DAY + 30, monday) == DAY + 60  # 00:30 Tuesday -> 01:00 the same night
    assert NIGHTLY_BATCH.next_run(DAY + 60, monday) == DAY + 60  # made as the batch starts: goes with it
    assert MANUAL_POSTING.next_run(DAY + 9 * 60, monday) == 2 * DAY + 600  # Tuesday 09:00 -> Wednesday 10:00
    assert MANUAL_POSTING.next_run(5 * DAY + 11 * 60, monday) == 7 * DAY + 600  # Saturday -> Monday


def test_release_times_in_simulated_minutes_respect_the_start_clock() -> None:
    batch = design_named("point-to-point-batch")
    release = batch.release_at(Timebase(MONDAY))
    assert release is not None
    assert release(_journal(), FRIDAY_1400) == 5 * DAY + 60
    assert release(_issue(), FRIDAY_1400) == 7 * DAY + 600
    assert release(_journal("V2"), DAY + 30) == DAY + 60
    # a run starting on Friday at 14:00: simulated minute 0 is Friday 14:00 local
    late_start = batch.release_at(Timebase(datetime(2026, 1, 9, 14, 0)))
    assert late_start is not None
    assert late_start(_journal(), 0.0) == 11 * 60  # Saturday 01:00
    assert late_start(_issue(), 0.0) == 2 * DAY + 20 * 60  # Monday 10:00


def test_a_follow_up_goes_with_the_run_that_released_what_it_follows() -> None:
    release = design_named("point-to-point-batch").release_at(Timebase(MONDAY))
    assert release is not None
    run = release(_journal("V1"), FRIDAY_1400)
    assert run == 5 * DAY + 60
    assert release(_journal("V2"), run + 0.02) == 6 * DAY + 60  # fresh work during the run: next night
    # the claim file the batch wrote waits for a biller to upload it: 09:00 on the next business day (Monday)
    upload = release(_claim("V1"), run + 0.02)
    assert upload == 7 * DAY + 540
    assert release(_claim("V1"), upload + 30) is None  # the same claim again (a retry): with its upload
    assert release(_claim("V3"), upload + 30) == 8 * DAY + 540  # a claim written after the file: tomorrow's
    session = release(_issue("IM-1", "T1"), FRIDAY_1400)
    assert session == 7 * DAY + 600
    assert release(_issue("IM-1", "T2"), session + 0.05) is None  # next line of the same item-location
    assert release(_issue("IM-1", "T3"), session + 180) == 8 * DAY + 600  # the session is over


def test_designs_hold_only_what_they_schedule() -> None:
    labor = TargetRequest("erp", "POST", "/finance/journals", {}, "labor:k", "labor:101-6010@2026-01-05")
    query = TargetRequest("erp", "GET", "/inventory/issues", {}, "", "kpi/x")
    assert request_kind(labor) == LABOR_POSTING and request_kind(_journal()) == REVENUE_JOURNAL
    assert request_kind(_claim()) == CLAIM and request_kind(_issue()) == SUPPLY_USAGE
    assert request_kind(_invoice()) == AP_INVOICE and request_kind(query) is None
    assert design_named("event-driven").release_at(Timebase(MONDAY)) is None  # the outbox's own path
    batch = design_named("point-to-point-batch").release_at(Timebase(MONDAY))
    hybrid = design_named("hybrid").release_at(Timebase(MONDAY))
    assert batch is not None and hybrid is not None
    assert batch(labor, FRIDAY_1400) is None and batch(query, FRIDAY_1400) is None
    assert hybrid(_journal(), FRIDAY_1400) is None and hybrid(_issue(), FRIDAY_1400) is None
    assert hybrid(_invoice(), FRIDAY_1400) == 5 * DAY + 60


# -- selecting a design --------------------------------------------------------------------------
def _scenario_file(tmp_path: Path, name: str, design_block: dict[str, Any] | None, days: float = 3) -> Path:
    data = small_scenario(days=days).model_dump(mode="json")
    data.pop("integration", None)
    if design_block is not None:
        data["integration"] = design_block
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_event_driven_is_byte_identical_to_no_design(tmp_path: Path) -> None:
    without = _scenario_file(tmp_path, "without.yaml", None)
    with_block = _scenario_file(tmp_path, "with.yaml", {"design": "event-driven"})
    main(["run", "--scenario", str(without), "--out", str(tmp_path / "a")])
    main(["run", "--scenario", str(with_block), "--out", str(tmp_path / "b")])
    first = (tmp_path / "a" / "summary.json").read_bytes()
    assert first == (tmp_path / "b" / "summary.json").read_bytes()
    assert json.loads(first)["design"] == "event-driven"


def test_bad_design_names_exit_2_listing_the_designs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    names = sorted(DESIGNS)
    assert main(["run", "--design", "nightly"]) == 2
    assert main(["compare", "--designs", "event-driven,nightly"]) == 2
    bad = _scenario_file(tmp_path, "bad.yaml", {"design": "nightly"})
    assert main(["run", "--scenario", str(bad)]) == 2
    errors = capsys.readouterr().err
    assert errors.count("nightly") == 3 and "Traceback" not in errors
    for line in errors.strip().split("error:")[1:]:
        assert all(name in line for name in names), line
    with pytest.raises(ScenarioError, match=r"line \d+, field 'integration.design'"):
        parse_scenario(bad.read_text(), str(bad))
    assert main(["compare", "--designs", "hybrid,hybrid"]) == 2
    assert "more than once" in capsys.readouterr().err
    with pytest.raises(UnknownDesign, match="the designs are event-driven, hybrid, point-to-point-batch"):
        design_named("Event-Driven")


def test_the_command_line_overrides_the_scenario_design() -> None:
    assert small_scenario().integration.design == "event-driven"
    assert small_scenario().with_overrides(design="hybrid").integration.design == "hybrid"
    with pytest.raises(ScenarioError, match="integration.design"):
        small_scenario().with_overrides(design="nightly")


# -- twin compare --------------------------------------------------------------------------------
def test_compare_shows_batch_worse_than_event_driven(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = _scenario_file(tmp_path, "small.yaml", None)
    args = ["compare", "--scenario", str(scenario), "--designs", "point-to-point-batch,event-driven"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0  # a comparison is not a verdict
    printed = capsys.readouterr().out
    for label in ("point-to-point-batch", "event-driven", "days to bill", "stock accuracy", "breaker trips"):
        assert label in printed
    document = json.loads((tmp_path / "a" / "compare.json").read_text())
    batch, event = document["designs"]["point-to-point-batch"], document["designs"]["event-driven"]
    assert batch["claims_accepted"] == event["claims_accepted"]  # same work, only later
    assert batch["days_to_bill_mean"] >= event["days_to_bill_mean"] + 0.25  # the nightly batch: ~half a day
    assert batch["days_to_bill_p90"] > event["days_to_bill_p90"]
    assert batch["stock_accuracy"] <= event["stock_accuracy"] - 0.25  # usage keyed in the next business day
    assert batch["held_by_schedule"] > 0 and event["held_by_schedule"] == 0
    assert batch["gaps_stale"] > 0 and event["gaps"] == 0
    assert (tmp_path / "a" / "compare.csv").read_text().splitlines()[0].startswith("design,")
    # deterministic: the same scenario and seed write the same file
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    assert (tmp_path / "a" / "compare.json").read_bytes() == (tmp_path / "b" / "compare.json").read_bytes()
    assert "wall" not in (tmp_path / "a" / "compare.json").read_text()


def test_comparison_rows_are_a_table_for_notebooks() -> None:
    from twin.analysis.compare import Comparison, DesignResult

    comparison = Comparison("s", 1, 2.0, [DesignResult("event-driven", {"gaps": 0, "gaps_in_billing": 0})])
    assert comparison.rows() == [{"design": "event-driven", "gaps": 0, "gaps_in_billing": 0}]
    assert comparison.flows == ["billing"]
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="rows"):
            comparison.frame()
    else:
        assert list(comparison.frame().index) == ["event-driven"]
