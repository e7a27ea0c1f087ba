"""Demand windows for capacity tariffs, from the meter's own import register and clock.

Utilities that bill by demand take the highest average import power over a clock-aligned
window (15 minutes, or an hour) in the month.  This module computes it exactly for any meter:

* A window's demand is the import energy in it divided by its length.  The register value at
  each boundary is interpolated linearly between the samples on either side, so a gap inside
  a window (Home Assistant restarted, the stream was down) changes nothing.
* A boundary that falls in a gap longer than ``gap_limit`` cannot be placed: the windows on
  both sides are incomplete and count toward no peak.
* A register that goes backwards (a meter exchanged, a glitch) never gives a negative or huge
  demand: the window it happens in is discarded, and so is the one in which it comes back.
* Windows are aligned on the local clock; a window belongs to the local day and month of its
  start, so the month rolls over on the local calendar, DST included.

Pure: no Home Assistant import.  Times are aware datetimes, energies kWh, power kW, demands W.
``DemandTracker`` keeps its state as plain JSON (``as_dict`` / ``from_dict``) so that peaks and
the monthly history survive restarts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Final

OPTION_DEMAND: Final = "demand"
"""``entry.options["demand"] = {"window": 15, "peaks": 1, "floor": 2500.0}`` (floor in W)."""
WINDOW_MINUTES: Final = (15, 60)
"""The window lengths offered (15: CKW, Flanders; 60: Sweden, Norway)."""
DEFAULT_WINDOW_MINUTES: Final = 15
MAX_PEAKS: Final = 5
"""At most this many daily peaks are averaged into the monthly peak."""
BASIS_MONTHS: Final = 12
GAP_MIN_SECONDS: Final = 60.0
GAP_REPORT_FACTOR: Final = 3.0
_KEEP_DAYS: Final = 400
"""Daily peaks older than this are dropped (the 12-month basis needs 12 calendar months)."""
CLOCK_TOLERANCE: Final = timedelta(hours=1)
"""A meter clock further than this from Home Assistant's is not used."""
_IMPLAUSIBLE_KW: Final = 100.0
_IMPLAUSIBLE_FACTOR: Final = 10.0
"""A register step above max(100 kW, 10 x the import power reported) is no load: the meter
was exchanged or the register glitched."""
_W_PER_KW: Final = 1000.0
_HOUR: Final = 3600.0


def gap_limit(report_interval: float | None) -> float:
    """Seconds between two samples beyond which a boundary between them cannot be placed."""
    return max(GAP_MIN_SECONDS, GAP_REPORT_FACTOR * (report_interval or 0.0))


@dataclass(frozen=True, kw_only=True)
class DemandConfig:
    """What the user chose: the window, how many daily peaks make the monthly one, a floor."""

    window_minutes: int = DEFAULT_WINDOW_MINUTES
    peaks: int = 1
    """The monthly peak is the mean of the ``peaks`` highest daily peaks (on different days)."""
    floor: float = 0.0
    """W; each month counts at least this much in the 12-month basis (Flanders: 2500)."""

    @property
    def window(self) -> timedelta:
        """The window's length."""
        return timedelta(minutes=self.window_minutes)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> DemandConfig:
        """Read the entry's options (``OPTION_DEMAND``); anything odd gives the default."""
        stored = options.get(OPTION_DEMAND)
        if not isinstance(stored, Mapping):
            return cls()
        window, peaks, floor = stored.get("window"), stored.get("peaks"), stored.get("floor")
        return cls(
            window_minutes=window if window in WINDOW_MINUTES else DEFAULT_WINDOW_MINUTES,
            peaks=peaks if isinstance(peaks, int) and 1 <= peaks <= MAX_PEAKS else 1,
            floor=float(floor) if isinstance(floor, int | float) and floor >= 0 else 0.0,
        )

    def as_options(self) -> dict[str, Any]:
        """The form kept in the entry's options."""
        return {"window": self.window_minutes, "peaks": self.peaks, "floor": self.floor}


@dataclass(frozen=True, kw_only=True)
class Sample:
    """One meter report: when (the meter's clock), the import register, the import power."""

    time: datetime
    energy: float
    """kWh, the import register (``E_In``)."""
    power: float | None = None
    """kW, the import power now (``P_In``), for the projection."""


@dataclass(frozen=True, kw_only=True)
class Window:
    """A complete window: when it started and its demand (W)."""

    start: datetime
    demand: float


