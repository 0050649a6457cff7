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
a second before midnight on the wrong day. Beside ``discharges`` the answer lists as
``not_discharged`` the ``refresh`` charts the EHR does not have discharged before
``discharged_before`` (any more): their discharge was cancelled, or their registration, since the
caller saw them - a report following them should let them go.

A discharge entered in error (A13) is no discharge: the chart is in house again until its next
discharge, and that one's time is its discharge time, in whichever window it falls. A registration
entered in error (A11) never happened and is never in the extract.

The extract keeps its own index of discharges, built as it finds them, so a daily extract costs
the patients in house, the discharged charts not coded yet and the day's discharges - not every
chart the EHR ever held. A discharge is watched until the chart is coded: coding is the last step
before the bill, and a discharge cancelled after it (which the EHR's workflows never do) would go
unseen by the index.
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
        # discharged, not coded yet: the discharge (A13) or the registration (A11) may still be cancelled
        self._watched: dict[str, tuple[float, Encounter]] = {}

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
        discharges = self.discharges(before, since, refresh)
        return TargetResponse(200, {"discharges": discharges, "not_discharged": self.not_discharged(before, refresh)})

    def discharges(
        self, before: float, since: float | None = None, refresh: dict[str, int] | None = None
    ) -> list[dict[str, Any]]:
        """Encounters discharged in ``[since, before)``, plus the ``refresh`` charts (discharged
        before ``before``) that hold more charge lines than the caller has."""
        self._index()
        encounters = self.ehr.encounters
        low = 0 if since is None else bisect_left(self._discharged, (since, ""))
        high = bisect_left(self._discharged, (before, ""))
        wanted = [visit for _, visit in self._discharged[low:high] if not encounters[visit].cancelled]
        chosen = set(wanted)
        for visit, lines in (refresh or {}).items():
            enc = encounters.get(visit)
            if enc is None or visit in chosen or not _discharged_before(enc, before):
                continue
            if len(enc.charges) > lines:
                wanted.append(visit)
                chosen.add(visit)
        return [_extract(encounters[visit]) for visit in wanted]

    def not_discharged(self, before: float, refresh: dict[str, int] | None = None) -> list[str]:
        """The ``refresh`` charts that are not discharged before ``before``: in house again (A13),
        cancelled (A11), discharged later, or unknown to the EHR."""
        encounters = self.ehr.encounters
        return [
            visit
            for visit in refresh or {}
            if visit not in encounters or not _discharged_before(encounters[visit], before)
        ]

    def _index(self) -> None:
        """Take in the charts admitted since the last look, move the discharged ones, and move back
        the watched ones whose discharge changed (cancelled, and perhaps discharged again since)."""
        encounters = self.ehr.encounters
        for enc in islice(encounters.values(), self._indexed, None):
            self._in_house[enc.visit] = enc
        self._indexed = len(encounters)
        for visit, (at, enc) in list(self._watched.items()):
            if enc.cancelled or enc.discharged_at != at:
                del self._watched[visit]
                del self._discharged[bisect_left(self._discharged, (at, visit))]
                self._in_house[visit] = enc  # looked at again below
            elif enc.coding is not None:
                del self._watched[visit]
        for visit, enc in list(self._in_house.items()):
            if enc.cancelled:
                del self._in_house[visit]
            elif enc.discharged_at is not None:
                del self._in_house[visit]
                insort(self._discharged, (enc.discharged_at, visit))
                if enc.coding is None:
                    self._watched[visit] = (enc.discharged_at, enc)


def _discharged_before(enc: Encounter, before: float) -> bool:
    return not enc.cancelled and enc.discharged_at is not None and enc.discharged_at < before


def _extract(enc: Encounter) -> dict[str, Any]:
    return {
        "visit": enc.visit,
        "hospital": enc.hospital,
        "discharged_at": enc.discharged_at,
        "charges": [{"txn_id": line.txn_id, "amount": line.amount, "at": line.service_at} for line in enc.charges],
    }
