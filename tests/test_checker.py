"""The synchronization checker catches every class of difference it claims to catch.

First on hand-made records, then by planting each defect in the targets of a real run.
"""

from __future__ import annotations

import dataclasses

import pytest

from tests.conftest import run_small
from twin.observe.checker import check_flow, percentile
from twin.observe.expectations import CLAIM, JOURNAL
from twin.observe.flows import check_all
from twin.observe.records import Expected, Observed

LAG = 30.0


def _exp(key: str, target: str = "t", value: int = 100, ready: float = 10.0, seq: int = 0) -> Expected:
    return Expected("flow", target, key, {"amount": value}, ready, seq)


def _obs(key: str, target: str = "t", value: int = 100, at: float = 11.0, ref: str = "r1") -> Observed:
    return Observed(target, key, {"amount": value}, at, ref)


def _classes(expected: list[Expected], observed: list[Observed], horizon: float = 1000.0) -> list[str]:
    result = check_flow("flow", expected, observed, allowed_lag=LAG, horizon=horizon)
    return sorted(d.kind for d in result.differences)


def test_in_sync_has_no_differences() -> None:
    assert _classes([_exp("a"), _exp("b")], [_obs("a"), _obs("b", ref="r2")]) == []


def test_lost() -> None:
    assert _classes([_exp("a"), _exp("b")], [_obs("a")]) == ["lost"]


def test_a_live_clocks_tolerance_forgives_its_jitter_and_no_more() -> None:
    late = [_obs("a", at=10.0 + LAG + 5.0)]  # 5 min past its allowed lag
    assert _classes([_exp("a")], late) == ["stale"]
    forgiven = check_flow("flow", [_exp("a")], late, allowed_lag=LAG, horizon=1000.0, tolerance=6.0)
    assert forgiven.differences == []
    [still] = check_flow("flow", [_exp("a")], late, allowed_lag=LAG, horizon=1000.0, tolerance=4.0).differences
    assert still.kind == "stale" and "4 of them the clock's tolerance" in still.detail
    # at a cut, work whose lag with the tolerance is not over is pending, not lost
    cut = check_flow("flow", [_exp("a", ready=960.0)], [], allowed_lag=LAG, horizon=1000.0, tolerance=20.0, cut=True)
    assert cut.differences == [] and cut.pending == 1


def test_work_still_pending_when_the_run_settled_is_lost_not_dropped() -> None:
    result = check_flow("flow", [_exp("a", ready=990.0)], [], allowed_lag=LAG, horizon=1000.0)
    [lost] = result.differences
    assert lost.kind == "lost" and "still pending" in lost.detail and result.pending == 1
    never = dataclasses.replace(_exp("b"), ready_at=float("inf"), why="its message was never repaired")
    [gone] = check_flow("flow", [never], [], allowed_lag=LAG, horizon=1000.0).differences
    assert gone.kind == "lost" and "never became possible" in gone.detail and "never repaired" in gone.detail


def test_an_amended_record_is_judged_by_its_final_value_and_when_that_landed() -> None:
    # a bill due at 10 whose late charge arrives at 500: held until then, or billed and adjusted
    bill = dataclasses.replace(_exp("a", value=150), grace=490.0, settles_at=500.0, why="late charges")
    held = _obs("a", value=150, at=505.0)
    adjusted = dataclasses.replace(_obs("a", value=150, at=11.0), settled_at=510.0)
    assert _classes([bill], [held]) == [] and _classes([bill], [adjusted]) == []
    never_adjusted = _obs("a", value=100, at=11.0)  # an exception raised, the charge never billed
    assert _classes([bill], [never_adjusted]) == ["wrong_value"]
    adjusted_late = dataclasses.replace(_obs("a", value=150, at=11.0), settled_at=500.0 + LAG + 5)
    assert _classes([bill], [adjusted_late]) == ["stale"]
    held_too_long = _obs("a", value=150, at=500.0 + LAG + 5)
    assert _classes([bill], [held_too_long]) == ["stale"]
    result = check_flow("flow", [bill], [adjusted], allowed_lag=LAG, horizon=1000.0)
    assert result.lags == [10.0]  # its final value, 10 min after the late charge made it due


def test_an_amended_record_is_judged_as_it_first_landed_too() -> None:
    # billable when due: 100; a late charge of 50 makes it 150. It may first go out at 100 (then adjusted) or 150.
    bill = dataclasses.replace(
        _exp("a", value=150), grace=490.0, settles_at=500.0, firsts=({"amount": 100}, {"amount": 150})
    )
    adjusted = dataclasses.replace(_obs("a", value=150, at=11.0), settled_at=510.0, first_value={"amount": 100})
    assert _classes([bill], [adjusted]) == []
    short_first = dataclasses.replace(adjusted, first_value={"amount": 60})  # left out what it already had
    result = check_flow("flow", [bill], [short_first], allowed_lag=LAG, horizon=1000.0)
    [wrong] = result.differences
    assert wrong.kind == "wrong_value" and "as it first landed" in wrong.detail and "found 60" in wrong.detail


