"""Conversion between simulated minutes and calendar time.

The simulation counts minutes from the scenario's start; messages and documents carry calendar
timestamps. One ``Timebase`` per run keeps both views consistent. Every simulated message needs
a timestamp or two, and the integration reads a few back, so both directions are shaped for
speed: the day part is cached per day, the clock part comes from precomputed tables, and the
common full-precision ``YYYYMMDDHHMMSS`` form is parsed with one ``int()``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from twin.domain.model import SimTime

# "HHMM" for every minute of a day and "SS" for every second of a minute: formatting a timestamp
# is then two look-ups and a concatenation instead of three zero-padded number formats.
_HHMM = tuple(f"{hour:02d}{minute:02d}" for hour in range(24) for minute in range(60))
_HH_MM = tuple(f"{hour:02d}:{minute:02d}" for hour in range(24) for minute in range(60))
_SS = tuple(f"{second:02d}" for second in range(60))


class Timebase:
    """``epoch`` is the naive local instant SimTime 0 stands for."""

    __slots__ = ("epoch", "_day_text", "_day_iso", "_day_index", "_day_date", "_epoch_second", "_whole_second")

    def __init__(self, epoch: datetime) -> None:
        self.epoch = epoch
        self._epoch_second = epoch.hour * 3600 + epoch.minute * 60 + epoch.second
        # ``day()`` may skip datetime arithmetic only when the epoch has no sub-second part (a
        # fraction could carry an instant over midnight) and no time zone.
        self._whole_second = epoch.microsecond == 0 and epoch.tzinfo is None
        self._day_text: dict[int, str] = {}  # day number -> "YYYYMMDD"
        self._day_iso: dict[int, str] = {}  # day number -> "YYYY-MM-DDT"
        self._day_index: dict[str, int] = {}  # "YYYYMMDD" -> day number
        self._day_date: dict[int, date] = {}  # day number -> calendar date

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Timebase) and other.epoch == self.epoch

    def __hash__(self) -> int:
        return hash(self.epoch)

    def __repr__(self) -> str:
        return f"Timebase({self.epoch.isoformat()})"

    @property
    def start_clock(self) -> float:
        """Local minutes after midnight at simulated minute 0: where the scenario's start sits on
        the clock (every daily schedule - syncs, batches, quiet points, publish hours - counts from it)."""
        epoch = self.epoch
        return epoch.hour * 60 + epoch.minute + epoch.second / 60 + epoch.microsecond / 60_000_000

    @property
    def start_weekday(self) -> int:
        """The weekday of simulated minute 0 (Monday 0)."""
        return self.epoch.weekday()

    def at(self, minutes: SimTime) -> datetime:
        """The calendar instant of a simulated time, to the second."""
        return self.epoch + timedelta(seconds=int(round(minutes * 60)))

    def _new_day(self, day: int) -> str:
        midnight = datetime(self.epoch.year, self.epoch.month, self.epoch.day) + timedelta(days=day)
        text = self._day_text[day] = midnight.strftime("%Y%m%d")
        self._day_index[text] = day
        return text

    def hl7(self, minutes: SimTime) -> str:
        """HL7 v2 DTM to the second: ``YYYYMMDDHHMMSS``."""
        day, second = divmod(int(round(minutes * 60)) + self._epoch_second, 86400)
        text = self._day_text.get(day)
        if text is None:
            text = self._new_day(day)
        minute, second = divmod(second, 60)
        return text + _HHMM[minute] + _SS[second]

    def iso(self, minutes: SimTime) -> str:
        """FHIR dateTime with seconds and an explicit offset (FHIR requires one when time is given)."""
        day, second = divmod(int(round(minutes * 60)) + self._epoch_second, 86400)
        prefix = self._day_iso.get(day)
        if prefix is None:
            text = self._day_text.get(day)
            if text is None:
                text = self._new_day(day)
            prefix = self._day_iso[day] = f"{text[:4]}-{text[4:6]}-{text[6:]}T"
        minute, second = divmod(second, 60)
        return prefix + _HH_MM[minute] + ":" + _SS[second] + "+00:00"

    def day(self, minutes: SimTime) -> date:
        """The calendar date of a simulated time (worked out once per day)."""
        if not self._whole_second:
            return self.at(minutes).date()
        day = (int(round(minutes * 60)) + self._epoch_second) // 86400
        found = self._day_date.get(day)
        if found is None:
            found = self._day_date[day] = self.at(minutes).date()
        return found

    def minutes(self, hl7_dtm: str) -> SimTime:
        """Simulated minutes of an HL7 DTM (``YYYYMMDD[HHMM[SS]]``); ``ValueError`` if malformed."""
        if len(hl7_dtm) == 14 and hl7_dtm.isdigit() and hl7_dtm.isascii():
            # The form every message of the twin carries: a known day and one int() for the clock.
            day = self._day_index.get(hl7_dtm[:8])
            if day is not None:
                hours, rest = divmod(int(hl7_dtm[8:]), 10000)
                mins, secs = divmod(rest, 100)
                if hours <= 23 and mins <= 59 and secs <= 59:
                    return (day * 86400 + hours * 3600 + mins * 60 + secs - self._epoch_second) / 60.0
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
