"""The answers a mock gives again to a retried request: equal to the first, and not shared with it."""

from __future__ import annotations

from mocks.replies import Replies
from twin.domain.exchange import TargetResponse


def test_a_kept_answer_comes_back_equal_for_its_key_only() -> None:
    replies = Replies()
    first = TargetResponse(201, {"issue_id": "IS00000001", "on_hand": 7, "cost": 12.5, "reasons": []})
    replies.keep("issue:T1", first)
    assert replies.get("issue:T1") == first
    assert replies.get("issue:T2") is None
    assert replies.get("") is None


def test_a_request_without_a_key_keeps_nothing() -> None:
    replies = Replies()
    replies.keep("", TargetResponse(201, {"id": "J1"}))
    assert len(replies) == 0 and replies.get("") is None


def test_headers_come_back_and_no_caller_can_change_what_is_kept() -> None:
    replies = Replies()
    replies.keep("claim:V1", TargetResponse(429, {"errors": ["slow down"]}, {"Retry-After": "30"}))
    replies.keep("claim:V2", TargetResponse(201, {"id": "CH1"}))
    again = replies.get("claim:V1")
    assert again is not None and again.status == 429 and again.headers == {"Retry-After": "30"}
    again.body["errors"].append("changed")
    again.headers["Retry-After"] = "0"
    bare = replies.get("claim:V2")
    assert bare is not None
    bare.headers["X"] = "y"  # the answers without headers share nothing either
    assert replies.get("claim:V1") == TargetResponse(429, {"errors": ["slow down"]}, {"Retry-After": "30"})
    assert replies.get("claim:V2") == TargetResponse(201, {"id": "CH1"})
