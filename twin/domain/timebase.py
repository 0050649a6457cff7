"""Conversion between simulated minutes and calendar time.

The simulation counts minutes from the scenario's start; messages and documents carry calendar
timestamps. One ``Timebase`` per run keeps both views consistent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from twin.domain.model import SimTime


@dataclass(frozen=True, slots=True)
class Timebase:
    epoch: datetime  # naive local time of the network, the instant SimTime 0 stands for

    def at(self, minutes: SimTime) -> datetime:
        """The calendar instant of a simulated time, to the second."""
        return self.epoch + timedelta(seconds=int(round(minutes * 60)))

    def hl7(self, minutes: SimTime) -> str:
        """HL7 v2 DTM to the second: ``YYYYMMDDHHMMSS``."""
        return self.at(minutes).strftime("%Y%m%d%H%M%S")

    def iso(self, minutes: SimTime) -> str:
        """FHIR dateTime with seconds (local, no offset is not allowed, so ``+00:00``)."""
        return self.at(minutes).strftime("%Y-%m-%dT%H:%M:%S+00:00")

    def day(self, minutes: SimTime) -> date:
        return self.at(minutes).date()

    def minutes(self, hl7_dtm: str) -> SimTime:
        """Simulated minutes of an HL7 DTM (``YYYYMMDD[HHMM[SS]]``); ``ValueError`` if malformed."""
        digits = hl7_dtm.split("+")[0].split("-")[0].split(".")[0]
        if not digits.isdigit() or len(digits) not in (8, 10, 12, 14):
            raise ValueError(f"not an HL7 timestamp: {hl7_dtm!r}")
        padded = digits.ljust(14, "0")
        moment = datetime(
            int(padded[0:4]), int(padded[4:6]), int(padded[6:8]),
            int(padded[8:10]), int(padded[10:12]), int(padded[12:14]),
        )
        return (moment - self.epoch).total_seconds() / 60.0