@dataclass(frozen=True, kw_only=True)
class MonthlyPeak:
    """The month's peak: the highest window, or the mean of the N highest daily peaks."""

    demand: float
    """W."""
    start: datetime
    """When the month's highest window started."""
    days: tuple[Window, ...]
    """The daily peaks it is made of, highest first (one when N is 1)."""


@dataclass(frozen=True, kw_only=True)
class Basis:
    """The capacity basis: the mean of the last 12 monthly peaks (each at least the floor)."""

    demand: float
    """W."""
    months: int
    """How many months had data (months without are left out)."""


@dataclass(frozen=True, kw_only=True)
class DemandSnapshot:
    """What the demand sensors show after a sample."""

    window_start: datetime
    window_end: datetime
    current: float | None
    """W: import energy since the window started / time since then; at the window's first
    instant (a report right on the boundary) the import power, which that average tends to."""
    partial: bool
    """The current demand is the average since the first sample of this window (setup, or the
    window's start could not be placed), not since the window started."""
    projected: float | None
    """W: what the window ends at if the present import power holds."""
    last_window: Window | None
    """The previous complete window."""
    month: MonthlyPeak | None
    basis: Basis | None


@dataclass(kw_only=True)
class _Current:
    """The window under way."""

    start: datetime
    start_energy: float | None = None
    """The register at the window's start; None when it could not be placed."""
    first: Sample | None = None
    """The first sample seen in this window (a partial window averages from it)."""
    discarded: bool = False
    """The register went backwards in it (or came back to where it was): no demand."""


