"""Demand windows against the emulator: a known load, the meter's clock, a frozen clock.

The emulated meter draws what the test sets (``emulator.set_load``) and its import register
integrates it exactly at 1 Wh; it reports every 10 s.  Home Assistant runs in the meter's zone
(Europe/Zurich), as a user's would.  A complete window's demand must be within max(5 W, 0.5 %)
of the exact average of the load.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
import json
import logging
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN, Platform
from homeassistant.core import HomeAssistant, State
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.whatwatt.const import DOMAIN
from custom_components.whatwatt.demand import DemandConfig, DemandTracker, Sample, gap_limit
from whatwatt_emulator import Emulator
from whatwatt_emulator.pytest_plugin import EmulatorFactory

from .integration_common import async_pass_time
from .settings_common import loaded

ZURICH = ZoneInfo("Europe/Zurich")
CURRENT = "sensor.whatwatt_go_9f8124_meter_demand_current_window"
PROJECTED = "sensor.whatwatt_go_9f8124_meter_demand_projected"
LAST = "sensor.whatwatt_go_9f8124_meter_demand_last_window"
PEAK = "sensor.whatwatt_go_9f8124_meter_monthly_peak_demand"
PEAK_START = "sensor.whatwatt_go_9f8124_meter_monthly_peak_start"
BASIS = "sensor.whatwatt_go_9f8124_meter_capacity_basis_12_months"
STEP = 10.0
"""Seconds per step of the frozen clock: the meter's report interval."""
LOAD = {"steps": [[630, 2.4], [900, 0.9]]}
"""From 08:10:00: 2.4 kW until 08:20:30, then 0.9 kW (08:15-08:30 averages 1450 W)."""


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZURICH)


def close_enough(state: State | None, exact: float) -> bool:
    """Within max(5 W, 0.5 %) of the exact average."""
    assert state is not None
    return abs(float(state.state) - exact) <= max(5.0, 0.005 * exact)


