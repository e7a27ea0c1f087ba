"""The emulated meter's clock and load (``whatwatt_emulator/world.py``), and what they drive:
the times the gateway reports and the import register.  Time is frozen and moved by the test.
"""

from __future__ import annotations

from datetime import datetime
import json
from typing import Any

import aiohttp
from freezegun.api import FrozenDateTimeFactory
import pytest

from whatwatt_emulator.meter import LOCAL_TZ
from whatwatt_emulator.pytest_plugin import EmulatorFactory
from whatwatt_emulator.world import LoadProgram, MeterClock

START = datetime(2026, 3, 10, 8, 0, tzinfo=LOCAL_TZ)


@pytest.fixture
def frozen(freezer: FrozenDateTimeFactory) -> FrozenDateTimeFactory:
    """The clock frozen at 08:00 local on 10 March 2026."""
    freezer.move_to(START)
    return freezer


def test_the_world_runs_fast_until_it_is_far_enough_ahead(frozen: FrozenDateTimeFactory) -> None:
    """Speed 10 with 30 minutes ahead at most: after 1 real minute the world is 10 minutes
    on; after 10 real minutes it is 40 (30 ahead), then at real pace; no jump on a change."""
    clock = MeterClock()
    real = START.timestamp()
    assert clock.world() == real
    clock.set(speed=10, ahead=1800)
    frozen.tick(60)
    assert clock.world() == real + 600
    frozen.tick(540)
    assert clock.world() == real + 600 + 1800
    frozen.tick(60)
    assert clock.world() == real + 660 + 1800
    before = clock.world()
    clock.set(speed=1)
    assert clock.world() == before
    clock.set(speed=2, ahead=None, unlimited=True)
    frozen.tick(100)
    assert clock.world() == before + 200
    assert clock.state()["ahead_now"] == pytest.approx(before + 200 - real - 760)


def test_the_meter_clock_is_the_world_plus_its_offset() -> None:
    """A meter kept in standard time in summer is an hour behind."""
    clock = MeterClock()
    clock.set(offset=-3600)
    assert clock.meter(1000.0) == -2600.0


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"speed": 0.5}, ValueError),
        ({"speed": 1e9}, ValueError),
        ({"speed": "fast"}, TypeError),
        ({"ahead": -1}, ValueError),
        ({"offset": float("nan")}, TypeError),
    ],
)
def test_a_bad_clock_setting_is_refused(change: dict[str, Any], error: type[Exception]) -> None:
    """Nonsense leaves the clock as it was."""
    clock = MeterClock()
    with pytest.raises(error):
        clock.set(**change)
    assert (clock.speed, clock.offset, clock.ahead) == (1.0, 0.0, None)


def test_a_load_program_integrates_exactly() -> None:
    """2 kW for a minute, 0.5 kW for two, repeated: an hour is 20 cycles of 4 Wh... exactly."""
    load = LoadProgram.parse({"steps": [[60, 2.0], [120, 0.5]], "repeat": True}, start=1000.0)
    assert load.power(1000.0) == 2.0
    assert load.power(1059.9) == 2.0
    assert load.power(1060.0) == 0.5
    assert load.power(1180.0) == 2.0  # the next cycle
    assert load.power(900.0) == 2.0  # before the start: the first step
    cycle = (2.0 * 60 + 0.5 * 120) / 3600
    assert load.energy(1000.0, 1000.0 + 3600) == pytest.approx(20 * cycle)
    assert load.energy(1030.0, 1090.0) == pytest.approx((2.0 * 30 + 0.5 * 30) / 3600)
    held = LoadProgram.parse({"steps": [[60, 2.0], [60, 1.0]]}, start=0.0)
    assert held.power(5000.0) == 1.0
    assert held.energy(100.0, 3700.0) == pytest.approx(1.0)
    assert LoadProgram.parse({"power": 3.0}, start=0.0).energy(-600.0, 600.0) == pytest.approx(1.0)
    assert held.as_dict() == {"steps": [[60.0, 2.0], [60.0, 1.0]], "start": 0.0, "repeat": False}


@pytest.mark.parametrize(
    "load",
    [
        [],
        {},
        {"steps": []},
        {"steps": [[0, 1.0]]},
        {"steps": [[60, -1.0]]},
        {"steps": [[60, 101.0]]},
        {"steps": [[60]]},
        {"steps": [[60, "1"]]},
        {"steps": [[60, 1.0]], "repeat": "yes"},
        {"power": True},
    ],
)
def test_a_bad_load_is_refused(load: Any) -> None:
    """Nonsense is an error, not a load."""
    with pytest.raises((ValueError, TypeError)):
        LoadProgram.parse(load, start=0.0)


async def test_the_register_integrates_the_load_on_the_meter_clock(
    emulator_factory: EmulatorFactory, frozen: FrozenDateTimeFactory
) -> None:
    """A constant 1.8 kW: 15 minutes later the import register is 0.450 kWh on (whole Wh),
    and the event's Date/Time is the meter's clock."""
    emu = await emulator_factory(report_interval=60.0)
    emu.set_load({"power": 1.8})
    first = await emu.push_report()
    assert first is not None
    assert (first["Date"], first["Time"]) == ("2026-03-10", "08:00:00")
    frozen.tick(900)
    later = await emu.push_report()
    assert later is not None
    assert later["E_In"] - first["E_In"] == pytest.approx(0.45, abs=0.0011)
    assert later["P_In"] == pytest.approx(1.8)
    assert later["P_Out"] == 0
    assert later["Time"] == "08:15:00"
    assert round(later["E_In"] * 1000) == later["E_In"] * 1000  # whole Wh