class DemandTracker:
    """Follows the import register, window by window; keeps the daily peaks of ~13 months."""

    def __init__(self, config: DemandConfig, zone: tzinfo) -> None:
        """Start with no history; ``zone`` is the meter's (its local calendar)."""
        self.config = config
        self.zone = zone
        self._last: Sample | None = None
        self._current: _Current | None = None
        self._last_window: Window | None = None
        self._days: dict[date, Window] = {}
        self._days_changed = 0
        """Counts the changes of ``_days``: the month's peak and the basis are kept until
        one (they cost a pass over up to 400 days; a report comes every second)."""
        self._peaks: tuple[tuple[int, int], int, MonthlyPeak | None, Basis | None] | None = None
        self._high_water: float | None = None
        """The register before it went backwards, while a return to it is possible."""

    @property
    def last_time(self) -> datetime | None:
        """When the last report was measured (UTC)."""
        return None if self._last is None else self._last.time

    @property
    def days_kept(self) -> int:
        """How many daily peaks are kept."""
        return len(self._days)

    # --- windows and calendar -----------------------------------------------------------

    def window_start(self, moment: datetime) -> datetime:
        """The start of the window ``moment`` is in, aligned on the local clock."""
        local = moment.astimezone(self.zone)
        minutes = self.config.window_minutes
        floored = local.replace(
            minute=local.minute - local.minute % minutes if minutes < 60 else 0,
            second=0,
            microsecond=0,
        )
        return floored.astimezone(UTC)

    def _day(self, start: datetime) -> date:
        return start.astimezone(self.zone).date()

    # --- samples ------------------------------------------------------------------------

    def add(self, sample: Sample, gap: float) -> None:
        """Take one meter report; ``gap`` is ``gap_limit`` for the meter's report interval."""
        if sample.time.tzinfo is not UTC:  # aware times in one zone compare by wall clock
            sample = Sample(
                time=sample.time.astimezone(UTC), energy=sample.energy, power=sample.power
            )
        last = self._last
        if last is not None and sample.time == last.time:
            return  # the same report again
        if last is None or sample.time < last.time or self._current is None:
            self._restart(sample)  # the first report, or the clock went back: start afresh
            return
        if sample.energy < last.energy:
            self._went_back(last, sample)
            return
        span = (sample.time - last.time).total_seconds()
        step_kw = (sample.energy - last.energy) / (span / _HOUR)
        # Back where it was before it went backwards (a glitch), or a jump no load can make
        # (another meter): the step says nothing about the boundaries inside it.
        unsure = (
            self._high_water is not None and sample.energy >= self._high_water
        ) or step_kw > max(
            _IMPLAUSIBLE_KW, _IMPLAUSIBLE_FACTOR * max(last.power or 0.0, sample.power or 0.0)
        )
        if unsure:
            self._high_water = None
            self._current.discarded = True
        current = self._current
        while sample.time >= (end := current.start + self.config.window):
            if unsure or span > gap:
                self._close(current, None)
                current = _Current(start=end)
            else:
                at_end = last.energy + (sample.energy - last.energy) * (
                    (end - last.time).total_seconds() / span
                )
                self._close(current, at_end)
                current = _Current(start=end, start_energy=at_end)
        if current.first is None:
            current.first = sample
        self._current = current
        self._last = sample

    def _restart(self, sample: Sample) -> None:
        """Begin with ``sample``: its window's start is not placed (a partial window)."""
        self._current = _Current(start=self.window_start(sample.time), first=sample)
        self._last = sample

    def _went_back(self, last: Sample, sample: Sample) -> None:
        """The register went backwards: discard the window, go on from the new value."""
        assert self._current is not None
        self._high_water = max(self._high_water or 0.0, last.energy)
        start = self.window_start(sample.time)
        if start != self._current.start:  # between two windows: neither boundary is sure
            self._close(self._current, None)
            self._current = _Current(start=start, first=sample)
        self._current.discarded = True
        self._last = sample

    def _close(self, window: _Current, at_end: float | None) -> None:
        """A window ended: keep its demand when both ends were placed and nothing went back."""
        if at_end is None or window.start_energy is None or window.discarded:
            return
        demand = (
            (at_end - window.start_energy)
            / (self.config.window.total_seconds() / _HOUR)
            * _W_PER_KW
        )
        complete = Window(start=window.start, demand=max(demand, 0.0))
        self._last_window = complete
        day = self._day(window.start)
        best = self._days.get(day)
        if best is None or complete.demand > best.demand:
            self._days[day] = complete
            self._days_changed += 1
        if len(self._days) > _KEEP_DAYS:
            for old in sorted(self._days)[: len(self._days) - _KEEP_DAYS]:
                del self._days[old]

    # --- what the sensors show ----------------------------------------------------------

    def snapshot(self) -> DemandSnapshot | None:
        """The demand now (None before the first sample)."""
        last, current = self._last, self._current
        if last is None or current is None:
            return None
        length = self.config.window.total_seconds()
        end = current.start + self.config.window
        elapsed = (last.time - current.start).total_seconds()
        partial = current.start_energy is None
        energy: float | None = None  # import energy since the window started
        if current.discarded:
            pass
        elif not partial:
            assert current.start_energy is not None
            energy = last.energy - current.start_energy
        elif current.first is not None and last.time > current.first.time:
            seen = (last.time - current.first.time).total_seconds()
            energy = (last.energy - current.first.energy) * elapsed / seen
        current_demand = None
        if energy is not None and elapsed > 0:
            current_demand = energy / (elapsed / _HOUR) * _W_PER_KW
        elif energy is not None and last.power is not None:  # the window's first instant
            current_demand = max(last.power, 0.0) * _W_PER_KW
        month, basis = self._month_and_basis(self._month_of(current.start))
        projected = None
        if energy is not None and last.power is not None:
            left = (end - last.time).total_seconds() / _HOUR
            projected = (energy + max(last.power, 0.0) * left) / (length / _HOUR) * _W_PER_KW
        return DemandSnapshot(
            window_start=current.start,
            window_end=end,
            current=current_demand,
            partial=partial,
            projected=projected,
            last_window=self._last_window,
            month=month,
            basis=basis,
        )

    def _month_and_basis(self, month: tuple[int, int]) -> tuple[MonthlyPeak | None, Basis | None]:
        """``monthly_peak`` and ``basis`` of ``month``, computed again only after a change."""
        if self._peaks is None or self._peaks[:2] != (month, self._days_changed):
            self._peaks = (month, self._days_changed, self.monthly_peak(month), self.basis(month))
        return self._peaks[2], self._peaks[3]

    def _month_of(self, moment: datetime) -> tuple[int, int]:
        local = moment.astimezone(self.zone)
        return local.year, local.month

    def monthly_peak(self, month: tuple[int, int]) -> MonthlyPeak | None:
        """The peak of a local calendar month (None: no complete window in it)."""
        days = sorted(
            (peak for day, peak in self._days.items() if (day.year, day.month) == month),
            key=lambda peak: peak.demand,
            reverse=True,
        )[: self.config.peaks]
        if not days:
            return None
        return MonthlyPeak(
            demand=sum(peak.demand for peak in days) / len(days),
            start=days[0].start,
            days=tuple(days),
        )

    def basis(self, month: tuple[int, int]) -> Basis | None:
        """The mean of the monthly peaks of the 12 months up to ``month`` (floor applied)."""
        peaks = [
            max(peak.demand, self.config.floor)
            for back in range(BASIS_MONTHS)
            if (peak := self.monthly_peak(_months_before(month, back))) is not None
        ]
        if not peaks:
            return None
        return Basis(demand=sum(peaks) / len(peaks), months=len(peaks))

    # --- persistence --------------------------------------------------------------------

    def as_dict(self) -> dict[str, Any]:
        """The state as plain JSON (for the entry's store)."""
        current = self._current
        return {
            "window_minutes": self.config.window_minutes,
            "last": None if self._last is None else _sample_dict(self._last),
            "current": None
            if current is None
            else {
                "start": current.start.isoformat(),
                "start_energy": current.start_energy,
                "first": None if current.first is None else _sample_dict(current.first),
                "discarded": current.discarded,
            },
            "high_water": self._high_water,
            "last_window": None if self._last_window is None else _window_dict(self._last_window),
            "days": {day.isoformat(): _window_dict(peak) for day, peak in self._days.items()},
        }

    @classmethod
    def from_dict(cls, config: DemandConfig, zone: tzinfo, data: Any) -> DemandTracker:
        """Restore a tracker from ``as_dict``.

        Anything that does not read (a broken file, another window length) gives a new one.
        """
        tracker = cls(config, zone)
        if not isinstance(data, Mapping) or data.get("window_minutes") != config.window_minutes:
            return tracker
        try:
            tracker._days = {
                date.fromisoformat(day): _window(peak) for day, peak in data["days"].items()
            }
            tracker._last_window = _window(data["last_window"]) if data["last_window"] else None
            tracker._last = _sample(data["last"]) if data["last"] else None
            if (current := data["current"]) is not None:
                tracker._current = _Current(
                    start=datetime.fromisoformat(current["start"]),
                    start_energy=_number(current["start_energy"]),
                    first=_sample(current["first"]) if current["first"] else None,
                    discarded=bool(current["discarded"]),
                )
            tracker._high_water = _number(data["high_water"])
        except KeyError, TypeError, ValueError, AttributeError:
            return cls(config, zone)
        if (tracker._last is None) != (tracker._current is None):
            tracker._last = tracker._current = None
        return tracker


