"""Judgements Then steps make, each returning ``Evidence``: pure functions of a run.

They read only what the harness may judge an integration by (DESIGN.md, "plug-in"): what the
target systems hold (through the flow checks of ``twin.observe.flows``: expectations from the
truth, observations from the targets), the acknowledgements the sources got (``twin.records``,
``twin.traffic``), the exchanges on the wire, and the dead-letter queue the integration exposes.
Never the reference integration's internals, so a user's integration is judged the same way.

Identifiers are pseudonymised before they reach evidence (``twin.domain.pseudonym.mask``), as in every report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from twin.conformance.context import Evidence, ScenarioUnderTest
from twin.conformance.steps.parsers import Records
from twin.domain.pseudonym import mask
from twin.observe.checker import FlowResult
from twin.observe.checker import percentile as nearest_rank
from twin.observe.expectations import BILLING, CLAIM, JOURNAL, RECEIVABLE
from twin.observe.flows import FLOW_CHECKS, flow_check
from twin.observe.records import Difference, Expected, Observed
from twin.observe.report import format_minutes
from twin.observe.view import RunResult

Row = tuple[str, ...]  # one row of an evidence table
BILLED = (JOURNAL, RECEIVABLE, CLAIM)
MAX_ROWS = 10  # differences shown per evidence table: the first ones tell the story
DIFFERENCE_COLUMNS = ("class", "target", "key", "detail")


def flow_result(result: RunResult, flow: str) -> FlowResult:
    for found in result.flows:
        if found.flow == flow:
            return found
    raise KeyError(f"the run has no flow {flow!r}; flows: {', '.join(f.flow for f in result.flows)}")


def expected_records(ctx: ScenarioUnderTest, flow: str) -> Sequence[Expected]:
    """What the truth says the flow's targets must hold (computed once per run)."""
    return _memo(ctx, ("expected", flow), lambda: list(flow_check(flow).expected(ctx.result.view)))


def observed_records(ctx: ScenarioUnderTest, flow: str) -> Sequence[Observed]:
    """What the flow's targets hold (read once per run)."""
    return _memo(ctx, ("observed", flow), lambda: list(flow_check(flow).observed(ctx.result.view)))


def _memo(ctx: ScenarioUnderTest, key: tuple[str, str], compute: Callable[[], list[Any]]) -> list[Any]:
    if key not in ctx.memo:
        ctx.memo[key] = compute()
    found: list[Any] = ctx.memo[key]
    return found


def shown_key(difference: Difference) -> str:
    """A difference's key as reports may show it."""
    return mask(difference.key)


def difference_rows(differences: Iterable[Difference], limit: int = MAX_ROWS) -> list[Row]:
    rows: list[Row] = []
    for difference in differences:
        if len(rows) >= limit:
            break
        rows.append((difference.kind, difference.target, shown_key(difference), mask(difference.detail)))
    return rows


def _by(differences: Iterable[Difference]) -> str:
    counts = Counter(f"{d.kind} at {d.target}" for d in differences)
    return ", ".join(f"{count} {what}" for what, count in sorted(counts.items()))


