"""The EHR's reporting extract: discharged encounters with their charges, for revenue-cycle reports.

The discharged-not-final-billed (DNFB) figure needs the source of discharges: the EHR is the only
system that knows a patient left. Finance learns of an encounter only when it is billed, so an
ERP-only DNFB would count nothing that is not yet billed - exactly what DNFB is about. Hence this
read-only extract, as EHR vendors ship them for reporting (a warehouse feed), in front of the
same charts the HL7 interface publishes from.

Sans-IO: ``handle(request, now)`` answers ``GET /reporting/discharges`` with the body as query:

- ``discharged_from`` (inclusive, optional) and ``discharged_before`` (exclusive): encounters
  discharged in that window (numbers, or numeric text as a query string carries them);
- ``refresh`` (optional): ``{visit: charge lines the caller has}`` - these charts as well, if
  discharged before ``discharged_before`` and holding more charge lines than the caller has: how
  a report refreshes the charts it still follows (late charges land after discharge) without
  pulling the unchanged ones again.

Each encounter comes with its hospital, discharge time and every charge line on the chart
(transaction id, amount in cents, service time). Times are simulated minutes, the clock every
sans-IO ``now`` is given in: calendar text rounded to the second would put a charge posted half
a second before midnight on the wrong day.

The extract keeps its own index of discharges, built as it finds them, so a daily extract costs
the patients in house and the day's discharges - not every chart the EHR ever held.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from itertools import islice
from typing import Any

from mocks.ehr.ehr import Ehr, Encounter
from mocks.queries import BadQuery, window_bounds
from twin.domain.exchange import TargetRequest, TargetResponse

DISCHARGES = "/reporting/discharges"


class EhrReporting:
    """Read-only reporting API over one EHR's charts."""

    def __init__(self, ehr: Ehr) -> None:
        self.ehr = ehr
        self._indexed = 0  # charts of the EHR (in admission order) already looked at
        self._in_house: dict[str, Encounter] = {}
        self._discharged: list[tuple[float, str]] = []  # (discharged at, visit), in time order

    def handle(self, request: TargetRequest, now: float) -> TargetResponse:
        if request.method != "GET" or request.path != DISCHARGES:
            return TargetResponse(404, {"errors": [f"no such operation: {request.method} {request.path}"]})
        query = request.body
        refresh = query.get("refresh", {})
        errors = []
        try:  # numbers in a JSON query, numeric text in a query string
            since, before = window_bounds(query, "discharged_from", "discharged_before")
        except BadQuery as bad:
            errors.append(str(bad))
        else:
            if before is None:
                errors.append("discharged_before is required: the end of the window, simulated minutes")
        if not isinstance(refresh, dict) or not all(isinstance(n, int) for n in refresh.values()):
            errors.append("refresh must map visit numbers to the charge lines the caller has")
        if errors:
            return TargetResponse(422, {"errors": errors})
        assert before is not None
        return TargetResponse(200, {"discharges": self.discharges(before, since, refresh)})

    def discharges(
        self, before: float, since: float | None = None, refresh: dict[str, int] | None = None
    ) -> list[dict[str, Any]]:
        """Encounters discharged in ``[since, before)``, plus the ``refresh`` charts (discharged
        before ``before``) that hold more charge lines than the caller has."""
        self._index()
        low = 0 if since is None else bisect_left(self._discharged, (since, ""))
        high = bisect_left(self._discharged, (before, ""))
        wanted = [visit for _, visit in self._discharged[low:high]]
        chosen = set(wanted)
        encounters = self.ehr.encounters
        for visit, lines in (refresh or {}).items():
            enc = encounters.get(visit)
            if enc is None or visit in chosen or enc.discharged_at is None or enc.discharged_at >= before:
                continue
            if len(enc.charges) > lines:
                wanted.append(visit)
                chosen.add(visit)
        return [_extract(encounters[visit]) for visit in wanted]

    def _index(self) -> None:
        """Take in the charts admitted since the last look, and move the discharged ones."""
        encounters = self.ehr.encounters
        for enc in islice(encounters.values(), self._indexed, None):
            self._in_house[enc.visit] = enc
        self._indexed = len(encounters)
        for visit, enc in list(self._in_house.items()):
            if enc.discharged_at is not None:
                del self._in_house[visit]
                insort(self._discharged, (enc.discharged_at, visit))


def _extract(enc: Encounter) -> dict[str, Any]:
    return {
        "visit": enc.visit,
        "hospital": enc.hospital,
        "discharged_at": enc.discharged_at,
        "charges": [{"txn_id": line.txn_id, "amount": line.amount, "at": line.service_at} for line in enc.charges],
    }
