"""Compare integration designs: the same scenario and seed through each design, side by side.

An architect choosing between a nightly batch, event-driven middleware and a hybrid wants the
business consequences, not message counts: how long revenue waits to be billed, how far the
ERP's stock drifts from the shelf, how much the systems disagree, how much work lands on people.
``compare`` runs the scenario once per design (``twin.integration.designs``: only *when* requests
leave differs) and measures each run the same way:

- business outcomes: days to bill (claim received by the clearinghouse - discharge, over accepted
  claims), DNFB (the calibration's DNFB days, and the amount discharged but not final billed in
  the ERP when the workload ends), stock accuracy (share of the ERP's cycle counts without
  variance), stock-outs in the ERP, reconciliation gaps (the checker's differences by class and by
  flow), exceptions raised and still open, and the dead-letter backlog with its oldest letter's age;
- integration health: time to consistency p50/p95 per flow, retries, breaker trips and the
  requests the design's schedules held (from the integration's optional ``health()``).

The results are plain: ``Comparison.rows()`` is one flat dict per design (a notebook turns it into
a DataFrame with ``Comparison.frame()`` when pandas is installed); ``Comparison.document()`` is
what ``compare.json`` holds - no wall-clock figures, so the same scenario and seed give the same
file. A comparison is not a verdict: ``twin compare`` exits 0 whichever design looks worse.
"""

from __future__ import annotations

import csv
import gc
import importlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twin.domain.contract import Sut
from twin.domain.designs import DESIGN_DESCRIPTIONS, UnknownDesign, check_design, known_designs
from twin.observe.checker import percentile
from twin.observe.records import DIFFERENCE_CLASSES
from twin.scenario import Scenario

if TYPE_CHECKING:
    from rich.console import Console

    from twin.sim import RunResult

DAY = 1440.0
BUSINESS, HEALTH = "business outcomes", "integration health"
DEFAULT_DESIGNS = ("point-to-point-batch", "event-driven", "hybrid")
Progress = Callable[[str, float, float], None]  # (design, simulated minutes done, minutes in the workload)


@dataclass(slots=True)
class DesignResult:
    """One design's figures (``metrics``: flat, JSON-ready) and its wall time (console only)."""

    design: str
    metrics: dict[str, Any]
    wall_seconds: float = 0.0


