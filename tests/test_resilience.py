"""Resilience controls, unit by unit: retry policy, circuit breaker, outbox, resequencer, and the
reference integration's handling of reordered feeds and drifted documents."""

from __future__ import annotations

import dataclasses
import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twin.domain.contract import Outcome
from twin.domain.exchange import TOKEN_PATH, TRANSPORT_FAILURE, TargetRequest, TargetResponse
from twin.integration.outbox import Outbox
from twin.integration.resilience import CircuitBreaker, RetryPolicy
from twin.integration.sequencing import Resequencer
from twin.sim.transport import delay_until

OK = TargetResponse(201, {"id": "1"})
DOWN = TargetResponse(503, {"errors": ["maintenance"]})
LOST = TargetResponse(TRANSPORT_FAILURE, {"error": "timeout"})


def _request(key: str = "journal:V1", correlation: str = "V1", system: str = "erp") -> TargetRequest:
    return TargetRequest(system, "POST", "/finance/journals", {"reference": correlation}, key, correlation)


# -- retry policy and breaker -----------------------------------------------------------------------


def test_backoff_grows_with_jitter_and_stops_after_the_last_attempt() -> None:
    policy = RetryPolicy(max_attempts=4, base_delay=1.0, multiplier=2.0, max_delay=3.0, jitter=0.1)
    rng = random.Random(1)
    delays = [policy.delay(attempt, rng) for attempt in (1, 2, 3)]
    assert 0.9 <= delays[0] <= 1.1 and 1.8 <= delays[1] <= 2.2 and 2.7 <= delays[2] <= 3.3  # type: ignore[operator]
    assert policy.delay(4, rng) is None


def test_pattern_by_attempt_range_and_retry_after() -> None:
    policy = RetryPolicy(max_attempts=9, pattern=((1, 0.5), (3, 5.0), (5, 30.0)), jitter=0)
    rng = random.Random(0)
    assert [policy.delay(a, rng) for a in (1, 2, 3, 4, 5, 8)] == [0.5, 0.5, 5.0, 5.0, 30.0, 30.0]
    assert policy.delay(1, rng, retry_after=2.0) == 2.0  # never sooner than the server asked
    assert policy.retryable(TRANSPORT_FAILURE) and policy.retryable(429) and policy.retryable(503)
    assert not policy.retryable(422) and not policy.retryable(404)


def test_breaker_opens_on_failure_rate_half_opens_and_closes_on_a_good_probe() -> None:
    breaker = CircuitBreaker(window=5, failure_rate=0.5, min_calls=4, open_for=2, probes=1)
    for t in range(3):
        breaker.record(float(t) * 0.1, success=False)
    assert breaker.state == "closed"  # not enough calls yet
    breaker.record(0.4, success=False)
    assert breaker.state == "open" and not breaker.allows(1.0) and breaker.reopens_at() == pytest.approx(2.4)
    assert breaker.allows(2.5) and breaker.state == "half_open"
    assert not breaker.allows(2.5)  # one probe at a time
    breaker.record(2.6, success=False)
    assert breaker.state == "open" and breaker.trips == 2
    assert breaker.allows(4.7)
    breaker.record(4.8, success=True)
    assert breaker.state == "closed" and breaker.allows(4.9)


# -- outbox -------------------------------------------------------------------------------------------


def _outbox(**kwargs: object) -> Outbox:
    policy = RetryPolicy(max_attempts=3, base_delay=1.0, jitter=0.0)
    defaults: dict[str, object] = {"default_policy": policy, "key_of": lambda r: r.correlation or None}
    defaults.update(kwargs)
    return Outbox(random.Random(0), **defaults)  # type: ignore[arg-type]


def _send(outbox: Outbox, *requests: TargetRequest, now: float = 0.0) -> Outcome:
    outcome = Outcome()
    outbox.submit(requests, now, outcome)
    return outcome


def test_a_lost_response_is_retried_under_the_same_idempotency_key_and_delivered_once() -> None:
    outbox = _outbox()
    [wire] = _send(outbox, _request()).requests
    assert wire.idempotency_key == "journal:V1" and wire.timeout > 0
    outcome = Outcome()
    assert outbox.on_response(wire, LOST, 0.5, outcome) is None
    assert outcome.requests == [] and outcome.timers == [1.5]
    retry = Outcome()
    outbox.on_timer(1.5, retry)
    [again] = retry.requests
    assert again.idempotency_key == wire.idempotency_key and again is not wire
    delivered = outbox.on_response(again, OK, 1.6, Outcome())
    assert delivered is not None and delivered.response is OK and delivered.request.body == {"reference": "V1"}
    assert outbox.on_response(again, OK, 1.7, Outcome()) is None  # a repeated answer is not delivered twice
    assert outbox.health()["retries"] == 1


