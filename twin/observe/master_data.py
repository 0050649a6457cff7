"""The master-data check: every governance problem that bit is raised, resolved and replayed.

A *problem* is a gap between the systems' master data: an EHR item the ERP item master does not
have, a cost center finance retired while the crosswalk still points at it. The truth says when
each problem first bit (the first usage of the missing item; the first posting a retired cost
center would have received); the integration must then raise an exception naming the code set
and code (within the allowed lag), and by the end every such exception must be resolved. That
the parked work was then posted exactly once, to the governed codes, is the flows' own checks
(``supply_expectations``, ``expectations``): they expect it when governance published the fix.

An exception that names a code whose problem never bit - or that the network does not know -
is *unexpected*: an integration must not invent master-data problems.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from twin.domain.contract import IntegrationException
from twin.domain.events import ChargesPosted, CodingCompleted
from twin.domain.model import SimTime
from twin.governance import Problem, problem_of
from twin.network import Network
from twin.observe.checker import percentile
from twin.observe.fault_truth import fault_facts
from twin.observe.governance_facts import governance_facts
from twin.observe.records import Expected, Observed
from twin.observe.truth import TruthLedger

MASTER_DATA = "master_data"
PROBLEM = "integration.master_data_problem"
MASTER_DATA_TARGETS = (PROBLEM,)


def problem_key(problem: Problem) -> str:
    return f"{problem[0]}:{problem[1]}"


def master_data_expectations(
    truth: TruthLedger,
    network: Network,
    bites: Mapping[Problem, SimTime] | None = None,
    bills: Mapping[str, tuple[SimTime, SimTime | None]] | None = None,
    *,
    cut: SimTime | None = None,
    lag: float = 0.0,
) -> list[Expected]:
    """One record per problem that bit: raised (on time) and resolved by the end.

    ``bites``: when scheduled flows first hit a problem, which the truth alone cannot say (the
    labor sync posts a work date at the first nightly sync after it, ``labor_bites``). ``bills``:
    when each encounter's bill was due, and its last late charge if it had some (visit -> (due,
    last late charge); the billing oracle's): a bill posts at its due moment, so a cost center
    retired by then bites then; one retired while the bill may still be held for its late charges
    may bite or not - the problem may be raised from that moment, and must be by its first certain
    bite. Without ``bills``, a bill is taken as due when coding completed.

    A department alias the EHR sent (``DepartmentAliased``, a fault) is a problem of its own: it
    bites when a supply line carrying it arrives, or when a bill that includes such a line falls due.

    ``cut``: the horizon of a run ended before it settled (a live run). A problem whose fix
    governance had not published ``lag`` before it may still be open there: only that it was
    raised is judged, not that it was resolved.
    """
    first: dict[Problem, SimTime] = dict(bites or {})
    possible: dict[Problem, SimTime] = {}  # the earliest a problem may bite (a held bill posting late)
    faults = fault_facts(truth)
    aliased = faults.aliased
    retired = governance_facts(truth).retired
    centers = {d.ehr_code: d.cost_center for h in network.hospitals for d in h.departments}
    charged: dict[str, set[str]] = {}  # visit -> departments charged
    for fact in truth:
        if isinstance(fact, ChargesPosted):
            departments = charged.setdefault(fact.visit, set())
            for line in fact.lines:
                alias = aliased.get(line.txn_id) if aliased else None
                departments.add(line.department if alias is None else alias.alias)
                if line.location and alias is not None:
                    _bit(first, ("department", alias.alias), max(fact.at, alias.at))
                if line.location and line.code in network.missing_items:
                    _bit(first, ("item", line.code), fact.at)
                center = centers.get(line.department, "") if alias is None else ""
                if line.location and center in retired and retired[center].at <= fact.at:
                    _bit(first, ("retired", center), fact.at)
        elif isinstance(fact, CodingCompleted):  # the bill falls due: every department charged posts
            for department in charged.get(fact.visit, ()):
                if department not in centers and aliased:
                    # an alias: the integration may learn of it with the coding, and must by the time the
                    # bill falls due (a bill hold makes that days later: the bill is what posts the line)
                    learned = max(fact.at, faults.coding_hold(fact.visit))
                    due = max(learned, bills[fact.visit][0]) if bills and fact.visit in bills else learned
                    _bit(first, ("department", department), due)
                    _bit(possible, ("department", department), learned)
                    continue
                center = centers.get(department, "")
                if center not in retired:
                    continue
                due, settles = bills.get(fact.visit, (fact.at, None)) if bills else (fact.at, None)
                if retired[center].at <= due:
                    _bit(first, ("retired", center), due)
                elif settles is not None and retired[center].at <= settles:
                    _bit(possible, ("retired", center), retired[center].at)
    expected = []
    for problem in sorted(set(first) | set(possible)):
        certain = first.get(problem, math.inf)
        earliest = min(certain, possible.get(problem, math.inf))
        open_at_cut = cut is not None and _fixed(network, problem, truth) + lag > cut
        expected.append(
            Expected(
                MASTER_DATA,
                PROBLEM,
                problem_key(problem),
                {} if open_at_cut else {"resolved": True},
                earliest,
                grace=certain - earliest if math.isfinite(certain) else 0.0,
                optional=not math.isfinite(certain),
                why="a bill held for its late charges may meet it first" if earliest < certain else "",
            )
        )
    return expected


def _fixed(network: Network, problem: Problem, truth: TruthLedger) -> SimTime:
    """When governance had published every mapping that fixes ``problem`` (``math.inf``: not all):
    a retired cost center's, those of every department and org unit that pointed at it."""
    governance = governance_facts(truth)
    domain, code = problem
    if domain != "retired":
        return governance.first_published(domain, code)
    codes = [
        (kind, name)
        for hospital in network.hospitals
        for department in hospital.departments
        if department.cost_center == code
        for kind, name in (("department", department.ehr_code), ("org unit", department.org_unit))
        if name
    ]
    return max((governance.first_published(kind, name) for kind, name in codes), default=math.inf)