@pytest.fixture(autouse=True)
async def meter_zone(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Home Assistant in the meter's zone; the clock frozen at 08:10 on 10 March 2026."""
    await hass.config.async_set_time_zone("Europe/Zurich")
    freezer.move_to(_at("2026-03-10T08:10:00"))


@pytest.fixture
async def emulator(emulator_factory: EmulatorFactory) -> Emulator:
    """A DSMR meter reporting every 10 s, drawing ``LOAD``."""
    emulator = await emulator_factory(report_interval=STEP, submeters="none")
    emulator.set_load(LOAD)
    return emulator


@pytest.fixture
async def entry(hass: HomeAssistant, emulator: Emulator) -> AsyncIterator[MockConfigEntry]:
    """The gateway set up with its sensors."""
    async with loaded(hass, emulator, [Platform.SENSOR]) as entry:
        yield entry


async def _until(hass: HomeAssistant, freezer: FrozenDateTimeFactory, moment: str) -> None:
    """Let the frozen clock run to ``moment`` (local), a report at a time."""
    left = (_at(moment) - datetime.now(ZURICH)).total_seconds()
    await async_pass_time(hass, freezer, left, step=STEP)


async def test_a_complete_window_is_the_average_of_the_load(
    hass: HomeAssistant, entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """08:15-08:30: the window under way and its projection follow the load; at 08:30 the
    window is complete at the exact average (1450 W), and it is the month's peak, started at
    08:15, and the 12-month basis (one month counted)."""
    await _until(hass, freezer, "2026-03-10T08:14:50")
    current = hass.states.get(CURRENT)
    assert current is not None
    assert current.attributes["partial"] is True  # set up at 08:10: only part of the window
    assert close_enough(current, 2400)
    await _until(hass, freezer, "2026-03-10T08:25:00")
    current, projected = hass.states.get(CURRENT), hass.states.get(PROJECTED)
    assert current is not None
    assert current.attributes["partial"] is False
    assert current.attributes["window_start"] == "2026-03-10T08:15:00+01:00"
    assert current.attributes["window_end"] == "2026-03-10T08:30:00+01:00"
    assert close_enough(current, (5.5 * 2400 + 4.5 * 900) / 10)
    assert close_enough(projected, 1450)  # 0.9 kW from now on: exactly what happens
    assert hass.states.get(PEAK).state == STATE_UNKNOWN  # type: ignore[union-attr]

    await _until(hass, freezer, "2026-03-10T08:30:10")
    assert close_enough(hass.states.get(LAST), 1450)
    assert hass.states.get(LAST).attributes["window_start"] == "2026-03-10T08:15:00+01:00"  # type: ignore[union-attr]
    assert close_enough(hass.states.get(PEAK), 1450)
    assert hass.states.get(PEAK_START).state == "2026-03-10T07:15:00+00:00"  # type: ignore[union-attr]
    basis = hass.states.get(BASIS)
    assert close_enough(basis, 1450)
    assert basis.attributes["months"] == 1  # type: ignore[union-attr]
    assert hass.states.get(CURRENT).attributes["window_start"] == "2026-03-10T08:30:00+01:00"  # type: ignore[union-attr]


async def test_a_restart_inside_the_window_changes_nothing(
    hass: HomeAssistant, entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """Home Assistant reloads the entry at 08:22 and is back 30 s later: the window is the same
    exact average, from the state kept in the entry's store."""
    await _until(hass, freezer, "2026-03-10T08:22:00")
    assert await hass.config_entries.async_unload(entry.entry_id)
    await async_pass_time(hass, freezer, 30, step=STEP)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await _until(hass, freezer, "2026-03-10T08:30:10")
    assert close_enough(hass.states.get(LAST), 1450)
    assert close_enough(hass.states.get(PEAK), 1450)


async def test_a_boundary_in_a_gap_gives_incomplete_windows_that_no_peak_uses(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    emulator: Emulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """No meter data from 08:29 to 08:31:20 (the meter link broke): the windows on both sides
    of 08:30 count for nothing; the window under way goes unavailable meanwhile; 08:45-09:00
    is complete again (0.9 kW)."""
    await _until(hass, freezer, "2026-03-10T08:29:00")
    emulator.set_meter_status("NO DATA")
    await _until(hass, freezer, "2026-03-10T08:31:20")
    assert hass.states.get(CURRENT).state == STATE_UNAVAILABLE  # type: ignore[union-attr]
    assert hass.states.get(PEAK).state == STATE_UNKNOWN  # type: ignore[union-attr]
    emulator.set_meter_status(None)
    await _until(hass, freezer, "2026-03-10T09:00:10")
    assert hass.states.get(CURRENT).state != STATE_UNAVAILABLE  # type: ignore[union-attr]
    assert close_enough(hass.states.get(LAST), 900)
    assert hass.states.get(LAST).attributes["window_start"] == "2026-03-10T08:45:00+01:00"  # type: ignore[union-attr]
    assert close_enough(hass.states.get(PEAK), 900)
    assert entry.runtime_data.demand.tracker.days_kept == 1


async def test_a_register_reset_discards_one_window(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    emulator: Emulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The meter is exchanged at 08:37 (its register starts at 0): 08:30-08:45 has no demand
    and no negative or huge value shows anywhere; 08:45-09:00 is right."""
    await _until(hass, freezer, "2026-03-10T08:37:00")
    for register in emulator.meter.registers:
        emulator.meter.registers[register] = 0.0
    seen: list[float] = []
    for _ in range(int(23.2 * 60 / STEP)):
        await async_pass_time(hass, freezer, STEP, step=STEP)
        for entity_id in (CURRENT, PROJECTED, LAST, PEAK):
            state = hass.states.get(entity_id)
            if state is not None and state.state not in (STATE_UNKNOWN, STATE_UNAVAILABLE):
                seen.append(float(state.state))
    assert all(0 <= value <= 2500 for value in seen)
    assert hass.states.get(LAST).attributes["window_start"] == "2026-03-10T08:45:00+01:00"  # type: ignore[union-attr]
    assert close_enough(hass.states.get(LAST), 900)
    assert close_enough(hass.states.get(PEAK), 1450)  # 08:15-08:30, before the exchange


async def test_the_window_under_way_is_written_at_most_every_ten_seconds(
    hass: HomeAssistant, emulator_factory: EmulatorFactory, freezer: FrozenDateTimeFactory
) -> None:
    """A meter reporting every 2 s: in 2 minutes the current and projected demand are written
    about 12 times each (not 60), the others not at all (their window did not change)."""
    emulator = await emulator_factory(report_interval=2.0, submeters="none")
    emulator.set_load({"power": 1.0})
    async with loaded(hass, emulator, [Platform.SENSOR]):
        await async_pass_time(hass, freezer, 30, step=2)
        writes: dict[str, int] = {}

        def count(event: Any) -> None:
            entity_id = event.data["entity_id"]
            writes[entity_id] = writes.get(entity_id, 0) + 1

        unsubscribe = hass.bus.async_listen("state_changed", count)
        await async_pass_time(hass, freezer, 120, step=2)
        unsubscribe()
    assert 10 <= writes.get(CURRENT, 0) <= 13
    assert 10 <= writes.get(PROJECTED, 0) <= 13
    assert writes.get(LAST, 0) == writes.get(PEAK, 0) == writes.get(BASIS, 0) == 0


async def test_a_meter_clock_an_hour_off_falls_back_to_home_assistants(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    emulator: Emulator,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The meter kept in standard time... and 2 h off: its windows would be wrong, so Home
    Assistant's clock decides; the log says so once, the diagnostics show both clocks, and
    the window is still the exact average."""
    emulator.clock.set(offset=-2 * 3600)
    async with loaded(hass, emulator, [Platform.SENSOR]) as entry:
        await _until(hass, freezer, "2026-03-10T08:30:10")
        assert close_enough(hass.states.get(LAST), 1450)
        warnings = [r for r in caplog.records if "more than an hour off" in r.getMessage()]
        assert len(warnings) == 1
        assert warnings[0].levelno == logging.WARNING
        clocks = (await get_diagnostics_for_config_entry(hass, hass_client, entry))["demand"][
            "clocks"
        ]
        assert clocks["meter_clock_used"] is False
        assert clocks["meter"] == "2026-03-10T06:30:10"
        assert clocks["home_assistant"] == "2026-03-10T07:30:10+00:00"


def _kept(days: dict[str, float]) -> dict[str, Any]:
    """A store holding a tracker that saw complete windows of ``days`` (local date: kW)."""
    tracker = DemandTracker(DemandConfig(), ZURICH)
    energy = 100.0
    for day, kw in days.items():
        begin = _at(f"{day}T12:00:00")
        for seconds in range(-60, 960, 60):
            moment = begin + timedelta(seconds=seconds)
            tracker.add(Sample(time=moment, energy=energy + kw * seconds / 3600), gap_limit(10))
        energy += 50
    return {"demand": {"15": tracker.as_dict()}}


async def test_the_twelve_month_basis_survives_a_restart(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    emulator: Emulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Peaks kept from earlier months (one 13 months back) and a 2.5 kW floor: the basis is
    the mean over the months with data in the last 12, each at least the floor; the monthly
    peak with two peaks averaged lists its days."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="whatwatt Go 9F8124",
        unique_id=emulator.config.device_id,
        data={"host": emulator.host, "port": emulator.port},
        options={"demand": {"window": 15, "peaks": 2, "floor": 2500.0}},
    )
    days = {"2025-02-10": 9.0, "2025-06-10": 1.0, "2025-11-10": 4.0, "2026-03-02": 3.0,
            "2026-03-05": 5.0}  # fmt: skip
    hass_storage[f"{DOMAIN}.{entry.entry_id}"] = {
        "version": 1,
        "minor_version": 1,
        "key": f"{DOMAIN}.{entry.entry_id}",
        "data": _kept(days),
    }
    async with loaded(hass, emulator, [Platform.SENSOR], entry=entry):
        await async_pass_time(hass, freezer, 20, step=STEP)
        peak = hass.states.get(PEAK)
        assert peak is not None
        assert float(peak.state) == pytest.approx(4000, abs=1)  # (5 + 3) / 2
        assert [day["demand"] for day in peak.attributes["peaks"]] == [5000, 3000]
        basis = hass.states.get(BASIS)
        assert basis is not None
        assert float(basis.state) == pytest.approx((2500 + 4000 + 4000) / 3, abs=1)
        assert basis.attributes["months"] == 3
        assert basis.attributes["floor"] == 2500
        assert await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()
        assert hass.states.get(BASIS).state == basis.state  # type: ignore[union-attr]
    kept = json.dumps(hass_storage[f"{DOMAIN}.{entry.entry_id}"]["data"])
    assert "2025-02-10" in kept  # the history stays in the store


async def test_the_month_rolls_over_on_the_local_calendar(
    hass: HomeAssistant, emulator_factory: EmulatorFactory, freezer: FrozenDateTimeFactory
) -> None:
    """31 March to 1 April, local: the month's peak starts over at local midnight (22:00 UTC);
    the window that ends at midnight counts for March, and both months for the basis."""
    freezer.move_to(_at("2026-03-31T23:20:00"))
    emulator = await emulator_factory(report_interval=STEP, submeters="none")
    emulator.set_load({"steps": [[40 * 60, 3.0], [3600, 1.0]]})  # 3 kW until 00:00, then 1 kW
    async with loaded(hass, emulator, [Platform.SENSOR]):
        await _until(hass, freezer, "2026-03-31T23:45:10")
        assert close_enough(hass.states.get(PEAK), 3000)  # 23:30-23:45
        await _until(hass, freezer, "2026-04-01T00:00:10")
        assert hass.states.get(LAST).attributes["window_start"] == "2026-03-31T23:45:00+02:00"  # type: ignore[union-attr]
        assert hass.states.get(PEAK).state == STATE_UNKNOWN  # type: ignore[union-attr]
        assert close_enough(hass.states.get(BASIS), 3000)
        await _until(hass, freezer, "2026-04-01T00:15:10")
        assert close_enough(hass.states.get(PEAK), 1000)
        assert hass.states.get(BASIS).attributes["months"] == 2  # type: ignore[union-attr]
        assert close_enough(hass.states.get(BASIS), 2000)


async def test_the_day_the_clocks_go_back(
    hass: HomeAssistant, emulator_factory: EmulatorFactory, freezer: FrozenDateTimeFactory
) -> None:
    """25 October 2026: the meter's clock shows 02:00-03:00 twice; both 02:15s are windows of
    their own (the later one in winter time), each the exact average of its load."""
    freezer.move_to(_at("2026-10-25T01:40:00"))
    emulator = await emulator_factory(report_interval=20.0, submeters="none")
    emulator.set_load({"steps": [[35 * 60, 1.2], [60 * 60, 2.0], [60 * 60, 0.6]]})
    starts: list[str] = []
    async with loaded(hass, emulator, [Platform.SENSOR]):
        for _ in range(int(2.6 * 3600 / 20)):
            await async_pass_time(hass, freezer, 20, step=20)
            state = hass.states.get(LAST)
            if state is not None and state.attributes.get("window_start") not in (None, *starts):
                starts.append(state.attributes["window_start"])
                if state.attributes["window_start"] == "2026-10-25T02:15:00+01:00":
                    assert close_enough(state, 600)
                if state.attributes["window_start"] == "2026-10-25T02:15:00+02:00":
                    assert close_enough(state, 2000)
    assert starts[:10] == [
        "2026-10-25T01:45:00+02:00", "2026-10-25T02:00:00+02:00", "2026-10-25T02:15:00+02:00",
        "2026-10-25T02:30:00+02:00", "2026-10-25T02:45:00+02:00", "2026-10-25T02:00:00+01:00",
        "2026-10-25T02:15:00+01:00", "2026-10-25T02:30:00+01:00", "2026-10-25T02:45:00+01:00",
        "2026-10-25T03:00:00+01:00",
    ]  # fmt: skip


async def test_the_sensors_come_with_the_first_import_register(
    hass: HomeAssistant, emulator: Emulator, freezer: FrozenDateTimeFactory
) -> None:
    """Set up while the meter sends nothing: no demand sensor yet; they appear with the
    first report, and a manual refresh serves what the data gave."""
    emulator.set_meter_status("NO DATA")
    async with loaded(hass, emulator, [Platform.SENSOR]) as entry:
        assert hass.states.get(CURRENT) is None
        emulator.set_meter_status(None)
        await async_pass_time(hass, freezer, 20, step=STEP)
        assert hass.states.get(CURRENT) is not None
        demand = entry.runtime_data.demand
        before = demand.data
        await demand.async_refresh()
        assert demand.data == before
