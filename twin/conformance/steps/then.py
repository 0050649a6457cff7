"""Then steps: verdicts on the run, each attaching the evidence it judged by.

Every step turns business prose ("no charge is lost and none is posted twice") into a check over
what the integration under test can be judged by - the targets' state through the flow checks,
the ACKs the sources got, the exchanges on the wire, its dead-letter queue - and attaches an
``Evidence`` whether it passes or not, so a failure explains itself (the first differences with
pseudonymised keys, lag percentiles against the allowed lag, dead letters with reasons). A step
fails with ``ConformanceFailure`` (an ``AssertionError``): the scenario's verdict is then *fail*;
any other exception means the scenario itself could not be judged (*error*).
"""

from __future__ import annotations

from twin.conformance.context import Evidence, ScenarioUnderTest
from twin.conformance.judge import (
    Row,
    judge_differences,
    judge_in_sync,
    judge_late_charges,
    judge_on_time,
    judge_percentile,
)
from twin.conformance.judge_faults import judge_catch_up, judge_holds_back, judge_retry_after
from twin.conformance.judge_wire import (
    judge_ack_echo,
    judge_ack_valid,
    judge_acknowledged,
    judge_dead_letters_empty,
    judge_fhir_claims,
    judge_negative_acks,
    judge_parked,
)
from twin.conformance.steps.parsers import NOUNS, Records
from twin.conformance.steps.vocabulary import then
from twin.observe.expectations import BILLING
from twin.observe.supply_expectations import SUPPLY

# -- what the targets hold ---------------------------------------------------------------------------


@then("no {records:Records} is lost", "no supply line is lost")
def none_lost(conformance: ScenarioUnderTest, records: Records) -> None:
    """Every record of that kind the truth made due (and whose allowed lag had passed by the end) is held."""
    conformance.verdict(judge_differences(conformance, records, ("lost",), "lost"))


@then("no {records:Records} is posted twice", "no claim is posted twice")
def none_twice(conformance: ScenarioUnderTest, records: Records) -> None:
    """No target holds a record of that kind twice for one business key."""
    conformance.verdict(judge_differences(conformance, records, ("duplicated",), "posted twice"))


@then("no {records:Records} is lost and none is posted twice", "no charge is lost and none is posted twice")
def exactly_once(conformance: ScenarioUnderTest, records: Records) -> None:
    """Exactly once: every record of that kind is held, and held once."""
    conformance.verdict(judge_differences(conformance, records, ("lost", "duplicated"), "lost or posted twice"))


@then("no {records:Records} is posted out of order", "no supply line is posted out of order")
def in_order(conformance: ScenarioUnderTest, records: Records) -> None:
    """No record landed before it was due, or before a record of the same key it must follow."""
    conformance.verdict(judge_differences(conformance, records, ("out_of_order",), "posted out of order"))


@then("no {records:Records} carries a wrong value", "no receivable carries a wrong value")
def right_values(conformance: ScenarioUnderTest, records: Records) -> None:
    """Every record held once carries the values the truth says (amounts, cost centers, payer, ...)."""
    conformance.verdict(judge_differences(conformance, records, ("wrong_value",), "wrong"))


@then("no {records:Records} is invented", "no claim is invented")
def none_invented(conformance: ScenarioUnderTest, records: Records) -> None:
    """No target holds a record of that kind that no source event stands behind."""
    conformance.verdict(judge_differences(conformance, records, ("unexpected",), "invented", need_work=False))


@then("every {records:Records} lands within the allowed lag", "every charge lands within the allowed lag")
def on_time(conformance: ScenarioUnderTest, records: Records) -> None:
    """No record of that kind landed later than its flow's allowed lag after it was due (or never)."""
    conformance.verdict(judge_on_time(conformance, records))


@then(
    "{share:Share} of {records:Records} land within {limit:Duration}",
    "95% of claims land within 30 minutes",
)
def percentile_within(conformance: ScenarioUnderTest, share: float, records: Records, limit: float) -> None:
    """The flow's time to consistency at that percentile (95% -> p95) is within the limit."""
    conformance.verdict(judge_percentile(conformance, records, round(share * 100), limit))


@then("the {flow:Flow} flow is in sync", "the usage-to-inventory flow is in sync")
def flow_in_sync(conformance: ScenarioUnderTest, flow: str) -> None:
    """Every difference class (lost, duplicated, unexpected, stale, out of order, wrong value) is empty."""
    conformance.verdict(judge_in_sync(conformance, [flow]))


@then("every target system holds what really happened", "every target system holds what really happened")
def all_in_sync(conformance: ScenarioUnderTest) -> None:
    """Every flow the harness checks is in sync: nothing lost, twice, invented, late, misordered or wrong."""
    conformance.verdict(judge_in_sync(conformance))