def _bit(first: dict[Problem, SimTime], problem: Problem, at: SimTime) -> None:
    if problem not in first or at < first[problem]:
        first[problem] = at


def observe_master_data(network: Network, exceptions: Sequence[IntegrationException]) -> list[Observed]:
    """The integration's master-data exceptions, one record per problem they name."""
    grouped: dict[Problem, list[IntegrationException]] = {}
    for exception in exceptions:
        if exception.domain:
            grouped.setdefault(problem_of(network, exception.domain, exception.code), []).append(exception)
    observed = []
    for problem, raised in sorted(grouped.items()):
        earliest = min(raised, key=lambda e: e.raised_at)
        observed.append(
            Observed(
                PROBLEM,
                problem_key(problem),
                {"resolved": all(e.resolved_at is not None for e in raised)},
                earliest.raised_at,
                f"{earliest.flow}/{earliest.reason_code}",
            )
        )
    return observed


def governance_summary(network: Network, exceptions: Sequence[IntegrationException]) -> dict[str, Any]:
    """Exceptions raised / resolved / open per problem and the time to resolution, in hours."""
    mine = [e for e in exceptions if e.domain]
    hours = [(e.resolved_at - e.raised_at) / 60 for e in mine if e.resolved_at is not None]
    problems = sorted({problem_key(problem_of(network, e.domain, e.code)) for e in mine})
    return {
        "problems": problems,
        "exceptions_raised": len(mine),
        "exceptions_resolved": sum(1 for e in mine if e.resolved_at is not None),
        "exceptions_open": sum(1 for e in mine if e.resolved_at is None),
        "hours_to_resolution": {f"p{p}": _round(percentile(hours, p)) for p in (50, 95, 99)},
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