@dataclass(slots=True)
class Comparison:
    """Every design's figures on one scenario and seed."""

    scenario: str
    seed: int
    days: float
    results: list[DesignResult] = field(default_factory=list)

    @property
    def designs(self) -> list[str]:
        return [result.design for result in self.results]

    @property
    def flows(self) -> list[str]:
        """The flows the runs were checked on, in the order the harness checks them."""
        first = self.results[0].metrics if self.results else {}
        return [key.removeprefix("gaps_in_") for key in first if key.startswith("gaps_in_")]

    def rows(self) -> list[dict[str, Any]]:
        """One flat record per design (``design`` first, then every figure): a table for notebooks."""
        return [{"design": result.design, **result.metrics} for result in self.results]

    def frame(self) -> Any:
        """``rows()`` as a pandas DataFrame indexed by design; pandas is not a dependency of the
        twin, so this raises ``ImportError`` (saying to use ``rows()``) when it is not installed."""
        try:
            pandas = importlib.import_module("pandas")
        except ImportError:
            raise ImportError("Comparison.frame() needs pandas (pip install pandas); rows() needs nothing") from None
        return pandas.DataFrame(self.rows()).set_index("design")

    def document(self) -> dict[str, Any]:
        """What ``compare.json`` holds: deterministic for scenario + seed (no wall-clock figures)."""
        return {
            "scenario": self.scenario,
            "seed": self.seed,
            "days": self.days,
            "designs": {
                result.design: {
                    "description": DESIGN_DESCRIPTIONS.get(result.design, f"the integration {result.design} (--sut)"),
                    **result.metrics,
                }
                for result in self.results
            },
        }

    def write(self, out: Path) -> list[Path]:
        """``compare.json`` and ``compare.csv`` (one row per design) in ``out``; returns their paths."""
        out.mkdir(parents=True, exist_ok=True)
        document = out / "compare.json"
        document.write_text(json.dumps(self.document(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        table = out / "compare.csv"
        rows = self.rows()
        columns = list(rows[0]) if rows else ["design"]
        with open(table, "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, columns)
            writer.writeheader()
            for row in rows:
                writer.writerow({key: "" if value is None else value for key, value in row.items()})
        return [document, table]


def parse_designs(text: str, *, allow_none: bool = False) -> list[str]:
    """``"a,b,c"`` as design names in column order; ``UnknownDesign`` (naming the designs there
    are) for an unknown name, a name given twice (two columns would be one), or an empty list
    (unless ``allow_none``: other columns come from ``--sut``)."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names and allow_none:
        return []
    if not names:
        raise UnknownDesign(f"no integration design given in {text!r}; the designs are {known_designs()}")
    unknown = [name for name in names if name not in DESIGN_DESCRIPTIONS]
    if unknown:
        listed = ", ".join(repr(name) for name in unknown)
        raise UnknownDesign(f"unknown integration design(s) {listed} in --designs; the designs are {known_designs()}")
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise UnknownDesign(f"design(s) {', '.join(twice)} given more than once in {text!r}: each design is one column")
    return names


def compare(
    scenario: Scenario,
    designs: Sequence[str] = DEFAULT_DESIGNS,
    *,
    suts: Sequence[Sut] = (),
    progress: Progress | None = None,
    done: Callable[[DesignResult], None] | None = None,
) -> Comparison:
    """Run ``scenario`` (same seed) through each design of the reference integration, then through
    each integration of ``suts`` (a user's own, in the scenario's design), and measure every run the
    same way: one column each, named by the design or by the integration.

    ``progress`` hears each column's simulated time; ``done`` each column's figures as soon as
    they are in. Unknown design names raise ``UnknownDesign`` before anything runs.
    """
    from twin.sim import run

    for name in designs:
        check_design(name)
    columns: list[tuple[str, Scenario, Sut | None]] = [
        (name, scenario.with_overrides(design=name), None) for name in designs
    ]
    columns += [(sut.name, scenario, sut) for sut in suts]
    names = [name for name, _scenario, _sut in columns]
    if len(set(names)) != len(names):
        twice = sorted({name for name in names if names.count(name) > 1})
        raise UnknownDesign(f"column(s) {', '.join(twice)} given more than once: each design or --sut is one column")
    comparison = Comparison(scenario.name, scenario.seed, scenario.days)
    for name, variant, sut in columns:
        started = time.perf_counter()
        report = None if progress is None else (lambda now, total, name=name: progress(name, now, total))
        if sut is None:
            result = run(variant, progress=report, keep_traffic=False)
        else:
            result = run(variant, progress=report, keep_traffic=False, integration=sut.factory, name=sut.name)
        measured = DesignResult(name, measure(result), time.perf_counter() - started)
        # A run holds its whole network in reference cycles, and the driver keeps the cyclic
        # collector off while it runs: free this one now, or every later run carries it along.
        del result
        gc.collect()
        comparison.results.append(measured)
        if done is not None:
            done(measured)
    return comparison


def compare_rows(scenario: Scenario, designs: Sequence[str] = DEFAULT_DESIGNS) -> list[dict[str, Any]]:
    """For notebooks: ``compare(...).rows()``, one flat dict per design."""
    return compare(scenario, designs).rows()


# -- measuring one run --------------------------------------------------------------------------
def measure(result: RunResult) -> dict[str, Any]:
    """Every figure of one run, flat and rounded (deterministic for scenario + seed + design)."""
    view = result.view
    metrics: dict[str, Any] = {}
    metrics.update(_billing(result))
    metrics.update(_inventory(result))
    metrics.update(_gaps(result))
    exceptions = view.exceptions
    metrics["exceptions_raised"] = len(exceptions)
    metrics["exceptions_open"] = sum(1 for e in exceptions if e.resolved_at is None)
    letters = view.dead_letters
    metrics["dlq_backlog"] = len(letters)
    oldest = min((letter.received_at for letter in letters), default=None)
    metrics["dlq_oldest_age_hours"] = None if oldest is None else _round((result.horizon - oldest) / 60)
    for flow in result.flows:
        lags = flow.percentiles()
        metrics[f"lag_p50_minutes_{flow.flow}"] = _round(lags["p50"])
        metrics[f"lag_p95_minutes_{flow.flow}"] = _round(lags["p95"])
    # ``health()`` is optional in the contract; the reference one counts only what happened
    # (no "retries" key before the first retry), so a missing counter is a zero.
    counters = view.integration.health
    for name, key in (("retries", "retries"), ("breaker_trips", "breaker_trips"), ("held_by_schedule", "held")):
        metrics[name] = None if counters is None else int(counters.get(key, 0))
    metrics["waiting"] = None if counters is None else int(counters.get("waiting", 0))
    metrics["in_sync"] = result.in_sync
    return metrics


def _billing(result: RunResult) -> dict[str, Any]:
    """Days to bill over accepted claims, DNFB days (calibration) and DNFB amount at workload end."""
    from twin.observe.calibration import Dnfb, calibrate

    view = result.view
    dnfb = Dnfb.of(view)
    discharged = dnfb.discharged
    received: dict[str, float] = {}
    for claim in view.clearinghouse.accepted:  # in the order received: the first acceptance counts
        received.setdefault(claim.claim_number, claim.received_at)
    days = [(at - discharged[visit]) / DAY for visit, at in received.items() if visit in discharged]
    amount, waiting = dnfb.at(view.scenario.days * DAY)
    dnfb_days = next((row.value for row in calibrate(view) if row.reference.statistic == "DNFB days"), None)
    return {
        "claims_accepted": len(days),
        "days_to_bill_mean": _round(sum(days) / len(days)) if days else None,
        "days_to_bill_p90": _round(percentile(days, 90)),
        "dnfb_days": _round(dnfb_days),
        "dnfb_amount_usd": round(amount / 100, 2),
        "dnfb_encounters": len(waiting),
        **_stages(result, dnfb.billed, received),
    }


# The stages between discharge and the accepted claim, in order: (metric, what a reader calls it).
STAGES = (
    ("stage_coding_days", "coding"),  # discharge -> coded: HIM's queue
    ("stage_bill_hold_days", "bill hold"),  # coded -> bill due: what is left of the hold
    ("stage_final_bill_days", "integration"),  # bill due -> the ERP's receivable: the design's schedule
    ("stage_claim_days", "claim"),  # receivable -> claim accepted: upload, rejections, corrections
)


def _stages(result: RunResult, billed: dict[str, float], accepted: dict[str, float]) -> dict[str, Any]:
    """Mean days per stage over the encounters finally billed: discharge -> coded (HIM's queue),
    coded -> bill due (what is left of the bill hold), bill due -> the ERP's receivable (the
    integration and its design's schedule), receivable -> the claim accepted (claims only). With
    ``days_to_final_bill_mean`` (discharge -> receivable) they say which stage a design changes."""
    from twin.domain.events import CodingCompleted, PatientDischarged

    view = result.view
    hold = view.scenario.billing.bill_hold_hours * 60
    discharged: dict[str, float] = {}
    coded: dict[str, float] = {}
    for fact in view.truth:
        if isinstance(fact, PatientDischarged):
            discharged[fact.visit] = fact.at
        elif isinstance(fact, CodingCompleted):
            coded[fact.visit] = fact.at
    sums = dict.fromkeys((name for name, _ in STAGES), 0.0)
    counts = dict.fromkeys(sums, 0)
    total, finals = 0.0, 0
    for visit, final in billed.items():
        if visit not in discharged or visit not in coded:
            continue
        out, done = discharged[visit], coded[visit]
        due = max(done, out + hold)
        spans = {
            "stage_coding_days": done - out,
            "stage_bill_hold_days": due - done,
            "stage_final_bill_days": max(0.0, final - due),
        }
        if visit in accepted:
            spans["stage_claim_days"] = max(0.0, accepted[visit] - final)
        for name, minutes in spans.items():
            sums[name] += minutes / DAY
            counts[name] += 1
        total, finals = total + (final - out) / DAY, finals + 1
    stages = {name: _round(sums[name] / counts[name]) if counts[name] else None for name in sums}
    return {"days_to_final_bill_mean": _round(total / finals) if finals else None, **stages}


def largest_stage(base: dict[str, Any], other: dict[str, Any]) -> tuple[str, float] | None:
    """The stage whose mean differs most between two designs' figures, and by how many days."""
    gaps = [
        (label, float(other[name]) - float(base[name]))
        for name, label in STAGES
        if other.get(name) is not None and base.get(name) is not None
    ]
    return max(gaps, key=lambda gap: abs(gap[1])) if gaps else None


def _inventory(result: RunResult) -> dict[str, Any]:
    supply = result.view.erp.supply
    exact = sum(1 for count in supply.counts if count.variance == 0)
    return {
        "cycle_counts": len(supply.counts),
        "stock_accuracy": _round(exact / len(supply.counts)) if supply.counts else None,
        "stock_outs": len(supply.stock_outs),
    }


def _gaps(result: RunResult) -> dict[str, Any]:
    """The checker's differences: all, per class summed over flows, per flow."""
    by_class = dict.fromkeys(DIFFERENCE_CLASSES, 0)
    per_flow: dict[str, int] = {}
    for flow in result.flows:
        for kind, count in flow.counts.items():
            by_class[kind] = by_class.get(kind, 0) + count
        per_flow[flow.flow] = len(flow.differences)
    return {
        "gaps": sum(by_class.values()),
        **{f"gaps_{kind}": count for kind, count in by_class.items()},
        **{f"gaps_in_{flow}": count for flow, count in per_flow.items()},
    }


def _stage(name: str) -> Callable[[dict[str, Any]], str]:
    return lambda m: _num(m.get(name))


def _largest(base: dict[str, Any]) -> Callable[[dict[str, Any]], str]:
    def show(metrics: dict[str, Any]) -> str:
        if metrics is base:
            return "-"
        found = largest_stage(base, metrics)
        return "-" if found is None else f"{found[0]} {found[1]:+.2f} d"

    return show


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


# -- the console table --------------------------------------------------------------------------
def print_comparison(comparison: Comparison, console: Console) -> None:
    """Business outcomes, then integration health: one row per figure, one column per design."""
    from rich.table import Table

    table = Table(
        title=f"Integration designs on scenario {comparison.scenario} (seed {comparison.seed}, "
        f"{comparison.days:g} days of workload)"
    )
    table.add_column("figure", min_width=12, overflow="fold")  # a narrow terminal folds labels, never names
    for design in comparison.designs:
        table.add_column(design, justify="right", no_wrap=True, min_width=len(design))
    metrics = [result.metrics for result in comparison.results]
    for group, rows in ((BUSINESS, _business_rows(comparison)), (HEALTH, _health_rows(comparison))):
        table.add_row(f"[bold]{group}[/bold]", *("" for _ in metrics))
        for label, show in rows:
            table.add_row(label, *(show(m) for m in metrics))
    console.print(table)


Row = tuple[str, Callable[[dict[str, Any]], str]]


def _business_rows(comparison: Comparison) -> list[Row]:
    rows: list[Row] = [
        ("days to bill, mean / p90", lambda m: f"{_num(m['days_to_bill_mean'])} / {_num(m['days_to_bill_p90'])}"),
        ("  claims accepted", lambda m: str(m["claims_accepted"])),
        ("DNFB days (calibration)", lambda m: _num(m["dnfb_days"])),
        ("days to final bill", lambda m: _num(m.get("days_to_final_bill_mean"))),
        *((f"  {label}", _stage(name)) for name, label in STAGES),
        ("  stage that differs most", _largest(comparison.results[0].metrics)),
        ("DNFB $ at end of workload", lambda m: f"{m['dnfb_amount_usd']:,.0f} ({m['dnfb_encounters']} enc.)"),
        (
            "stock accuracy (counts exact)",
            lambda m: "-" if m["stock_accuracy"] is None else f"{m['stock_accuracy']:.1%} of {m['cycle_counts']}",
        ),
        ("stock-outs (ERP)", lambda m: str(m["stock_outs"])),
        ("reconciliation gaps", lambda m: str(m["gaps"])),
    ]
    rows += [(f"  {kind.replace('_', ' ')}", _figure(f"gaps_{kind}")) for kind in DIFFERENCE_CLASSES]
    rows += [(f"  in {flow}", _figure(f"gaps_in_{flow}")) for flow in comparison.flows]
    rows += [
        ("exceptions raised / open", lambda m: f"{m['exceptions_raised']} / {m['exceptions_open']}"),
        (
            "DLQ backlog (oldest, h)",
            lambda m: (
                str(m["dlq_backlog"])
                + ("" if m["dlq_oldest_age_hours"] is None else f" ({m['dlq_oldest_age_hours']:.1f})")
            ),
        ),
    ]
    return rows


def _health_rows(comparison: Comparison) -> list[Row]:
    rows: list[Row] = [(f"lag p50 / p95 {flow}", _lags(flow)) for flow in comparison.flows]
    rows += [
        ("retries", lambda m: _num(m["retries"])),
        ("breaker trips", lambda m: _num(m["breaker_trips"])),
        ("held by the design's schedules", lambda m: _num(m["held_by_schedule"])),
        ("still waiting at the end", lambda m: _num(m["waiting"])),
        ("every target in sync", lambda m: "yes" if m["in_sync"] else "no"),
    ]
    return rows


def _figure(key: str) -> Callable[[dict[str, Any]], str]:
    return lambda metrics: _num(metrics[key])


def _lags(flow: str) -> Callable[[dict[str, Any]], str]:
    def show(metrics: dict[str, Any]) -> str:
        return f"{_duration(metrics[f'lag_p50_minutes_{flow}'])} / {_duration(metrics[f'lag_p95_minutes_{flow}'])}"

    return show


def _num(value: float | int | None) -> str:
    if value is None:
        return "-"
    return str(value) if isinstance(value, int) else f"{value:.2f}"


def _duration(minutes: float | None) -> str:
    """Seconds under a minute, minutes under two hours, hours under two days, then days."""
    if minutes is None:
        return "-"
    if minutes < 1:
        return f"{minutes * 60:.1f} s"
    if minutes < 120:
        return f"{minutes:.1f} min"
    if minutes < 2 * DAY:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / DAY:.1f} d"
