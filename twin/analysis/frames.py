"""A finished run as tables: what a notebook plots, read from the run view and the judge's results.

A run holds its whole network in memory; an architect wants a few tidy tables of it that outlive
the run, pickle, cache and load in pandas in seconds. Each function here reads the run view (as the
judge does, never a driver) and returns one ``pandas.DataFrame``. Identifiers are pseudonyms, as in
every report: visit numbers and MRNs never leave a run in clear.

- ``records``: one row per exchange (``records/messages.csv``'s columns);
- ``differences``: every difference the judge found (not only the summary's first 50);
- ``exceptions`` and ``dead_letters``: what the integration exposes through the contract;
- ``consistency``: per flow and key, when it was due and how long until the targets held it;
- ``backlog``: hour by hour, keys due but not yet consistent per flow (the integration's queue as
  the business sees it, wherever the design holds the work), and the dead-letter queue's backlog;
- ``inventory``: at each nightly quiet point, how far the ERP's on-hand is from the shelf;
- ``kpis``: every executive KPI the dashboard shows beside the truth's value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from twin.domain.pseudonym import mask
from twin.observe.kpi_check import beside_truth, kpi_truth, observe_dashboard
from twin.observe.replenishment import ON_HAND
from twin.observe.report import MESSAGE_COLUMNS, difference_row, message_columns

if TYPE_CHECKING:
    from twin.observe.view import RunResult, RunView

DAY = 1440.0
STEP_MINUTES = 60.0  # the backlog's time step: hourly, fine enough for days and months
NUMERIC_COLUMNS = {  # the records table's number columns; the rest are text
    "seq": "int64",
    "sent_minute": "float64",
    "delivered_minute": "float64",
    "answered_minute": "float64",
    "bytes": "int64",
}


def records(view: RunView, columns: dict[str, Sequence[Any]] | None = None) -> pd.DataFrame:
    """One row per exchange: when it was sent, delivered and answered (simulated minutes), who to, outcome.
    ``columns``: the view's ``message_columns``, when the caller has them already."""
    if columns is None:
        columns = message_columns(view)  # read off the run's record log, no row built per exchange
    frame = pd.DataFrame(
        {name: np.asarray(column, dtype=NUMERIC_COLUMNS.get(name, object)) for name, column in columns.items()},
        columns=list(MESSAGE_COLUMNS),
    )
    for column in ("record_type", "source", "destination", "message_type", "outcome"):
        frame[column] = frame[column].astype("category")
    return frame


def differences(result: RunResult) -> pd.DataFrame:
    """Every difference, as the summary lists its first 50 (``report.difference_row``)."""
    rows = [difference_row(d) for flow in result.flows for d in flow.differences]
    return pd.DataFrame(rows, columns=["flow", "target", "class", "key", "detail"])


def exceptions(view: RunView) -> pd.DataFrame:
    rows = [
        {
            "flow": e.flow,
            "key": mask(e.key),
            "reason_code": e.reason_code,
            "reason": mask(e.reason),
            "raised_minute": float(e.raised_at),
            "resolved_minute": None if e.resolved_at is None else float(e.resolved_at),
            "domain": e.domain,
            "code": e.code,
        }
        for e in view.exceptions
    ]
    columns = ["flow", "key", "reason_code", "reason", "raised_minute", "resolved_minute", "domain", "code"]
    return pd.DataFrame(rows, columns=columns)


def dead_letters(view: RunView) -> pd.DataFrame:
    """The letters still in the queue when the run settled (payloads left out: they name patients)."""
    rows = [
        {
            "message_id": mask(letter.message_id),
            "channel": letter.channel,
            "source": letter.source,
            "reason": mask(letter.reason),
            "received_minute": float(letter.received_at),
            "attempts": letter.attempts,
        }
        for letter in view.dead_letters
    ]
    columns = ["message_id", "channel", "source", "reason", "received_minute", "attempts"]
    return pd.DataFrame(rows, columns=columns)


def consistency(result: RunResult) -> pd.DataFrame:
    """Per flow and key: when it was due and its time to consistency (minutes), as the judge measured them."""
    flows, due, lags = [], [], []
    for flow in result.flows:
        flows += [flow.flow] * len(flow.lags)
        due += flow.due
        lags += flow.lags
    frame = pd.DataFrame({"flow": flows, "due_minute": due, "lag_minutes": lags})
    frame["flow"] = frame["flow"].astype("category")
    return frame


