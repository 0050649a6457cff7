"""The conformance kit: vocabulary, requirement tags, verdicts with evidence, external features,
and the point of it all - the naive point-to-point integration fails the resilience scenarios it
should, for the right reason and with evidence, while the reference integration passes them."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from pytest_bdd.parser import FeatureParser

from tests.conftest import conform
from twin.cli import main
from twin.conformance.plugin import ScenarioResult
from twin.conformance.requirements import BY_ID, REQUIREMENTS, is_requirement_tag
from twin.conformance.runner import ConformError, default_features
from twin.conformance.steps import given, then, when  # noqa: F401 - importing declares the steps
from twin.conformance.steps.vocabulary import VOCABULARY
from twin.suts import SutError, load_sut

AREAS = (
    "discharge-to-billing",
    "usage-to-inventory",
    "labor-cost",
    "executive-reporting",
    "master-data",
    "resilience",
    "message-standards",
)
NAIVE = "examples.naive_point_to_point:factory"


def _shipped() -> list[tuple[Path, str, set[str]]]:
    root = default_features()
    found = []
    for path in sorted(root.rglob("*.feature")):
        feature = FeatureParser(str(path.parent), path.name).parse()
        for template in feature.scenarios.values():
            found.append((path.relative_to(root), template.name, template.tags | feature.tags))
    return found


def test_every_step_example_matches_its_own_pattern_and_no_other() -> None:
    assert len(VOCABULARY) >= 40
    for step in VOCABULARY:
        assert step.doc, f"step {step.pattern!r} has no docstring"
        assert step.matches(step.example), f"example {step.example!r} does not match {step.pattern!r}"
        rivals = [s.pattern for s in VOCABULARY if s.kind == step.kind and s is not step and s.matches(step.example)]
        assert not rivals, f"example {step.example!r} also matches {rivals}"


def test_the_shipped_suite_covers_every_area_and_requirement_with_traced_scenarios() -> None:
    scenarios = _shipped()
    assert len(scenarios) >= 25
    assert {path.parts[0] for path, _name, _tags in scenarios} == set(AREAS)
    for path, name, tags in scenarios:
        requirements = {tag for tag in tags if is_requirement_tag(tag)}
        assert requirements, f"{path}: scenario {name!r} carries no @req- tag"
        assert requirements <= set(BY_ID), f"{path}: {name!r} uses unregistered {requirements - set(BY_ID)}"
    used = {tag for _path, _name, tags in scenarios for tag in tags}
    assert [r.id for r in REQUIREMENTS if r.id not in used] == []
    assert len(BY_ID) == len(REQUIREMENTS)


def test_feature_text_is_business_prose() -> None:
    """URLs, segment indexes and JSON live in step code, never in feature text."""
    for path in default_features().rglob("*.feature"):
        text = path.read_text(encoding="utf-8")
        for banned in ("http", "/finance", "MSH-", "PID-", "FT1", "{", '"'):
            assert banned not in text, f"{path.name} mentions {banned!r}"


def _feature(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


OUTSIDE = """\
@team-suite
Feature: Our own checks, written outside the project
  Background:
    Given a network of 1 hospital with 120 staffed beds each
    And 2 days of patient activity

  @req-discharge-billing-exactly-once
  Scenario: Our charges are billed once
    When the integration under test runs the network
    Then no charge is lost and none is posted twice
    And 95% of claims land within 30 minutes

  @req-standards-hl7-ack
  Scenario: Our feed is acknowledged
    When the integration under test runs the network
    Then every acknowledgement echoes the control id of the message it answers
