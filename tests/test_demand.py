"""Demand windows computed from the import register (``demand.py``, pure: no Home Assistant).

A simulated meter integrates a known load exactly and shows its register at 1 Wh, as a real
one does; the windows' demand is then compared with the exact average of the load.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
import json
import math
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, strategies as st
import pytest

from custom_components.whatwatt.demand import (
    DemandConfig,
    DemandTracker,
    Sample,
    Window,
    gap_limit,
    meter_time,
    peaks_text,
    sample_time,
)

ZURICH = ZoneInfo("Europe/Zurich")
START = datetime(2026, 3, 10, 8, 0, tzinfo=ZURICH)
GAP = gap_limit(1.0)


class Meter:
    """A meter whose register integrates ``load(t)`` (kW) exactly and shows whole Wh."""

    def __init__(
        self, load: Callable[[float], float], register: float = 1234.0, at: float = -60.0
    ) -> None:
        self.load = load
        self.exact = register  # kWh
        self.at = at  # seconds since START

    def advance(self, seconds: float, step: float = 0.25) -> None:
        """Integrate the load over ``seconds`` (fine steps: the load may change inside)."""
        end = self.at + seconds
        while self.at < end - 1e-9:
            dt = min(step, end - self.at)
            self.exact += self.load(self.at + dt / 2) * dt / 3600.0
            self.at += dt

    def sample(self) -> Sample:
        return Sample(
            time=START + timedelta(seconds=self.at),
            energy=math.floor(self.exact * 1000) / 1000,
            power=self.load(self.at),
        )


def feed(tracker: DemandTracker, meter: Meter, seconds: Iterable[float], gap: float = GAP) -> None:
    """Report at each of ``seconds`` (since START)."""
    for at in seconds:
        meter.advance(at - meter.at)
        tracker.add(meter.sample(), gap)


def exact_average(load: Callable[[float], float], start: float, end: float) -> float:
    """The load's exact average over [start, end) in W."""
    steps = round((end - start) * 20)
    total = sum(load(start + (k + 0.5) / 20) for k in range(steps)) / 20
    return total / (end - start) * 1000


def close_enough(got: float, exact: float) -> bool:
    """Within max(5 W, 0.5 %) of the exact average (the register's 1 Wh at both ends)."""
    return abs(got - exact) <= max(5.0, 0.005 * exact)


def test_a_window_is_the_exact_average_of_the_load() -> None:
    """2.4 kW for 6 minutes, then 0.6 kW: the quarter hour is 1.32 kW, reported every
    second, and the next window starts from the interpolated boundary."""
    load = lambda t: 2.4 if t < 360 else 0.6  # noqa: E731
    tracker = DemandTracker(DemandConfig(), ZURICH)
    feed(tracker, Meter(load), [k * 1.0 for k in range(-30, 25 * 60)])
    snapshot = tracker.snapshot()
    assert snapshot is not None
    assert snapshot.last_window is not None
    assert snapshot.last_window.start == START.astimezone(UTC)
    assert close_enough(snapshot.last_window.demand, 1320.0)
    assert snapshot.window_start == START + timedelta(minutes=15)
    assert not snapshot.partial
    assert snapshot.current is not None
    assert snapshot.current == pytest.approx(600.0, abs=7)  # 10 minutes in: 1 Wh is 6 W


@given(
    steps=st.lists(st.floats(min_value=0.0, max_value=12.0), min_size=1, max_size=6),
    interval=st.sampled_from([1.0, 2.5, 10.0]),
    offset=st.floats(min_value=0.0, max_value=0.99),
)
def test_any_load_gives_its_exact_average(
    steps: list[float], interval: float, offset: float
) -> None:
    """Whatever the load (steps of 0 to 12 kW, none in the report around a boundary) and the
    report interval, each complete quarter hour is within max(5 W, 0.5 %) of the exact
    average of the load."""
    changes = [k * 450 + 137 for k in range(1, len(steps))]

    def load(t: float) -> float:
        return steps[sum(t >= change for change in changes)]

    tracker = DemandTracker(DemandConfig(), ZURICH)
    meter = Meter(load)
    reports = [offset + k * interval for k in range(1, int(3 * 15 * 60 / interval) + 2)]
    windows: list[Window] = []
    for at in reports:
        meter.advance(at - meter.at)
        tracker.add(meter.sample(), gap_limit(interval))
        last = tracker.snapshot().last_window  # type: ignore[union-attr]
        if last is not None and (not windows or windows[-1] != last):
            windows.append(last)
    assert len(windows) == 2  # the first window has no start: only the next two complete
    for window in windows:
        begin = (window.start - START).total_seconds()
        assert close_enough(window.demand, exact_average(load, begin, begin + 900))