def backlog(result: RunResult, consistent: pd.DataFrame) -> pd.DataFrame:
    """Per hour (``minute``: its start): per flow, the keys due and not yet consistent, on average
    over the hour; and the dead-letter queue's backlog, likewise.

    An average over the hour, not a sample at its start: a KPI due at 06:00 sharp and shown 5 s later
    is no backlog, an hourly sample would count it whole. The dead-letter backlog counts what the
    integration parked until the support team replayed it (the support log: repaired or replayed as
    it was), and what was still parked when the run settled (until then).
    """
    horizon = result.horizon
    buckets = int(horizon // STEP_MINUTES) + 1
    columns: dict[str, list[float]] = {}
    for flow, group in consistent.groupby("flow", observed=True):
        starts = group["due_minute"].tolist()
        ends = (group["due_minute"] + group["lag_minutes"]).tolist()
        columns[f"due_not_consistent_{flow}"] = _hourly_mean(buckets, starts, ends)
    parked, replayed = _dead_letter_spans(result.view, horizon)
    columns["dead_letters"] = _hourly_mean(buckets, parked, replayed)
    frame = pd.DataFrame({"minute": [i * STEP_MINUTES for i in range(buckets)], **columns})
    frame["day"] = frame["minute"] / DAY
    return frame


def _hourly_mean(buckets: int, starts: list[float], ends: list[float]) -> list[float]:
    """How many spans [start, end) are open, on average over each bucket of ``STEP_MINUTES``."""
    busy = [0.0] * buckets
    for start, end in zip(starts, ends, strict=True):
        at = max(start, 0.0)
        while at < end:
            bucket = int(at // STEP_MINUTES)
            if bucket >= buckets:
                break
            until = min(end, (bucket + 1) * STEP_MINUTES)
            busy[bucket] += until - at
            at = until
    return [round(minutes / STEP_MINUTES, 4) for minutes in busy]


def _dead_letter_spans(view: RunView, horizon: float) -> tuple[list[float], list[float]]:
    """(parked, left the queue) per letter: replayed by the support team, or still there at ``horizon``."""
    parked: list[float] = []
    left: list[float] = []
    support = view.faults.support if view.faults is not None else ()
    for action in support:
        if action.action in ("repaired", "as it was") and action.message_id:
            parked.append(float(action.parked_at))
            left.append(float(action.at))
    for letter in view.dead_letters:
        parked.append(float(letter.received_at))
        left.append(horizon)
    return parked, left


def inventory(result: RunResult) -> pd.DataFrame:
    """At each quiet point: item-locations the ERP holds, how many are off the shelf, and by how many units.

    The shelf is the truth's on-hand (with the range a movement racing the snapshot allows); the
    drift is how far the ERP's on-hand lies outside that range, summed over item-locations.
    """
    from twin.observe.flows import SUPPLY_CHECK

    view = result.view
    truth = {
        exp.key: (exp.bounds or {}).get("on_hand", (exp.value["on_hand"], exp.value["on_hand"]))
        for exp in SUPPLY_CHECK.expected(view)
        if exp.target == ON_HAND
    }
    rows = []
    for record in SUPPLY_CHECK.observed(view):
        if record.target != ON_HAND or record.key not in truth:
            continue
        low, high = truth[record.key]
        shown = record.value["on_hand"]
        rows.append((float(record.at), max(low - shown, shown - high, 0)))
    frame = pd.DataFrame(rows, columns=["minute", "off_by"])
    table = (
        frame.groupby("minute")
        .agg(
            item_locations=("off_by", "size"),
            off=("off_by", lambda s: int((s > 0).sum())),
            drift_units=("off_by", "sum"),
        )
        .reset_index()
    )
    table["day"] = table["minute"] / DAY
    return table


def kpis(result: RunResult) -> pd.DataFrame:
    """Every KPI value the dashboard shows, beside the truth's range for the lineage it names."""
    view = result.view
    truth = kpi_truth(view, result.horizon)
    shown = {record.key: record for record in observe_dashboard(view.dashboard)}
    rows: list[dict[str, Any]] = []
    for value, record, bounds, off in beside_truth(truth, shown):
        rows.append(
            {
                "period": value.period,
                "kpi": value.kpi,
                "scope": value.scope,
                "reported": float(record.value["value"]),
                "truth_low": None if bounds is None else bounds[0],
                "truth_high": None if bounds is None else bounds[1],
                "divergence": off,
            }
        )
    return pd.DataFrame(rows, columns=["period", "kpi", "scope", "reported", "truth_low", "truth_high", "divergence"])