def _months_before(month: tuple[int, int], back: int) -> tuple[int, int]:
    index = month[0] * 12 + month[1] - 1 - back
    return index // 12, index % 12 + 1


def _sample_dict(sample: Sample) -> dict[str, Any]:
    return {"time": sample.time.isoformat(), "energy": sample.energy, "power": sample.power}


def _window_dict(window: Window) -> dict[str, Any]:
    return {"start": window.start.isoformat(), "demand": window.demand}


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(value)
    return float(value)


def _sample(data: Mapping[str, Any]) -> Sample:
    energy = _number(data["energy"])
    if energy is None:
        raise TypeError("energy")
    return Sample(time=_aware(data["time"]), energy=energy, power=_number(data.get("power")))


def _window(data: Mapping[str, Any]) -> Window:
    demand = _number(data["demand"])
    if demand is None:
        raise TypeError("demand")
    return Window(start=_aware(data["start"]), demand=demand)


def _aware(text: Any) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(text)
    return moment


def meter_time(local: datetime, zone: tzinfo, after: datetime | None) -> datetime:
    """The meter's local time (naive) in ``zone``, as an aware time in UTC.

    In the hour the clocks go back, a local time happens twice: the later reading is taken
    when the earlier one would put it before the previous sample ``after``.
    """
    first = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if after is not None and first < after:
        second = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
        if second >= after:
            return second
    return first


def sample_time(
    meter: datetime | None, now: datetime, zone: tzinfo, previous: datetime | None
) -> tuple[datetime, bool]:
    """When a report was measured, for the windows; and whether the meter's clock says so.

    The meter's clock decides (each report pairs its time with its register, so late delivery
    cannot move energy between windows) while it is within ``CLOCK_TOLERANCE`` of Home
    Assistant's ``now``; a meter kept in standard time or given a wrong ``time_offset`` is
    not trusted, and ``now`` is used.  ``meter`` is naive local time (the stream) or aware
    (a report); ``previous`` is the time of the previous report (the repeated hour).
    """
    if meter is None:
        return now, False
    aware = meter.astimezone(UTC) if meter.tzinfo else meter_time(meter, zone, previous)
    if abs(aware - now) > CLOCK_TOLERANCE:
        return now, False
    return aware, True


def peaks_text(days: Iterable[Window], zone: tzinfo) -> list[dict[str, Any]]:
    """The daily peaks of a monthly peak, for an attribute: local start and W (whole)."""
    return [
        {"start": day.start.astimezone(zone).isoformat(), "demand": round(day.demand)}
        for day in days
    ]