def test_retry_after_is_honoured() -> None:
    outbox = _outbox()
    [wire] = _send(outbox, _request()).requests
    outcome = Outcome()
    outbox.on_response(wire, TargetResponse(429, {}, {"Retry-After": "120"}), 0.1, outcome)
    assert outcome.timers == [pytest.approx(2.1)]  # 120 s, not the 1-minute backoff


def test_exhausted_attempts_are_dead_lettered_with_history_and_replay_posts() -> None:
    outbox = _outbox()
    [wire] = _send(outbox, _request()).requests
    now = 0.0
    for _ in range(3):
        outcome = Outcome()
        outbox.on_response(wire, DOWN, now, outcome)
        if outcome.timers:
            now = outcome.timers[0]
            retry = Outcome()
            outbox.on_timer(now, retry)
            [wire] = retry.requests
    [letter] = outbox.dead_letters()
    assert letter.channel == "request" and letter.attempts == 3 and "gave up after 3 attempts" in letter.reason
    assert [note for _, note in letter.history] == ["503", "503", "503"]
    assert json.loads(letter.payload) == {"reference": "V1"}
    replayed = Outcome()
    assert outbox.replay(letter.message_id, 100.0, replayed)
    [again] = replayed.requests
    assert again.idempotency_key == "journal:V1" and outbox.dead_letters() == []
    assert outbox.on_response(again, OK, 100.1, Outcome()) is not None


def test_one_request_per_key_on_the_wire_even_while_retrying() -> None:
    outbox = _outbox()
    first, second = _request("journal:V1"), _request("claim:V1")
    [wire] = _send(outbox, first, second).requests
    assert wire.idempotency_key == "journal:V1"
    outcome = Outcome()
    outbox.on_response(wire, DOWN, 0.1, outcome)
    assert outcome.requests == []  # the claim waits behind the journal's retry
    retry = Outcome()
    outbox.on_timer(outcome.timers[0], retry)
    [wire] = retry.requests
    after = Outcome()
    outbox.on_response(wire, OK, 1.2, after)
    assert [r.idempotency_key for r in after.requests] == ["claim:V1"]
    other = _send(outbox, _request("journal:V2", "V2"), now=1.3)
    assert [r.idempotency_key for r in other.requests] == ["journal:V2"]  # other keys are not held up


def test_an_open_breaker_holds_requests_back_until_a_probe_succeeds() -> None:
    outbox = _outbox(breaker=lambda: CircuitBreaker(window=5, failure_rate=0.5, min_calls=2, open_for=2))
    wires = _send(outbox, _request("a", "A"), _request("b", "B")).requests
    outcome = Outcome()
    for wire in wires:
        outbox.on_response(wire, DOWN, 0.1, outcome)
    assert outbox.breakers["erp"].state == "open"
    queued = _send(outbox, _request("c", "C"), now=0.2)
    assert queued.requests == [] and 2.1 in queued.timers
    probe = Outcome()
    outbox.on_timer(2.1, probe)
    assert len(probe.requests) == 1  # half-open: one probe goes
    rest = Outcome()
    outbox.on_response(probe.requests[0], OK, 2.2, rest)
    assert outbox.breakers["erp"].state == "closed" and len(rest.requests) == 2


def test_401_fetches_a_token_and_sends_again_with_it() -> None:
    outbox = _outbox()
    [wire] = _send(outbox, _request()).requests
    assert "Authorization" not in wire.headers
    outcome = Outcome()
    outbox.on_response(wire, TargetResponse(401, {"error": "invalid_token"}), 0.1, outcome)
    [token_request] = outcome.requests
    assert token_request.path == TOKEN_PATH and token_request.system == "erp"
    granted = Outcome()
    outbox.on_response(token_request, TargetResponse(200, {"access_token": "T1", "expires_in": 3600}), 0.2, granted)
    [again] = granted.requests
    assert again.headers["Authorization"] == "Bearer T1" and again.idempotency_key == "journal:V1"


def test_release_schedule_holds_a_batch_until_its_time() -> None:
    outbox = _outbox(release_at=lambda request, now: 60.0)
    held = _send(outbox, _request(), now=10.0)
    assert held.requests == [] and held.timers == [60.0]
    released = Outcome()
    outbox.on_timer(60.0, released)
    assert len(released.requests) == 1