def test_a_report_right_on_the_boundary_shows_the_power_not_nothing() -> None:
    """Whole-second reports (DSMR 5) fall on every boundary: at the new window's first
    instant the current demand is the import power (what its average tends to), never
    unknown."""
    tracker = DemandTracker(DemandConfig(), ZURICH)
    meter = Meter(lambda _t: 2.4)
    feed(tracker, meter, range(-30, 1))  # 08:00:00 itself is the last report
    snapshot = tracker.snapshot()
    assert snapshot is not None
    assert snapshot.window_start == START
    assert snapshot.current == pytest.approx(2400)
    feed(tracker, meter, [1])
    snapshot = tracker.snapshot()
    assert snapshot is not None
    assert snapshot.current is not None


def test_a_gap_inside_a_window_changes_nothing() -> None:
    """No report for 50 s (Home Assistant restarting) inside a window: the same demand."""
    load = lambda t: 3.0  # noqa: E731
    with_gap = DemandTracker(DemandConfig(), ZURICH)
    feed(with_gap, Meter(load), [t for t in range(1, 1900) if not 400 < t < 450])
    without = DemandTracker(DemandConfig(), ZURICH)
    feed(without, Meter(load), range(1, 1900))
    assert with_gap.snapshot().last_window == without.snapshot().last_window  # type: ignore[union-attr]
    assert close_enough(with_gap.snapshot().last_window.demand, 3000.0)  # type: ignore[union-attr]


def test_a_boundary_in_a_long_gap_makes_both_windows_incomplete() -> None:
    """No report from 14:30 to 15:50 into the window (80 s > 60 s): the window before the
    boundary and the one after it are incomplete; the one after those is complete again."""
    tracker = DemandTracker(DemandConfig(), ZURICH)
    meter = Meter(lambda t: 1.0)
    feed(tracker, meter, range(1, 900 - 30))  # the first window (partial anyway)
    feed(tracker, meter, range(900 + 870, 900 + 900 + 950))
    # The window 08:15 (start not placed) is incomplete; 08:30 is complete.
    last = tracker.snapshot().last_window  # type: ignore[union-attr]
    assert last is not None
    assert last.start == START + timedelta(minutes=30)
    assert close_enough(last.demand, 1000)
    assert len(tracker.as_dict()["days"]) == 1  # nothing else counted


def test_before_the_first_boundary_the_demand_is_partial() -> None:
    """Set up at 08:07: until 08:15 the current demand is the average of what was seen,
    marked partial, and the projection assumes the present power holds."""
    meter = Meter(lambda t: 2.0)
    tracker = DemandTracker(DemandConfig(), ZURICH)
    feed(tracker, meter, range(7 * 60, 10 * 60))
    snapshot = tracker.snapshot()
    assert snapshot is not None
    assert snapshot.partial
    assert snapshot.current == pytest.approx(2000, abs=25)  # 1 Wh in 3 minutes is 20 W
    assert snapshot.projected == pytest.approx(2000, abs=25)
    assert snapshot.last_window is None
    assert snapshot.month is None


def test_the_projection_adds_the_present_power_for_the_time_left() -> None:
    """5 minutes at 3 kW, then 1 kW: at 10 minutes the window has 0.333 kWh; 5 minutes left
    at 1 kW make (0.333 + 0.083) kWh / 0.25 h = 1.667 kW."""
    meter = Meter(lambda t: 3.0 if (t % 900) < 300 else 1.0)
    tracker = DemandTracker(DemandConfig(), ZURICH)
    feed(tracker, meter, range(1, 900 + 600 + 1))
    snapshot = tracker.snapshot()
    assert snapshot is not None
    assert snapshot.current == pytest.approx(2000, abs=8)
    assert snapshot.projected == pytest.approx(1666.7, abs=8)