def test_a_field_within_its_bounds_is_right_and_outside_them_wrong() -> None:
    snapshot = dataclasses.replace(_exp("a", value=10), bounds={"amount": (10, 13)})  # a usage of 3 races it
    assert _classes([snapshot], [_obs("a", value=13)]) == [] and _classes([snapshot], [_obs("a", value=10)]) == []
    assert _classes([snapshot], [_obs("a", value=14)]) == ["wrong_value"]
    assert _classes([snapshot], [_obs("a", value=9)]) == ["wrong_value"]


def test_a_chain_is_judged_at_its_first_missing_link() -> None:
    po = _exp("x#1", target="po")
    order = dataclasses.replace(_exp("x#1", target="vendor"), requires=("po", "x#1"))
    stock = dataclasses.replace(_exp("x@1", target="stock", value=5), requires=("vendor", "x#1"))
    result = check_flow(
        "flow", [po, order, stock], [_obs("x@1", target="stock", value=0)], allowed_lag=LAG, horizon=1e4
    )
    [first] = result.differences  # the PO never raised: the order and the stock follow from it
    assert (first.kind, first.target) == ("lost", "po") and "2 record(s) downstream" in first.detail
    assert first.evidence["downstream"] == ["lost vendor x#1", "wrong_value stock x@1"]
    result = check_flow("flow", [po, order, stock], [_obs("x#1", target="po")], allowed_lag=LAG, horizon=1e4)
    assert [(d.kind, d.target) for d in result.differences] == [("lost", "vendor")]  # the order is the missing link


def test_duplicated() -> None:
    assert _classes([_exp("a")], [_obs("a"), _obs("a", ref="r2", at=12.0)]) == ["duplicated"]


def test_unexpected() -> None:
    assert _classes([_exp("a")], [_obs("a"), _obs("zzz", ref="r9")]) == ["unexpected"]


def test_wrong_value() -> None:
    result = check_flow("flow", [_exp("a", value=100)], [_obs("a", value=101)], allowed_lag=LAG, horizon=1000)
    assert [d.kind for d in result.differences] == ["wrong_value"]
    assert "expected 100, found 101" in result.differences[0].detail


def test_stale() -> None:
    assert _classes([_exp("a", ready=10.0)], [_obs("a", at=10.0 + LAG + 1)]) == ["stale"]


def test_within_allowed_lag_is_not_stale() -> None:
    assert _classes([_exp("a", ready=10.0)], [_obs("a", at=10.0 + LAG - 1)]) == []


def test_out_of_order_before_ready() -> None:
    assert _classes([_exp("a", ready=10.0)], [_obs("a", at=5.0)]) == ["out_of_order"]


def test_out_of_order_within_a_key() -> None:
    expected = [_exp("a", target="first", seq=0), _exp("a", target="second", seq=1)]
    observed = [_obs("a", target="first", at=15.0), _obs("a", target="second", at=12.0, ref="r2")]
    assert _classes(expected, observed) == ["out_of_order"]


def test_optional_record_may_be_absent_or_present() -> None:
    optional = dataclasses.replace(_exp("a"), optional=True)
    assert _classes([optional], []) == []
    assert _classes([optional], [_obs("a")]) == []


def test_time_to_consistency_percentiles() -> None:
    expected = [_exp(str(i), ready=0.0) for i in range(100)]
    observed = [_obs(str(i), at=float(i + 1), ref=f"r{i}") for i in range(100)]
    result = check_flow("flow", expected, observed, allowed_lag=1000, horizon=5000)
    assert result.percentiles() == {"p50": 50.0, "p95": 95.0, "p99": 99.0}
    assert percentile([], 50) is None


# -- planted in a real run's target systems -------------------------------------------------------


@pytest.fixture()
def run():  # type: ignore[no-untyped-def]
    result = run_small()
    assert result.in_sync, result.flows[0].differences[:3]
    return result


def _recheck(run):  # type: ignore[no-untyped-def]
    return check_all(run.view)[0].counts


def test_planted_dropped_posting_is_lost(run) -> None:  # type: ignore[no-untyped-def]
    journals = run.view.erp.finance.journals
    journals.pop(next(i for i, j in enumerate(journals) if j.source == "patient-billing"))
    assert _recheck(run)["lost"] == 1


def test_planted_double_posting_is_duplicated(run) -> None:  # type: ignore[no-untyped-def]
    erp = run.view.erp.finance
    first = next(j for j in erp.journals if j.source == "patient-billing")
    erp.journals.append(dataclasses.replace(first, journal_id="JE-COPY", posted_at=first.posted_at + 1))
    assert _recheck(run)["duplicated"] == 1


