"""The executive-reporting check: the dashboard's KPI values against the truth's, with evidence.

Per KPI value (kpi, scope, period) it classifies what the dashboard shows, in the checker's six
classes:

- lost: due (first publish instant + allowed lag before the horizon) but not on the dashboard;
- duplicated: shown more than once for one key;
- unexpected: a key the truth has no value for (no members, a scope or day that does not exist);
- stale: published later than the allowed lag after it was due;
- out_of_order: published before it was due (before the period was over and its data complete);
- wrong_value: the lineage is not a superset of the required members and a subset of required +
  racing ones, names an id that never happened, or names one twice; or the value differs from the
  truth recomputed over the reported lineage by more than the KPI's tolerance (exact for cents
  and counts; the billing lag for days to bill, built into the truth's range; 1e-9 relative for
  shares and ratios).

Time to consistency is the time from due to published. Details say the divergence - reported
vs truth and the lineage ids missing or extra - with visit numbers, supply lines and cases
pseudonymised as reports require.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any
from weakref import WeakKeyDictionary

from mocks.saas.dashboard import Dashboard
from twin.domain.pseudonym import pseudonym
from twin.observe.checker import FlowResult
from twin.observe.kpi import ID_KIND, KPI_TARGET, REPORTING, KpiTruth, TruthKpi
from twin.observe.records import Difference, Expected, Observed
from twin.observe.view import RunView

RELATIVE_TOLERANCE = 1e-9
RESOLUTION = 1 / 60  # minutes: closer than a second is simultaneous
LISTED_IDS = 5  # ids named in a difference's detail
_TRUTHS: WeakKeyDictionary[RunView, tuple[tuple[float, int], KpiTruth]] = WeakKeyDictionary()


def observe_dashboard(dashboard: Dashboard) -> list[Observed]:
    """What the dashboard shows, one record per tile."""
    return [
        Observed(
            KPI_TARGET,
            p.key,
            {"value": p.value, "lineage": list(p.lineage), "unit": p.unit},
            p.published_at,
            p.publication_id,
        )
        for p in dashboard.kpis
    ]


def kpi_expectations(view: RunView, horizon: float | None = None) -> list[Expected]:
    """The truth's KPI values as flat records (their required members); ``horizon`` defaults to
    the run's."""
    truth = kpi_truth(view, view.horizon if horizon is None else horizon)
    return [
        Expected(
            REPORTING, KPI_TARGET, key, {"members": sorted(value.required)}, value.dues[0], optional=value.optional
        )
        for key, value in sorted(truth.values.items())
    ]


def kpi_truth(view: RunView, horizon: float) -> KpiTruth:
    """The truth's KPI values of a run, computed once per run and horizon (the check and the
    report both need them; the truth ledger only grows, so its length tells a stale copy)."""
    cached = _TRUTHS.get(view)
    if cached is not None and cached[0] == (horizon, len(view.truth)):
        return cached[1]
    truth = KpiTruth(view).compute(horizon)
    _TRUTHS[view] = ((horizon, len(view.truth)), truth)
    return truth


def check_reporting(view: RunView, horizon: float) -> FlowResult:
    return judge(
        kpi_truth(view, horizon),
        observe_dashboard(view.dashboard),
        horizon,
        cut=not view.settled,
        tolerance=view.clock_tolerance,
    )


def reporting_summary(view: RunView, horizon: float) -> dict[str, Any]:
    """Figures for the run report: KPI values published (by KPI), and the last workload day's
    values reported vs truth with their divergence. Scopes are hospitals and cost centers; no
    patient identifier appears."""
    truth = kpi_truth(view, horizon)
    dashboard = view.dashboard
    shown = {record.key: record for record in observe_dashboard(dashboard)}
    period = _showcase(truth, shown, math.ceil(view.scenario.days) - 1)
    rows = []
    for value, record, expected, off in beside_truth(truth, shown):
        if value.period != period:
            continue
        rows.append(
            {
                "kpi": value.kpi,
                "scope": value.scope,
                "reported": record.value["value"],
                "truth": expected,
                "divergence": off,
                "lineage": len(record.value["lineage"]),
            }
        )
    return {
        "kpis_published": len(dashboard.history),
        "kpis_shown": len(dashboard.kpis),
        "by_kpi": dict(sorted(Counter(p.kpi for p in dashboard.kpis).items())),
        "period": period,
        "last_period": rows,
    }


def beside_truth(
    truth: KpiTruth, shown: dict[str, Observed]
) -> Iterator[tuple[TruthKpi, Observed, tuple[float, float] | None, float]]:
    """Every KPI value the dashboard shows (``shown``: by key), in key order, with the truth's value,
    its range for the lineage shown and the divergence from it (``divergence``)."""
    for key, value in sorted(truth.values.items()):
        record = shown.get(key)
        if record is not None:
            yield (value, record, *divergence(value, record.value))


