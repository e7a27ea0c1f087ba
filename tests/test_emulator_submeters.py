"""Sub-meters (gas, water, heat) behind the meter: ``Vol[]`` of the live events, ``volume[]``
of the report.

Sub-meter readings move in steps: a capture every 5 minutes on DSMR, every 15 minutes (heat:
hourly) on M-Bus/DLMS, aligned to the clock; every report in between repeats the latest one.
The clock is frozen (pytest-freezer) wherever a test counts captures, so what it sees is the
emulator's schedule, not the speed of a busy machine.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from datetime import datetime, timedelta
import itertools
import math
import time
from typing import Any

import aiohttp
from freezegun.api import FrozenDateTimeFactory
import pytest

from whatwatt_emulator import Emulator, EmulatorConfig
from whatwatt_emulator.submeters import SubmeterSpec
from whatwatt_emulator.testing import sse_events

LIVE = "/api/v1/live"
WINTER = "2025-01-15T09:02:30+00:00"  # 10:02:30 in the device's zone (CET, UTC+1)
SUMMER = "2025-07-01T12:07:00+00:00"  # 14:07:00 in the device's zone (CEST, UTC+2)
GAS = {"Bus": 1, "M_ID": "20000741"}
WATER = {"Bus": 2, "M_ID": "31207754"}


def _real_now() -> float:
    """A clock the freezer does not stop."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


