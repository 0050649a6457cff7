"""Faults applied by the simulated driver, the support team's replays and the oracle's allowances.

A reduced stress run (``tests/stress-reduced.yaml``: two hospitals, two days, every fault kind)
goes through the reference integration wrapped in a recorder, so the tests see what reached the
integration: target answers as the plan said, timeouts at the deadline, late answers dropped,
copies, overtakings and spoiled payloads. The end-to-end guarantees of the stress scenario are
asserted on it. The oracle's allowances are planted on hand-made records and on a real truth.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from tests.conftest import faults_demo, small_scenario
from twin.domain.contract import DeadLetter, Integration, Outcome, RunContext
from twin.domain.events import (
    ChargesPosted,
    CodingCompleted,
    DepartmentAliased,
    GoodsReceived,
    MappingPublished,
    MessageCorrupted,
    MessageRepaired,
)
from twin.domain.exchange import TRANSPORT_FAILURE, TargetRequest, TargetResponse
from twin.faults import FAULT_KINDS, OutageWindow
from twin.integration.hl7_reader import Hl7Reader
from twin.observe.checker import check_flow
from twin.observe.expectations import CLAIM, EXCEPTION, JOURNAL, billing_expectations
from twin.observe.fault_truth import arrival, shift_for_outages
from twin.observe.flows import FlowCheck
from twin.observe.master_data import master_data_expectations
from twin.observe.records import Expected, Observed
from twin.observe.report import build_summary
from twin.observe.supply_expectations import INVOICE, ISSUE, supply_expectations
from twin.observe.truth import TruthLedger
from twin.scenario import load_scenario
from twin.sim import RunResult, Twin, reference_integration, run
from twin.sim.fault_transport import FaultTransport
from twin.workflows.operations import MAX_REPLAYS, SupportTeam

REDUCED = Path(__file__).resolve().parent / "stress-reduced.yaml"
LAG = 30.0


class Recorder:
    """The integration under test, with what crossed its boundary written down."""

    def __init__(self, inner: Integration) -> None:
        self.inner = inner
        self.hl7: list[tuple[float, str]] = []
        self.answers: list[tuple[float, TargetRequest, TargetResponse]] = []
        self.sent: dict[int, tuple[float, TargetRequest]] = {}

    def __getattr__(self, name: str) -> Any:  # health() and whatever else the report asks for
        return getattr(self.inner, name)

    def _out(self, outcome: Outcome, now: float) -> Outcome:
        for request in outcome.requests:
            self.sent[id(request)] = (now, request)
        return outcome

    def start(self, now: float) -> Outcome:
        return self._out(self.inner.start(now), now)

    def receive_hl7(self, payload: str, now: float) -> Outcome:
        self.hl7.append((now, payload))
        return self._out(self.inner.receive_hl7(payload, now), now)

    def receive_response(self, request: TargetRequest, response: TargetResponse, now: float) -> Outcome:
        self.answers.append((now, request, response))
        return self._out(self.inner.receive_response(request, response, now), now)

    def receive_webhook(self, source: str, body: dict[str, Any], now: float) -> Outcome:
        return self._out(self.inner.receive_webhook(source, body, now), now)

    def on_timer(self, now: float) -> Outcome:
        return self._out(self.inner.on_timer(now), now)

    def receive_master_data(self, change: MappingPublished, now: float) -> Outcome:
        return self._out(self.inner.receive_master_data(change, now), now)

    def exceptions(self) -> list[Any]:
        return self.inner.exceptions()

    def dead_letters(self) -> list[DeadLetter]:
        return self.inner.dead_letters()

    def replay(self, message_id: str, now: float, payload: str | None = None) -> Outcome:
        return self._out(self.inner.replay(message_id, now, payload), now)


class Reduced(NamedTuple):
    result: RunResult
    recorder: Recorder
    twin: Twin  # the driver, to look at what the transport and the support team did


@pytest.fixture(scope="module")
def reduced() -> Reduced:
    recorders: list[Recorder] = []

    def recorded(context: RunContext) -> Integration:
        recorders.append(Recorder(reference_integration(context)))
        return recorders[-1]

    twin = Twin(load_scenario(REDUCED), recorded)
    return Reduced(twin.run(), recorders[0], twin)


def _corrupted(truth: TruthLedger, channel: str) -> list[MessageCorrupted]:
    return [f for f in truth if isinstance(f, MessageCorrupted) and f.channel == channel]


# -- the driver applies each fault at its boundary ------------------------------------------------
def test_every_fault_kind_is_injected_and_reported(reduced: Reduced) -> None:
    result, _, twin = reduced
    plan = twin.fault_plan
    assert plan is not None
    injected = plan.counter.by_kind()
    assert set(injected) == set(FAULT_KINDS), f"not injected: {set(FAULT_KINDS) - set(injected)}"
    resilience = build_summary(result)["resilience"]
    assert resilience["faults_injected"] == injected
    assert {o["system"] for o in resilience["outage_windows"]} == {"erp", "clearinghouse", "vendor", "integration"}


def test_targets_answer_the_integration_as_the_plan_says(reduced: Reduced) -> None:
    _, recorder, _ = reduced
    statuses = Counter(response.status for _, _, response in recorder.answers)
    assert {TRANSPORT_FAILURE, 401, 429, 500, 502, 503} <= set(statuses), statuses
    for now, request, response in recorder.answers:
        if response.status == 429:
            assert response.headers == {"Retry-After": "20"}
        elif response.status == 401:
            assert response.headers["WWW-Authenticate"].startswith('Bearer realm="')
        elif response.status == 503 and "connection refused" in str(response.body):
            sent, _ = recorder.sent[id(request)]
            assert now - sent <= 400 / 60_000 + 1e-9  # refused at the door: one hop
    tokens = [r for _, q, r in recorder.answers if q.path == "/oauth/token" and r.ok]
    assert tokens and all(r.body["access_token"] for r in tokens)


def test_requests_time_out_at_their_deadline_and_late_answers_are_dropped(reduced: Reduced) -> None:
    result, recorder, _ = reduced
    default = result.scenario.operations.request_timeout_seconds / 60
    timed_out = [(now, request) for now, request, response in recorder.answers if response.status == TRANSPORT_FAILURE]
    assert timed_out
    for now, request in timed_out:
        sent, _ = recorder.sent[id(request)]
        assert now - sent == pytest.approx(request.timeout or default)
    assert max(Counter(id(request) for _, request, _ in recorder.answers).values()) == 1  # one answer per send
    assert result.view.faults is not None and result.view.faults.transport["late_answers_dropped"] > 0


def test_copies_overtakings_and_resends_reach_the_integration(reduced: Reduced) -> None:
    result, recorder, twin = reduced
    assert isinstance(twin.transport, FaultTransport) and twin.fault_plan is not None
    stats = twin.transport.stats
    seen = Counter(payload.split("|", 10)[9] for _, payload in recorder.hl7)
    copies = sum(n - 1 for n in seen.values() if n > 1)
    assert 0 < copies <= twin.fault_plan.counter.counts["duplicate"]
    last: dict[str, int] = {}
    overtaken = 0
    for _, payload in recorder.hl7:
        fields = payload.split("\r", 1)[0].split("|")
        if len(fields) > 12 and fields[12].isdigit():
            number = int(fields[12])
            overtaken += number < last.get(fields[3], 0)
            last[fields[3]] = max(number, last.get(fields[3], 0))
    assert overtaken >= twin.fault_plan.counter.counts["reorder"] > 0
    assert stats["sender_resends"] > 0 and stats["sender_gave_up"] == 0


def test_poison_reaches_the_integration_spoiled_and_the_support_team_repairs_it(
    reduced: Reduced,
) -> None:
    result, recorder, twin = reduced
    assert twin.fault_plan is not None and twin.support is not None
    reader = Hl7Reader(twin.timebase)
    delivered = {payload for _, payload in recorder.hl7}
    repaired = {f.message_id for f in twin.truth if isinstance(f, MessageRepaired) and f.repaired}
    corrupted = _corrupted(twin.truth, "hl7")
    assert {f.variant for f in corrupted} == {"bad_msh", "missing_pid", "broken_escape", "wrong_encoding", "truncated"}
    for fact in corrupted:
        original = twin.fault_plan.originals[fact.message_id]
        spoiled = [p for p in delivered if p != original and fact.message_id in p[:200]]
        assert spoiled and all(reader.read(p).rejected is not None for p in spoiled), fact
        assert fact.message_id in repaired, fact
    replays = {r.message_id: r for r in twin.support.replays if r.repaired}
    for fact in corrupted:
        letter = replays[fact.message_id]  # dead-lettered under its control id, with why, after few attempts
        assert letter.channel == "hl7" and letter.reason and letter.attempts <= 5
    assert {f.message_id for f in _corrupted(twin.truth, "document")} <= repaired


def test_the_reference_integration_keeps_its_guarantees_under_every_fault(reduced: Reduced) -> None:
    """The stress scenario's promise, on its reduced variant: nothing lost, nothing posted twice,
    nothing invented, order kept; every poison message dead-lettered and, once repaired, posted once."""
    result = reduced.result
    view = result.view
    broken = {
        flow.flow: [f"{d.kind} {d.target} {d.key}: {d.detail}" for d in flow.differences][:5] for flow in result.flows
    }
    assert result.in_sync, broken  # no class at all: not even stale or wrong value
    assert view.dead_letters == ()
    journals = Counter(
        j.reference for j in view.erp.finance.journals if j.source == "patient-billing" and not j.adjusts
    )
    issues = Counter(issue.reference for issue in view.erp.supply.issues)
    coded = {f.visit for f in view.truth if isinstance(f, CodingCompleted)}
    for fact in _corrupted(view.truth, "hl7"):
        if fact.key in coded:
            assert journals[fact.key] == 1, fact
        for line in fact.lines:
            assert issues.get(line, 1) == 1, fact
    invoices = Counter(invoice.po for invoice in view.erp.supply.invoices)
    assert all(invoices[f.key] == 1 for f in _corrupted(view.truth, "document"))


def test_the_same_seed_gives_the_same_run(reduced: Reduced) -> None:
    again = run(load_scenario(REDUCED))
    first = json.dumps(build_summary(reduced.result), sort_keys=True)
    assert json.dumps(build_summary(again), sort_keys=True) == first
    assert again.view.records == reduced.result.view.records


def test_a_plan_that_never_strikes_changes_nothing() -> None:
    clean = Twin(small_scenario(days=1)).run()
    idle_twin = Twin(small_scenario(days=1, faults=[{"kind": "errors", "system": "erp", "from_day": 300}]))
    idle = idle_twin.run()
    assert idle_twin.fault_plan is not None and not idle_twin.fault_plan.counter.counts
    assert idle.view.records == clean.view.records and idle.view.traffic == clean.view.traffic
    summary = build_summary(idle)
    assert summary.pop("resilience")["faults_injected_total"] == 0
    assert summary == build_summary(clean) and "resilience" not in build_summary(clean)


# -- the support team -------------------------------------------------------------------------------
class _Queue:
    """An integration reduced to its dead-letter queue; a replay of ``sticky`` ids fails again."""

    def __init__(self, letters: list[DeadLetter], sticky: set[str]) -> None:
        self.letters = letters
        self.sticky = sticky
        self.replayed: list[tuple[str, str | None]] = []

    def dead_letters(self) -> list[DeadLetter]:
        return list(self.letters)

    def replay(self, message_id: str, now: float, payload: str | None = None) -> Outcome:
        self.replayed.append((message_id, payload))
        if message_id not in self.sticky:
            self.letters = [letter for letter in self.letters if letter.message_id != message_id]
        return Outcome()


def test_the_support_team_repairs_spoiled_messages_retries_requests_and_leaves_the_rest() -> None:
    from tests.test_faults import _ADT, _plan

    plan = _plan({"kind": "poison", "rate": 1, "variants": ["truncated"]})
    spoiled = plan.hl7_fate("MSG0000000001", "ADT^A01", "H01V0000001", _ADT, 1.0, can_reorder=False).payload
    letters = [
        DeadLetter("MSG0000000001", spoiled, "PV1 missing", 2.0),
        DeadLetter("journal:V9", "{}", "gave up after 6 attempts", 3.0, 6, channel="request"),
        DeadLetter("MSG0000000777", "MSH|garbage", "not HL7", 4.0),
        DeadLetter("claim:V8", "{}", "gave up", 5.0, channel="request"),
    ]
    queue = _Queue(letters, sticky={"claim:V8"})
    facts: list[Any] = []
    applied: list[Outcome] = []
    team = SupportTeam(queue, plan, applied.append, facts.append, review_hours=4)  # type: ignore[arg-type]
    assert team.review(240.0) == 3
    assert queue.replayed == [("MSG0000000001", _ADT), ("journal:V9", None), ("claim:V8", None)]
    assert facts[0] == MessageRepaired(240.0, "MSG0000000001", "hl7", "H01V0000001", True)
    assert facts[1] == MessageRepaired(240.0, "journal:V9", "request", "", False)
    for round_ in range(2, MAX_REPLAYS + 3):
        team.review(240.0 * round_)
    assert queue.replayed.count(("claim:V8", None)) == MAX_REPLAYS  # then it is left for the report
    assert team.left == {("hl7", "MSG0000000777"), ("request", "claim:V8")} and len(applied) == 2 + MAX_REPLAYS


# -- the oracle stays strict ------------------------------------------------------------------------
def _exp(target: str, ready: float, seq: int = 0, key: str = "V1") -> Expected:
    return Expected("f", target, key, {"n": 1}, ready, seq)


def _obs(target: str, at: float, key: str = "V1") -> Observed:
    return Observed(target, key, {"n": 1}, at, f"{target}@{at}")


def _kinds(expected: list[Expected], observed: list[Observed], horizon: float = 10_000.0) -> list[str]:
    result = check_flow("f", expected, observed, allowed_lag=LAG, horizon=horizon)
    return sorted(d.kind for d in result.differences) + (["pending"] * result.pending)


def test_a_record_ready_during_an_outage_is_due_when_the_window_ended_and_not_before() -> None:
    windows = [OutageWindow("erp", "refused", 100.0, 200.0)]
    expected = shift_for_outages(
        [_exp(JOURNAL, 150.0), _exp(CLAIM, 150.0, seq=1), _exp(JOURNAL, 90.0, key="V2")], windows
    )
    assert [e.ready_at for e in expected] == [200.0, 200.0, 90.0]  # the claim follows its journal
    assert _kinds(expected[:1], [_obs(JOURNAL, 190.0)]) == ["out_of_order"]  # posted while the ERP was down
    assert _kinds(expected[:1], [_obs(JOURNAL, 225.0)]) == []  # within the lag after the window: in sync
    assert _kinds(expected[:1], [_obs(JOURNAL, 235.0)]) == ["stale"]
    assert _kinds(expected[:1], [], horizon=200.0 + LAG + 1) == ["lost"]
    assert _kinds(expected[:1], [], horizon=200.0 + LAG - 1) == ["lost", "pending"]  # still pending: lost all the same
    planted = [_obs(JOURNAL, 210.0), _obs(CLAIM, 195.0)]  # the claim went to a clearinghouse that was up
    assert _kinds(expected[:2], planted) == ["out_of_order", "out_of_order"]  # before ready, before its journal


def test_a_window_opening_within_the_allowed_lag_lengthens_it_by_its_minutes_down() -> None:
    windows = [OutageWindow("clearinghouse", "hang", 110.0, 155.0)]  # opens 10 min after the claim is due
    [claim] = shift_for_outages([_exp(CLAIM, 100.0)], windows, allowed_lag=LAG)
    assert claim.ready_at == 100.0 and claim.grace == 45.0
    assert _kinds([claim], [_obs(CLAIM, 105.0)]) == []  # before the window: fine
    assert _kinds([claim], [_obs(CLAIM, 100.0 + LAG + 40.0)]) == []  # after it, within lag + minutes down
    assert _kinds([claim], [_obs(CLAIM, 100.0 + LAG + 46.0)]) == ["stale"]  # late even so
    assert _kinds([_exp(CLAIM, 100.0)], [_obs(CLAIM, 100.0 + LAG + 40.0)]) == ["stale"]  # no window, no grace
    [later] = shift_for_outages(
        [_exp(CLAIM, 100.0)], [OutageWindow("clearinghouse", "hang", 140.0, 150.0)], allowed_lag=LAG
    )
    assert later.grace == 0.0  # it opened after the deadline: nothing to excuse
    erp_down = [OutageWindow("erp", "refused", 110.0, 230.0)]  # the journal waits: so must its claim
    journal, claim = shift_for_outages([_exp(JOURNAL, 100.0), _exp(CLAIM, 100.0, seq=1)], erp_down, allowed_lag=LAG)
    assert journal.grace == claim.grace == 120.0
    assert _kinds([journal, claim], [_obs(JOURNAL, 100.0 + LAG + 110.0), _obs(CLAIM, 100.0 + LAG + 115.0)]) == []


def test_an_integration_window_opening_within_the_lag_is_grace_for_what_was_on_its_way() -> None:
    # an issue ready at 100 whose message sat at the integration's door as it went down at 101, until 121
    door = [OutageWindow("integration", "hang", 101.0, 121.0)]
    [issue] = shift_for_outages([_exp(JOURNAL, 100.0)], door, allowed_lag=LAG)
    assert (issue.ready_at, issue.grace) == (100.0, 20.0)  # it moves nothing: its message may have got in first
    assert _kinds([issue], [_obs(JOURNAL, 121.0 + LAG - 2.0)]) == []  # resent after the window: in sync
    assert _kinds([issue], [_obs(JOURNAL, 100.0 + LAG + 21.0)]) == ["stale"]  # later than the window explains
    assert _kinds([_exp(JOURNAL, 100.0)], [_obs(JOURNAL, 121.0 + LAG - 2.0)]) == ["stale"]  # no window, no grace
    [after] = shift_for_outages([_exp(JOURNAL, 100.0)], [OutageWindow("integration", "hang", 200.0, 220.0)], [], LAG)
    assert after.grace == 0.0  # it opened after the deadline


def test_an_integration_outage_delays_what_the_sources_send_and_nothing_else(clean: Twin) -> None:
    down = [OutageWindow("integration", "hang", 100.0, 130.0)]
    records = [_exp(JOURNAL, 110.0), _exp("integration.exception", 110.0)]
    assert [e.ready_at for e in shift_for_outages(records, down)] == [110.0, 110.0]  # not a target's outage
    assert (arrival(down)(110.0), arrival(down)(99.0), arrival(down)(130.0)) == (130.0, 99.0, 130.0)
    coding = next(f for f in clean.truth if isinstance(f, CodingCompleted))
    ready = _billing(clean, clean.truth, coding.visit)
    window = [OutageWindow("integration", "hang", ready - 1.0, ready + 45.0)]  # the last message was held
    assert _billing(clean, clean.truth, coding.visit, window) == ready + 45.0
    snapshot = shift_for_outages(
        [_exp("erp.on_hand", 150.0)], [OutageWindow("erp", "refused", 100, 200)], ["erp.on_hand"]
    )
    assert snapshot[0].ready_at == 150.0  # a state read at a fixed instant: no outage delays it


class _View:
    """What a flow check reads of a run view, weakly referable and hashed by identity as ``RunView`` is."""

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


def test_a_flow_check_allows_for_the_runs_outage_windows() -> None:
    from tests.test_faults import _plan

    check = FlowCheck(
        "f", (JOURNAL,), lambda _t: LAG, lambda _t: [_exp(JOURNAL, 150.0)], lambda _t: [_obs(JOURNAL, 190.0)]
    )
    plain = check.check(_View(outages=(), settled=True, clock_tolerance=0.0), 1000.0)  # type: ignore[arg-type]
    assert [d.kind for d in plain.differences] == ["stale"]
    windows = tuple(_plan({"kind": "outage", "system": "erp", "daily": "02:00-03:20"}).outage_windows(1000.0))
    view = _View(outages=windows, settled=True, clock_tolerance=0.0, truth=[])
    assert [d.kind for d in check.check(view, 1000.0).differences] == ["out_of_order"]  # type: ignore[arg-type]


def test_a_view_s_records_are_held_for_its_outages_once_until_its_truth_grows() -> None:
    from tests.test_faults import _plan

    derived: list[int] = []

    def expected(view: Any) -> list[Expected]:
        # ready 100 minutes later for each fact in the truth: 150 is in the window 120-200, 250 is not
        derived.append(len(view.truth))
        return [_exp(JOURNAL, 150.0 + 100 * len(view.truth))]

    check = FlowCheck("f", (JOURNAL,), lambda _t: LAG, expected, lambda _v: [])
    windows = tuple(_plan({"kind": "outage", "system": "erp", "daily": "02:00-03:20"}).outage_windows(1000.0))
    facts: list[str] = []
    view = _View(outages=windows, settled=True, clock_tolerance=0.0, truth=facts)
    held = check.due(view)  # type: ignore[arg-type]
    assert [e.ready_at for e in held] == [200.0]
    assert check.due(view) is held  # type: ignore[arg-type]  # the KPI oracle reads what the check judged
    facts.append("a fact")
    assert [e.ready_at for e in check.due(view)] == [250.0]  # type: ignore[arg-type]
    assert derived == [0, 1]


@pytest.fixture(scope="module")
def clean() -> Twin:
    twin = Twin(small_scenario(days=1))
    twin.run()
    return twin


def _ledger(twin: Twin, *extra: Any) -> TruthLedger:
    ledger = TruthLedger()
    for fact in [*twin.truth, *extra]:
        ledger.append(fact)
    return ledger


def _billing(twin: Twin, truth: TruthLedger, visit: str, outages: list[OutageWindow] | None = None) -> float:
    return next(e.ready_at for e in _bill(twin, truth, visit, outages) if e.target == JOURNAL)


def test_what_a_spoiled_message_carried_is_due_once_it_was_repaired(clean: Twin) -> None:
    coding = next(f for f in clean.truth if isinstance(f, CodingCompleted))
    ready = _billing(clean, clean.truth, coding.visit)
    spoiled = MessageCorrupted(coding.at, "MSGX", "hl7", coding.visit, "BAR^P05", "truncated")
    assert _billing(clean, _ledger(clean, spoiled), coding.visit) == math.inf  # never repaired: never due
    repaired = MessageRepaired(ready + 240.0, "MSGX", "hl7", coding.visit)
    assert _billing(clean, _ledger(clean, spoiled, repaired), coding.visit) == ready + 240.0
    usage = next(f for f in clean.truth if isinstance(f, ChargesPosted) and any(line.location for line in f.lines))
    line = next(line for line in usage.lines if line.location)
    dft = MessageCorrupted(usage.at, "MSGY", "hl7", usage.visit, "DFT^P03", "missing_pid", (line.txn_id,))
    truth = _ledger(clean, dft, MessageRepaired(usage.at + 100.0, "MSGY", "hl7", usage.visit))
    supply = supply_expectations(truth, clean.network, clean.scenario)
    assert next(e.ready_at for e in supply if e.target == ISSUE and e.key == line.txn_id) == usage.at + 100.0
    receipt = next((f for f in clean.truth if isinstance(f, GoodsReceived)), None)
    if receipt is not None:
        drift = MessageCorrupted(receipt.at - 60, "vendor:INV", "document", receipt.po, "invoice", "schema_drift")
        truth = _ledger(clean, drift, MessageRepaired(receipt.at + 50.0, "vendor:INV", "document", receipt.po))
        supply = supply_expectations(truth, clean.network, clean.scenario)
        assert next(e.ready_at for e in supply if e.target == INVOICE and e.key == receipt.po) == receipt.at + 50.0


def _bill(twin: Twin, truth: TruthLedger, visit: str, outages: list[OutageWindow] | None = None) -> list[Expected]:
    """What the oracle expects of ``visit``'s bill (journal, receivable, claim, exceptions)."""
    billing = twin.scenario.billing
    found = billing_expectations(
        truth,
        twin.network,
        coding_deadline=billing.coding_deadline_hours * 60,
        allowed_lag=billing.allowed_lag_minutes,
        outages=outages or [],
        timebase=twin.timebase,
    )
    return [e for e in found if e.key == visit or e.key.startswith(f"{visit}:")]


