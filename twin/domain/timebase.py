"""Conversion between simulated minutes and calendar time.

The simulation counts minutes from the scenario's start; messages and documents carry calendar
timestamps. One ``Timebase`` per run keeps both views consistent. Every simulated message needs
a timestamp or two, so the day part is cached and the rest is integer arithmetic.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from twin.domain.model import SimTime


class Timebase:
    """``epoch`` is the naive local instant SimTime 0 stands for."""

    __slots__ = ("epoch", "_day_text", "_day_index", "_epoch_second")

    def __init__(self, epoch: datetime) -> None:
        self.epoch = epoch
        self._epoch_second = epoch.hour * 3600 + epoch.minute * 60 + epoch.second
        self._day_text: dict[int, str] = {}
        self._day_index: dict[str, int] = {}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Timebase) and other.epoch == self.epoch

    def __hash__(self) -> int:
        return hash(self.epoch)

    def __repr__(self) -> str:
        return f"Timebase({self.epoch.isoformat()})"

    def at(self, minutes: SimTime) -> datetime:
        """The calendar instant of a simulated time, to the second."""
        return self.epoch + timedelta(seconds=int(round(minutes * 60)))

    def _split(self, minutes: SimTime) -> tuple[str, int]:
        day, second = divmod(int(round(minutes * 60)) + self._epoch_second, 86400)
        text = self._day_text.get(day)
        if text is None:
            midnight = datetime(self.epoch.year, self.epoch.month, self.epoch.day) + timedelta(days=day)
            text = self._day_text[day] = midnight.strftime("%Y%m%d")
            self._day_index[text] = day
        return text, second

    def hl7(self, minutes: SimTime) -> str:
        """HL7 v2 DTM to the second: ``YYYYMMDDHHMMSS``."""
        day, second = self._split(minutes)
        hours, rest = divmod(second, 3600)
        return f"{day}{hours:02d}{rest // 60:02d}{rest % 60:02d}"

    def iso(self, minutes: SimTime) -> str:
        """FHIR dateTime with seconds and an explicit offset (FHIR requires one when time is given)."""
        day, second = self._split(minutes)
        hours, rest = divmod(second, 3600)
        return f"{day[:4]}-{day[4:6]}-{day[6:]}T{hours:02d}:{rest // 60:02d}:{rest % 60:02d}+00:00"

    def day(self, minutes: SimTime) -> date:
        return self.at(minutes).date()

    def minutes(self, hl7_dtm: str) -> SimTime:
        """Simulated minutes of an HL7 DTM (``YYYYMMDD[HHMM[SS]]``); ``ValueError`` if malformed."""
        digits = hl7_dtm.split("+")[0].split("-")[0].split(".")[0]
        if not digits.isdigit() or len(digits) not in (8, 10, 12, 14):
            raise ValueError(f"not an HL7 timestamp: {hl7_dtm!r}")
        day_text = digits[:8]
        day = self._day_index.get(day_text)
        if day is None:
            midnight = datetime(int(day_text[0:4]), int(day_text[4:6]), int(day_text[6:8]))
            start = datetime(self.epoch.year, self.epoch.month, self.epoch.day)
            day = (midnight - start).days
            self._day_index[day_text] = day
            self._day_text.setdefault(day, day_text)
        padded = digits[8:].ljust(6, "0")
        hours, mins, secs = int(padded[0:2]), int(padded[2:4]), int(padded[4:6])
        if hours > 23 or mins > 59 or secs > 59:
            raise ValueError(f"not an HL7 timestamp: {hl7_dtm!r}")
        return (day * 86400 + hours * 3600 + mins * 60 + secs - self._epoch_second) / 60.0
