"""Bulk replay of dead letters (one, by filter, all) through the contract: each letter once, the
repaired ones processed exactly once, the rest back in the queue with the attempt counted."""

from __future__ import annotations

from mocks.ehr.hl7_writer import Ft1, bar_p05, dft_p03
from tests.test_reference_integration import PID, TB, _feed, _integration, _pv1
from twin.integration.dead_letters import LetterFilter, replay_dead_letters

BAD_MSH = "MSH|^~\\&|EHR|H01|T|N|20260105||ADT^A01^ADT_A01|C9|P|2.5.1\rEVN|A01|2026\r"


def _charge(control_id: str, txn: str, amount: int) -> str:
    line = Ft1(txn, TB.hl7(90), TB.hl7(90), False, "300-85025", "CBC", 1, amount, "H01-LAB", "Lab", txn)
    return dft_p03(control_id, TB.hl7(90), "H01", PID, _pv1(), [line])


def _without_pid(payload: str) -> str:
    return "\r".join(segment for segment in payload.split("\r") if not segment.startswith("PID"))


def test_replay_by_filter_then_all_posts_each_repaired_message_once_and_keeps_the_rest() -> None:
    integration = _integration()
    _feed(integration, coded_at=None)  # admitted, two charges (244,500), discharged at t=2000
    originals = {"C7": _charge("C7", "V1-007", 1000), "C8": _charge("C8", "V1-008", 2000)}
    for payload in originals.values():
        integration.receive_hl7(_without_pid(payload), 100.0)
    integration.receive_hl7(BAD_MSH, 110.0)
    coded = integration.receive_hl7(
        bar_p05("C4", TB.hl7(3000), "H01", PID, _pv1(2000.0), [("I50.9", "HF")], ("291", "HF")), 3000.0
    )
    assert coded.requests == []  # two of its charges wait in the dead-letter queue
    assert sorted(d.message_id for d in integration.dead_letters()) == ["C7", "C8", "C9"]

    fixed = replay_dead_letters(
        integration, 3100.0, LetterFilter(channel="hl7", reason_contains="pid"), lambda d: originals[d.message_id]
    )
    assert fixed.replayed == ["C7", "C8"] and fixed.still_dead == []
    [journal] = fixed.outcome.requests  # the bill goes once, with both charges
    assert journal.path == "/finance/journals" and journal.body["receivable"]["amount"] == 244500 + 3000
    assert [d.message_id for d in integration.dead_letters()] == ["C9"]

    everything = replay_dead_letters(integration, 3200.0)  # all, as they are: C9 is still malformed
    assert everything.replayed == ["C9"] and everything.still_dead == ["C9"] and everything.outcome.requests == []
    [left] = integration.dead_letters()
    assert left.attempts == 2 and "replay failed" in left.history[-1][1]

    again = integration.receive_hl7(originals["C7"], 3300.0)  # the sender resends the fixed one too
    assert again.requests == [] and "MSA|AA|C7" in (again.ack or "")  # acknowledged, never processed twice
    assert replay_dead_letters(integration, 3400.0, LetterFilter(message_ids=frozenset({"C7"}))).replayed == []


def test_a_document_from_an_unknown_source_is_parked_as_a_document_and_replayed_through_its_door() -> None:
    integration = _integration()
    integration.receive_webhook("courier", {"type": "invoice", "id": "X1"}, 5.0)
    [letter] = integration.dead_letters()
    assert (letter.channel, letter.source, letter.message_id) == ("document", "courier", "doc:X1")
    assert "no route" in letter.reason
    again = replay_dead_letters(integration, 10.0, LetterFilter(channel="document"))
    assert again.replayed == ["doc:X1"] and again.still_dead == ["doc:X1"]  # still nobody's: back in the queue
    assert integration.dead_letters()[0].attempts == 2
