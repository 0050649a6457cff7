"""What ``twin conform`` prints: the verdict table, failures with their evidence, the vocabulary.

The table has one row per scenario (feature, scenario, requirement tags, verdict, duration); each
failure or error then gets its message and the first rows of its failing evidence, so a CI log
alone says what went wrong. The closing line counts verdicts in the plain "N passed, N failed"
form CI systems read (errors count as failed there, and are listed above it).
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from twin.conformance.plugin import ScenarioResult
from twin.conformance.requirements import REQUIREMENTS
from twin.conformance.runner import ConformRun

STYLE = {"pass": "green", "fail": "red", "skip": "yellow", "error": "magenta"}
EVIDENCE_ROWS = 5


CI_WIDTH = 160  # columns when the output is a log, not a terminal: one line per scenario


def print_run(run: ConformRun, console: Console) -> None:
    if not console.is_terminal and console.width < CI_WIDTH:
        console = Console(file=console.file, width=CI_WIDTH, no_color=console.no_color)
    table = Table(title=f"Conformance of {run.sut} ({len(run.results)} scenarios from {run.features})")
    table.add_column("feature", no_wrap=True)
    table.add_column("scenario")
    table.add_column("requirements", no_wrap=True)
    table.add_column("verdict")
    table.add_column("time", justify="right")
    for result in run.results:
        table.add_row(
            escape(result.feature_file or result.feature),
            escape(result.scenario),
            escape("\n".join(result.requirements) or "-"),
            f"[{STYLE[result.verdict]}]{result.verdict}[/{STYLE[result.verdict]}]",
            f"{result.duration:.1f} s",
        )
    console.print(table)
    for problem in run.collection_errors:
        console.print(f"[magenta]collection error[/magenta] {escape(problem)}", soft_wrap=True)
    for result in run.results:
        if result.verdict in ("fail", "error"):
            _print_failure(result, console)
    counts = run.counts
    console.print(
        f"{counts['pass']} pass, {counts['fail']} fail, {counts['skip']} skip, {counts['error']} error "
        f"against {escape(run.sut)} in {run.wall_seconds:.1f} s ({run.runs_simulated} simulated runs, "
        f"{run.runs_reused} reused)",
        highlight=False,
    )


def print_closing(run: ConformRun, console: Console) -> None:
    """The last line: verdict counts as CI tools read them (errors are failures there)."""
    counts = run.counts
    console.print(
        f"{counts['pass']} passed, {counts['fail'] + counts['error'] + len(run.collection_errors)} failed, "
        f"{counts['skip']} skipped",
        highlight=False,
    )


def _print_failure(result: ScenarioResult, console: Console) -> None:
    colour = STYLE[result.verdict]
    console.print(
        f"\n[{colour}]{result.verdict.upper()}[/{colour}] {escape(result.feature_file)}:{result.line} "
        f"{escape(result.scenario)}",
        soft_wrap=True,
    )
    console.print(f"  {escape(result.message)}", soft_wrap=True, highlight=False)
    for evidence in result.evidence:
        if evidence.passed:
            continue
        console.print(f"  [bold]{escape(evidence.title)}[/bold] ({escape(evidence.step)})", soft_wrap=True)
        if evidence.columns and evidence.rows:
            console.print("    " + " | ".join(evidence.columns), style="dim", highlight=False, soft_wrap=True)
            for row in evidence.rows[:EVIDENCE_ROWS]:
                console.print("    " + escape(" | ".join(row)), highlight=False, soft_wrap=True)


def print_steps(console: Console) -> None:
    """The step vocabulary: every pattern with its example and what it means, then the types."""
    from twin.conformance.steps import given, then, when  # noqa: F401 - importing declares the steps
    from twin.conformance.steps.parsers import TYPES
    from twin.conformance.steps.vocabulary import VOCABULARY

    for kind in ("given", "when", "then"):
        console.print(f"[bold]{kind.capitalize()}[/bold]")
        for step in (s for s in VOCABULARY if s.kind == kind):
            console.print(f"  {kind.capitalize()} {escape(step.pattern)}", highlight=False, soft_wrap=True)
            console.print(f"      e.g. {kind.capitalize()} {escape(step.example)}", style="dim", soft_wrap=True)
            console.print(f"      {escape(step.doc)}", highlight=False, soft_wrap=True)
        console.print()
    console.print("[bold]Types[/bold] (the {name:Type} fields above)")
    for name, parse_type in TYPES.items():
        console.print(f"  {name}: {escape(parse_type.describe)}", highlight=False, soft_wrap=True)
    console.print(
        "\nDays count from 1 (day 1 is the first simulated day). Every scenario needs a @req-... tag "
        "(twin conform --list-requirements).",
        highlight=False,
    )


def print_requirements(console: Console) -> None:
    table = Table(title="Requirements the conformance suite traces to (shared/BRIEF.txt)")
    table.add_column("tag", no_wrap=True)
    table.add_column("area")
    table.add_column("requirement")
    table.add_column("brief section")
    for requirement in REQUIREMENTS:
        table.add_row(
            "@" + requirement.id, requirement.area, escape(requirement.statement), escape(requirement.section)
        )
    console.print(table)