def test_planted_weaknesses_change_what_goes_out() -> None:
    naive = _outbox(retries=False, idempotency=False)
    [wire] = _send(naive, _request()).requests
    assert wire.idempotency_key == ""
    delivered = naive.on_response(wire, DOWN, 0.1, Outcome())
    assert delivered is not None and delivered.response is DOWN and naive.dead_letters() == []


# -- resequencer ----------------------------------------------------------------------------------


def test_resequencer_holds_what_overtook_a_gap_and_releases_it_in_order() -> None:
    sequencer: Resequencer[str] = Resequencer(gap_wait=2.0)
    assert sequencer.offer("H01", 1, "a", 0.0) == (["a"], None)
    assert sequencer.offer("H01", 3, "c", 0.1) == ([], 2.1)  # 2 is missing
    assert sequencer.offer("H01", 2, "b", 0.2) == (["b", "c"], None)
    assert sequencer.offer("H01", 2, "b-again", 0.3) == (["b-again"], None)  # passed: the caller dedupes
    assert sequencer.offer("H02", 7, "x", 0.3) == (["x"], None)  # each sender has its own numbers


def test_resequencer_gives_up_on_a_gap_and_counts_a_rejected_number_as_passed() -> None:
    sequencer: Resequencer[str] = Resequencer(gap_wait=2.0)
    sequencer.offer("H01", 1, "a", 0.0)
    assert sequencer.offer("H01", 3, "c", 0.1)[0] == []
    assert sequencer.passed("H01", 2, 0.2) == ["c"]  # 2 was rejected (in the DLQ): no gap
    assert sequencer.offer("H01", 5, "e", 1.0) == ([], 3.0)
    assert sequencer.release_due(2.9) == []
    assert sequencer.release_due(3.0) == ["e"] and sequencer.gaps_skipped == 1


def test_a_rejected_number_ahead_of_a_gap_is_no_gap_once_the_gap_fills() -> None:
    sequencer: Resequencer[str] = Resequencer(gap_wait=2.0)
    sequencer.offer("H01", 1, "a", 0.0)
    assert sequencer.passed("H01", 3, 0.1) == []  # rejected, but 2 has not come yet
    assert sequencer.offer("H01", 4, "d", 0.2)[0] == []
    assert sequencer.offer("H01", 2, "b", 0.3) == (["b", "d"], None)  # 3 is no gap: 4 follows at once
    assert sequencer.gaps_skipped == 0


# -- the reference integration ---------------------------------------------------------------------


def _numbered(payload: str, sequence: int) -> str:
    """The message with MSH-13, as the EHR's channel numbers it."""
    end = payload.index("\r")
    return f"{payload[:end]}|{sequence}{payload[end:]}"


def _late_charge_feed() -> list[str]:
    from mocks.ehr.hl7_writer import Ft1, adt, bar_p05, dft_p03, in1
    from tests.test_reference_integration import PID, TB, _pv1

    def charge(txn: str, at: float, amount: int) -> str:
        line = Ft1(txn, TB.hl7(at), TB.hl7(at), False, "300-85025", "CBC", 1, amount, "H01-LAB", "Lab", txn)
        return dft_p03(f"C-{txn}", TB.hl7(at), "H01", PID, _pv1(), [line])

    messages = [
        adt("A01", "C1", TB.hl7(0), "H01", PID, _pv1(), in1("MCR-A", "Plan", "123")),
        charge("V1-001", 60.0, 4500),
        adt("A03", "C3", TB.hl7(2000), "H01", PID, _pv1(2000.0)),
        charge("V1-002", 2100.0, 1000),  # a late charge, after discharge, before coding
        bar_p05("C5", TB.hl7(3000), "H01", PID, _pv1(2000.0), [("I50.9", "HF")], ("291", "HF")),
    ]
    return [_numbered(text, number) for number, text in enumerate(messages, start=1)]