def test_planted_altered_amount_is_wrong_value(run) -> None:  # type: ignore[no-untyped-def]
    erp = run.view.erp.finance
    item = erp.ar_items[5]
    erp.ar_items[5] = dataclasses.replace(item, amount=item.amount + 1)
    assert _recheck(run)["wrong_value"] == 1


def test_planted_invented_claim_is_unexpected(run) -> None:  # type: ignore[no-untyped-def]
    house = run.view.clearinghouse
    house.submissions.append(dataclasses.replace(house.accepted[0], submission_id="CH-X", claim_number="H99V0000001"))
    assert _recheck(run)["unexpected"] == 1


def test_planted_late_posting_is_stale(run) -> None:  # type: ignore[no-untyped-def]
    house = run.view.clearinghouse
    index = house.submissions.index(house.accepted[2])
    late = house.submissions[index]
    house.submissions[index] = dataclasses.replace(late, received_at=late.received_at + LAG * 3)
    assert _recheck(run)["stale"] == 1


def test_planted_claim_before_journal_is_out_of_order(run) -> None:  # type: ignore[no-untyped-def]
    view = run.view
    claim = view.clearinghouse.accepted[1]
    index = next(i for i, j in enumerate(view.erp.finance.journals) if j.reference == claim.claim_number)
    # the journal now lands after the claim: both after coding completed and within the allowed
    # lag, so only the order between them is wrong
    journal = view.erp.finance.journals[index]
    view.erp.finance.journals[index] = dataclasses.replace(journal, posted_at=claim.received_at + 0.1)
    counts = _recheck(run)
    assert counts["out_of_order"] == 1
    assert sum(counts.values()) == 1


def test_checker_targets_are_the_ones_planted() -> None:
    assert JOURNAL.startswith("erp.") and CLAIM.startswith("clearinghouse.")


def test_a_run_cut_before_it_settled_counts_what_was_not_due_as_pending_not_lost() -> None:
    due_long_ago = _exp("a", ready=10.0)
    due_at_the_cut = _exp("b", ready=990.0)  # its allowed lag runs past the cut at 1000
    cut = check_flow("flow", [due_long_ago, due_at_the_cut], [], allowed_lag=LAG, horizon=1000.0, cut=True)
    assert [(d.kind, d.key) for d in cut.differences] == [("lost", "a")]  # what was due is still judged
    assert cut.pending == 1 and cut.expected == 1
    settled = check_flow("flow", [due_long_ago, due_at_the_cut], [], allowed_lag=LAG, horizon=1000.0)
    assert sorted(d.key for d in settled.differences) == ["a", "b"]  # a settled run: pending is lost
    # what the truth had not made possible by the cut (its mapping not published yet, its spoiled
    # message not repaired yet) may become possible after it: pending there, lost once settled
    never = dataclasses.replace(_exp("c"), ready_at=float("inf"), why="its mapping was never published")
    at_cut = check_flow("flow", [never], [], allowed_lag=LAG, horizon=1000.0, cut=True)
    assert (at_cut.differences, at_cut.pending) == ([], 1)
    [gone] = check_flow("flow", [never], [], allowed_lag=LAG, horizon=1000.0).differences
    assert gone.kind == "lost"


def test_at_a_cut_an_unexpected_record_is_judged_only_if_it_landed_by_the_cut() -> None:
    invented = [_obs("x", at=999.0, ref="r1"), _obs("y", at=1001.0, ref="r2")]  # the second while the wire drained
    cut = check_flow("flow", [], invented, allowed_lag=LAG, horizon=1000.0, targets=["t"], cut=True)
    assert [(d.kind, d.key) for d in cut.differences] == [("unexpected", "x")]
    settled = check_flow("flow", [], invented, allowed_lag=LAG, horizon=1000.0, targets=["t"])
    assert sorted(d.key for d in settled.differences) == ["x", "y"]  # a settled run judges everything it holds


def test_matched_counts_only_expected_records_and_each_key_keeps_when_it_was_due() -> None:
    """An optional record that landed is neither expected nor matched: "matched 394 of 389" told nobody anything."""
    optional = dataclasses.replace(_exp("c", ready=40.0), optional=True)
    result = check_flow(
        "flow", [_exp("a"), _exp("b", ready=20.0), optional], [_obs("a"), _obs("b", at=25.0, ref="r2"), _obs("c")],
        allowed_lag=LAG, horizon=1000.0,
    )  # fmt: skip
    assert (result.expected, result.matched) == (2, 2)
    assert sorted(zip(result.due, result.lags, strict=True))[:2] == [(10.0, 1.0), (20.0, 5.0)]