async def _until(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    """Let the loop run until ``condition()`` holds; the limit is generous (a busy machine)."""
    deadline = _real_now() + seconds
    while not condition():
        if _real_now() > deadline:
            raise AssertionError(f"condition not met within {seconds:g} s")
        await asyncio.get_running_loop().run_in_executor(None, time.sleep, 0.005)


def _tick(freezer: FrozenDateTimeFactory, seconds: float) -> None:
    freezer.tick(timedelta(seconds=seconds))


async def _vol(emu: Emulator) -> list[dict[str, Any]]:
    """``Vol`` of a meter report taken now (none: no key, as the device sends it)."""
    data = await emu.push_report()
    assert data is not None
    vol: list[dict[str, Any]] = data.get("Vol", [])
    return vol


def _three_decimals(value: float) -> bool:
    return round(value, 3) == value


# ----- profiles and configuration ------------------------------------------------------------


async def test_profiles_default_to_gas_on_dsmr_and_nothing_on_dlms(
    freezer: FrozenDateTimeFactory,
) -> None:
    """dsmr: the gas meter of the vendor example on bus 1, already read at the last 5 minutes
    (the meter has been running); dlms: no sub-meter, no ``Vol`` key."""
    freezer.move_to(WINTER)
    dsmr = Emulator(EmulatorConfig())
    assert await _vol(dsmr) == [{**GAS, "DT": "2025-01-15T10:00:00", "Cum": 2417.385}]
    dlms = Emulator(EmulatorConfig(meter="dlms"))
    data = await dlms.push_report()
    assert data is not None
    assert "Vol" not in data
    assert dlms.submeters() == []


@pytest.mark.parametrize("meter", ["dsmr", "dlms"])
async def test_presets_none_and_gas_plus_water(freezer: FrozenDateTimeFactory, meter: str) -> None:
    """``none`` takes the default gas meter away; ``gas+water`` puts gas on bus 1 and water on
    bus 2, on either meter (M-Bus/DLMS reads them every 15 minutes)."""
    freezer.move_to(WINTER)
    assert await _vol(Emulator(EmulatorConfig(meter=meter, submeters="none"))) == []
    emu = Emulator(EmulatorConfig(meter=meter, submeters="gas+water"))
    at = "2025-01-15T10:00:00"
    assert await _vol(emu) == [
        {**GAS, "DT": at, "Cum": 2417.385},
        {**WATER, "DT": at, "Cum": 683.041},
    ]
    interval = 300 if meter == "dsmr" else 900
    assert [(m["medium"], m["unit"], m["interval"]) for m in emu.submeters()] == [
        ("gas", "m³", interval),
        ("water", "m³", interval),
    ]


@pytest.mark.parametrize(
    ("meter", "intervals"), [("dsmr", [300, 300, 300]), ("dlms", [900, 900, 3600])]
)
def test_intervals_follow_the_profile_and_the_medium(meter: str, intervals: list[int]) -> None:
    """DSMR 5 captures every M-Bus channel every 5 minutes; M-Bus/DLMS gas and water every 15
    minutes and heat every hour; a spec can set its own."""
    emu = Emulator(EmulatorConfig(meter=meter, submeters="gas+water+heat"))
    assert [m["interval"] for m in emu.submeters()] == intervals
    assert [m["unit"] for m in emu.submeters()] == ["m³", "m³", "GJ"]
    own = Emulator(EmulatorConfig(meter=meter, submeters="1:gas::60"))
    assert [m["interval"] for m in own.submeters()] == [60]


def test_the_config_takes_presets_text_and_specs() -> None:
    """Every form becomes a tuple of SubmeterSpec ordered by bus (None: the profile's)."""
    assert EmulatorConfig().submeters is None
    assert EmulatorConfig(submeters="default").submeters is None
    assert EmulatorConfig(submeters=" NONE ").submeters == ()
    assert EmulatorConfig(submeters="gas").submeters == (SubmeterSpec(1, "20000741", "gas"),)
    assert EmulatorConfig(submeters="2:Water, 1:gas:G7:60").submeters == (
        SubmeterSpec(1, "G7", "gas", 60.0),
        SubmeterSpec(2, "31207754", "water"),
    )
    specs = [
        (3, "H1", "heat", None, 10.5),
        {"bus": 1, "meter_id": "G1", "medium": "gas", "interval": 30},
        SubmeterSpec(2, "W1", "water"),
    ]
    assert EmulatorConfig(submeters=specs).submeters == (
        SubmeterSpec(1, "G1", "gas", 30),
        SubmeterSpec(2, "W1", "water"),
        SubmeterSpec(3, "H1", "heat", None, 10.5),
    )
    cfg = EmulatorConfig(submeters="gas+water")
    assert EmulatorConfig(submeters=cfg.submeters) == cfg


@pytest.mark.parametrize(
    ("option", "error", "match"),
    [
        ("2:water,2:gas", ValueError, "same bus"),
        ("gas,water", ValueError, "BUS:MEDIUM"),
        ("1", ValueError, "BUS:MEDIUM"),
        ("1:gas:G1:60:9", ValueError, "BUS:MEDIUM"),
        ("one:gas", ValueError, "BUS:MEDIUM"),
        ("1:oil", ValueError, "medium"),
        ("1:gas:G1:soon", ValueError, "interval is seconds"),
        ("1:gas:G1:0", ValueError, "interval"),
        ("5:gas", ValueError, "bus is 1..4"),
        ("1:gas:G-1", ValueError, "M_ID"),
        ([(0, "G1", "gas")], ValueError, "bus is 1..4"),
        ([("1", "G1", "gas")], TypeError, "integer"),
        ([(True, "G1", "gas")], TypeError, "integer"),
        ([(1, "", "gas")], ValueError, "M_ID"),
        ([(1, 20000741, "gas")], ValueError, "M_ID"),
        ([(1, "X" * 35, "gas")], ValueError, "M_ID"),
        ([(1, "G1", "gas", math.inf)], ValueError, "interval"),
        ([(1, "G1", "gas", "60")], TypeError, "interval"),
        ([(1, "G1", "gas", None, -0.001)], ValueError, "cumulative"),
        ([(1, "G1", "gas", None, math.nan)], ValueError, "cumulative"),
        ([{"bus": 1, "meter_id": "G1"}], TypeError, "medium"),
    ],
)
def test_nonsense_is_refused(option: Any, error: type[Exception], match: str) -> None:
    """A bad text, spec or duplicate bus is refused with a message that says what."""
    with pytest.raises(error, match=match):
        EmulatorConfig(submeters=option)


# ----- readings move in steps ----------------------------------------------------------------


async def test_cum_and_dt_change_only_at_a_capture(freezer: FrozenDateTimeFactory) -> None:
    """Between two captures every report repeats the same ``Cum``/``DT``; at the 5 minutes a
    new capture comes, dated then, never lower, with 3 decimals."""
    freezer.move_to(WINTER)
    emu = Emulator(EmulatorConfig(report_interval=1))
    (first,) = await _vol(emu)
    assert first["DT"] == "2025-01-15T10:00:00"
    for _ in range(149):  # up to 10:04:59
        _tick(freezer, 1)
        assert await _vol(emu) == [first]
    _tick(freezer, 1)  # 10:05:00
    (second,) = await _vol(emu)
    assert second["DT"] == "2025-01-15T10:05:00"
    assert second["Cum"] >= first["Cum"]
    assert _three_decimals(second["Cum"])
    assert emu.submeters()[0]["next_reading_in"] == 300


async def test_an_hour_of_gas_goes_up_in_plausible_steps(freezer: FrozenDateTimeFactory) -> None:
    """Twelve captures in an hour: never down, some steps, at most 1.2 m³/h of a boiler."""
    freezer.move_to(WINTER)
    emu = Emulator(EmulatorConfig())
    cums = [(await _vol(emu))[0]["Cum"]]
    stamps = []
    for _ in range(12):
        _tick(freezer, 300)
        (gas,) = await _vol(emu)
        cums.append(gas["Cum"])
        stamps.append(gas["DT"][11:])
    assert stamps == [f"{10 + m // 60}:{m % 60:02d}:00" for m in range(5, 65, 5)]
    steps = [round(b - a, 3) for a, b in itertools.pairwise(cums)]
    assert all(step >= 0 for step in steps)
    assert any(step > 0 for step in steps)
    assert 0 < sum(steps) <= 1.2
    assert all(_three_decimals(cum) for cum in cums)


@pytest.mark.parametrize(
    ("meter", "medium", "low", "high"),
    [("dsmr", "gas", 2, 25), ("dlms", "gas", 2, 25), ("dlms", "water", 0.1, 1.5),
     ("dlms", "heat", 0.1, 1.0), ("dsmr", "heat", 0.1, 1.0)],
)  # fmt: skip
async def test_a_day_of_consumption_is_plausible(
    freezer: FrozenDateTimeFactory, meter: str, medium: str, low: float, high: float
) -> None:
    """A winter day: gas some m³, water about half a m³, heat under a GJ."""
    freezer.move_to(WINTER)
    emu = Emulator(EmulatorConfig(meter=meter, submeters=f"1:{medium}"))
    start = (await _vol(emu))[0]["Cum"]
    interval = emu.submeters()[0]["interval"]
    for _ in range(int(86400 // interval)):
        _tick(freezer, interval)
        await _vol(emu)
    assert low <= (await _vol(emu))[0]["Cum"] - start <= high


async def test_a_long_gap_gives_one_capture_at_the_last_time(
    freezer: FrozenDateTimeFactory,
) -> None:
    """Two days without a report: the next one carries the latest capture only, with what
    flowed meanwhile."""
    freezer.move_to(WINTER)
    emu = Emulator(EmulatorConfig())
    (before,) = await _vol(emu)
    _tick(freezer, 2 * 86400 + 100)  # 10:04:10 two days later
    (after,) = await _vol(emu)
    assert after["DT"] == "2025-01-17T10:00:00"
    assert 5 < after["Cum"] - before["Cum"] < 2 * 24 * 1.2
    assert _three_decimals(after["Cum"])


async def test_dt_is_the_devices_local_time_whatever_the_process_zone(
    freezer: FrozenDateTimeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DT is naive local time in the device's zone (CET/CEST, as Date/Time), also under
    another TZ (Home Assistant's tests run in US/Pacific)."""
    monkeypatch.setenv("TZ", "US/Pacific")
    time.tzset()
    try:
        freezer.move_to(SUMMER)
        data = await Emulator(EmulatorConfig()).push_report()
    finally:
        monkeypatch.undo()
        time.tzset()
    assert data is not None
    assert (data["Date"], data["Time"]) == ("2025-07-01", "14:07:00")
    assert data["Vol"][0]["DT"] == "2025-07-01T14:05:00"
    assert datetime.fromisoformat(data["Vol"][0]["DT"]).tzinfo is None


async def test_report_volume_is_the_same_capture(
    emulator_factory: Any, freezer: FrozenDateTimeFactory
) -> None:
    """/api/v1/report carries the captures of the latest meter report as ``volume[]``
    (bus, meter_id, date_time, cumulative), exactly what the live event had."""
    freezer.move_to(WINTER)
    emu: Emulator = await emulator_factory(licence="PLUS", submeters="gas+water")
    emu.advance_submeter(2, 0.01)
    pushed = await emu.push_report()
    assert pushed is not None
    async with (
        aiohttp.ClientSession() as session,
        session.get(emu.url + "/api/v1/report") as resp,
    ):
        report = (await resp.json())["report"]
    keys = {"Bus": "bus", "M_ID": "meter_id", "DT": "date_time", "Cum": "cumulative"}
    assert report["volume"] == [{keys[k]: v for k, v in e.items()} for e in pushed["Vol"]]
    assert list(report["volume"][0]) == ["bus", "meter_id", "date_time", "cumulative"]
    assert report["volume"][1]["cumulative"] == 683.051


# ----- at runtime: pair, remove, read -------------------------------------------------------


async def test_a_paired_submeter_sends_bus_and_id_until_its_first_capture(
    freezer: FrozenDateTimeFactory,
) -> None:
    """A sub-meter added at runtime is known at once (only Bus and M_ID, as the vendor's P1
    example shows it) and read at its next capture time."""
    freezer.move_to(WINTER)
    emu = Emulator(EmulatorConfig(meter="dlms"))
    state = emu.add_submeter(2, "31207754", "water", cumulative=12.5)
    assert state == {
        "bus": 2, "meter_id": "31207754", "medium": "water", "unit": "m³", "interval": 900,
        "date_time": None, "cumulative": None, "next_reading_in": 750, "flow": None,
        "silent": False,
    }  # fmt: skip
    assert await _vol(emu) == [WATER]
    _tick(freezer, 749)
    assert await _vol(emu) == [WATER]
    _tick(freezer, 1)  # 10:15:00
    (water,) = await _vol(emu)
    assert water["DT"] == "2025-01-15T10:15:00"
    assert 12.5 <= water["Cum"] < 13
    emu.add_submeter(1, "G1", "gas", interval=60)
    assert [m["bus"] for m in emu.submeters()] == [1, 2]
    assert await _vol(emu) == [{"Bus": 1, "M_ID": "G1"}, water]


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        ((1, "G2", "gas"), {}, ValueError),  # bus 1 has one
        ((0, "G2", "gas"), {}, ValueError),
        ((2, "G 2", "gas"), {}, ValueError),
        ((2, "G2", "oil"), {}, ValueError),
        ((2, "G2", "gas"), {"interval": 0}, ValueError),
        ((2, "G2", "gas"), {"cumulative": -1}, ValueError),
        (("2", "G2", "gas"), {}, TypeError),
    ],
)
def test_adding_nonsense_is_refused_and_changes_nothing(
    args: tuple[Any, ...], kwargs: dict[str, Any], error: type[Exception]
) -> None:
    """A bus in use or a bad spec raises; the sub-meters stay as they were."""
    emu = Emulator(EmulatorConfig())
    with pytest.raises(error):
        emu.add_submeter(*args, **kwargs)
    assert [(m["bus"], m["meter_id"]) for m in emu.submeters()] == [(1, "20000741")]


async def test_a_removed_bus_is_gone_from_the_next_report(freezer: FrozenDateTimeFactory) -> None:
    """Removing a bus drops its entry; with none left there is no ``Vol`` at all."""
    freezer.move_to(WINTER)
    emu = Emulator(EmulatorConfig(submeters="gas+water"))
    assert len(await _vol(emu)) == 2
    emu.remove_submeter(1)
    assert [e["Bus"] for e in await _vol(emu)] == [2]
    emu.remove_submeter(2)
    data = await emu.push_report()
    assert data is not None
    assert "Vol" not in data
    with pytest.raises(KeyError, match="bus 2"):
        emu.remove_submeter(2)


async def test_advance_takes_a_reading_now(freezer: FrozenDateTimeFactory) -> None:
    """advance_submeter(): the register goes up by the amount and is captured now; the
    scheduled captures go on at the 5 minutes."""
    freezer.move_to(WINTER)
    emu = Emulator(EmulatorConfig())
    assert emu.advance_submeter(1, 0.1234) == 2417.508  # 3 decimals, as the register counts
    assert await _vol(emu) == [{**GAS, "DT": "2025-01-15T10:02:30", "Cum": 2417.508}]
    _tick(freezer, 10)
    assert emu.advance_submeter(1) == 2417.508  # a reading, nothing flowed
    assert (await _vol(emu))[0]["DT"] == "2025-01-15T10:02:40"
    _tick(freezer, 140)
    (gas,) = await _vol(emu)
    assert gas["DT"] == "2025-01-15T10:05:00"
    assert gas["Cum"] >= 2417.508
    emu.add_submeter(2, "W1", "water")
    emu.advance_submeter(2, 1)
    assert (await _vol(emu))[1] == {"Bus": 2, "M_ID": "W1", "DT": "2025-01-15T10:05:00",
                                    "Cum": 684.041}  # fmt: skip
    for bad, error in ((-0.001, ValueError), (math.nan, ValueError), (True, TypeError),
                       ("1", TypeError)):  # fmt: skip
        with pytest.raises(error):
            emu.advance_submeter(1, bad)
    with pytest.raises(KeyError):
        emu.advance_submeter(3, 1)
    assert emu.submeters()[0]["cumulative"] == gas["Cum"]


async def test_submeters_belong_to_the_meter_not_the_gateway(emulator_factory: Any) -> None:
    """A reboot or a factory reset of the gateway leaves the sub-meters and their registers."""
    emu: Emulator = await emulator_factory(submeters="gas+water", reboot_downtime=0.05)
    emu.advance_submeter(1, 1.0)
    emu.remove_submeter(2)
    emu.add_submeter(3, "H1", "heat")

    def captures() -> list[tuple[Any, ...]]:
        return [(m["bus"], m["date_time"], m["cumulative"]) for m in emu.submeters()]

    before = captures()
    async with asyncio.timeout(30):
        await emu.reboot(wait=True)
    boot_id = emu.boot_id
    async with (
        aiohttp.ClientSession() as session,
        session.post(emu.url + "/api/v1/restore") as resp,
    ):
        assert resp.status == 204
    await _until(lambda: emu.online and emu.boot_id != boot_id)
    after = captures()
    assert [c[0] for c in after] == [1, 3]
    assert after[0][2] >= before[0][2]  # a capture may have come meanwhile, never lower


# ----- the live stream ---------------------------------------------------------------------


@asynccontextmanager
async def _listening(emu: Emulator) -> AsyncIterator[list[dict[str, Any]]]:
    """A live client reading the stream in the background; yields the events so far."""
    events: list[dict[str, Any]] = []

    async def read(resp: aiohttp.ClientResponse) -> None:
        with suppress(aiohttp.ClientError):
            async for _name, data in sse_events(resp):
                events.append(data)

    async with aiohttp.ClientSession() as session, session.get(emu.url + LIVE) as resp:
        task = asyncio.create_task(read(resp))
        try:
            yield events
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task


async def test_live_events_repeat_the_capture_and_drop_a_removed_bus(
    emulator_factory: Any, freezer: FrozenDateTimeFactory
) -> None:
    """Over the wire: each event (one a second) repeats the capture until the next one; the
    first event after a removal has no entry for that bus."""
    freezer.move_to(WINTER)
    emu: Emulator = await emulator_factory(report_interval=1, submeters="gas+water")
    async with _listening(emu) as events:
        await _until(lambda: len(events) == 1)
        first = events[0]["Vol"]
        for n in range(2, 5):
            _tick(freezer, 1.01)  # a loop timer due exactly "now" does not fire when frozen
            await _until(lambda n=n: len(events) == n)
        assert [e["Vol"] for e in events] == [first] * 4
        emu.remove_submeter(1)
        _tick(freezer, 1.01)
        await _until(lambda: len(events) == 5)
        assert events[4]["Vol"] == first[1:]
        _tick(freezer, 146)  # 10:05:00.04
        await _until(lambda: len(events) == 6)
        assert events[5]["Vol"][0]["DT"] == "2025-01-15T10:05:00"


# ----- admin endpoints ---------------------------------------------------------------------


async def test_admin_endpoints_pair_remove_and_read_submeters(
    emulator_factory: Any, freezer: FrozenDateTimeFactory
) -> None:
    """/_emulator/submeters lists, pairs (POST), removes (DELETE .../<bus>) and reads
    (POST .../<bus>/advance) sub-meters; /_emulator/state shows them too."""
    freezer.move_to(WINTER)
    emu: Emulator = await emulator_factory(admin=True, meter="dlms")
    admin = emu.url + "/_emulator/submeters"
    async with aiohttp.ClientSession() as session:
        async with session.get(admin) as resp:
            assert await resp.json() == []
        water = {"bus": 2, "meter_id": "31207754", "medium": "water", "cumulative": 1.5}
        async with session.post(admin, json=water) as resp:
            assert resp.status == 200
            state = await resp.json()
        assert state == {**emu.submeters()[0], "date_time": None, "cumulative": None}
        assert (state["bus"], state["interval"]) == (2, 900)
        async with session.post(admin, json={**water, "bus": 1, "medium": "gas", "interval": 60}):
            pass
        async with session.post(f"{admin}/2/advance", json={"amount": 0.25}) as resp:
            assert resp.status == 200
            state = await resp.json()
        assert (state["date_time"], state["cumulative"]) == ("2025-01-15T10:02:30", 1.75)
        async with session.post(f"{admin}/1/advance") as resp:  # no body: a reading, +0
            assert (await resp.json())["cumulative"] == 1.5
        async with session.get(emu.url + "/_emulator/state") as resp:
            assert [m["bus"] for m in (await resp.json())["submeters"]] == [1, 2]
        async with session.delete(f"{admin}/1") as resp:
            assert resp.status == 204
        async with session.get(admin) as resp:
            assert [m["bus"] for m in await resp.json()] == [2]
        for method, path in (("DELETE", "/1"), ("POST", "/3/advance")):
            async with session.request(method, admin + path, json={}) as resp:
                assert resp.status == 404, path
                assert (await resp.json())["error"] == "no_submeter"
        async with session.delete(f"{admin}/gas") as resp:
            assert resp.status == 404
    assert (await _vol(emu)) == [
        {**WATER, "DT": "2025-01-15T10:02:30", "Cum": 1.75},
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"bus": 2, "meter_id": "W1"},  # no medium
        {"bus": 2, "meter_id": "W1", "medium": "water", "colour": "blue"},
        {"bus": 1, "meter_id": "W1", "medium": "water"},  # bus 1 has the gas meter
        {"bus": 9, "meter_id": "W1", "medium": "water"},
        {"bus": "2", "meter_id": "W1", "medium": "water"},
        {"bus": 2, "meter_id": "W1", "medium": "water", "interval": -5},
        [2, "W1", "water"],
        b"{",
    ],
)
async def test_admin_refuses_a_bad_submeter(emulator_factory: Any, body: Any) -> None:
    """400 ``invalid_submeter`` for a missing or unknown field, a bus in use, a bad value or
    a body that is not a JSON object; nothing changes."""
    emu: Emulator = await emulator_factory(admin=True)
    kwargs = {"data": body} if isinstance(body, bytes) else {"json": body}
    async with (
        aiohttp.ClientSession() as session,
        session.post(emu.url + "/_emulator/submeters", **kwargs) as resp,
    ):
        assert resp.status == 400
        assert (await resp.json())["error"] == "invalid_submeter"
    assert [m["bus"] for m in emu.submeters()] == [1]


@pytest.mark.parametrize("body", [{"amount": -1}, {"amount": "1"}, {"amount": None}, [1], b"{"])
async def test_admin_refuses_a_bad_amount(
    emulator_factory: Any, freezer: FrozenDateTimeFactory, body: Any
) -> None:
    """400 ``invalid_amount``: the register stays as it was (the clock stands still)."""
    emu: Emulator = await emulator_factory(admin=True)
    before = emu.submeters()[0]["cumulative"]
    kwargs = {"data": body} if isinstance(body, bytes) else {"json": body}
    async with (
        aiohttp.ClientSession() as session,
        session.post(emu.url + "/_emulator/submeters/1/advance", **kwargs) as resp,
    ):
        assert resp.status == 400
        assert (await resp.json())["error"] == "invalid_amount"
    assert emu.submeters()[0]["cumulative"] == before


async def test_admin_sets_a_steady_or_silent_flow(emulator_factory: Any) -> None:
    """``/_emulator/submeters/<bus>/flow``: a steady flow per hour, or silent; 404 for an
    empty bus, 400 ``invalid_flow`` for a bad value or an unknown field."""
    emu: Emulator = await emulator_factory(admin=True)
    url = emu.url + "/_emulator/submeters/{}/flow"
    async with aiohttp.ClientSession() as session:
        async with session.post(url.format(1), json={"flow": 0.4}) as resp:
            assert resp.status == 200
            assert (await resp.json())["flow"] == 0.4
        async with session.post(url.format(1), json={"silent": True}) as resp:
            assert resp.status == 200
            assert (await resp.json())["silent"] is True
        async with session.post(url.format(7), json={"flow": 1}) as resp:
            assert resp.status == 404
            assert (await resp.json())["error"] == "no_submeter"
        for bad in ({"flow": -1}, {"silent": "yes"}, {"rate": 1}, [1]):
            async with session.post(url.format(1), json=bad) as resp:
                assert resp.status == 400, bad
                assert (await resp.json())["error"] == "invalid_flow"
