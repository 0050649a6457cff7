"""Verdicts on what registration's corrections must do to the bill.

A real ADT feed corrects itself: a visit's coverage changes mid-stay (A08), a registration, a
transfer or a discharge is cancelled as entered in error (A11/A12/A13), two MRNs turn out to be one
patient (A40). Each step here narrows the billing flow's verdict to the visits the truth says were
corrected, and to the field the correction decides - the payer, the patient, the discharge billed,
the claim's type - so a failure names the correction the integration ignored. A verdict needs
evidence: a run in which no visit was corrected, or no corrected visit was billed, proves nothing
and says so instead of passing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from twin.conformance.context import Evidence, ScenarioUnderTest
from twin.conformance.judge import DIFFERENCE_COLUMNS, difference_rows, expected_records, flow_result, shown_key
from twin.domain.accounts import PATIENT_BILLING
from twin.domain.pseudonym import mask
from twin.observe.expectations import BILLING, CLAIM
from twin.observe.records import Difference


def _visits(ctx: ScenarioUnderTest, event: type, where: Callable[[object], bool] | None = None) -> set[str]:
    return {
        str(getattr(fact, "visit", "")) for fact in ctx.result.view.truth.of_type(event) if where is None or where(fact)
    }


def judge_corrected_claims(
    ctx: ScenarioUnderTest,
    event: type,
    fields: Iterable[str],
    what: str,
    *,
    where: Callable[[object], bool] | None = None,
) -> Evidence:
    """No billing record of a visit the truth corrected by ``event`` is missing or carries a wrong
    value in ``fields``; at least one such visit was due a claim and judged."""
    wanted = tuple(fields)
    visits = _visits(ctx, event, where)
    title = f"claims of {what} ({BILLING})"
    due = [e for e in expected_records(ctx, BILLING) if e.target == CLAIM and e.key in visits and not e.optional]
    if not due:
        return Evidence(
            title,
            False,
            f"nothing to judge: {len(visits)} visit(s) with {what}, none due a claim by the end - the scenario is "
            "too small or too short",
        )
    result = flow_result(ctx.result, BILLING)

    def spoiled(difference: Difference) -> bool:
        if difference.key.partition(":")[0] not in visits:  # an exception's key is visit:reason
            return False
        if difference.kind == "lost":
            return True
        fields_found = difference.evidence.get("fields", {})
        return difference.kind == "wrong_value" and any(name in fields_found for name in wanted)

    found = [d for d in (*result.differences, *result.downstream) if spoiled(d)]
    if not found:
        return Evidence(
            title,
            True,
            f"{len(due)} claim(s) of {what} judged: each holds the right {', '.join(wanted)}",
            DIFFERENCE_COLUMNS,
        )
    return Evidence(
        title,
        False,
        f"{len(found)} of {len(due)} billing record(s) of {what} wrong or missing; first: {shown_key(found[0])} at "
        f"{found[0].target}: {mask(found[0].detail)}",
        DIFFERENCE_COLUMNS,
        difference_rows(found),
    )


def judge_never_billed(ctx: ScenarioUnderTest, event: type, what: str) -> Evidence:
    """No target holds a billing record of a visit whose registration ``event`` cancelled."""
    visits = _visits(ctx, event)
    title = f"{what} never billed ({BILLING})"
    if not visits:
        return Evidence(title, False, f"nothing to judge: no {what} in this run - the scenario is too small")
    view = ctx.result.view
    if not any(journal.source == PATIENT_BILLING for journal in view.erp.finance.journals):
        return Evidence(title, False, "nothing to judge: the integration billed no encounter at all in this run")
    billed = sorted(
        {journal.reference for journal in view.erp.finance.journals if journal.reference in visits}
        | {item.invoice for item in view.erp.finance.ar_items if item.invoice in visits}
        | {claim.claim_number for claim in view.clearinghouse.submissions if claim.claim_number in visits}
    )
    if not billed:
        return Evidence(title, True, f"none of the {len(visits)} {what} reached the ERP or the clearinghouse")
    return Evidence(
        title,
        False,
        f"{len(billed)} of the {len(visits)} {what} billed; first: {mask(billed[0])}",
        ("visit",),
        [(mask(visit),) for visit in billed[:20]],
    )