"""


def test_a_feature_written_outside_the_project_runs_with_the_shipped_steps(tmp_path: Path) -> None:
    _feature(tmp_path / "features" / "ours", "ours.feature", OUTSIDE)
    out = tmp_path / "out"
    run = conform(
        features=tmp_path / "features", junit=out / "junit.xml", json=out / "results.json", html=out / "report.html"
    )
    assert run.ok and [r.verdict for r in run.results] == ["pass", "pass"]
    assert run.runs_simulated == 1 and run.runs_reused == 1  # identical scenarios share one run
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert data["counts"] == {"pass": 2, "fail": 0, "skip": 0, "error": 0}
    [first, _] = data["scenarios"]
    assert first["area"] == "ours" and first["requirements"] == ["req-discharge-billing-exactly-once"]
    assert [e["title"] for e in first["evidence"]][0] == "the run" and first["evidence"][-1]["passed"]
    coverage = {row["id"]: row for row in data["requirements"]}
    assert coverage["req-discharge-billing-exactly-once"]["verdict"] == "pass"
    assert coverage["req-resilience-outage"]["verdict"] == "not covered"
    suite = ET.parse(out / "junit.xml").getroot()
    properties = [(p.get("name"), p.get("value")) for p in suite.iter("property")]
    assert ("requirement", "req-standards-hl7-ack") in properties
    assert len(list(suite.iter("testcase"))) == 2
    _well_formed(out / "report.html")


class _Checker(HTMLParser):
    VOID = {"meta", "br", "img", "input", "link", "hr"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value and not value.startswith("#"):
                self.external.append(value)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
        self.stack.pop()


def _well_formed(path: Path) -> None:
    """Every tag closed in order, no external asset (the report is one self-contained file)."""
    checker = _Checker()
    checker.feed(path.read_text(encoding="utf-8"))
    assert checker.stack == [] and checker.external == []


def test_verdicts_error_for_undefined_steps_skip_for_slow_variants_and_soft_failures(tmp_path: Path) -> None:
    _feature(
        tmp_path,
        "verdicts.feature",
        """\
Feature: Verdicts
  @req-labor-cost-allocation
  Scenario: A step nobody defined
    Given a network of 1 hospital
    When the integration under test takes a coffee break

  @req-labor-cost-allocation @slow
  Scenario: A larger variant
    Given a network of 5 hospitals
    When the integration under test runs the network

  @req-master-data-exceptions
  Scenario: Every check runs even after one failed
    Given the ERP item master lacks one supply item the EHR documents
    When the integration under test runs the network
    Then no supply exception is invented
    And no charge is lost and none is posted twice
""",
    )
    run = conform(features=tmp_path, sut="tests.test_conformance:forgetful")
    verdicts = {r.scenario: r for r in run.results}
    assert verdicts["A step nobody defined"].verdict == "error"
    assert "Step definition is not found" in verdicts["A step nobody defined"].message
    assert verdicts["A larger variant"].verdict == "skip"
    soft = verdicts["Every check runs even after one failed"]
    assert soft.verdict == "fail" and "1 unexpected at integration.supply_exception" in soft.message
    assert [s.status for s in soft.steps][-2:] == ["failed", "passed"]  # the second check still ran
    assert not run.ok


def test_slow_variants_run_with_slow_whatever_the_tags(tmp_path: Path) -> None:
    _feature(
        tmp_path,
        "slow.feature",
        """\
Feature: A larger variant
  @req-discharge-billing-exactly-once @slow
  Scenario: Run when asked
    Given a network of 1 hospital with 120 staffed beds each
    And 2 days of patient activity
    When the integration under test runs the network
    Then no charge is lost and none is posted twice
""",
    )
    [skipped] = conform(features=tmp_path).results
    assert skipped.verdict == "skip"
    [ran] = conform(features=tmp_path, slow=True).results
    assert ran.verdict == "pass" and ran.steps


def forgetful(context: object) -> object:
    """A user's factory: the reference integration, but it invents a supply exception (for the test)."""
    from twin.domain.contract import IntegrationException, RunContext
    from twin.reference_factory import reference_integration

    assert isinstance(context, RunContext)
    integration = reference_integration(context)
    invented = IntegrationException("usage_inventory", "H01V9999999-001", "unmapped_item", "made up", 1.0)
    original = integration.exceptions
    integration.exceptions = lambda: [*original(), invented]  # type: ignore[method-assign]
    return integration


def test_an_unregistered_requirement_tag_is_bad_input_naming_file_and_line(tmp_path: Path) -> None:
    path = _feature(
        tmp_path,
        "typo.feature",
        "Feature: Typo\n  @req-discharge-biling-sequencing\n  Scenario: Misspelt\n"
        "    When the integration under test runs the network\n",
    )
    with pytest.raises(ConformError, match=r"typo\.feature, line 3 .*@req-discharge-biling-sequencing"):
        conform(features=tmp_path)
    assert main(["conform", "--features", str(path.parent)]) == 2
    assert main(["conform", "--sut", "no.such.module:factory"]) == 2
    assert main(["conform", "--sut", "reference-but-wrong"]) == 2