# -- discharge to billing --------------------------------------------------------------------------------


@then(
    "nothing is billed before coding is complete, and no claim goes out before its journal",
    "nothing is billed before coding is complete, and no claim goes out before its journal",
)
def billed_in_sequence(conformance: ScenarioUnderTest) -> None:
    """No journal, receivable or claim landed before coding completed, and no claim before its journal."""
    conformance.verdict(judge_differences(conformance, NOUNS["bills"], ("out_of_order",), "billed out of sequence"))


@then(
    "every charge that reaches billing after its bill went out is billed, not only reported",
    "every charge that reaches billing after its bill went out is billed, not only reported",
)
def late_charges_billed(conformance: ScenarioUnderTest) -> None:
    """The encounter ends billed in full - by adjusting journal and replacement claim, or by a bill held
    for the late charge - within the allowed lag of the last one; an exception alone is not enough."""
    conformance.verdict(judge_late_charges(conformance))


@then(
    "every encounter still uncoded at the deadline is raised as an exception",
    "every encounter still uncoded at the deadline is raised as an exception",
)
def overdue_coding_raised(conformance: ScenarioUnderTest) -> None:
    """One exception per encounter whose coding ran past the deadline, raised on time, none invented."""
    kinds = ("lost", "stale", "duplicated", "unexpected")
    conformance.verdict(judge_differences(conformance, NOUNS["billing exception"], kinds, "missed or late"))


# -- master data -----------------------------------------------------------------------------------------


@then(
    "every master-data problem is raised as an exception naming the code set and code",
    "every master-data problem is raised as an exception naming the code set and code",
)
def problems_raised(conformance: ScenarioUnderTest) -> None:
    """Each gap that bit (an item the ERP lacks, a retired cost center, an ungoverned code) was raised
    within the allowed lag as an exception naming the code set and code; none invented."""
    evidence = judge_differences(
        conformance, NOUNS["master-data problem"], ("lost", "stale", "unexpected"), "missed or late"
    )
    evidence.columns, evidence.rows = _exception_table(conformance, evidence)
    conformance.verdict(evidence)


def _exception_table(conformance: ScenarioUnderTest, evidence: Evidence) -> tuple[tuple[str, ...], list[Row]]:
    """The integration's master-data exceptions (code sets and codes are master data, not identifiers)."""
    exceptions = [e for e in conformance.result.view.exceptions if e.domain]
    rows: list[Row] = [
        (
            e.domain,
            e.code,
            e.reason_code,
            f"{e.raised_at:.1f}",
            "-" if e.resolved_at is None else f"{e.resolved_at:.1f}",
        )
        for e in exceptions[:10]
    ]
    if evidence.rows:
        rows = [*rows, ("", "", "", "", ""), *((r[0], r[1], r[2], r[3], "") for r in evidence.rows)]
    return ("code set / class", "code / target", "reason / key", "raised at (min) / detail", "resolved at (min)"), rows


@then("every master-data exception is resolved by the end", "every master-data exception is resolved by the end")
def problems_resolved(conformance: ScenarioUnderTest) -> None:
    """Every master-data exception was resolved once the steward's fix was published and the work replayed."""
    conformance.verdict(judge_differences(conformance, NOUNS["master-data problem"], ("wrong_value",), "unresolved"))


@then(
    "the parked work is posted exactly once to the governed codes",
    "the parked work is posted exactly once to the governed codes",
)
def parked_work_posted(conformance: ScenarioUnderTest) -> None:
    """Billing and supply are in sync: what waited for a mapping was posted once, to the governed codes."""
    conformance.verdict(judge_in_sync(conformance, [BILLING, SUPPLY]))


# -- labor and reporting ------------------------------------------------------------------------------------


@then(
    "the labor cost of every cost center equals hours times rates",
    "the labor cost of every cost center equals hours times rates",
)
def labor_equals_hours_times_rates(conformance: ScenarioUnderTest) -> None:
    """Per cost center and work date one labor journal of hours x rates: none lost, twice or wrong."""
    kinds = ("lost", "duplicated", "wrong_value", "unexpected")
    conformance.verdict(judge_differences(conformance, NOUNS["labor cost"], kinds, "missing, doubled or wrong"))


@then("every KPI on the dashboard agrees with the truth", "every KPI on the dashboard agrees with the truth")
def kpis_agree(conformance: ScenarioUnderTest) -> None:
    """Every KPI due is on the dashboard once, and its value equals the truth over its lineage."""
    evidence = judge_differences(
        conformance, NOUNS["KPI"], ("lost", "duplicated", "wrong_value", "unexpected"), "missing or wrong"
    )
    conformance.verdict(evidence)


