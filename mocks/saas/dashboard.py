"""The executive dashboard (a BI SaaS): receives KPI values with their lineage and shows them.

Sans-IO: ``handle(request, now)``. ``POST /kpis`` takes one KPI value::

    {"kpi": "dnfb_amount", "scope": "H01", "period": "2026-01-05", "value": 1234500,
     "unit": "USD cents", "lineage": ["H01V0000123", ...], "as_of": 1800.0}

and validates it against the KPI catalog it is configured with (a known KPI in its unit, a scope,
an ISO date, a finite number, a list of source ids, a numeric ``as_of``); a value that breaks a
rule is refused with 422 and every reason. ``GET /kpis`` lists what it shows (body as query:
``kpi``, ``scope``, ``period``).

Republication rule: the business key is (kpi, scope, period) - one value per KPI, scope and day,
as a dashboard tile shows one number. Publishing a key again *replaces* the value shown (its
revision counts up, and ``published_at`` is when the value now shown arrived); it never adds a
second row. The same value again (a transport retry) changes nothing; a value computed from an
older cut of the data (a smaller ``as_of``) than the one shown is refused with 409, so a late
retry cannot roll a correction back. Every accepted publication is also kept in ``history`` for
audit; the checker reads ``kpis``, what the executives actually see.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mocks.queries import iso_day
from twin.domain.exchange import TargetRequest, TargetResponse
from twin.domain.kpis import KPI_UNITS, kpi_key


@dataclass(frozen=True, slots=True)
class KpiPublication:
    """One KPI value as the dashboard shows it."""

    publication_id: str
    kpi: str
    scope: str
    period: str  # ISO date
    value: float
    unit: str
    lineage: tuple[str, ...]  # the source business ids behind the value
    as_of: float  # simulated minutes: the data cut the value was computed from
    published_at: float
    revision: int = 1

    @property
    def key(self) -> str:
        return kpi_key(self.kpi, self.scope, self.period)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.publication_id,
            "kpi": self.kpi,
            "scope": self.scope,
            "period": self.period,
            "value": self.value,
            "unit": self.unit,
            "lineage": list(self.lineage),
            "as_of": self.as_of,
            "published_at": self.published_at,
            "revision": self.revision,
        }


class Dashboard:
    """KPI tiles keyed by (kpi, scope, period); ``units`` is the KPI catalog it accepts."""

    def __init__(self, units: dict[str, str] | None = None) -> None:
        self.units = dict(KPI_UNITS if units is None else units)
        self.kpis: list[KpiPublication] = []  # what is shown: one per key, in first-publication order
        self.history: list[KpiPublication] = []  # every accepted publication, for audit
        self._index: dict[str, int] = {}

    def handle(self, request: TargetRequest, now: float) -> TargetResponse:
        if request.path == "/kpis" and request.method == "POST":
            return self._publish(request.body, now)
        if request.path == "/kpis" and request.method == "GET":
            query = request.body
            shown = [
                p.as_dict()
                for p in self.kpis
                if all(query.get(name) in (None, getattr(p, name)) for name in ("kpi", "scope", "period"))
            ]
            return TargetResponse(200, {"kpis": shown})
        return TargetResponse(404, {"errors": [f"no such operation: {request.method} {request.path}"]})

    def validate(self, body: dict[str, Any]) -> list[str]:
        """Every rule the KPI value breaks, naming the field and what was expected."""
        if not isinstance(body, dict):
            return ["body must be a JSON object"]
        errors: list[str] = []
        kpi = body.get("kpi")
        if not isinstance(kpi, str) or kpi not in self.units:
            errors.append(f"kpi: unknown KPI {kpi!r}; expected one of {', '.join(sorted(self.units))}")
        elif body.get("unit") != self.units[str(kpi)]:
            errors.append(f"unit: {kpi} is reported in {self.units[str(kpi)]!r}, got {body.get('unit')!r}")
        if not isinstance(body.get("scope"), str) or not body.get("scope"):
            errors.append("scope: expected a non-empty string (hospital or cost center)")
        if iso_day(body.get("period")) is None:  # the tile's key: one spelling per day, or one day has two tiles
            errors.append(f"period: expected an ISO date, got {body.get('period')!r}")
        if not _number(body.get("value")):
            errors.append(f"value: expected a finite number, got {body.get('value')!r}")
        lineage = body.get("lineage")
        if not isinstance(lineage, list) or not all(isinstance(i, str) and i for i in lineage):
            errors.append("lineage: expected a list of source ids (non-empty strings)")
        if not _number(body.get("as_of")):
            errors.append(f"as_of: expected the data cut as simulated minutes, got {body.get('as_of')!r}")
        return errors

    def _publish(self, body: dict[str, Any], now: float) -> TargetResponse:
        errors = self.validate(body)
        if errors:
            return TargetResponse(422, {"errors": errors})
        key = kpi_key(str(body["kpi"]), str(body["scope"]), str(body["period"]))
        lineage = tuple(str(i) for i in body["lineage"])
        value, as_of = float(body["value"]), float(body["as_of"])
        index = self._index.get(key)
        shown = self.kpis[index] if index is not None else None
        if shown is not None:
            if (shown.value, shown.unit, shown.lineage, shown.as_of) == (value, body["unit"], lineage, as_of):
                return TargetResponse(200, {"id": shown.publication_id, "revision": shown.revision, "status": "same"})
            if as_of < shown.as_of:
                return TargetResponse(
                    409,
                    {
                        "errors": [
                            f"{key}: computed as of {as_of:g}, older than the value shown (as of {shown.as_of:g})"
                        ]
                    },
                )
        publication = KpiPublication(
            f"KPI{len(self.history) + 1:08d}",
            str(body["kpi"]),
            str(body["scope"]),
            str(body["period"]),
            value,
            str(body["unit"]),
            lineage,
            as_of,
            now,
            1 if shown is None else shown.revision + 1,
        )
        self.history.append(publication)
        if index is None:
            self._index[key] = len(self.kpis)
            self.kpis.append(publication)
            return TargetResponse(201, {"id": publication.publication_id, "revision": 1, "status": "created"})
        self.kpis[index] = publication
        return TargetResponse(
            200, {"id": publication.publication_id, "revision": publication.revision, "status": "replaced"}
        )


def _number(value: Any) -> bool:
    """A finite JSON number that fits a float (the dashboard keeps values as floats)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond any float
        return False