@pytest.mark.parametrize("ordering", [True, False])
def test_a_reordered_feed_is_billed_in_the_order_the_ehr_wrote_it(ordering: bool) -> None:
    import dataclasses

    from tests.test_reference_integration import _integration

    integration = _integration()
    resilience = dataclasses.replace(integration.config.resilience, ordering=ordering)
    integration = type(integration)(dataclasses.replace(integration.config, resilience=resilience))
    feed = _late_charge_feed()
    requests = []
    for at, payload in zip((0.0, 60.0, 2000.0, 3000.0, 3001.0), (*feed[:3], feed[4], feed[3]), strict=True):
        outcome = integration.receive_hl7(payload, at)
        assert "MSA|AA|" in (outcome.ack or "")  # held or processed, it is durably accepted
        requests += outcome.requests
    [journal] = [r for r in requests if r.path == "/finance/journals"]
    if ordering:  # the final coding waited for the late charge it had overtaken
        assert journal.body["receivable"]["amount"] == 5500
        assert integration.health()["held_for_sequence"] == 1
    else:  # planted weakness: billed without it, the charge arrives too late
        assert journal.body["receivable"]["amount"] == 4500
        assert [e.reason_code for e in integration.exceptions()] == ["late_charge"]


def test_a_bill_waits_for_a_dead_lettered_charge_of_its_encounter_and_goes_out_with_it() -> None:
    from tests.test_reference_integration import _integration

    integration = _integration()
    feed = _late_charge_feed()
    charge = feed[3]
    spoiled = "\r".join(s for s in charge.split("\r") if not s.startswith("PID"))  # poison: no PID, PV1 intact
    requests = []
    for at, payload in zip((0.0, 60.0, 2000.0, 2999.0, 3000.0), (*feed[:3], spoiled, feed[4]), strict=True):
        requests += integration.receive_hl7(payload, at).requests
    [letter] = integration.dead_letters()
    assert [r for r in requests if r.path == "/finance/journals"] == []  # coded, but its charge is parked
    assert integration.health()["bills_waiting_for_dead_letters"] == 1
    [journal] = [r for r in integration.replay(letter.message_id, 3100.0, charge).requests]
    assert journal.path == "/finance/journals" and journal.body["receivable"]["amount"] == 5500
    assert integration.health()["bills_waiting_for_dead_letters"] == 0 and integration.exceptions() == []


def test_a_drifted_vendor_document_is_parked_with_the_reason_and_replayed_once_repaired() -> None:
    from tests.test_reference_integration import _integration

    integration = _integration()
    drifted = {
        "type": "invoice",
        "invoice_number": "I-9",
        "po": "PO1",
        "quantity": 3,
        "amount": 3000,
        "api_version": "v2",
    }
    assert integration.receive_webhook("vendor", drifted, 10.0).requests == []
    [letter] = integration.dead_letters()
    assert letter.channel == "document"
    assert (
        "missing field(s) vendor_invoice" in letter.reason
        and "invoice_number" in letter.reason
        and "v2" in letter.reason
    )
    repaired = {k: v for k, v in drifted.items() if k not in ("invoice_number", "api_version")} | {
        "vendor_invoice": "I-9"
    }
    [request] = integration.replay(letter.message_id, 20.0, json.dumps(repaired)).requests
    assert request.path == "/payables/invoices" and request.idempotency_key == "invoice:I-9"
    assert integration.dead_letters() == []


@given(st.floats(0, 1e6, allow_nan=False), st.floats(0, 1e6, allow_nan=False))
def test_a_timer_never_fires_a_float_step_before_its_moment(now: float, later: float) -> None:
    moment = now + later
    assert now + delay_until(now, moment) >= moment


def test_the_naive_delay_can_fire_a_float_step_early() -> None:
    # the reason delay_until exists: now + (moment - now) rounds below moment for some floats
    rng = random.Random(7)
    early = next(
        (now, moment)
        for now, moment in ((rng.uniform(0, 1e4), rng.uniform(1e4, 2e4)) for _ in range(100_000))
        if now + (moment - now) < moment
    )
    assert early[0] + delay_until(*early) >= early[1]


def test_the_request_sent_carries_every_field_of_the_one_submitted() -> None:
    """The outbox copies a request field by field to send it: a field added to ``TargetRequest``
    and left out of the copy would be lost on the wire; every field here has a value of its own."""
    values: dict[str, object] = {}
    for spec in dataclasses.fields(TargetRequest):
        kind = str(spec.type)
        values[spec.name] = 7.5 if "float" in kind else {spec.name: "set"} if "dict" in kind else f"{spec.name}-set"
    values["body"] = {"amount": 1}
    submitted = TargetRequest(**values)  # type: ignore[arg-type]
    sent = Outcome()
    _outbox().submit([submitted], 0.0, sent)
    (wire,) = sent.requests
    assert wire is not submitted
    assert {f.name: getattr(wire, f.name) for f in dataclasses.fields(wire)} == values