def judge(
    truth: KpiTruth, observed: Sequence[Observed], horizon: float, *, cut: bool = False, tolerance: float = 0.0
) -> FlowResult:
    """Classify every difference between the truth's KPI values and the dashboard's (``tolerance``:
    minutes of clock tolerance on top of the allowed lag, as in ``checker.check_flow``)."""
    lag = truth.lag + tolerance
    result = FlowResult(REPORTING, lag)
    shown: dict[str, list[Observed]] = {}
    for record in observed:
        shown.setdefault(record.key, []).append(record)
    for records in shown.values():
        records.sort(key=lambda r: (r.at, r.ref))
    for key, value in sorted(truth.values.items()):
        records = shown.get(key, [])
        if not records:
            if value.optional:
                continue
            pending = value.dues[-1] + lag > horizon  # its last chance to be published is not over
            result.pending += pending
            if pending and cut:  # a run ended at a cut: not due yet, not judged
                continue
            result.expected += 1
            when = "still pending when the run had settled" if pending else "not on the dashboard"
            result.differences.append(_difference("lost", key, f"{_name(value)}: due at t={value.dues[0]:.1f}, {when}"))
            continue
        result.expected += 0 if value.optional else 1
        first = records[0]
        found: list[Difference] = []
        if len(records) > 1:
            found.append(
                _difference("duplicated", key, f"shown {len(records)} times: {', '.join(r.ref for r in records)}")
            )
        earlier = [due for due in value.dues if due <= first.at + RESOLUTION]
        if not earlier:
            found.append(
                _difference("out_of_order", key, f"published at t={first.at:.1f}, before due (t={value.dues[0]:.1f})")
            )
        else:
            late = first.at - earlier[-1]
            result.lags.append(max(0.0, late))
            result.due.append(earlier[-1])
            if late > lag:
                found.append(_difference("stale", key, f"published {late:.1f} min after due; allowed {lag:g} min"))
        wrong = _wrong_value(value, first.value, truth.known[ID_KIND[value.kpi]])
        if wrong:
            found.append(_difference("wrong_value", key, f"{_name(value)}: {wrong}", {"ref": first.ref}))
        result.differences.extend(found)
        if not found and not value.optional:  # of the expected: an optional value counts in neither
            result.matched += 1
    for key, records in sorted(shown.items()):
        if key not in truth.values:
            for record in records:
                if cut and record.at > horizon:  # published after the cut, for a period not judged at it
                    continue
                result.differences.append(
                    _difference(
                        "unexpected", key, f"{record.ref} has no truth behind it", {"ref": record.ref}, public=False
                    )
                )
    return result


def _wrong_value(value: TruthKpi, shown: dict[str, Any], known: set[str]) -> str:
    """Why the shown value is wrong ("" when it is right)."""
    reported = list(shown.get("lineage", []))
    lineage = set(reported)
    unknown = lineage - known
    extra = lineage - set(value.members) - unknown
    missing = value.required - lineage
    if unknown or extra or missing or len(lineage) != len(reported):
        parts = []
        if missing:
            parts.append(f"lineage misses {_ids(value.kpi, missing)}")
        if extra:
            parts.append(f"lineage has {_ids(value.kpi, extra)}, not members of this value")
        if unknown:
            parts.append(f"lineage names {_ids(value.kpi, unknown)}, which never happened")
        if len(lineage) != len(reported):
            parts.append("lineage names an id twice")
        return "; ".join(parts) + f" (reported {_number(shown.get('value'))})"
    bounds = value.bounds(lineage)
    got = shown.get("value")
    if bounds is None:
        return f"reported {_number(got)} over an empty lineage: there is nothing to average"
    low, high = bounds
    tolerance = RELATIVE_TOLERANCE * max(1.0, abs(low), abs(high))
    if not isinstance(got, int | float) or not low - tolerance <= got <= high + tolerance:
        truth = _number(low) if low == high else f"{_number(low)}..{_number(high)}"
        return f"reported {_number(got)}, truth {truth} over the reported lineage"
    return ""


def divergence(value: TruthKpi, shown: dict[str, Any]) -> tuple[tuple[float, float] | None, float]:
    """((low, high), reported - truth) for a table: the truth over the reported lineage when it
    is a valid one, else over the required members; zero divergence inside the truth's range."""
    lineage = set(shown.get("lineage", []))
    if not lineage <= set(value.members) or not value.required <= lineage:
        lineage = value.required
    bounds = value.bounds(lineage)
    got = float(shown.get("value", 0.0))
    if bounds is None:
        return None, 0.0
    low, high = bounds
    return bounds, got - min(max(got, low), high)


def _showcase(truth: KpiTruth, shown: dict[str, Observed], last: int) -> str:
    """The day the report's KPI table shows: the last workload day on which every KPI was
    published (a weekend has no surgery, so no supply cost per case), else the last one."""
    kinds = len(ID_KIND)
    for index in range(last, max(-1, last - 7), -1):
        name = truth.calendar.name(index)
        if len({v.kpi for k, v in truth.values.items() if v.period == name and k in shown}) == kinds:
            return name
    return truth.calendar.name(last)


def _name(value: TruthKpi) -> str:
    return f"{value.kpi} {value.scope} {value.period}"


def _ids(kpi: str, ids: set[str]) -> str:
    shown = sorted(mask(kpi, i) for i in ids)
    more = f" and {len(shown) - LISTED_IDS} more" if len(shown) > LISTED_IDS else ""
    return ", ".join(shown[:LISTED_IDS]) + more


def mask(kpi: str, member: str) -> str:
    """A lineage id as reports may show it: visit numbers, supply lines (which embed the visit)
    and cases are pseudonymised; count ids and work-date keys are not about a patient."""
    kind = ID_KIND[kpi]
    if kind == "visit":
        return pseudonym(member)
    if kind == "supply line":
        return pseudonym(member, "line")
    if kind == "case":
        return pseudonym(member, "case")
    return member


def _number(value: Any) -> str:
    if not isinstance(value, int | float):
        return repr(value)
    return str(int(value)) if float(value).is_integer() else f"{value:.10g}"


def _difference(
    kind: str, key: str, detail: str, evidence: dict[str, Any] | None = None, *, public: bool = True
) -> Difference:
    """A difference; the key of a value the truth knows is kpi/scope/day - hospitals and cost
    centers, no patient - so reports may print it as it is (``public_key``). An unexpected key
    is whatever the integration sent, so it stays masked."""
    return Difference(REPORTING, KPI_TARGET, kind, key, detail, {**(evidence or {}), "public_key": public})