@then(
    "every KPI's lineage names exactly the source records behind it",
    "every KPI's lineage names exactly the source records behind it",
)
def kpi_lineage(conformance: ScenarioUnderTest) -> None:
    """No KPI's lineage misses a record the truth requires, names one that is not a member, or one
    that never happened."""
    evidence = judge_differences(
        conformance, NOUNS["KPI"], ("wrong_value",), "wrong in its lineage", where=lambda d: "lineage" in d.detail
    )
    conformance.verdict(evidence)


# -- the wire: ACKs, dead letters, FHIR ----------------------------------------------------------------------


@then(
    "every message the EHR sent is acknowledged, and every well-formed one with AA",
    "every message the EHR sent is acknowledged, and every well-formed one with AA",
)
def acknowledged(conformance: ScenarioUnderTest) -> None:
    """Each delivered HL7 message got an ACK; AA for every message that was not malformed."""
    conformance.verdict(judge_acknowledged(conformance))


@then(
    "every acknowledgement echoes the control id of the message it answers",
    "every acknowledgement echoes the control id of the message it answers",
)
def ack_echo(conformance: ScenarioUnderTest) -> None:
    """MSA-2 of each ACK is the MSH-10 of a message sent, and each message's MSH-10 comes back."""
    conformance.verdict(judge_ack_echo(conformance))


@then("every acknowledgement is a valid HL7 v2 ACK", "every acknowledgement is a valid HL7 v2 ACK")
def ack_valid(conformance: ScenarioUnderTest) -> None:
    """A sample of the ACKs (all negative ones) passes hl7apy's strict validation."""
    conformance.verdict(judge_ack_valid(conformance))


@then(
    "every malformed message is answered AE or AR with an ERR segment",
    "every malformed message is answered AE or AR with an ERR segment",
)
def negative_acks(conformance: ScenarioUnderTest) -> None:
    """Malformed messages are never acknowledged AA, and a negative ACK says what is wrong (ERR)."""
    conformance.verdict(judge_negative_acks(conformance))


@then(
    "every malformed message is parked in the dead-letter queue with a reason",
    "every malformed message is parked in the dead-letter queue with a reason",
)
def malformed_parked(conformance: ScenarioUnderTest) -> None:
    """Each malformed HL7 message reached the integration's DLQ with a reason (and was repaired and
    replayed from there by the support team, or is still there)."""
    conformance.verdict(judge_parked(conformance, "hl7", "malformed message(s)"))


@then(
    "every drifted invoice is parked in the dead-letter queue with a reason",
    "every drifted invoice is parked in the dead-letter queue with a reason",
)
def drifted_parked(conformance: ScenarioUnderTest) -> None:
    """Each vendor invoice in a drifted schema reached the integration's DLQ with a reason."""
    conformance.verdict(judge_parked(conformance, "document", "drifted invoice(s)"))


@then("the dead-letter queue is empty at the end", "the dead-letter queue is empty at the end")
def dlq_empty(conformance: ScenarioUnderTest) -> None:
    """Nothing is left in the integration's dead-letter queue once the run settled."""
    conformance.verdict(judge_dead_letters_empty(conformance))


@then(
    "every claim the integration submits is a valid FHIR R4 Claim",
    "every claim the integration submits is a valid FHIR R4 Claim",
)
def fhir_claims(conformance: ScenarioUnderTest) -> None:
    """The claims the clearinghouse received validate as FHIR R4 (fhir.resources R4B models)."""
    conformance.verdict(judge_fhir_claims(conformance))


# -- behaviour under faults ----------------------------------------------------------------------------------


@then(
    "the {system:System} catches up within {within:Duration} of coming back",
    "the ERP catches up within 30 minutes of coming back",
)
def catches_up(conformance: ScenarioUnderTest, system: str, within: float) -> None:
    """Everything that fell due at the system during its outage landed within that long after it ended."""
    conformance.verdict(judge_catch_up(conformance, system, within))


@then(
    "while the {system:System} is down the integration sends it at most {count:Count} request(s) a minute",
    "while the ERP is down the integration sends it at most 5 requests a minute",
)
def holds_back(conformance: ScenarioUnderTest, system: str, count: int) -> None:
    """The integration holds back (a circuit breaker) instead of hammering a system that is down."""
    conformance.verdict(judge_holds_back(conformance, system, count))


@then(
    "the integration never calls the {system:System} again before its Retry-After",
    "the integration never calls the ERP again before its Retry-After",
)
def honours_retry_after(conformance: ScenarioUnderTest, system: str) -> None:
    """A request answered 429 is retried no sooner than the Retry-After the target asked for."""
    conformance.verdict(judge_retry_after(conformance, system))