def test_a_register_that_goes_back_discards_its_window() -> None:
    """The meter is exchanged mid-window (register from 1234 kWh to 0.5 kWh): that window
    has no demand, the next one is right; no negative or huge value anywhere."""
    meter = Meter(lambda t: 1.5)
    tracker = DemandTracker(DemandConfig(), ZURICH)
    feed(tracker, meter, range(1, 900 + 400))
    meter.exact = 0.5
    feed(tracker, meter, range(900 + 401, 2700 + 5))
    days = tracker.as_dict()["days"]
    windows = [tracker.snapshot().last_window]  # type: ignore[union-attr]
    assert windows[0] is not None
    assert windows[0].start == START + timedelta(minutes=30)
    assert close_enough(windows[0].demand, 1500)
    assert all(0 < peak["demand"] < 1600 for peak in days.values())


@pytest.mark.parametrize("back_at", [895, 899], ids=["same-window", "return-in-the-next"])
def test_a_glitch_down_and_back_discards_the_windows_it_touches(back_at: int) -> None:
    """One report with the register at 0, then normal again: no window uses the step."""
    meter = Meter(lambda t: 1.0)
    tracker = DemandTracker(DemandConfig(), ZURICH)
    feed(tracker, meter, range(1, 900 + 890))
    tracker.add(Sample(time=START + timedelta(seconds=900 + 891), energy=0.0, power=1.0), GAP)
    feed(tracker, meter, range(900 + back_at + 2, 4600))
    assert all(peak["demand"] < 1010 for peak in tracker.as_dict()["days"].values())
    assert close_enough(tracker.snapshot().last_window.demand, 1000)  # type: ignore[union-attr]


def test_a_jump_no_load_can_make_counts_for_no_window() -> None:
    """Another meter with a higher register (1234 kWh to 9000 kWh in a second): no demand."""
    meter = Meter(lambda t: 1.0)
    tracker = DemandTracker(DemandConfig(), ZURICH)
    feed(tracker, meter, range(1, 900 + 400))
    meter.exact += 7766
    feed(tracker, meter, range(900 + 401, 2700 + 5))
    assert all(peak["demand"] < 1010 for peak in tracker.as_dict()["days"].values())


def _window_at(tracker: DemandTracker, begin: datetime, kw: float, energy: float = 500.0) -> None:
    """A complete window starting at ``begin`` at ``kw`` (reports every 60 s around it)."""
    for at in range(-60, 960, 60):
        tracker.add(
            Sample(time=begin + timedelta(seconds=at), energy=energy + kw * at / 3600, power=kw),
            GAP,
        )


def test_peaks_averaged_take_one_peak_per_day() -> None:
    """Three daily peaks averaged: two high windows on one day count once."""
    tracker = DemandTracker(DemandConfig(peaks=3), ZURICH)
    day = datetime(2026, 3, 2, tzinfo=ZURICH)
    loads = {(0, 10): 6.0, (0, 12): 5.0, (1, 9): 4.0, (2, 18): 2.0, (3, 7): 1.0}
    for index, ((offset, hour), kw) in enumerate(loads.items()):
        _window_at(tracker, day + timedelta(days=offset, hours=hour), kw, energy=100.0 * index)
    month = tracker.monthly_peak((2026, 3))
    assert month is not None
    assert [round(peak.demand) for peak in month.days] == [6000, 4000, 2000]
    assert month.demand == pytest.approx(4000, abs=1)
    assert month.start == day + timedelta(hours=10)
    assert peaks_text(month.days, ZURICH)[0] == {
        "start": "2026-03-02T10:00:00+01:00",
        "demand": 6000,
    }


def test_the_month_rolls_over_on_the_local_calendar() -> None:
    """A window from 23:45 to 00:00 local on 31 March belongs to March, the next to April,
    though both are on 31 March in UTC."""
    tracker = DemandTracker(DemandConfig(), ZURICH)
    _window_at(tracker, datetime(2026, 3, 31, 23, 45, tzinfo=ZURICH), 3.0)
    _window_at(tracker, datetime(2026, 4, 1, 0, 0, tzinfo=ZURICH), 2.0, energy=600.0)
    march, april = tracker.monthly_peak((2026, 3)), tracker.monthly_peak((2026, 4))
    assert march is not None
    assert april is not None
    assert round(march.demand) == 3000
    assert round(april.demand) == 2000
    assert tracker.snapshot().month == april  # type: ignore[union-attr]


