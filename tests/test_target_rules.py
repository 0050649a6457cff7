"""Target systems enforce their rules: the ERP's posting rules and the clearinghouse's claim edits."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from mocks.erp.finance import ErpFinance
from mocks.saas.clearinghouse import Clearinghouse
from twin.domain.exchange import TargetRequest
from twin.domain.timebase import Timebase

TB = Timebase(datetime(2026, 1, 5))


def _journal(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "reference": "V1",
        "source": "patient-billing",
        "lines": [
            {"account": "1200", "cost_center": "101-8010", "debit": 1000, "credit": 0},
            {"account": "4100", "cost_center": "101-7010", "debit": 0, "credit": 1000},
        ],
        "receivable": {"customer": "CMS-A01", "invoice": "V1", "amount": 1000},
    }
    body.update(changes)
    return body


def _post(erp: ErpFinance, body: dict[str, Any], key: str = "", now: float = 10.0):  # type: ignore[no-untyped-def]
    return erp.handle(TargetRequest("erp", "POST", "/finance/journals", body, key), now)


def _erp() -> ErpFinance:
    return ErpFinance(TB, ("101-8010", "101-7010"))


def test_valid_journal_posts_with_receivable() -> None:
    erp = _erp()
    assert _post(erp, _journal()).status == 201
    assert len(erp.journals) == 1 and erp.ar_items[0].amount == 1000


def test_unbalanced_journal_is_refused() -> None:
    erp = _erp()
    body = _journal()
    body["lines"][1]["credit"] = 999
    response = _post(erp, body)
    assert response.status == 422 and any("does not balance" in e for e in response.body["errors"])
    assert erp.journals == []


def test_unknown_and_inactive_cost_centers_are_refused() -> None:
    erp = _erp()
    body = _journal()
    body["lines"][1]["cost_center"] = "999-0000"
    assert any("unknown cost center" in e for e in _post(erp, body).body["errors"])
    erp.inactive_cost_centers.add("101-7010")
    assert any("inactive" in e for e in _post(erp, _journal()).body["errors"])


def test_a_journal_under_a_source_the_erp_posts_itself_is_refused() -> None:
    erp = _erp()
    response = _post(erp, _journal(source="goods-receipt"))
    assert response.status == 422 and any("own subledger" in e for e in response.body["errors"])
    assert erp.journals == []


def test_closed_period_is_refused() -> None:
    erp = _erp()
    erp.close_period(date(2026, 1, 31))
    response = _post(erp, _journal(), now=60.0)
    assert response.status == 422 and any("closed" in e for e in response.body["errors"])


def test_receivable_must_match_the_ar_debit() -> None:
    erp = _erp()
    body = _journal(receivable={"customer": "X", "invoice": "V1", "amount": 5})
    assert any("receivable amount" in e for e in _post(erp, body).body["errors"])


def test_idempotency_key_never_posts_twice() -> None:
    erp = _erp()
    first = _post(erp, _journal(), key="journal:V1")
    second = _post(erp, _journal(), key="journal:V1")
    assert first == second and len(erp.journals) == 1
    _post(erp, _journal())
    _post(erp, _journal())
    assert len(erp.journals) == 3  # without a key the ERP cannot tell: the integration must send one


def _claim(**changes: Any) -> dict[str, Any]:
    claim: dict[str, Any] = {
        "resourceType": "Claim",
        "identifier": [{"system": "urn:twin:visit-number", "value": "V1"}],
        "patient": {"reference": "Patient/M1"},
        "insurer": {"identifier": {"value": "CMS-A01"}},
        "billablePeriod": {"start": "2026-01-05T00:00:00+00:00", "end": "2026-01-07T00:00:00+00:00"},
        "diagnosis": [
            {
                "sequence": 1,
                "diagnosisCodeableConcept": {"coding": [{"code": "I50.9"}]},
                "packageCode": {"coding": [{"code": "291"}]},
            }
        ],
        "item": [{"sequence": 1, "net": {"value": 10.5}}, {"sequence": 2, "net": {"value": 4.5}}],
        "total": {"value": 15.0},
    }
    claim.update(changes)
    return claim


def _submit(house: Clearinghouse, claim: dict[str, Any]):  # type: ignore[no-untyped-def]
    return house.handle(TargetRequest("clearinghouse", "POST", "/claims", claim, ""), 1.0)


def test_clean_claim_is_accepted() -> None:
    house = Clearinghouse(("CMS-A01",))
    assert _submit(house, _claim()).status == 201
    accepted = house.accepted[0]
    assert (accepted.claim_number, accepted.total, accepted.principal_dx, accepted.drg) == ("V1", 1500, "I50.9", "291")


def test_invalid_claims_are_rejected_with_every_reason() -> None:
    house = Clearinghouse(("CMS-A01",))
    response = _submit(house, _claim(insurer={"identifier": {"value": "NOPE"}}, total={"value": 99.0}, diagnosis=[]))
    reasons = response.body["reasons"]
    assert response.status == 422
    assert any("unknown payer" in r for r in reasons)
    assert any("does not equal the sum" in r for r in reasons)
    assert any("principal diagnosis" in r for r in reasons)
    assert house.accepted == [] and len(house.submissions) == 1


def test_a_reporting_query_with_a_bad_bound_is_answered_422_not_a_crash() -> None:
    erp, house = _erp(), Clearinghouse(("CMS-A01",))
    _post(erp, _journal())
    _submit(house, _claim())
    good = erp.handle(
        TargetRequest("erp", "GET", "/finance/journals", {"posted_from": "0", "posted_before": 20}, ""), 30.0
    )
    assert good.status == 200 and len(good.body["journals"]) == 1
    for bad in ({"posted_from": "yesterday"}, {"posted_before": [1]}, {"posted_from": True}):
        answer = erp.handle(TargetRequest("erp", "GET", "/finance/journals", bad, ""), 30.0)
        assert answer.status == 422 and next(iter(bad)) in answer.body["errors"][0]
    claims = house.handle(TargetRequest("clearinghouse", "GET", "/claims", {"received_before": "soon"}, ""), 5.0)
    assert claims.status == 422 and "received_before" in claims.body["errors"][0]
    assert house.handle(TargetRequest("clearinghouse", "GET", "/claims", {}, ""), 5.0).body["claims"]