@pytest.mark.parametrize("readable", [True, False])
def test_a_charge_repaired_after_its_bill_was_due_is_a_late_charge_billed_held_or_adjusted(
    clean: Twin, readable: bool
) -> None:
    coding = next(f for f in clean.truth if isinstance(f, CodingCompleted))
    posting = next(f for f in clean.truth if isinstance(f, ChargesPosted) and f.visit == coding.visit)
    [journal] = [e for e in _bill(clean, clean.truth, coding.visit) if e.target == JOURNAL]
    lines = tuple(line.txn_id for line in posting.lines)
    variant = "missing_pid" if readable else "truncated"
    spoiled = MessageCorrupted(posting.at, "MSGZ", "hl7", coding.visit, "DFT^P03", variant, lines, readable)
    late = MessageRepaired(journal.ready_at + 90.0, "MSGZ", "hl7", coding.visit)
    found = {e.target: e for e in _bill(clean, _ledger(clean, spoiled, late), coding.visit)}
    # readable or not (whether the integration could hold the bill for it is its own choice), the bill is
    # due when coding completed, may wait for the late charge, and must end at the full total once it came
    bill = found[JOURNAL]
    assert (bill.ready_at, bill.grace, bill.settles_at) == (journal.ready_at, 90.0, journal.ready_at + 90.0)
    assert bill.value == journal.value and "repaired" in bill.why
    assert found[EXCEPTION].optional and found[EXCEPTION].key.endswith(":late_charge")  # may say so, need not
    early = MessageRepaired(journal.ready_at - 1.0, "MSGZ", "hl7", coding.visit)
    found = {e.target: e for e in _bill(clean, _ledger(clean, spoiled, early), coding.visit)}
    assert found[JOURNAL] == journal and EXCEPTION not in found  # repaired in time: an ordinary bill


