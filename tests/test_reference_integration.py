"""The reference integration: sequencing, deadline exceptions, idempotency, honest ACKs, DLQ."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from mocks.ehr.hl7_writer import Ft1, PatientIdentity, VisitInfo, adt, bar_p05, dft_p03, in1
from twin.domain.contract import Outcome
from twin.domain.events import (
    ChargeLine,
    ChargesPosted,
    CodingCompleted,
    MappingPublished,
    PatientAdmitted,
    PatientDischarged,
)
from twin.domain.exchange import TargetResponse
from twin.domain.timebase import Timebase
from twin.integration.crosswalk import Crosswalk
from twin.integration.reference import ReferenceConfig, ReferenceIntegration

TB = Timebase(datetime(2026, 1, 5))
DEADLINE = 120 * 60.0
PID = PatientIdentity("M1", "H01", "Doe", "Jane", "19700101", "F").pid()


def _integration(payers: dict[str, str | None] | None = None) -> ReferenceIntegration:
    crosswalk = Crosswalk(
        departments={"H01-MEDS": "101-6030", "H01-LAB": "101-7010"},
        payers=payers if payers is not None else {"MCR-A": "CMS-A01", "SP": None},
        business_offices={"H01": "101-8010"},
    )
    return ReferenceIntegration(ReferenceConfig(TB, crosswalk, DEADLINE))


def _pv1(discharged: float | None = None) -> str:
    return VisitInfo(
        "V1",
        "H01",
        "H01-3M",
        "001-A",
        "9^Smith^John",
        "MCR",
        TB.hl7(0),
        discharged=TB.hl7(discharged) if discharged is not None else "",
        disposition="01" if discharged is not None else "",
    ).pv1()


def _feed(
    integration: ReferenceIntegration, plan: str = "MCR-A", coded_at: float | None = 3000.0, department: str = "H01-LAB"
) -> list[Outcome]:
    """Admit, two charges, discharge at t=2000, coding at ``coded_at`` (``None``: not yet coded)."""
    messages = [
        (0.0, adt("A01", "C1", TB.hl7(0), "H01", PID, _pv1(), in1(plan, "Plan", "123"))),
        (
            60.0,
            dft_p03(
                "C2",
                TB.hl7(60),
                "H01",
                PID,
                _pv1(),
                [
                    Ft1(
                        "V1-001",
                        TB.hl7(60),
                        TB.hl7(60),
                        False,
                        "300-85025",
                        "CBC",
                        1,
                        4500,
                        department,
                        "Lab",
                        "V1-001",
                    ),
                    Ft1(
                        "V1-002",
                        TB.hl7(60),
                        TB.hl7(60),
                        False,
                        "120-RB-MEDS",
                        "Room",
                        1,
                        240000,
                        "H01-MEDS",
                        "Med",
                        "V1-002",
                    ),
                ],
            ),
        ),
        (2000.0, adt("A03", "C3", TB.hl7(2000), "H01", PID, _pv1(2000.0))),
    ]
    if coded_at is not None:
        messages.append(
            (coded_at, bar_p05("C4", TB.hl7(coded_at), "H01", PID, _pv1(2000.0), [("I50.9", "HF")], ("291", "HF")))
        )
    return [integration.receive_hl7(text, at) for at, text in messages]


def test_billing_waits_for_coding_then_posts_journal_then_claim() -> None:
    integration = _integration()
    outcomes = _feed(integration)
    assert all(not o.requests for o in outcomes[:3])  # nothing before coding completes
    journal = outcomes[3].requests
    assert [r.system for r in journal] == ["erp"]
    body = journal[0].body
    assert body["receivable"] == {"customer": "CMS-A01", "invoice": "V1", "amount": 244500}
    assert sum(line["debit"] for line in body["lines"]) == sum(line["credit"] for line in body["lines"]) == 244500
    claim = integration.receive_response(journal[0], TargetResponse(201, {}), 3001.0).requests
    assert [r.system for r in claim] == ["clearinghouse"]
    assert claim[0].body["total"]["value"] == 2445.0
    assert integration.receive_response(claim[0], TargetResponse(201, {}), 3002.0).requests == []
    assert integration.billing.accounts["V1"].status == "billed"


def test_self_pay_gets_a_receivable_but_no_claim() -> None:
    integration = _integration()
    outcomes = _feed(integration, plan="SP")
    journal = outcomes[3].requests[0]
    assert journal.body["receivable"]["customer"] == "SELF-PAY"
    assert integration.receive_response(journal, TargetResponse(201, {}), 3001.0).requests == []


def test_overdue_coding_raises_an_exception_resolved_when_coding_arrives() -> None:
    integration = _integration()
    due = 2000.0 + DEADLINE
    outcomes = _feed(integration, coded_at=None)
    assert outcomes[2].timers == [due]  # the discharge asks for a wake-up at the deadline
    integration.on_timer(due - 1)
    assert integration.exceptions() == []  # not before the deadline
    integration.on_timer(due)
    raised = integration.exceptions()
    assert [(e.reason_code, e.resolved_at) for e in raised] == [("coding_overdue", None)]
    assert "120 h" in raised[0].reason
    coded = integration.receive_hl7(
        bar_p05("C9", TB.hl7(due + 500), "H01", PID, _pv1(2000.0), [("I50.9", "HF")], ("291", "HF")), due + 500
    )
    assert raised[0].resolved_at == due + 500
    assert coded.requests  # billing goes ahead once coding is in


def test_coding_in_time_raises_no_exception() -> None:
    integration = _integration()
    _feed(integration, coded_at=3000.0)
    integration.on_timer(2000.0 + DEADLINE)
    assert integration.exceptions() == []


def test_redelivered_message_is_acknowledged_but_never_processed_twice() -> None:
    integration = _integration()
    outcomes = _feed(integration)
    again = integration.receive_hl7(
        bar_p05("C4", TB.hl7(3000), "H01", PID, _pv1(2000.0), [("I50.9", "HF")], ("291", "HF")), 3100.0
    )
    assert outcomes[3].requests and not again.requests
    assert again.ack is not None and "MSA|AA|C4" in again.ack
    assert integration.duplicates_ignored == 1


def test_ack_echoes_control_id_and_rejects_carry_err_and_land_in_dlq() -> None:
    integration = _integration()
    ok = _feed(integration)[0]
    assert ok.ack is not None and "MSA|AA|C1\r" in ok.ack
    bad = integration.receive_hl7("MSH|^~\\&|EHR|H01|T|N|20260105||ADT^A01^ADT_A01|C9|P|2.5.1\rEVN|A01|2026\r", 5.0)
    assert bad.ack is not None and "MSA|AE|C9\r" in bad.ack and "\rERR|" in bad.ack
    dead = integration.dead_letters()
    assert len(dead) == 1 and dead[0].message_id == "C9" and dead[0].payload.startswith("MSH") and dead[0].reason


def test_unmapped_department_is_an_exception_not_a_posting() -> None:
    integration = _integration()
    outcomes = _feed(integration, department="H01-NOPE")
    assert not outcomes[3].requests
    assert [e.reason_code for e in integration.exceptions()] == ["unmapped_department"]


def test_every_unmapped_department_of_a_bill_is_raised_at_once_and_it_posts_when_all_are_mapped() -> None:
    integration = _integration()
    integration.config.crosswalk.forget("department", "H01-MEDS")
    outcomes = _feed(integration, department="H01-NOPE")
    assert not outcomes[3].requests
    raised = integration.exceptions()
    assert sorted((e.reason_code, e.code) for e in raised) == [
        ("unmapped_department", "H01-MEDS"),
        ("unmapped_department", "H01-NOPE"),
    ]
    assert all(e.raised_at == 3000.0 for e in raised)  # both with the coding, not one after the other's fix
    first = integration.receive_master_data(MappingPublished(3100.0, "department", "H01-NOPE", "101-7010"), 3100.0)
    assert not first.requests  # still waiting for the other
    second = integration.receive_master_data(MappingPublished(3200.0, "department", "H01-MEDS", "101-6030"), 3200.0)
    [journal] = second.requests
    assert journal.path == "/finance/journals"
    integration.receive_response(journal, TargetResponse(201, {"id": "J1"}), 3201.0)
    assert all(e.resolved_at == 3201.0 for e in integration.exceptions())  # resolved when the journal posted


def test_target_refusal_becomes_an_exception_with_the_targets_reasons() -> None:
    integration = _integration()
    journal = _feed(integration)[3].requests[0]
    integration.receive_response(journal, TargetResponse(422, {"errors": ["period closed"]}), 3001.0)
    exception = integration.exceptions()[0]
    assert exception.reason_code == "erp_rejected" and "period closed" in exception.reason


def test_a_refused_business_office_center_is_an_exception_not_a_journal_sent_for_ever() -> None:
    integration = _integration()
    journal = _feed(integration)[3].requests[0]
    refused = TargetResponse(
        422,
        {
            "errors": ["cost center 101-8010 is inactive"],
            "problems": [{"code": "inactive_cost_center", "cost_center": "101-8010"}],
        },
    )
    again = integration.receive_response(journal, refused, 3001.0)
    assert [r for r in again.requests if r.path == "/finance/journals"] == []  # not resent as it was
    assert [e.reason_code for e in integration.exceptions()] == ["erp_rejected"]


@pytest.mark.parametrize("credit_amount", [-4500, -100])
def test_credits_must_reverse_a_known_charge_for_its_amount(credit_amount: int) -> None:
    integration = _integration()
    outcomes = _feed(integration, coded_at=None)
    credit = dft_p03(
        "C5",
        TB.hl7(70),
        "H01",
        PID,
        _pv1(),
        [
            Ft1(
                "V1-003", TB.hl7(70), TB.hl7(70), True, "300-85025", "CBC", 1, credit_amount, "H01-LAB", "Lab", "V1-001"
            ),
        ],
    )
    integration.receive_hl7(credit, 70.0)
    coded = integration.receive_hl7(
        bar_p05("C6", TB.hl7(3000), "H01", PID, _pv1(2000.0), [("I50.9", "HF")], ("291", "HF")), 3000.0
    )
    assert outcomes
    if credit_amount == -4500:
        assert coded.requests[0].body["receivable"]["amount"] == 240000
    else:
        assert not coded.requests
        assert integration.exceptions()[-1].reason_code == "charge_invalid"


def test_dead_letter_replays_once_fixed_and_only_then_leaves_the_queue() -> None:
    integration = _integration()
    good = adt("A01", "C1", TB.hl7(0), "H01", PID, _pv1(), in1("MCR-A", "Plan", "123"))
    broken = good.replace("PID|1||M1^^^H01^MR", "PID|1||")
    assert "MSA|AE|C1" in (integration.receive_hl7(broken, 1.0).ack or "")
    again = integration.replay("C1", 2.0)  # replayed unchanged: still broken, still parked
    assert "MSA|AE" in (again.ack or "")
    assert [(d.message_id, d.attempts) for d in integration.dead_letters()] == [("C1", 2)]
    fixed = integration.replay("C1", 3.0, payload=good)
    assert "MSA|AA|C1" in (fixed.ack or "")
    assert integration.dead_letters() == []
    assert "V1" in integration.billing.accounts
    assert "MSA|AA" in (integration.receive_hl7(good, 4.0).ack or "") and integration.duplicates_ignored == 1
    with pytest.raises(KeyError):
        integration.replay("C1", 5.0)


def _orchestrate(integration: ReferenceIntegration, events: list[Any]) -> list[Outcome]:
    """Feed canonical events straight to the billing orchestrator (as replays and readers hand them on)."""
    return [integration.billing.apply(event, event.at) for event in events]


def test_a_discharge_that_arrives_after_the_final_coding_is_billed_when_it_arrives() -> None:
    # the A03 was spoiled past telling its encounter, so nothing held the bill; its repair arrives after the BAR
    integration = _integration()
    charge = ChargeLine("V1-001", "300-85025", "H01-LAB", 1, 4500, 10.0)
    outcomes = _orchestrate(
        integration,
        [
            PatientAdmitted(0.0, "H01", "V1", "M1", "H01-4M", "1", "N", "MCR-A", "MCR"),
            ChargesPosted(10.0, "H01", "V1", (charge,)),
            CodingCompleted(3000.0, "H01", "V1", "I50.9", (), "291", False),
        ],
    )
    assert not any(o.requests for o in outcomes)  # coded, but the discharge is not known yet
    [journal] = integration.billing.apply(PatientDischarged(3100.0, "H01", "V1", "H01-4M", "01"), 3100.0).requests
    assert journal.path == "/finance/journals" and journal.body["receivable"]["amount"] == 4500


def test_the_bill_hold_waits_after_discharge_and_a_late_charge_is_billed_by_adjustment() -> None:
    integration = _integration()
    integration.billing.bill_hold = 600.0  # ten hours after discharge
    charge = ChargeLine("V1-001", "300-85025", "H01-LAB", 1, 4500, 10.0)
    _orchestrate(
        integration,
        [
            PatientAdmitted(0.0, "H01", "V1", "M1", "H01-4M", "1", "N", "MCR-A", "MCR"),
            ChargesPosted(10.0, "H01", "V1", (charge,)),
            PatientDischarged(2000.0, "H01", "V1", "H01-4M", "01"),
        ],
    )
    coded = integration.billing.apply(CodingCompleted(2100.0, "H01", "V1", "I50.9", (), "291", False), 2100.0)
    assert coded.requests == [] and coded.timers == [2600.0]  # held until the bill hold is over
    [journal] = integration.billing.on_timer(2600.0).requests
    [claim] = integration.billing.on_response(journal, TargetResponse(201, {"journal_id": "JE1"}), 2601.0).requests
    assert integration.billing.on_response(claim, TargetResponse(201, {"id": "CH1"}), 2602.0).requests == []
    late = ChargeLine("V1-002", "250-J1885", "H01-MEDS", 1, 2400, 2700.0)
    [adjusting] = integration.billing.apply(ChargesPosted(2700.0, "H01", "V1", (late,)), 2700.0).requests
    assert adjusting.body["adjusts"] == "JE1" and adjusting.body["receivable"]["amount"] == 2400
    assert adjusting.idempotency_key != journal.idempotency_key
    [replacement] = integration.billing.on_response(
        adjusting, TargetResponse(201, {"journal_id": "JE2"}), 2701.0
    ).requests
    assert replacement.body["total"]["value"] == 69.0  # the whole encounter, 45.00 + 24.00
    assert replacement.body["related"][0]["claim"]["identifier"]["value"] == "CH1"
    [exception] = [e for e in integration.exceptions() if e.reason_code == "late_charge"]
    assert exception.resolved_at is None
    integration.billing.on_response(replacement, TargetResponse(201, {"id": "CH2"}), 2702.0)
    assert exception.resolved_at == 2702.0 and integration.billing.accounts["V1"].status == "billed"