def test_list_steps_prints_the_vocabulary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conform", "--list-steps"]) == 0
    out = capsys.readouterr().out
    assert "Given the {system:System} is down from {start:Clock} to {end:Clock} on day {day:Count}" in out
    assert "e.g. Then no charge is lost and none is posted twice" in out
    assert main(["conform", "--list-requirements"]) == 0
    assert "@req-resilience-outage" in capsys.readouterr().out


# The naive integration against the scenarios it must fail, and the reference against the same.
SELECTED = "req-resilience-outage or req-resilience-idempotency or req-resilience-ordering"
EXPECTED_FAILURES = {
    # scenario -> (difference class, target) its first failing check must name
    # coders work days: what falls due at 02:00 is the nightly labor sync, which the naive job drops
    "The ERP is down for a maintenance window at night": ("lost", "erp.labor_journal"),
    "The ERP's answers get lost after it committed": ("duplicated", "erp.gl_journal"),
    "The EHR delivers some messages twice": ("duplicated", "erp.gl_journal"),
    "A slow ERP does not let a claim overtake its journal": ("out_of_order", "clearinghouse.claim"),
    "A reordered feed is billed in the order the EHR wrote it": ("wrong_value", "erp.gl_journal"),
}


@pytest.fixture(scope="module")
def naive_results() -> dict[str, ScenarioResult]:
    run = conform(sut=NAIVE, tags="not slow")
    return {r.scenario: r for r in run.results}


def test_the_naive_integration_fails_scenarios_in_every_area_with_evidence(
    naive_results: dict[str, ScenarioResult],
) -> None:
    areas = {result.area for result in naive_results.values()}
    assert areas == set(AREAS)
    for area in sorted(areas):
        failed = [r for r in naive_results.values() if r.area == area and r.verdict == "fail"]
        assert failed, f"the naive integration passes every scenario of {area}"
        for result in failed:
            failing = [e for e in result.evidence if not e.passed]
            assert failing and failing[0].summary and "nothing to judge" not in failing[0].summary, result.scenario
    assert "H01V" not in json.dumps([r.as_dict() for r in naive_results.values()])


@pytest.mark.parametrize("scenario", sorted(EXPECTED_FAILURES))
def test_the_naive_integration_fails_for_the_right_reason_with_evidence(
    naive_results: dict[str, ScenarioResult], scenario: str
) -> None:
    kind, target = EXPECTED_FAILURES[scenario]
    result = naive_results[scenario]
    assert result.verdict == "fail", result.message
    failing = [e for e in result.evidence if not e.passed]
    assert failing and kind in failing[0].summary.replace(" ", "_") and target in failing[0].summary
    rows = [row for row in failing[0].rows if row[0] == kind and row[1] == target]
    assert rows, f"no {kind} row at {target} in {failing[0].rows[:3]}"
    if not target.startswith("erp.labor"):  # labor is keyed by cost center and work date, not by encounter
        assert all(row[2].startswith("enc-") for row in rows)  # pseudonyms, never visit numbers
    assert "H01V" not in json.dumps(result.as_dict())


def test_the_naive_outage_evidence_shows_what_never_came_back(naive_results: dict[str, ScenarioResult]) -> None:
    result = naive_results["The ERP is down for a maintenance window at night"]
    [labor] = [e for e in result.evidence if e.title.startswith("labor posting")]
    # the nightly sync at 02:00 on day 2 ran into the outage and nothing sent it again
    assert not labor.passed and any(
        row[:2] == ("lost", "erp.labor_journal") and "t=3000.0" in row[3] for row in labor.rows
    )


def test_the_reference_integration_passes_the_same_scenarios() -> None:
    run = conform(tags=SELECTED)
    verdicts = {r.scenario: r.verdict for r in run.results}
    assert set(EXPECTED_FAILURES) <= set(verdicts)
    assert {v for v in verdicts.values()} <= {"pass", "skip"}, [r.message for r in run.results if r.message]


def test_a_sut_module_that_fails_to_import_is_bad_input_naming_the_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "typo_sut.py").write_text("def factory(context):\n    return (\n", encoding="utf-8")
    (tmp_path / "crashing_sut.py").write_text("x = 1\nraise RuntimeError('no licence file')\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SutError, match=r"typo_sut\.py, line \d"):
        load_sut("typo_sut:factory")
    with pytest.raises(SutError, match=r"RuntimeError: no licence file at .*crashing_sut\.py, line 2"):
        load_sut("crashing_sut:factory")
    assert main(["run", "--sut", "crashing_sut:factory", "--days", "0.1"]) == 2
    assert "Traceback" not in capsys.readouterr().err