def test_the_day_the_clocks_go_back_has_one_hundred_quarter_hours() -> None:
    """25 October 2026 (Zurich): 02:00-03:00 happens twice; every quarter hour of the day,
    both 02:15s included, is one window of that day, aligned on the local clock."""
    tracker = DemandTracker(DemandConfig(), ZURICH)
    midnight = datetime(2026, 10, 25, tzinfo=ZURICH).astimezone(UTC)
    kw = 1.0
    for at in range(-60, 25 * 3600 + 60, 30):
        moment = midnight + timedelta(seconds=at)
        tracker.add(Sample(time=moment, energy=10 + kw * at / 3600, power=kw), GAP)
    starts = {tracker.window_start(midnight + timedelta(minutes=15 * k)) for k in range(25 * 4)}
    assert len(starts) == 100
    assert [s.astimezone(ZURICH).strftime("%H:%M") for s in sorted(starts)][8:14] == [
        "02:00", "02:15", "02:30", "02:45", "02:00", "02:15",
    ]  # fmt: skip
    assert tracker.monthly_peak((2026, 10)) is not None
    assert list(tracker.as_dict()["days"]) == ["2026-10-25"]


def test_the_meter_clock_in_the_repeated_hour() -> None:
    """A local time that happens twice is taken as the later one when the earlier would go
    back before the previous report."""
    first = meter_time(datetime(2026, 10, 25, 2, 59, 59), ZURICH, None)
    assert first == datetime(2026, 10, 25, 0, 59, 59, tzinfo=UTC)  # summer time
    again = meter_time(datetime(2026, 10, 25, 2, 0, 1), ZURICH, first)
    assert again == datetime(2026, 10, 25, 1, 0, 1, tzinfo=UTC)  # winter time
    assert meter_time(datetime(2026, 10, 25, 2, 0, 1), ZURICH, None) < first


def test_the_twelve_month_basis_leaves_months_without_data_out_and_applies_the_floor() -> None:
    """Peaks of 1, 4 and 3 kW in three of the last twelve months with a 2.5 kW floor: the
    basis is (2.5 + 4 + 3) / 3; a peak 13 months back does not count."""
    tracker = DemandTracker(DemandConfig(floor=2500), ZURICH)
    months = (((2025, 2), 9.0), ((2025, 6), 1.0), ((2025, 11), 4.0), ((2026, 3), 3.0))
    for index, (month, kw) in enumerate(months):
        _window_at(tracker, datetime(*month, 10, 12, 0, tzinfo=ZURICH), kw, energy=100.0 * index)
    basis = tracker.basis((2026, 3))
    assert basis is not None
    assert basis.months == 3
    assert basis.demand == pytest.approx((2500 + 4000 + 3000) / 3, abs=1)


def test_the_state_survives_a_restart_mid_window() -> None:
    """The tracker kept as JSON and read back (Home Assistant restarted 30 s) gives the same
    window as one that never stopped; another window length starts afresh."""
    load = lambda t: 2.0 + (t > 1000)  # noqa: E731
    config = DemandConfig()
    restarted = DemandTracker(config, ZURICH)
    meter = Meter(load)
    feed(restarted, meter, range(1, 1200))
    kept = json.loads(json.dumps(restarted.as_dict()))
    restarted = DemandTracker.from_dict(config, ZURICH, kept)
    feed(restarted, meter, range(1230, 1900))
    never = DemandTracker(config, ZURICH)
    feed(never, Meter(load), range(1, 1900))
    assert restarted.snapshot() == never.snapshot()
    assert DemandTracker.from_dict(DemandConfig(window_minutes=60), ZURICH, kept).snapshot() is None
    assert DemandTracker.from_dict(config, ZURICH, {"window_minutes": 15}).snapshot() is None
    assert DemandTracker.from_dict(config, ZURICH, None).snapshot() is None