def test_an_aliased_line_posts_once_governed_and_is_a_master_data_problem_of_its_own(clean: Twin) -> None:
    coding = next(f for f in clean.truth if isinstance(f, CodingCompleted))
    ready = _billing(clean, clean.truth, coding.visit)
    charge = next(
        line
        for f in clean.truth
        if isinstance(f, ChargesPosted) and f.visit == coding.visit and f.at <= coding.at
        for line in f.lines
        if not line.location
    )
    alias = DepartmentAliased(coding.at - 10, coding.visit, charge.txn_id, charge.department, charge.department + "-2")
    [bill] = [e for e in _bill(clean, _ledger(clean, alias), coding.visit) if e.target == JOURNAL]
    assert bill.ready_at == ready and bill.settles_at == math.inf  # never governed: the bill can never be whole
    published = MappingPublished(ready + 90.0, "department", alias.alias, "101-0000")
    [bill] = [e for e in _bill(clean, _ledger(clean, alias, published), coding.visit) if e.target == JOURNAL]
    assert (bill.ready_at, bill.settles_at) == (ready, ready + 90.0)  # a late charge: held for it or adjusted
    problems = {e.key: e.ready_at for e in master_data_expectations(_ledger(clean, alias), clean.network)}
    assert problems[f"department:{alias.alias}"] == coding.at
    # behind a bill hold the bill - which posts the line - falls due days later: the problem may be
    # raised from the coding, and must be by then (the judge called the reference's raise stale)
    held = {coding.visit: (coding.at + 72 * 60, None)}
    found = master_data_expectations(_ledger(clean, alias), clean.network, bills=held)
    [problem] = [e for e in found if e.key == f"department:{alias.alias}"]
    assert (problem.ready_at, problem.grace, problem.optional) == (coding.at, 72 * 60, False)