def judge_differences(
    ctx: ScenarioUnderTest,
    records: Records,
    kinds: Sequence[str],
    phrase: str,
    *,
    need_work: bool = True,
    where: Callable[[Difference], bool] | None = None,
) -> Evidence:
    """No difference of ``kinds`` at the targets ``records`` names.

    With ``need_work`` a verdict needs observed work: the truth must have expected records of that
    kind, and the targets must hold some of them to judge - a scenario whose network produced none,
    or an integration that did none of that work, proves nothing and says so instead of passing.
    Differences told with the first missing link of a chain (a lost PO) count at their own target
    too. ``where`` narrows the differences further (e.g. a KPI's lineage, not its value).
    """
    result = flow_result(ctx.result, records.flow)
    due = [e for e in expected_records(ctx, records.flow) if records.covers(e.target) and not e.optional]
    found = [
        d
        for d in (*result.differences, *result.downstream)
        if d.kind in kinds and records.covers(d.target) and (where is None or where(d))
    ]
    held = {(o.target, o.key) for o in observed_records(ctx, records.flow) if records.covers(o.target)}
    judged = sum(1 for e in due if (e.target, e.key) in held)
    title = f"{records.noun}: {', '.join(k.replace('_', ' ') for k in kinds)} ({records.flow})"
    if need_work and not due:
        return Evidence(
            title,
            False,
            f"nothing to judge: the truth expected no {records.noun} in this run - the scenario is too small, or "
            "the world never got to the point of needing one",
        )
    if not found and need_work and not judged:
        return Evidence(
            title,
            False,
            f"nothing to judge: the targets hold none of the {len(due)} {records.noun} record(s) the truth "
            "expects - the integration did no such work",
        )
    if not found:
        return Evidence(
            title,
            True,
            f"none of the {len(due)} {records.noun} record(s) the truth expects was {phrase} "
            f"({judged} held and judged)",
            DIFFERENCE_COLUMNS,
        )
    return Evidence(
        title,
        False,
        f"{len(found)} {records.noun} difference(s) ({_by(found)}) among {len(due)} expected; "
        f"first: {shown_key(found[0])} at {found[0].target}: {mask(found[0].detail)}",
        DIFFERENCE_COLUMNS,
        difference_rows(found),
    )


def lag_rows(result: FlowResult, limit: float | None = None) -> list[Row]:
    """Time to consistency p50/p95/p99 beside the allowed lag (and the scenario's own limit)."""
    bound = result.allowed_lag if limit is None else limit
    rows: list[Row] = []
    for name, value in result.percentiles().items():
        within = "yes" if value is not None and value <= bound else ("-" if value is None else "NO")
        rows.append((name, format_minutes(value), format_minutes(bound), within))
    return rows


LAG_COLUMNS = ("percentile", "time to consistency", "allowed", "within")


def judge_on_time(ctx: ScenarioUnderTest, records: Records) -> Evidence:
    """Nothing of ``records`` landed later than the flow's allowed lag after it was due, or never."""
    result = flow_result(ctx.result, records.flow)
    late = [d for d in result.differences if d.kind in ("stale", "lost") and records.covers(d.target)]
    rows = lag_rows(result)
    title = f"{records.noun}: on time ({records.flow})"
    if not result.lags:
        return Evidence(title, False, f"nothing to judge: no {records.noun} landed in this run", LAG_COLUMNS, rows)
    if late:
        return Evidence(
            title,
            False,
            f"{len(late)} {records.noun} record(s) landed later than the allowed lag of "
            f"{format_minutes(result.allowed_lag)}, or never ({_by(late)}); "
            f"first: {shown_key(late[0])}: {mask(late[0].detail)}",
            LAG_COLUMNS,
            rows + [("", "", "", "")] + difference_rows(late),
        )
    return Evidence(
        title,
        True,
        f"{len(result.lags)} key(s) consistent, none later than {format_minutes(result.allowed_lag)}; "
        f"p99 {format_minutes(result.percentiles()['p99'])}",
        LAG_COLUMNS,
        rows,
    )


def judge_percentile(ctx: ScenarioUnderTest, records: Records, percentile: int, limit: float) -> Evidence:
    """The flow's time to consistency at ``percentile`` is within ``limit`` minutes."""
    result = flow_result(ctx.result, records.flow)
    name = f"p{percentile}"
    measured = nearest_rank(result.lags, percentile)  # None when nothing landed
    rows = lag_rows(result, limit)
    if percentile not in (50, 95, 99):  # lag_rows shows those three
        rows.append(
            (
                name,
                format_minutes(measured),
                format_minutes(limit),
                "yes" if measured is not None and measured <= limit else "NO",
            )
        )
    title = f"{records.noun}: {name} time to consistency ({records.flow})"
    if measured is None:
        return Evidence(title, False, f"nothing to judge: no {records.noun} landed in this run", LAG_COLUMNS, rows)
    passed = measured <= limit
    verb = "within" if passed else "exceeds"
    return Evidence(
        title,
        passed,
        f"{name} time to consistency {format_minutes(measured)} {verb} {format_minutes(limit)} "
        f"({len(result.lags)} key(s))",
        LAG_COLUMNS,
        rows,
    )


