"""The synchronization checker: compares expectations with target state and classifies differences.

Every difference gets exactly one class from ``DIFFERENCE_CLASSES``:

- lost: expected but absent when the run had settled - due and not there, or still pending
  (work the run ended without: never silently left out of the verdict);
- duplicated: present more than once for one key;
- unexpected: present with no expectation behind it;
- stale: present, but later than the flow's allowed lag after it was ready (or its last
  amendment later than the allowed lag after the truth made its final value due);
- out_of_order: present before what it depends on (before it was ready, before a record of
  the same key that must precede it, or before what it had to include: amended when nothing
  arrived late);
- wrong_value: present once, with values that differ from the truth.

It also measures time-to-consistency: per key, the time from ready to the last of its records
landing (or its last amendment, from when that was due), reported as percentiles. The checker is
pure: it reads records and returns results.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from twin.domain.model import SimTime
from twin.observe.records import DIFFERENCE_CLASSES, Difference, Expected, Observed


@dataclass(slots=True)
class FlowResult:
    flow: str
    allowed_lag: float
    expected: int = 0
    matched: int = 0
    pending: int = 0  # of the lost, those not yet due when the run settled
    differences: list[Difference] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)  # time-to-consistency per key, minutes
    due: list[float] = field(default_factory=list)  # ... from when each key was due (simulated minute), as ``lags``
    # differences of records downstream of a lost one in a chain: told with that first missing link,
    # kept here so a check of their own target still sees them
    downstream: list[Difference] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(DIFFERENCE_CLASSES, 0)
        for difference in self.differences:
            counts[difference.kind] += 1
        return counts

    @property
    def in_sync(self) -> bool:
        return not self.differences

    def percentiles(self) -> dict[str, float | None]:
        return {f"p{p}": percentile(self.lags, p) for p in (50, 95, 99)}


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (deterministic, an observed value); ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def check_flow(
    flow: str,
    expected: Iterable[Expected],
    observed: Iterable[Observed],
    *,
    allowed_lag: float,
    horizon: SimTime,
    targets: Iterable[str] | None = None,
    resolution: float = 1 / 60,
    cut: bool = False,
    tolerance: float = 0.0,
) -> FlowResult:
    """Classify every difference between ``expected`` and ``observed`` for one flow.

    ``targets`` names the targets this flow owns; observed records of other targets are ignored.
    By default it is the set of targets that appear in ``expected``. ``resolution`` is the
    clock resolution of message timestamps (one second): closer than that is simultaneous.
    ``cut``: the run did not settle but was ended at ``horizon`` (a live run): a record not due by
    then (its allowed lag not over) and absent is counted as pending, not as lost.
    ``tolerance``: minutes added to every allowed lag for the clock the run was timed on (a live
    run's wall-clock jitter at its speed, ``RunView.clock_tolerance``); 0 in simulated time.
    """
    expected = list(expected)
    owned = set(targets) if targets is not None else {e.target for e in expected}
    by_key: dict[tuple[str, str], list[Observed]] = {}
    for record in observed:
        if record.target in owned:
            by_key.setdefault((record.target, record.key), []).append(record)
    for records in by_key.values():
        if len(records) > 1:  # nearly every key holds one record: nothing to order
            records.sort(key=lambda r: (r.at, r.ref))

    result = FlowResult(flow, allowed_lag)
    expected_keys = {(e.target, e.key) for e in expected}
    landed: dict[str, list[tuple[int, SimTime, Expected, float]]] = {}
    for exp in expected:
        records = by_key.get((exp.target, exp.key), [])
        if not records:
            if exp.optional:
                continue
            pending = math.isfinite(exp.ready_at) and exp.ready_at + allowed_lag + tolerance + exp.grace > horizon
            if cut and (pending or not math.isfinite(exp.ready_at)):
                # a run ended at a cut: what was not due yet is not judged, only counted - nor what the
                # truth had not made possible yet (a spoiled message not repaired by then)
                result.pending += 1
                continue
            result.expected += 1
            result.differences.append(_lost(flow, exp, allowed_lag + tolerance, horizon))
            result.pending += pending
            continue
        result.expected += 0 if exp.optional else 1
        first = records[0]
        if len(records) > 1:
            result.differences.append(
                Difference(
                    flow,
                    exp.target,
                    "duplicated",
                    exp.key,
                    f"held {len(records)} times: " + ", ".join(r.ref for r in records),
                    {"refs": [r.ref for r in records]},
                )
            )
        wrong = {
            name: (want, first.value.get(name))
            for name, want in exp.value.items()
            if not exp.accepts(name, first.value.get(name))
        }
        if not wrong and exp.firsts and first.first_value is not None and first.first_value not in exp.firsts:
            initial = exp.firsts[0]
            off = {n: (w, first.first_value.get(n)) for n, w in initial.items() if first.first_value.get(n) != w}
            result.differences.append(
                Difference(
                    flow,
                    exp.target,
                    "wrong_value",
                    exp.key,
                    "as it first landed, before its amendment: "
                    + "; ".join(
                        f"{name}: expected {want!r}, found {got!r}" for name, (want, got) in sorted(off.items())
                    )
                    + " (nor what was due at any later moment before its final value)",
                    {
                        "ref": first.ref,
                        "first": True,
                        "fields": {k: {"expected": w, "found": g} for k, (w, g) in off.items()},
                    },
                )
            )
            wrong = off
        elif wrong:
            result.differences.append(
                Difference(
                    flow,
                    exp.target,
                    "wrong_value",
                    exp.key,
                    "; ".join(
                        f"{name}: expected {want!r}, found {got!r}" for name, (want, got) in sorted(wrong.items())
                    ),
                    {"ref": first.ref, "fields": {k: {"expected": w, "found": g} for k, (w, g) in wrong.items()}},
                )
            )
        lag = first.at - exp.ready_at
        settled = first.settled_at if first.settled_at is not None else first.at
        if lag < -resolution:
            result.differences.append(
                _at(
                    exp,
                    "out_of_order",
                    f"landed {-lag:.2f} min before it was ready (t={exp.ready_at:.1f})",
                    first,
                )
            )
        elif lag > allowed_lag + exp.grace + tolerance:
            result.differences.append(
                _at(
                    exp,
                    "stale",
                    f"landed {lag:.1f} min after it was ready; allowed {allowed_lag + exp.grace + tolerance:g} min"
                    + (f" ({exp.grace:g} of them allowed for: {exp.why or 'its target was down'})" if exp.grace else "")
                    + (f" ({tolerance:g} of them the clock's tolerance)" if tolerance else ""),
                    first,
                )
            )
        elif (
            exp.settles_at is not None
            and settled > max(exp.settles_at, exp.ready_at + exp.grace) + allowed_lag + tolerance
        ):
            due = max(exp.settles_at, exp.ready_at + exp.grace)
            result.differences.append(
                _at(
                    exp,
                    "stale",
                    f"its final value landed {settled - due:.1f} min after it was due at t={due:.1f}"
                    f" ({exp.why or 'amended'}); allowed {allowed_lag + tolerance:g} min",
                    first,
                )
            )
        if exp.settles_at is not None:
            lag = max(lag, settled - exp.settles_at)
        elif first.settled_at is not None and first.settled_at > first.at:  # two postings: no clock race
            result.differences.append(
                _at(
                    exp,
                    "out_of_order",
                    f"amended at t={first.settled_at:.2f} after it landed at t={first.at:.2f}: it went out before "
                    "something due with it (no late arrival made an amendment due)",
                    first,
                )
            )
        if not wrong and len(records) == 1:
            result.matched += 0 if exp.optional else 1  # of the expected: an optional record counts in neither
        landed.setdefault(exp.key, []).append((exp.seq, first.at, exp, lag))

    for key, entries in landed.items():
        if len(entries) == 1:  # a key with one record cannot be out of order with itself
            result.lags.append(max(0.0, entries[0][3]))
            result.due.append(entries[0][2].ready_at)
            continue
        entries.sort(key=lambda entry: (entry[0], entry[1]))
        for seq, at, exp, _lag in entries:
            earlier = [e for e in entries if e[0] < seq]
            latest_before = max((e[1] for e in earlier), default=-math.inf)
            if at < latest_before - resolution:
                result.differences.append(
                    Difference(
                        flow,
                        exp.target,
                        "out_of_order",
                        key,
                        f"landed at t={at:.2f}, before a record it must follow (t={latest_before:.2f})",
                        {},
                    )
                )
        result.lags.append(max(0.0, max(lag for _, _, _, lag in entries)))
        result.due.append(min(exp.ready_at for _, _, exp, _ in entries))

    if any(exp.requires is not None for exp in expected):
        result.differences, result.downstream = _at_first_missing_link(result.differences, expected)
    for target, key in sorted(found for found in by_key if found not in expected_keys):
        for record in by_key[(target, key)]:
            if cut and record.at > horizon:  # landed after the cut (the wire drained): what the cut did not judge
                continue
            result.differences.append(
                Difference(
                    flow,
                    target,
                    "unexpected",
                    key,
                    f"{record.ref} has no source event behind it",
                    {"ref": record.ref, "value": record.value},
                )
            )
    return result


def _at(exp: Expected, kind: str, detail: str, record: Observed) -> Difference:
    """A difference of kind ``kind`` found on ``record``, the one held for ``exp``."""
    return Difference(exp.flow, exp.target, kind, exp.key, detail, {"ref": record.ref})


def _lost(flow: str, exp: Expected, allowed_lag: float, horizon: SimTime) -> Difference:
    """An expected record absent at the end: due and missing, still pending, or never made due."""
    because = f" ({exp.why})" if exp.why else ""
    if not math.isfinite(exp.ready_at):
        detail = f"never became possible in the run{because}, absent at the end (t={horizon:.1f})"
    elif exp.ready_at + allowed_lag + exp.grace > horizon:
        detail = f"due at t={exp.ready_at:.1f} min{because}, still pending when the run had settled (t={horizon:.1f})"
    else:
        detail = f"expected since t={exp.ready_at:.1f} min{because}, absent at the end (t={horizon:.1f})"
    return Difference(flow, exp.target, "lost", exp.key, detail, {"expected": exp.value})


def _at_first_missing_link(
    differences: list[Difference], expected: list[Expected]
) -> tuple[list[Difference], list[Difference]]:
    """Differences of records downstream of a lost one in a chain (``Expected.requires``) are told
    with that first missing link, in its evidence, instead of each on its own; returns (the
    differences to count, the ones told downstream)."""
    lost = {(d.target, d.key) for d in differences if d.kind == "lost"}
    requires = {(e.target, e.key): e.requires for e in expected if e.requires is not None}

    def root(slot: tuple[str, str]) -> tuple[str, str] | None:
        found = None
        seen = {slot}
        upstream = requires.get(slot)
        while upstream is not None and upstream in lost and upstream not in seen:
            found = upstream
            seen.add(upstream)
            upstream = requires.get(upstream)
        return found

    folded: dict[tuple[str, str], list[Difference]] = {}
    kept: list[Difference] = []
    for difference in differences:
        origin = root((difference.target, difference.key))
        if origin is None:
            kept.append(difference)
        else:
            folded.setdefault(origin, []).append(difference)
    if not folded:
        return differences, []
    out = []
    for difference in kept:
        followers = folded.get((difference.target, difference.key))
        if followers:
            counts: dict[str, int] = {}
            for follower in followers:
                counts[f"{follower.kind} at {follower.target}"] = (
                    counts.get(f"{follower.kind} at {follower.target}", 0) + 1
                )
            told = ", ".join(f"{n} {what}" for what, n in sorted(counts.items()))
            difference = Difference(
                difference.flow,
                difference.target,
                difference.kind,
                difference.key,
                f"{difference.detail}; the first missing link: {len(followers)} record(s) downstream "
                f"of it differ ({told})",
                {**difference.evidence, "downstream": [f"{f.kind} {f.target} {f.key}" for f in followers]},
            )
        out.append(difference)
    return out, [follower for followers in folded.values() for follower in followers]
