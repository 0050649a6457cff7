"""Which issues may and which must have left a shelf below zero, when issues post up to their lag
(and grace) after they were ready and so may overtake one another (``twin.observe.stock_levels``)."""

from __future__ import annotations

from twin.observe.stock_levels import PostedIssue, Shelf

LAG = 15.0


def _issues(*ready: float, grace: float = 0.0, quantity: int = 1) -> list[PostedIssue]:
    return [PostedIssue(at, at + LAG + grace, quantity) for at in ready]


def _shelf(opening: int, receipts: list[tuple[float, int]], issues: list[PostedIssue]) -> Shelf:
    shelf = Shelf(opening, receipts)
    for issue in issues:
        shelf.issue(issue)
    return shelf


def _outs(opening: int, receipts: list[tuple[float, int]], issues: list[PostedIssue]) -> list[tuple[bool, bool]]:
    return _shelf(opening, receipts, issues).stock_outs()


def test_issues_far_apart_post_in_order_and_only_the_last_is_a_stock_out() -> None:
    assert _outs(2, [], _issues(0, 100, 200)) == [(False, False), (False, False), (True, True)]


def test_issues_ready_at_one_instant_after_an_outage_may_each_take_the_last_unit() -> None:
    # the ERP came back at 240: both issues were ready then; which posts first is the retries' to say
    assert _outs(1, [], _issues(240, 240)) == [(True, False), (True, False)]
    # three on a shelf of one: at least one of them must be short, but none in particular
    assert _outs(1, [], _issues(240, 240, 240)) == [(True, False)] * 3
    # the shelf was empty already: every one of them is short whatever the order
    assert _outs(0, [], _issues(240, 240)) == [(True, True), (True, True)]


def test_a_receipt_counted_in_while_the_issue_was_in_flight_may_have_come_first() -> None:
    assert _outs(0, [(105.0, 5)], _issues(100)) == [(True, False)]
    assert _outs(0, [(120.0, 5)], _issues(100)) == [(True, True)]  # after its latest moment
    assert _outs(0, [(95.0, 5)], _issues(100)) == [(False, False)]  # before it was ready


def test_an_issue_given_grace_may_post_after_a_later_one() -> None:
    delayed, prompt = PostedIssue(0.0, 30.0, 1), PostedIssue(10.0, 25.0, 1)
    assert _outs(1, [], [delayed, prompt]) == [(True, False), (True, False)]
    on_time = PostedIssue(0.0, 5.0, 1)  # posted before the second was ready: it took the unit
    assert _outs(1, [], [on_time, prompt]) == [(False, False), (True, True)]


def test_a_count_finds_no_variance_only_against_what_the_erp_may_have_posted() -> None:
    # on a shelf of 10: two issues long posted (3), two in flight at the count (1 and 2), one after it
    issues = [PostedIssue(0, 15, 1), PostedIssue(10, 25, 2), PostedIssue(95, 110, 1), PostedIssue(98, 113, 2)]
    shelf = _shelf(10, [(50.0, 4), (101.0, 5)], [*issues, PostedIssue(120, 135, 4)])
    # the ERP held 14 - 3 = 11, less any of the in-flight issues, in either order: 11, 10, 9 or 8
    assert [shelf.zero_variance(100.0, physical) for physical in (11, 10, 9, 8)] == [(0.0, 1.0)] * 4
    assert shelf.zero_variance(100.0, 12) == (0.0, 0.0)  # a variance whatever the ERP had posted
    assert shelf.zero_variance(100.0, 7) == (0.0, 0.0)  # the issue ready after the count cannot be in it
    assert shelf.zero_variance(200.0, 14 + 5 - 10) == (1.0, 1.0)  # all posted: the only value
