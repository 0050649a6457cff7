"""Judgements about behaviour under faults: catching up after an outage, holding back while a
target is down (the breaker's visible effect), and retry discipline (never before Retry-After).

Each reads the scenario's fault plan (``twin.fault_plan``: the outage windows are a function of
the scenario, known in advance), what the targets hold (the flow checks' expectations and
observations, before the outage shift) and the exchanges on the wire (``twin.records``) - what
any integration can be judged by, never an integration's internals.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from twin.conformance.context import Evidence, ScenarioUnderTest
from twin.conformance.judge import MAX_ROWS, Row, expected_records, observed_records
from twin.domain.pseudonym import mask
from twin.faults import OutageWindow
from twin.observe.fault_report import resilience_summary
from twin.observe.flows import FLOW_CHECKS

MINUTES_PER_DAY = 1440.0


def clock(minute: float, start_minute_of_day: float = 0.0) -> str:
    """Simulated minute -> "day 2 02:00" as feature files count days (day 1 is the first)."""
    if not math.isfinite(minute):
        return "end of run"
    local = minute + start_minute_of_day
    day, rest = divmod(local, MINUTES_PER_DAY)
    return f"day {int(day) + 1} {int(rest) // 60:02d}:{int(rest) % 60:02d}"


def _windows(ctx: ScenarioUnderTest, system: str) -> list[OutageWindow]:
    return [w for w in ctx.result.view.outages if w.system == system]


def _offset(ctx: ScenarioUnderTest) -> float:
    return ctx.result.view.timebase.start_clock


def judge_catch_up(ctx: ScenarioUnderTest, system: str, within: float) -> Evidence:
    """Everything the truth made due at ``system`` while it was down landed there within ``within``
    minutes of it coming back - none lost, none later."""
    windows = _windows(ctx, system)
    title = f"catching up after the {system} came back"
    columns = ("outage", "records due during it", "landed", "latest after it came back", "within")
    if not windows:
        return Evidence(title, False, f"nothing to judge: the scenario has no outage of the {system}")
    offset = _offset(ctx)
    rows: list[Row] = []
    late: list[tuple[str, str, str]] = []
    due_total = 0
    for window in windows:
        due = landed = 0
        latest = 0.0
        for check in FLOW_CHECKS:
            targets = {t for t in check.targets if t.split(".", 1)[0] == system}
            if not targets:
                continue
            first: dict[tuple[str, str], float] = {}
            for record in observed_records(ctx, check.name):
                if record.target in targets:
                    slot = (record.target, record.key)
                    first[slot] = min(first.get(slot, math.inf), record.at)
            for expected in expected_records(ctx, check.name):
                if expected.optional or expected.target not in targets:
                    continue
                if not window.start <= expected.ready_at < window.end:
                    continue
                due += 1
                at = first.get((expected.target, expected.key))
                if at is None:
                    late.append((expected.target, mask(expected.key), "never landed"))
                    continue
                landed += 1
                after = max(0.0, at - window.end)
                latest = max(latest, after)
                if after > within:
                    late.append((expected.target, mask(expected.key), f"landed {after:.1f} min after"))
        due_total += due
        ok = landed == due and latest <= within
        rows.append(
            (
                f"{clock(window.start, offset)} - {clock(window.end, offset)} ({window.mode})",
                str(due),
                str(landed),
                f"{latest:.1f} min",
                "yes" if ok else "NO",
            )
        )
    if due_total == 0:
        return Evidence(
            title,
            False,
            f"nothing to judge: nothing fell due at the {system} during its outage (choose a busier window)",
            columns,
            rows,
        )
    if late:
        detail_rows: list[Row] = [("", "", "", "", "")]
        detail_rows += [(f"{t} {k}", "", "", what, "NO") for t, k, what in late[:MAX_ROWS]]
        return Evidence(
            title,
            False,
            f"{len(late)} of {due_total} record(s) due at the {system} during its outage did not land within "
            f"{within:g} min of it coming back; first: {late[0][0]} {late[0][1]} {late[0][2]}",
            columns,
            rows + detail_rows,
        )
    return Evidence(
        title,
        True,
        f"all {due_total} record(s) due at the {system} during its outage landed within {within:g} min of it "
        "coming back",
        columns,
        rows,
    )


def judge_holds_back(ctx: ScenarioUnderTest, system: str, per_minute: int) -> Evidence:
    """While ``system`` is down the integration sends it at most ``per_minute`` requests in any
    minute (after the first minute, which a breaker needs to notice): it does not hammer it."""
    windows = _windows(ctx, system)
    title = f"requests to the {system} while it was down"
    columns = ("outage", "requests sent", "busiest minute", "allowed", "within")
    if not windows:
        return Evidence(title, False, f"nothing to judge: the scenario has no outage of the {system}")
    offset = _offset(ctx)
    records = [r for r in ctx.result.view.records if r.record_type == "request" and r.destination == system]
    rows: list[tuple[str, ...]] = []
    worst = 0
    sent_total = 0
    for window in windows:
        sent = [r.sent_at for r in records if window.start + 1 <= r.sent_at < window.end]
        busiest = max(Counter(int(at) for at in sent).values(), default=0)
        worst = max(worst, busiest)
        sent_total += len(sent)
        rows.append(
            (
                f"{clock(window.start, offset)} - {clock(window.end, offset)}",
                str(len(sent)),
                str(busiest),
                str(per_minute),
                "yes" if busiest <= per_minute else "NO",
            )
        )
    passed = worst <= per_minute
    verb = "within" if passed else "above"
    return Evidence(
        title,
        passed,
        f"{sent_total} request(s) sent to the {system} while it was down; busiest minute {worst}, {verb} "
        f"{per_minute} a minute",
        columns,
        rows,
    )


def judge_retry_after(ctx: ScenarioUnderTest, system: str) -> Evidence:
    """No request answered 429 was sent again before the Retry-After the target gave had passed."""
    view = ctx.result.view
    waits = [
        spec.retry_after_seconds / 60
        for spec in view.scenario.faults
        if spec.kind == "errors" and getattr(spec, "status", 0) == 429 and getattr(spec, "system", "") == system
    ]
    title = f"retry discipline towards the {system} (Retry-After)"
    columns = ("request", "answered 429 at (min)", "sent again at (min)", "waited", "asked")
    if not waits:
        return Evidence(title, False, f"nothing to judge: the scenario does not throttle the {system}")
    asked = min(waits)
    records = [r for r in view.records if r.record_type == "request" and r.destination == system]
    by_request: dict[tuple[str, str], list[Any]] = {}
    for record in records:
        identity = record.message_id or f"{record.message_type} {record.key}"
        by_request.setdefault((record.message_type, identity), []).append(record)
    throttled = 0
    early: list[tuple[str, ...]] = []
    for (operation, identity), tries in by_request.items():
        tries.sort(key=lambda r: r.sent_at)
        for previous, following in zip(tries, tries[1:], strict=False):
            if previous.outcome != "429":
                continue
            throttled += 1
            waited = following.sent_at - previous.answered_at
            if waited < asked - 1e-6:
                early.append(
                    (
                        f"{operation} {mask(identity)}",
                        f"{previous.answered_at:.2f}",
                        f"{following.sent_at:.2f}",
                        f"{waited * 60:.1f} s",
                        f"{asked * 60:.0f} s",
                    )
                )
    total_429 = sum(1 for r in records if r.outcome == "429")
    if total_429 == 0:
        return Evidence(title, False, f"nothing to judge: no request to the {system} was answered 429", columns)
    if early:
        return Evidence(
            title,
            False,
            f"{len(early)} of {throttled} retried 429(s) were sent again before Retry-After ({asked * 60:.0f} s)",
            columns,
            early[:MAX_ROWS],
        )
    return Evidence(
        title,
        True,
        f"{total_429} request(s) answered 429; {throttled} retried, none before Retry-After ({asked * 60:.0f} s)",
        columns,
    )


def fault_summary(ctx: ScenarioUnderTest) -> Evidence:
    """What the run injected (by kind) and what the transport and the support team did about it."""
    resilience = resilience_summary(ctx.result.view)
    rows: list[tuple[str, ...]] = []
    if resilience is not None:
        rows += [("injected", kind, str(count)) for kind, count in resilience["faults_injected"].items()]
        for name, value in sorted(resilience["transport"].items()):
            rows.append(("transport", name.replace("_", " "), str(value)))
        for name, value in sorted(resilience["operator_replays"].items()):
            rows.append(("support team", name.replace("_", " "), str(value)))
    summary = ctx.describe()
    return Evidence("the run", True, summary, ("what", "kind", "count"), rows)