async def test_the_register_is_captured_at_the_second_it_is_stamped_with(
    emulator_factory: EmulatorFactory, frozen: FrozenDateTimeFactory
) -> None:
    """Reports taken 0.95 s and 0.05 s into their seconds: each register is the one of its
    stamped second, so two stamps 15 minutes apart differ by exactly the load's 15 minutes
    (as on a meter), not by 0.9 s less."""
    emu = await emulator_factory(report_interval=60.0)
    emu.set_load({"power": 20.0})
    frozen.tick(0.95)
    first = await emu.push_report()
    frozen.tick(899.1)
    later = await emu.push_report()
    assert first is not None
    assert later is not None
    assert (first["Time"], later["Time"]) == ("08:00:00", "08:15:00")
    assert later["E_In"] - first["E_In"] == pytest.approx(5.0, abs=0.0011)  # 20 kW x 1/4 h


async def test_time_offset_corrects_the_meter_clock_as_the_gateway_does(
    emulator_factory: EmulatorFactory, frozen: FrozenDateTimeFactory
) -> None:
    """The meter's clock an hour behind: the gateway reports it so; time_offset +3600 puts it
    right; with NTP sync the gateway reports the right time whatever the offset."""
    emu = await emulator_factory()
    emu.clock.set(offset=-3600)
    assert (await emu.push_report())["Time"] == "07:00:00"  # type: ignore[index]
    emu.store_meter_settings({**emu.meter_settings, "time_offset": 3600})
    assert (await emu.push_report())["Time"] == "08:00:00"  # type: ignore[index]
    emu.store_meter_settings({**emu.meter_settings, "time_offset": 0})
    emu.store_meter_settings({**emu.meter_settings, "sync_time_offset_with_ntp": True})
    assert (await emu.push_report())["Time"] == "08:00:00"  # type: ignore[index]


async def test_a_gas_meter_reads_on_the_meter_clock(
    emulator_factory: EmulatorFactory, frozen: FrozenDateTimeFactory
) -> None:
    """The world 30 minutes ahead of real time (``scripts/develop``): the gas meter's
    captures follow the world's schedule and its DT is stamped by the meter's clock, as the
    meter's own Date/Time, so a flow rate computed on the meter's clock is right."""
    emu = await emulator_factory(report_interval=60.0, submeters="1:gas:20000741:300")
    emu.clock.set(speed=31, ahead=1800)
    frozen.tick(60)  # the world: 30 minutes on, at 08:31
    report = await emu.push_report()
    assert report is not None
    assert report["Time"] == "08:31:00"
    (gas,) = report["Vol"]
    assert gas["DT"] == "2026-03-10T08:30:00"  # the last 5-minute capture, on the meter clock
    emu.clock.set(offset=-3600)  # the meter's clock an hour behind: its stamps too
    frozen.tick(300)
    report = await emu.push_report()
    assert report is not None
    assert report["Time"] == "07:36:00"
    assert report["Vol"][0]["DT"] == "2026-03-10T07:35:00"


async def test_the_admin_endpoints_set_the_load_and_the_clock(
    emulator_factory: EmulatorFactory,
    frozen: FrozenDateTimeFactory,
    session: aiohttp.ClientSession,
) -> None:
    """``/_emulator/load`` and ``/_emulator/clock`` (the dev loop and the e2e journey use them);
    the state shows both; bad bodies are refused with the reason."""
    emu = await emulator_factory(admin=True, report_interval=60.0)
    url = f"{emu.url}/_emulator"

    async def post(path: str, data: Any) -> tuple[int, Any]:
        async with session.post(f"{url}/{path}", data=json.dumps(data)) as response:
            return response.status, await response.json()

    assert await post("load", {"steps": [[60, 2.0]], "repeat": True}) == (
        200,
        {"steps": [[60, 2.0]], "start": START.timestamp(), "repeat": True},
    )
    status, state = await post("clock", {"offset": -60, "speed": 5, "ahead": 600})
    assert status == 200
    assert (state["offset"], state["speed"], state["ahead"]) == (-60, 5, 600)
    assert (await post("load", {"power": 7}))[0] == 200
    assert (await post("load", {"power": None})) == (200, None)
    assert (await post("load", {"steps": "x"}))[0] == 400
    assert (await post("clock", {"spead": 5}))[1]["error"] == "invalid_clock"
    assert (await post("clock", {"speed": 0}))[0] == 400
    async with session.get(f"{emu.url}/api/v1/live") as live:
        await live.content.readline()  # the stream is open: a new clock wakes it
        assert (await post("clock", {"offset": 0}))[0] == 200
    status, state = await post("clock", {"ahead": None})
    assert state["ahead"] is None
    async with session.get(f"{url}/state") as response:
        full = await response.json()
    assert full["load"] is None
    assert full["clock"]["speed"] == 5