def test_department_aliases_behind_a_bill_hold_are_raised_in_time() -> None:
    """faults-demo (department aliases among its faults) with the default scenario's 72-hour bill hold:
    found by a randomized scenario probe, three aliases were reported raised two days late."""
    network = {"hospitals": 1, "beds": {"min": 80, "max": 140}}
    result = run(faults_demo({"days": 2, "seed": 743, "network": network, "billing.bill_hold_hours": 72}))
    [flow] = [f for f in result.flows if f.flow == "master_data"]
    assert flow.in_sync and flow.matched >= 2, [(d.kind, d.key, d.detail) for d in flow.differences]


_RACES = {  # scenarios where the judge once flagged the reference wrongly (each a race it must allow)
    "late charge raised when it arrived, billable after governance": (2, "poison"),
    "usage repaired at the 03:00 round races the on-hand snapshot": (4, "poison"),
    "a spoiled message resent after an integration outage": (2, "outage"),
}


@pytest.mark.parametrize("case", sorted(_RACES))
def test_the_reference_stays_in_sync_through_the_races_the_judge_must_allow(case: str) -> None:
    seed, kind = _RACES[case]
    poison = {"kind": "poison", "source": "ehr", "rate": 0.3 if kind == "poison" else 0.2, "variants": ["truncated"]}
    faults = [poison] if kind == "poison" else [
        {"kind": "outage", "system": "integration", "mode": "hang", "daily": "23:40-23:58"}, poison,
    ]  # fmt: skip
    hours = 3 if kind == "poison" else 4
    result = run(small_scenario(seed=seed, days=3, faults=faults, operations={"dlq_review_hours": hours}))
    assert result.in_sync, [(d.kind, d.target, d.detail[:120]) for f in result.flows for d in f.differences][:5]
