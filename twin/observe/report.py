"""Run reports: the summary (a dict, written as ``summary.json``), the console table and the files.

The summary holds only figures that follow from the scenario and seed, never wall-clock
figures, so the same seed gives a byte-identical file. Identifiers appear only as pseudonyms.
"""

from __future__ import annotations

import contextlib
import csv
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from twin.domain.accounts import LABOR_ALLOCATION, PATIENT_BILLING, PATIENT_DAYS
from twin.domain.events import (
    AdmissionCancelled,
    CodingCompleted,
    DischargeCancelled,
    PatientAdmitted,
    PatientDischarged,
    PatientsMerged,
    PatientTransferred,
    PatientUpdated,
    TransferCancelled,
)
from twin.domain.exchange import MessageRecord, canonical_json
from twin.domain.pseudonym import mask, pseudonym
from twin.domain.record_log import RecordLog
from twin.observe.calibration import calibrate
from twin.observe.checker import FlowResult
from twin.observe.fault_report import print_resilience, resilience_summary
from twin.observe.kpi_check import reporting_summary
from twin.observe.master_data import governance_summary
from twin.observe.records import DIFFERENCE_CLASSES, Difference
from twin.observe.view import RunResult, RunView

MAX_LISTED_DIFFERENCES = 50
KPI_LABELS = {  # console labels of the executive KPIs, and the divisor that turns cents into dollars
    "dnfb_amount": ("DNFB $", 100),
    "days_to_bill": ("days to bill", 1),
    "stock_outs": ("stock-outs", 1),
    "stock_accuracy": ("stock accuracy", 1),
    "supply_cost_per_case": ("supply $ per case", 100),
    "labor_cost_per_patient_day": ("labor $ per pat. day", 100),
}
FLOWS_PER_TABLE = 3


def difference_row(difference: Difference) -> dict[str, Any]:
    """One difference as reports show it: a key the integration made up as a pseudonym, ids masked."""
    return {
        "flow": difference.flow,
        "target": difference.target,
        "class": difference.kind,
        # A key the integration made up (an unexpected KPI) may say anything: it is shown as a pseudonym.
        "key": pseudonym(difference.key) if difference.evidence.get("public_key") is False else mask(difference.key),
        "detail": mask(difference.detail),
    }


