"""Which issues may and which must have left a shelf below zero, when issues post up to their lag
(and grace) after they were ready and so may overtake one another (``twin.observe.stock_levels``)."""

from __future__ import annotations

from twin.observe.stock_levels import PostedIssue, Shelf

LAG = 15.0


def _issues(*ready: float, grace: float = 0.0, quantity: int = 1) -> list[PostedIssue]:
    return [PostedIssue(at, at + LAG + grace, quantity) for at in ready]


def test_issues_far_apart_post_in_order_and_only_the_last_is_a_stock_out() -> None:
    assert Shelf(2, []).stock_outs(_issues(0, 100, 200)) == [(False, False), (False, False), (True, True)]


def test_issues_ready_at_one_instant_after_an_outage_may_each_take_the_last_unit() -> None:
    # the ERP came back at 240: both issues were ready then; which posts first is the retries' to say
    assert Shelf(1, []).stock_outs(_issues(240, 240)) == [(True, False), (True, False)]
    # three on a shelf of one: at least one of them must be short, but none in particular
    assert Shelf(1, []).stock_outs(_issues(240, 240, 240)) == [(True, False)] * 3
    # the shelf was empty already: every one of them is short whatever the order
    assert Shelf(0, []).stock_outs(_issues(240, 240)) == [(True, True), (True, True)]


def test_a_receipt_counted_in_while_the_issue_was_in_flight_may_have_come_first() -> None:
    assert Shelf(0, [(105.0, 5)]).stock_outs(_issues(100)) == [(True, False)]
    assert Shelf(0, [(120.0, 5)]).stock_outs(_issues(100)) == [(True, True)]  # after its latest moment
    assert Shelf(0, [(95.0, 5)]).stock_outs(_issues(100)) == [(False, False)]  # before it was ready


def test_an_issue_given_grace_may_post_after_a_later_one() -> None:
    delayed, prompt = PostedIssue(0.0, 30.0, 1), PostedIssue(10.0, 25.0, 1)
    assert Shelf(1, []).stock_outs([delayed, prompt]) == [(True, False), (True, False)]
    on_time = PostedIssue(0.0, 5.0, 1)  # posted before the second was ready: it took the unit
    assert Shelf(1, []).stock_outs([on_time, prompt]) == [(False, False), (True, True)]
