"""The flow rate of a gas or water sub-meter, from its successive readings.

A sub-meter reads on its own schedule (DSMR gas every 5 minutes, M-Bus water every 15) and the
gateway repeats its latest reading in every report.  The flow is the change in the reading over
the change in the sub-meter's own reading time:

* a repeated reading (the same time) changes nothing; a missed one only makes the interval
  longer, so the rate is the average over it, never a spike;
* the rate is 0 once no new reading has come for two of its intervals (a sub-meter that stopped
  reading, or a flow that stopped while the meter reads only on change); its interval is the
  lower median of the last few, so neither a missed reading nor one off its schedule moves it;
* a reading that goes backwards (a sub-meter exchanged) starts over, with no rate until the
  next one.

Pure: no Home Assistant import.  Readings are in the sub-meter's unit; the rate is per hour.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Final

MIN_INTERVAL_SECONDS: Final = 30.0
"""Readings closer than this are taken as one (some meters stamp a capture twice)."""
SILENT_INTERVALS: Final = 2
"""No new reading for this many of its intervals: the flow is 0."""
INTERVALS_KEPT: Final = 5
"""How many of the latest intervals make the sub-meter's schedule (their lower median)."""


@dataclass(frozen=True, kw_only=True)
class _Reading:
    time: datetime
    value: float


class FlowRate:
    """Follows one sub-meter's readings; ``rate`` is the flow per hour (None before two)."""

    def __init__(self) -> None:
        """Start with no reading."""
        self._last: _Reading | None = None
        self._intervals: deque[float] = deque(maxlen=INTERVALS_KEPT)
        """The latest times between two readings (seconds)."""
        self._rate: float | None = None

    def add(self, time: datetime, value: float) -> None:
        """Take the reading the gateway reports now (often the same one again)."""
        last = self._last
        if last is None or value < last.value:
            self._last, self._rate = _Reading(time=time, value=value), None
            self._intervals.clear()
            return
        seconds = (time - last.time).total_seconds()
        if seconds < MIN_INTERVAL_SECONDS:
            return  # the same reading again (or its double)
        self._rate = (value - last.value) / (seconds / 3600.0)
        self._intervals.append(seconds)
        self._last = _Reading(time=time, value=value)

    @property
    def interval(self) -> float | None:
        """The sub-meter's schedule (seconds): the lower median of the latest intervals."""
        if not self._intervals:
            return None
        return sorted(self._intervals)[(len(self._intervals) - 1) // 2]

    def rate(self, now: datetime) -> float | None:
        """The flow per hour at ``now`` (the meter's time of the report): 0 when silent."""
        interval = self.interval
        if self._rate is None or self._last is None or interval is None:
            return None
        if (now - self._last.time).total_seconds() >= SILENT_INTERVALS * interval:
            return 0.0
        return self._rate