def judge_in_sync(ctx: ScenarioUnderTest, flows: Sequence[str] | None = None) -> Evidence:
    """Every difference class is empty for the named flows (default: every registered flow)."""
    names = list(flows) if flows is not None else [check.name for check in FLOW_CHECKS]
    results = [flow_result(ctx.result, name) for name in names]
    rows = [
        (
            r.flow,
            str(r.expected),
            ", ".join(f"{k} {v}" for k, v in r.counts.items() if v) or "none",
            format_minutes(r.percentiles()["p95"]),
            format_minutes(r.allowed_lag),
        )
        for r in results
    ]
    columns = ("flow", "records checked", "differences", "p95 time to consistency", "allowed lag")
    differences = [d for r in results for d in r.differences]
    title = "synchronization: " + ", ".join(names)
    idle = [r.flow for r in results if not r.expected] if flows is not None else []
    if not differences and (idle or not any(r.expected for r in results)):
        return Evidence(
            title,
            False,
            f"nothing to judge: the truth expected no record of {', '.join(idle) or 'any flow'} in this run",
            columns,
            rows,
        )
    if not differences:
        return Evidence(title, True, f"{len(names)} flow(s) in sync", columns, rows)
    summary = f"{len(differences)} difference(s): {_by(differences)}; first: {shown_key(differences[0])} " + (
        f"at {differences[0].target}: {mask(differences[0].detail)}"
    )
    return Evidence(
        title, False, summary, columns, rows + [("", "", "", "", "")] + [(*r, "") for r in difference_rows(differences)]
    )


def dead_letter_rows(result: RunResult) -> list[Row]:
    """The integration's DLQ as a table: id (pseudonymised where it embeds a visit), channel, reason, attempts."""
    rows: list[Row] = []
    for letter in result.view.dead_letters[:MAX_ROWS]:
        rows.append(
            (
                mask(letter.message_id),
                letter.channel,
                mask(letter.reason),
                str(letter.attempts),
                f"{letter.received_at:.1f}",
            )
        )
    return rows


DEAD_LETTER_COLUMNS = ("message", "channel", "reason", "attempts", "parked at (min)")


def judge_late_charges(ctx: ScenarioUnderTest) -> Evidence:
    """Every encounter with a charge that arrived after its bill was due ends billed in full: the
    journal, the receivable and the claim at the encounter's whole value, on time after the last
    late charge - held for it or adjusted after it, either is right; an exception alone is not."""
    result = flow_result(ctx.result, BILLING)
    late = [e for e in expected_records(ctx, BILLING) if e.settles_at is not None and e.target in BILLED]
    keys = {e.key for e in late}
    found = [d for d in (*result.differences, *result.downstream) if d.key in keys and d.target in BILLED]
    title = "late charges billed in full (discharge_billing)"
    if not late:
        return Evidence(title, False, "nothing to judge: no charge reached billing after its bill was due in this run")
    held = {(o.target, o.key) for o in observed_records(ctx, BILLING)}
    adjusted = sum(1 for o in observed_records(ctx, BILLING) if o.key in keys and o.settled_at is not None)
    if found:
        return Evidence(
            title,
            False,
            f"{len({d.key for d in found})} of {len(keys)} encounter(s) with late charges not billed in full or "
            f"on time ({_by(found)}); first: {shown_key(found[0])} at {found[0].target}: {mask(found[0].detail)}",
            DIFFERENCE_COLUMNS,
            difference_rows(found),
        )
    if not any((e.target, e.key) in held for e in late):
        return Evidence(title, False, f"nothing to judge: none of the {len(keys)} late-charge bills is held")
    return Evidence(
        title,
        True,
        f"{len(keys)} encounter(s) with late charges billed in full: {adjusted} record(s) by adjustment or "
        f"replacement, the rest held until the late charge came",
        DIFFERENCE_COLUMNS,
    )
