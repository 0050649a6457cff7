"""The resilience part of a run's report: what was injected, how the run recovered, what is left.

Only a run with faults has it (a run without keeps its summary exactly as before). Figures follow
from the scenario and seed alone: faults injected per kind, each outage window with its recovery
time (from the window's end until the last request first tried during it was answered OK), what
the transport did (timeouts, late answers dropped, sender resends), the support team's replays,
the dead-letter queue at the end and the integration's own ``health()`` figures if it has them.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from twin.domain.support import AS_IT_WAS, LEFT, REPAIRED
from twin.observe.checker import percentile
from twin.observe.view import RunView


def resilience_summary(view: RunView) -> dict[str, Any] | None:
    """The resilience figures of a run, ``None`` for a run without faults."""
    faults = view.faults
    if faults is None:
        return None
    report = faults.plan
    outages = report["outages"]
    by_system: dict[str, dict[str, Any]] = {}
    for system in sorted({o["system"] for o in outages}):
        mine = [o for o in outages if o["system"] == system and o["end_minute"] is not None]
        times = [o["recovery_minutes"] for o in mine if o["recovery_minutes"] is not None]
        by_system[system] = {
            "windows": len(mine),
            "not_recovered": len(mine) - len(times),
            "recovery_minutes": {
                "p50": _round(percentile(times, 50)),
                "p95": _round(percentile(times, 95)),
                "max": _round(max(times, default=None)),
            },
        }
    figures = view.integration.health
    letters = view.dead_letters
    replays = [a for a in faults.support if a.action in (REPAIRED, AS_IT_WAS)]
    last: dict[tuple[str, str], str] = {}  # each letter's last action: one left, then replayed, is not left
    for action in faults.support:
        last[(action.channel, action.message_id)] = action.action
    return {
        "faults_injected": report["injected"],
        "faults_injected_total": sum(report["injected"].values()),
        "attempts_touched": report["attempts"],
        "attempts_detail": report["attempts_detail"],
        "outage_recovery": by_system,
        "outage_windows": outages,
        "tokens": {"revocations": report["token_revocations"], "issued": report["tokens_issued"]},
        "department_aliases": report["aliases"],
        "transport": dict(faults.transport),
        "operator_replays": {
            "repaired": sum(1 for a in replays if a.action == REPAIRED),
            "as_is": sum(1 for a in replays if a.action == AS_IT_WAS),
            "left_in_queue": sum(1 for action in last.values() if action == LEFT),
        },
        "dead_letters_at_end": len(letters),
        "oldest_dead_letter_hours": round(max((view.horizon - d.received_at for d in letters), default=0.0) / 60, 4),
        "integration_health": None if figures is None else {k: figures[k] for k in sorted(figures)},
    }


EVENT_NOUN = {  # what one fault event of a kind is
    "outage": "windows",
    "latency": "bursts",
    "errors": "bursts",
    "timeout": "bursts",
    "lost_response": "bursts",
    "duplicate": "messages copied",
    "reorder": "messages overtaken",
    "poison": "messages spoiled",
    "schema_drift": "documents drifted",
    "expired_token": "tokens revoked",
    "unmapped": "codes invented",
}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def print_resilience(resilience: dict[str, Any], console: Console) -> None:
    """Faults per kind, recovery per outage system, transport, replays and the DLQ, as one table."""
    table = Table(title="Resilience: faults injected and recovered from", show_header=False)
    table.add_column("what")
    table.add_column("figure", justify="right")
    table.add_row("faults injected (attempts they touched)", str(resilience["faults_injected_total"]))
    for kind, count in resilience["faults_injected"].items():
        touched = resilience["attempts_touched"].get(kind, 0)
        table.add_row(f"  {kind.replace('_', ' ')}", f"{count} {EVENT_NOUN.get(kind, 'faults')} ({touched} attempts)")
    for system, figures in resilience["outage_recovery"].items():
        recovery = figures["recovery_minutes"]
        shown = " / ".join("-" if recovery[p] is None else f"{recovery[p]:.1f}" for p in ("p50", "max"))
        missing = f", {figures['not_recovered']} not recovered" if figures["not_recovered"] else ""
        table.add_row(f"{system} outages: recovery min p50 / max", f"{figures['windows']} windows: {shown}{missing}")
    for name, count in resilience["transport"].items():
        table.add_row(name.replace("_", " "), str(count))
    replays = resilience["operator_replays"]
    counts = f"{replays['repaired']} / {replays['as_is']} / {replays['left_in_queue']}"
    table.add_row("operator replays repaired / as is / left", counts)
    table.add_row("dead letters at the end", str(resilience["dead_letters_at_end"]))
    table.add_row("oldest dead letter (hours)", f"{resilience['oldest_dead_letter_hours']:.1f}")
    for name, value in (resilience.get("integration_health") or {}).items():
        table.add_row(f"integration {name.replace('_', ' ')}", str(value))
    console.print(table)
