"""Scenario files: valid ones load, broken ones get one clear paragraph naming file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.cli import main
from twin.scenario import DEFAULT_SCENARIO, ScenarioError, load_scenario, parse_scenario


def test_default_scenario_is_three_hospitals_for_a_week() -> None:
    scenario = load_scenario(DEFAULT_SCENARIO)
    assert scenario.network.hospitals == 3
    assert scenario.days == 7
    assert scenario.seed == 20261125


def test_bad_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nseed: 1\nnetwork: {hospitals: 3\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert str(path) in message and "not valid YAML" in message and "line" in message


def test_unknown_field_names_field_and_line() -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario("name: x\nseed: 1\nworkload:\n  admissions_per_bed: 2\n", "s.yaml")
    message = str(caught.value)
    assert "workload.admissions_per_bed" in message
    assert "line 4" in message
    assert "unknown field" in message


def test_negative_count_says_what_was_expected() -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario("name: x\nseed: 1\nnetwork:\n  hospitals: -2\n", "s.yaml")
    message = str(caught.value)
    assert "network.hospitals" in message and "greater than or equal to 1" in message and "-2" in message


def test_reversed_range_is_explained() -> None:
    with pytest.raises(ScenarioError, match="must not be below min"):
        parse_scenario("name: x\nseed: 1\ntransport: {latency_ms: {min: 50, max: 10}}\n")


def test_an_integration_outage_longer_than_the_senders_resend_for_is_refused() -> None:
    outage = "faults: [{kind: outage, system: integration, daily: '08:00-12:00'}]\n"
    with pytest.raises(ScenarioError, match=r"faults\[0\].*240 minutes.*180 minutes"):
        parse_scenario("name: x\nseed: 1\n" + outage)
    assert parse_scenario("name: x\nseed: 1\noperations: {max_resends: 60}\n" + outage).faults


def test_missing_required_field() -> None:
    with pytest.raises(ScenarioError, match="field 'seed': required field is missing"):
        parse_scenario("name: x\n")


def test_not_a_mapping() -> None:
    with pytest.raises(ScenarioError, match="must be a mapping"):
        parse_scenario("- a\n- b\n")


@pytest.mark.parametrize(
    "text",
    ["name: x\nseed: 1\nnetwork: {hospitals: 3\n", "name: x\nseed: 1\nbogus: 1\n", "name: x\nseed: -1\n"],
)
def test_cli_exits_2_with_one_paragraph(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert main(["run", "--scenario", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert str(path.name) in err.replace("\n", "")
    assert err.strip().count("\n\n") == 0  # one paragraph


def test_cli_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--scenario", str(tmp_path / "nope.yaml")]) == 2
    assert "cannot read scenario file" in capsys.readouterr().err


def test_cli_wrong_flag_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["run", "--days", "-3"])
    assert caught.value.code == 2
    assert "expected a number of days > 0" in capsys.readouterr().err