def test_a_clock_that_goes_back_starts_afresh_and_a_repeat_is_ignored() -> None:
    """The meter's clock set back by an hour: the window restarts partial; the same report
    twice changes nothing."""
    meter = Meter(lambda t: 1.0)
    tracker = DemandTracker(DemandConfig(), ZURICH)
    feed(tracker, meter, range(1, 1000))
    sample = meter.sample()
    tracker.add(sample, GAP)
    assert tracker.snapshot() == tracker.snapshot()
    tracker.add(Sample(time=sample.time - timedelta(hours=1), energy=sample.energy), GAP)
    snapshot = tracker.snapshot()
    assert snapshot is not None
    assert snapshot.partial
    assert snapshot.window_start == START - timedelta(minutes=45)


def test_an_hour_window_is_aligned_on_the_hour() -> None:
    """60-minute windows start on the local hour."""
    tracker = DemandTracker(DemandConfig(window_minutes=60), ZURICH)
    assert tracker.window_start(START + timedelta(minutes=47)) == START


def test_only_about_thirteen_months_of_daily_peaks_are_kept() -> None:
    """A daily peak older than 400 days is dropped when a new one comes."""
    tracker = DemandTracker(DemandConfig(), ZURICH)
    first = datetime(2025, 1, 1, 12, tzinfo=ZURICH)
    for day in range(401):
        begin = first + timedelta(days=day)
        for at in range(-60, 960, 60):
            tracker.add(Sample(time=begin + timedelta(seconds=at), energy=day + at / 3600), GAP)
    days = tracker.as_dict()["days"]
    assert len(days) == 400
    assert "2025-01-01" not in days
    assert "2026-02-05" in days


@pytest.mark.parametrize(
    "broken",
    [
        {"last": {"time": "2026-03-10T08:00:00", "energy": 1.0}},  # a naive time
        {"last": {"time": "2026-03-10T08:00:00+00:00", "energy": None}},
        {"last": {"time": "2026-03-10T08:00:00+00:00", "energy": "1"}},
        {"last": {"time": "2026-03-10T08:00:00+00:00", "energy": 1.0, "power": True}},
        {"last_window": {"start": "2026-03-10T08:00:00+00:00", "demand": None}},
        {"days": {"yesterday": {"start": "2026-03-10T08:00:00+00:00", "demand": 1.0}}},
        {"current": {"start": "x"}},
        {"high_water": "high"},
    ],
)
def test_a_broken_kept_state_gives_a_new_tracker(broken: dict[str, Any]) -> None:
    """Whatever is wrong in the store, the tracker starts afresh instead of failing."""
    meter = Meter(lambda t: 1.0)
    tracker = DemandTracker(DemandConfig(), ZURICH)
    feed(tracker, meter, range(1, 1900))
    kept = {**json.loads(json.dumps(tracker.as_dict())), **broken}
    restored = DemandTracker.from_dict(DemandConfig(), ZURICH, kept)
    assert restored.snapshot() is None
    assert restored.days_kept == 0


def test_a_discarded_window_shows_no_current_demand() -> None:
    """The register went back in the window under way: no current demand, no projection."""
    meter = Meter(lambda t: 1.0)
    tracker = DemandTracker(DemandConfig(), ZURICH)
    feed(tracker, meter, range(1, 1000))
    meter.exact -= 1
    feed(tracker, meter, range(1001, 1010))
    snapshot = tracker.snapshot()
    assert snapshot is not None
    assert snapshot.current is None
    assert snapshot.projected is None
    assert tracker.last_time == START + timedelta(seconds=1009)


def test_a_kept_window_without_its_last_report_starts_afresh() -> None:
    """A store with a window under way but no last report (or the other way round) keeps the
    peaks and starts the window afresh."""
    tracker = DemandTracker(DemandConfig(), ZURICH)
    feed(tracker, Meter(lambda t: 1.0), range(1, 1900))
    kept = json.loads(json.dumps(tracker.as_dict()))
    restored = DemandTracker.from_dict(DemandConfig(), ZURICH, {**kept, "current": None})
    assert restored.snapshot() is None
    assert restored.days_kept == 1


def test_a_report_without_a_time_is_placed_at_home_assistants() -> None:
    """No meter time at all (a report without date_time_utc): Home Assistant's clock."""
    now = datetime(2026, 3, 10, 7, 0, tzinfo=UTC)
    assert sample_time(None, now, ZURICH, None) == (now, False)
    utc = datetime(2026, 3, 10, 6, 59, 58, tzinfo=UTC)
    assert sample_time(utc, now, ZURICH, None) == (utc, True)