def _flow(flow: FlowResult) -> dict[str, Any]:
    return {
        "in_sync": flow.in_sync,
        "expected_records": flow.expected,
        "matched_records": flow.matched,
        "pending_records": flow.pending,
        "differences": flow.counts,
        "allowed_lag_minutes": flow.allowed_lag,
        "time_to_consistency_minutes": {k: _round(v) for k, v in flow.percentiles().items()},
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def build_summary(result: RunResult) -> dict[str, Any]:
    """Every figure of the run's table, deterministic for scenario + seed."""
    view = result.view
    scenario = result.scenario
    truth_counts: Counter[str] = Counter(type(event).__name__ for event in view.truth)
    messages = {name: n for (kind, name), n in sorted(view.counts.items()) if kind == "hl7"}
    requests = {name: n for (kind, name), n in sorted(view.counts.items()) if kind == "request"}
    acks = Counter(record.outcome for record in view.records if record.record_type == "hl7")
    exceptions = view.exceptions
    finance, supply = view.erp.finance, view.erp.supply
    by_reason = Counter(e.reason_code for e in exceptions)
    summary: dict[str, Any] = {
        "scenario": scenario.name,
        "seed": scenario.seed,
        "design": scenario.integration.design,  # the integration design the run went through
        "days": scenario.days,
        "hospitals": len(view.network.hospitals),
        "staffed_beds": sum(h.beds for h in view.network.hospitals),
        "acquired": [
            {"hospital": h.code, "joins_day": round(h.joins_at / 1440, 3), "hl7_version": h.hl7_version}
            for h in view.network.hospitals
            if h.joins_at > 0
        ],
        "simulated_days_to_settle": round(result.horizon / 1440, 3),
        "encounters": {
            "admitted": truth_counts[PatientAdmitted.__name__],
            "transferred": truth_counts[PatientTransferred.__name__],
            "discharged": truth_counts[PatientDischarged.__name__],
            "coded": truth_counts[CodingCompleted.__name__],
            "coding_queried": sum(1 for e in view.truth.of_type(CodingCompleted) if getattr(e, "queried", False)),
            "by_type": dict(
                sorted(
                    Counter(str(getattr(e, "encounter_type", "")) for e in view.truth.of_type(PatientAdmitted)).items()
                )
            ),
            "insurance_updated": truth_counts[PatientUpdated.__name__],
            "admissions_cancelled": truth_counts[AdmissionCancelled.__name__],
            "transfers_cancelled": truth_counts[TransferCancelled.__name__],
            "discharges_cancelled": truth_counts[DischargeCancelled.__name__],
            "patients_merged": truth_counts[PatientsMerged.__name__],
        },
        "messages": messages,
        "acks": dict(sorted(acks.items())),
        "target_requests": requests,
        "postings": {
            "erp_revenue_journals": sum(1 for j in finance.journals if j.source == PATIENT_BILLING),
            "erp_ar_items": len(finance.ar_items),
            "claims_accepted": len(view.clearinghouse.accepted),
            "claims_rejected": len(view.clearinghouse.submissions) - len(view.clearinghouse.accepted),
            "or_cases": truth_counts["CaseCompleted"],
            "inventory_issues": len(supply.issues),
            "purchase_orders": len(supply.orders),
            "goods_receipts": len(supply.receipts),
            "invoices_paid": sum(1 for i in supply.invoices if i.status == "paid"),
            "invoices_held": sum(1 for i in supply.invoices if i.status != "paid"),
            "stock_outs": len(supply.stock_outs),
            "timecards": len(view.hcm.timecards),
            "labor_hours": sum(card.quarter_hours for card in view.hcm.timecards) / 4,
            "payroll_runs": len(view.hcm.payroll_runs),
            "labor_journals": sum(1 for j in finance.journals if j.source == LABOR_ALLOCATION),
            "patient_day_statistics": sum(1 for st in finance.statistics if st.account == PATIENT_DAYS),
        },
        "exceptions": {
            "raised": len(exceptions),
            "resolved": sum(1 for e in exceptions if e.resolved_at is not None),
            "open": sum(1 for e in exceptions if e.resolved_at is None),
            "by_reason": dict(sorted(by_reason.items())),
        },
        "master_data": {
            **governance_summary(view.network, exceptions),
            "mappings_published": sum(n for (kind, _), n in view.counts.items() if kind == "master data"),
        },
        "dead_letters": len(view.dead_letters),
        "reporting": reporting_summary(view, result.horizon),
        "calibration": [row.as_dict() for row in calibrate(view)],
        "flows": {flow.flow: _flow(flow) for flow in result.flows},
        "differences": [difference_row(d) for flow in result.flows for d in flow.differences[:MAX_LISTED_DIFFERENCES]],
        "judged": result.judged,
        "in_sync": result.in_sync,
    }
    if not view.settled:  # a live run cut after its grace: what was not due by then is pending, not judged
        summary["cut_at_minute"] = round(result.horizon, 3)
    if view.clock_tolerance:  # a live run: the wall clock's jitter at its speed, forgiven on every lag
        summary["clock_tolerance_minutes"] = round(view.clock_tolerance, 3)
    resilience = resilience_summary(view)
    if resilience is not None:  # only a run with faults has it: one without keeps its summary as it was
        summary["resilience"] = resilience
    return summary


def print_summary(
    summary: dict[str, Any], console: Console, wall_seconds: float | None = None, *, show_kpis: bool = False
) -> None:
    """The summary as tables: workload, traffic, postings, then one line per flow."""
    overview = Table(
        title=f"Scenario {summary['scenario']} (seed {summary['seed']}, design {summary.get('design', '-')})",
        show_header=False,
    )
    overview.add_column("what")
    overview.add_column("figure", justify="right")
    overview.add_row("hospitals / staffed beds", f"{summary['hospitals']} / {summary['staffed_beds']}")
    for acquired in summary.get("acquired", []):
        overview.add_row(
            f"  {acquired['hospital']} acquired", f"day {acquired['joins_day']:g}, HL7 {acquired['hl7_version']}"
        )
    overview.add_row(
        "simulated days (workload, to settle)", f"{summary['days']:g}, {summary['simulated_days_to_settle']:.1f}"
    )
    for name, value in summary["encounters"].items():
        overview.add_row(f"encounters {name.replace('_', ' ')}", str(value))
    for name, value in summary["messages"].items():
        overview.add_row(f"messages {name}", str(value))
    overview.add_row("ACKs", ", ".join(f"{k} {v}" for k, v in summary["acks"].items()) or "0")
    for name, value in summary["postings"].items():
        overview.add_row(name.replace("_", " "), str(value))
    exc = summary["exceptions"]
    overview.add_row("exceptions raised / resolved / open", f"{exc['raised']} / {exc['resolved']} / {exc['open']}")
    for reason, count in exc["by_reason"].items():
        overview.add_row(f"  {reason}", str(count))
    governance = summary["master_data"]
    overview.add_row(
        "master-data problems / mappings published",
        f"{len(governance['problems'])} / {governance['mappings_published']}",
    )
    overview.add_row(
        "  exceptions raised / resolved / open",
        f"{governance['exceptions_raised']} / {governance['exceptions_resolved']} / {governance['exceptions_open']}",
    )
    resolution = governance["hours_to_resolution"]
    overview.add_row(
        "  hours to resolution p50 / p95",
        " / ".join("-" if resolution[p] is None else f"{resolution[p]:.1f}" for p in ("p50", "p95")),
    )
    overview.add_row("dead letters", str(summary["dead_letters"]))
    console.print(overview)
    if "resilience" in summary:
        print_resilience(summary["resilience"], console)

    names = list(summary["flows"])
    for first in range(0, len(names), FLOWS_PER_TABLE):  # an 80-column console fits three flows
        _print_flows(names[first : first + FLOWS_PER_TABLE], summary, console)
    if "cut_at_minute" in summary:
        pending = sum(f["pending_records"] for f in summary["flows"].values())
        console.print(
            f"the run was cut at t={summary['cut_at_minute']:.0f} min, a settle grace after its workload: "
            f"{pending} record(s) not due by then are pending, not judged"
        )
    if "clock_tolerance_minutes" in summary:
        console.print(
            f"timed on the wall clock: every allowed lag includes {summary['clock_tolerance_minutes']:g} min"
            " of clock tolerance (the jitter forgiven, at the run's speed)"
        )
    if "reporting" in summary:
        if show_kpis:
            _print_kpis(summary["reporting"], console)
        else:
            rows = summary["reporting"]["last_period"]
            diverging = sum(1 for row in rows if row["divergence"])
            console.print(
                f"executive KPIs of {summary['reporting']['period']}: {len(rows)} values on the dashboard, "
                f"{diverging} diverging from the truth (twin run --kpis shows them)"
            )
    if not summary.get("judged", True):
        console.print("[red]nothing to judge:[/red] no target had to hold any record in this run (not in sync)")
    for difference in summary["differences"][:10]:
        console.print(
            f"  {difference['class']:<12} {difference['target']:<22} {difference['key']}  {difference['detail']}"
        )
    if wall_seconds is not None:
        console.print(f"wall time {wall_seconds:.2f} s")


def _print_flows(names: list[str], summary: dict[str, Any], console: Console) -> None:
    cut = "cut_at_minute" in summary
    flows = Table(title="Synchronization (at the cut)" if cut else "Synchronization (after the work settled)")
    flows.add_column("check")
    for name in names:
        flows.add_column(name, justify="right")
    data = [summary["flows"][name] for name in names]
    flows.add_row("records checked", *(str(f["expected_records"]) for f in data))
    if cut:
        flows.add_row("pending at the cut", *(str(f["pending_records"]) for f in data))
    for kind in DIFFERENCE_CLASSES:
        flows.add_row(kind.replace("_", " "), *(_count(f["differences"][kind]) for f in data))
    for p in ("p50", "p95", "p99"):
        flows.add_row(f"time to consistency {p}", *(format_minutes(f["time_to_consistency_minutes"][p]) for f in data))
    flows.add_row("allowed lag", *(format_minutes(f["allowed_lag_minutes"]) for f in data))
    flows.add_row("verdict", *("[green]in sync[/green]" if f["in_sync"] else "[red]OUT OF SYNC[/red]" for f in data))
    console.print(flows)


def _print_kpis(reporting: dict[str, Any], console: Console) -> None:
    """KPI values published, and the last workload day's KPIs on the dashboard beside the truth."""
    table = Table(title=f"Executive KPIs of {reporting['period']}: dashboard vs truth")
    table.add_column("kpi", no_wrap=True)
    table.add_column("scope", no_wrap=True)
    for name in ("reported", "truth", "divergence", "ids"):
        table.add_column(name, justify="right", no_wrap=True)
    for row in reporting["last_period"]:
        label, scale = KPI_LABELS.get(row["kpi"], (row["kpi"], 1))
        truth = "-"
        if row["truth"] is not None:
            low, high = (_figure(bound / scale) for bound in row["truth"])
            truth = low if low == high else f"{low}..{high}"  # racing or in-flight members: a range
        off = _count(0) if row["divergence"] == 0 else f"[red]{row['divergence'] / scale:+,.6g}[/red]"
        table.add_row(label, row["scope"], _figure(row["reported"] / scale), truth, off, str(row["lineage"]))
    console.print(table)
    published = ", ".join(f"{kpi} {n}" for kpi, n in reporting["by_kpi"].items())
    console.print(f"KPI values published {reporting['kpis_published']} (shown {reporting['kpis_shown']}: {published})")


def _figure(value: float) -> str:
    """Large amounts to the unit with separators; days, shares and counts to four digits."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.4g}"


def print_calibration(rows: list[dict[str, Any]], console: Console) -> None:
    """Each operating statistic beside its published figure; sources and notes as footnotes. A single
    published figure gets the gap to it, not a verdict (a point is no range)."""
    table = Table(title="Calibration: the simulated network beside published figures")
    table.add_column("statistic")
    table.add_column("simulated", justify="right")
    table.add_column("published", justify="right")
    table.add_column("")
    for number, row in enumerate(rows, start=1):
        value = "-" if row["value"] is None else f"{row['value']:.2f}"
        mark = {True: "[green]in range[/green]", False: "[red]outside[/red]", None: "-"}[row["in_range"]]
        low = row["range"][0]
        if row.get("kind") == "figure" and row["value"] is not None and low:
            mark = f"{100 * (row['value'] - low) / low:+.0f}% from it"
        table.add_row(f"{row['statistic']} [{number}]", value, f"{row.get('published', '')} {row['unit']}", mark)
    console.print(table)
    for number, row in enumerate(rows, start=1):
        console.print(f"  [{number}] {row['source']}. Measured: {row['note']}.", highlight=False)


def _count(value: int) -> str:
    return f"[red]{value}[/red]" if value else "0"


def format_minutes(minutes: float | None) -> str:
    """A lag for people: seconds under a minute, else minutes; ``-`` for none."""
    if minutes is None:
        return "-"
    return f"{minutes * 60:.1f} s" if minutes < 1 else f"{minutes:.1f} min"


def write_outputs(
    result: RunResult, summary: dict[str, Any], out: Path, columns: dict[str, Sequence[Any]] | None = None
) -> None:
    """summary.json, messages/*.hl7 (ER7 per type), fhir/*.ndjson and records/messages.csv.
    ``columns``: the run's ``message_columns``, when the caller has them already (``twin run --out``
    hands the same ones to the Parquet tables: a month's pseudonyms worked out once)."""
    from mocks.ehr.fhir_view import RESOURCE_TYPES, ehr_resource_stream

    view = result.view
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    messages_dir = out / "messages"
    messages_dir.mkdir(exist_ok=True)
    for message_type, payloads in sorted(view.traffic.items()):
        name = message_type.replace("^", "_")
        with open(messages_dir / f"{name}.hl7", "w", encoding="utf-8", newline="") as handle:
            for payload in payloads:
                handle.write(payload + "\n")
    fhir_dir = out / "fhir"
    fhir_dir.mkdir(exist_ok=True)
    # Written as they are rendered, one resource at a time: a month's charge items as dicts at
    # once were gigabytes, and the collector rescanned them as the lists grew.
    with contextlib.ExitStack() as files:
        handles = {
            kind: files.enter_context(open(fhir_dir / f"{kind}.ndjson", "w", encoding="utf-8"))
            for kind in RESOURCE_TYPES
        }
        for kind, resource in ehr_resource_stream(view.ehr, view.network.hospitals, view.network.payers):
            handles[kind].write(canonical_json(resource) + "\n")
    # The clearinghouse keeps each claim as canonical JSON text already (packed): written as it is.
    with open(fhir_dir / "Claim.submitted.ndjson", "w", encoding="utf-8") as handle:
        for submission in view.clearinghouse.submissions:
            handle.write(submission.document + "\n")
    records_dir = out / "records"
    records_dir.mkdir(exist_ok=True)
    with open(records_dir / "messages.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(MESSAGE_COLUMNS)
        rows = dict(columns if columns is not None else message_columns(view))  # read across, no row kept
        for name in ("sent_minute", "delivered_minute", "answered_minute"):
            rows[name] = [f"{minute:.4f}" for minute in rows[name]]
        writer.writerows(zip(*rows.values(), strict=True))


MESSAGE_COLUMNS = (
    "seq",
    "record_type",
    "sent_minute",
    "delivered_minute",
    "answered_minute",
    "source",
    "destination",
    "message_type",
    "message_id",
    "key",
    "outcome",
    "bytes",
)


def message_columns(view: RunView) -> dict[str, Sequence[Any]]:
    """One column per ``MESSAGE_COLUMNS`` name, a row per exchange: ids masked, keys as pseudonyms
    (``records/messages.csv`` and the Parquet tables of ``twin.analysis`` read the same columns).
    Read straight off the run's ``RecordLog`` when it keeps one: no record or row built per exchange."""
    records = view.records
    if isinstance(records, RecordLog):
        raw = records.columns()
    else:  # a live run's wire log, a list of records
        raw = {name: [getattr(r, name) for r in records] for name in MessageRecord._fields}
    masked = {
        "message_id": [_masked_id(message_id) for message_id in raw["message_id"]],
        "key": [pseudonym(key) if key else "" for key in raw["key"]],
    }
    fields = dict(zip(MESSAGE_COLUMNS, MessageRecord._fields, strict=True))
    return {column: masked.get(column, raw[fields[column]]) for column in MESSAGE_COLUMNS}


def _masked_id(message_id: str) -> str:
    """Message control ids are not identifiers of a person; idempotency keys embed a visit number."""
    kind, sep, visit = message_id.partition(":")
    return f"{kind}:{pseudonym(visit)}" if sep else message_id
