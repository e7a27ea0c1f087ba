"""The meter link as a client watching it sees it: ``meter.status`` of /system and the live stream.

While the status is not OK the stream stays open and silent; once the settings are right again
data flows at once, not after some backoff.  The clock is frozen (pytest-freezer), as in the
integration tests: the emulator's meter only moves on when a test ticks the clock, so "no
event" and "an event at once" are statements about the emulator, not about a busy machine.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import timedelta
import time
from typing import Any

import aiohttp
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest

from tests.integration_common import async_pass_time
from whatwatt_emulator import Emulator, EmulatorConfig
from whatwatt_emulator.testing import sse_events

LIVE = "/api/v1/live"
SETTINGS = "/api/v1/meter/settings"
SYSTEM = "/api/v1/system"
WRONG_KEY = "FF" * 16


def _real_now() -> float:
    """A clock the freezer does not stop."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


async def _real_pause(seconds: float = 0.005) -> None:
    """Let the loop run for a while of real time (a frozen clock stops loop timers)."""
    await asyncio.get_running_loop().run_in_executor(None, time.sleep, seconds)


async def _until(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    """Let the loop run until ``condition()`` holds; the limit is generous (a busy machine)."""
    deadline = _real_now() + seconds
    while not condition():
        if _real_now() > deadline:
            raise AssertionError(f"condition not met within {seconds:g} s")
        await _real_pause()


@dataclass
class Listener:
    """A live client that keeps reading the stream in the background."""

    events: list[dict[str, Any]] = field(default_factory=list)
    ended: bool = False


@asynccontextmanager
async def _listening(emu: Emulator) -> AsyncIterator[Listener]:
    listener = Listener()

    async def read(resp: aiohttp.ClientResponse) -> None:
        with suppress(aiohttp.ClientError):
            async for name, data in sse_events(resp):
                if name == "live":
                    listener.events.append(data)
        listener.ended = True

    async with aiohttp.ClientSession() as session, session.get(emu.url + LIVE) as resp:
        task = asyncio.create_task(read(resp))
        try:
            yield listener
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task


async def _request(emu: Emulator, method: str, path: str, body: Any = None) -> Any:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, emu.url + path, json=body) as resp,
    ):
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def _status(emu: Emulator) -> str:
    """``meter.status`` of /api/v1/system (the round trip also lets the stream run)."""
    system = await _request(emu, "GET", SYSTEM)
    return str(system["meter"]["status"])


async def _tick(emu: Emulator, freezer: FrozenDateTimeFactory, seconds: float) -> str:
    """Move the frozen clock on, let what fell due run, and return the meter status then."""
    freezer.tick(timedelta(seconds=seconds))
    status = await _status(emu)
    await _real_pause(0.02)
    return status


BROKEN_LINKS = [
    ("dsmr", {"if_type": "mbus"}, "NOT CONNECTED"),
    ("dsmr", {"auto_baudrate": False, "baudrate": 9600}, "NO DATA"),
    ("dsmr", {"protocol": "kmp"}, "NOT RECOGNIZED"),
    ("dlms", {"encryption": True}, "KEY REQUIRED"),
    ("dlms", {"encryption": True, "encryption_key": WRONG_KEY}, "ENCRYPTION KEY"),
]
FIXES = {
    "NOT CONNECTED": {"if_type": "auto"},
    "NO DATA": {"auto_baudrate": True},
    "NOT RECOGNIZED": {"protocol": "auto"},
    "KEY REQUIRED": {"encryption": False},
    "ENCRYPTION KEY": {"encryption_key": "0123456789ABCDEF0123456789ABCDEF"},
}


@pytest.mark.parametrize(("meter", "broken", "status"), BROKEN_LINKS)
async def test_stream_is_silent_while_the_link_is_broken_and_resumes_at_once(
    emulator_factory: Any,
    freezer: FrozenDateTimeFactory,
    meter: str,
    broken: dict[str, Any],
    status: str,
) -> None:
    """A broken link: the stream stays open and sends nothing however long the meter reports
    would have come; the fix brings the next event at once, without the clock moving."""
    emu: Emulator = await emulator_factory(meter=meter, report_interval=1.0)
    async with _listening(emu) as live:
        await _until(lambda: len(live.events) == 1)  # the reading of the moment it opened
        await _request(emu, "PUT", SETTINGS, broken)
        for _ in range(10):  # ten report intervals: the stream wakes up each time
            assert await _tick(emu, freezer, 1.01) == status
        assert len(live.events) == 1
        assert not live.ended
        assert emu.stream is not None
        assert not emu.stream.gone
        assert await emu.push_report() is None  # no reading while the link is down

        await _request(emu, "PUT", SETTINGS, FIXES[status])
        await _until(lambda: len(live.events) == 2)
        assert await _status(emu) == "OK"
        assert emu.live_connections == 1  # the same stream, never reopened


async def test_a_forced_status_cleared_resumes_at_once(
    emulator_factory: Any, freezer: FrozenDateTimeFactory
) -> None:
    """set_meter_status(None) after a forced failure: the next event without the clock moving,
    even with a long report interval."""
    emu: Emulator = await emulator_factory(report_interval=60)
    async with _listening(emu) as live:
        await _until(lambda: len(live.events) == 1)
        emu.set_meter_status("NO DATA")
        assert await _tick(emu, freezer, 120) == "NO DATA"
        assert len(live.events) == 1
        emu.set_meter_status(None)
        await _until(lambda: len(live.events) == 2)


async def test_reports_come_back_at_the_report_interval_after_a_fix(
    emulator_factory: Any, freezer: FrozenDateTimeFactory
) -> None:
    """After the event that follows a fix, the meter reports at its interval again."""
    emu: Emulator = await emulator_factory(report_interval=5.0)
    async with _listening(emu) as live:
        await _until(lambda: len(live.events) == 1)
        await _request(emu, "PUT", SETTINGS, {"if_type": "mbus"})
        await _tick(emu, freezer, 12)
        await _request(emu, "PUT", SETTINGS, {"if_type": "auto"})
        await _until(lambda: len(live.events) == 2)
        await _tick(emu, freezer, 4.9)
        assert len(live.events) == 2
        await _tick(emu, freezer, 0.2)
        await _until(lambda: len(live.events) == 3)


# ----- RECOGNITION after a change of the meter link --------------------------------------------

KEY = "0123456789ABCDEF0123456789ABCDEF"
LINK_CHANGES = [
    ("dsmr", {"baudrate": 9600}, "OK"),  # auto_baudrate still finds the meter's rate
    ("dsmr", {"parity": "even"}, "OK"),  # auto_baudrate detects the serial parameters
    ("dsmr", {"stop_bits": "2"}, "OK"),
    ("dsmr", {"auto_baudrate": False, "parity": "even"}, "RECOGNITION"),  # no frame parses
    ("dsmr", {"auto_baudrate": False, "stop_bits": "2"}, "RECOGNITION"),
    ("dsmr", {"buffer_size": 32}, "OK"),
    ("dsmr", {"auto_baudrate": False}, "OK"),  # 115200 is the Ensor's rate
    ("dsmr", {"tx_invert": True}, "OK"),
    ("dsmr", {"rx_invert": True}, "NO DATA"),  # the line was not inverted
    ("dsmr", {"if_type": "p1"}, "OK"),
    ("dsmr", {"protocol": "dsmr"}, "OK"),
    ("dsmr", {"if_mode": "push"}, "OK"),
    ("dsmr", {"scalers_set": "custom"}, "OK"),
    ("dsmr", {"if_type": "mbus"}, "NOT CONNECTED"),
    ("dsmr", {"auto_baudrate": False, "baudrate": 9600}, "NO DATA"),
    ("dsmr", {"protocol": "kmp"}, "NOT RECOGNIZED"),
    ("dlms", {"scalers_set": "lge570"}, "OK"),
    ("dlms", {"encryption": True}, "KEY REQUIRED"),
    ("dlms", {"encryption": True, "encryption_key": KEY}, "OK"),
    ("dlms", {"encryption": True, "encryption_key": WRONG_KEY}, "ENCRYPTION KEY"),
    ("dlms", {"encryption_key": WRONG_KEY}, "OK"),  # stored; unused while encryption is off
    ("dlms", {"authentication_key": KEY}, "OK"),
]


@pytest.mark.parametrize(
    ("method", "meter", "change", "status"),
    [
        *(("PUT", *case) for case in LINK_CHANGES),
        # POST puts what it does not give back to the defaults: the same link change here
        ("POST", "dsmr", {"buffer_size": 32}, "OK"),
        ("POST", "dsmr", {"if_type": "mbus"}, "NOT CONNECTED"),
        ("POST", "dlms", {"encryption": True}, "KEY REQUIRED"),
    ],
)
async def test_a_link_change_passes_through_recognition(
    emulator_factory: Any,
    freezer: FrozenDateTimeFactory,
    meter: str,
    change: dict[str, Any],
    status: str,
    method: str,
) -> None:
    """A serial, interface, protocol, security or scalers_set change: RECOGNITION and no data
    for recognition_time seconds (the stream, awake every report interval, stays silent), then
    what the settings give, and data at once if that is OK."""
    emu: Emulator = await emulator_factory(
        meter=meter, licence="PLUS", report_interval=1.0, recognition_time=5.0
    )
    async with _listening(emu) as live:
        await _until(lambda: len(live.events) == 1)
        await _request(emu, method, SETTINGS, change)  # POST: the rest stays at the defaults
        assert await _status(emu) == "RECOGNITION"
        assert 4.9 < emu.recognition_left() <= 5.0
        assert emu.next_due() <= 1.0
        report = await _request(emu, "GET", "/api/v1/report")
        assert report["report"] == {"id": emu.last_report_id}  # no values
        assert report["meter"]["status"] == "RECOGNITION"
        for _ in range(4):
            assert await _tick(emu, freezer, 1.0) == "RECOGNITION"
        assert await _tick(emu, freezer, 0.9) == "RECOGNITION"
        assert await emu.push_report() is None
        assert len(live.events) == 1
        assert 0 < emu.next_due() <= 0.1  # the stream looks again when the phase ends

        assert await _tick(emu, freezer, 0.1) == status  # 5 s after the change
        assert emu.recognition_left() == 0
        if status == "OK":
            await _until(lambda: len(live.events) == 2)
        else:
            for _ in range(3):
                assert await _tick(emu, freezer, 1.01) == status
            assert len(live.events) == 1
        assert not live.ended
        assert emu.live_connections == 1


async def test_recognition_end_wakes_a_stream_waiting_on_a_long_report_interval(
    emulator_factory: Any, freezer: FrozenDateTimeFactory
) -> None:
    """With reports a minute apart, the event after a link change comes when the phase ends
    (the stream's wait is cut short to it), not at the next minute."""
    emu: Emulator = await emulator_factory(report_interval=60, recognition_time=3.0)
    async with _listening(emu) as live:
        await _until(lambda: len(live.events) == 1)
        await _request(emu, "PUT", SETTINGS, {"buffer_size": 32})
        assert 2.9 < emu.next_due() <= 3.0
        assert await _tick(emu, freezer, 2.5) == "RECOGNITION"
        assert len(live.events) == 1
        freezer.tick(timedelta(seconds=0.5))  # exactly the phase: nothing else happens
        await _until(lambda: len(live.events) == 2)
        assert emu.meter_status() == "OK"
        assert emu.next_due() == pytest.approx(60)  # back to the meter's own pace


async def test_recognition_ends_as_the_integration_tests_pass_time(
    hass: HomeAssistant, emulator_factory: Any, freezer: FrozenDateTimeFactory
) -> None:
    """Home Assistant's way of moving a frozen clock (``async_pass_time``: 1 s steps that also
    fire the loop timers due within half a second): RECOGNITION for 5 steps, then the event."""
    emu: Emulator = await emulator_factory(report_interval=1.0, recognition_time=5.0)
    async with _listening(emu) as live:
        await _until(lambda: len(live.events) == 1)
        await _request(emu, "PUT", SETTINGS, {"scalers_set": "lge570"})
        await async_pass_time(hass, freezer, 4)
        assert emu.meter_status() == "RECOGNITION"
        assert len(live.events) == 1
        await async_pass_time(hass, freezer, 1)
        await _until(lambda: len(live.events) == 2)
        assert emu.meter_status() == "OK"


async def test_another_link_change_starts_the_phase_over(
    emulator_factory: Any, freezer: FrozenDateTimeFactory
) -> None:
    """A second link change while the meter is being recognised: the phase runs from it."""
    emu: Emulator = await emulator_factory(report_interval=1.0, recognition_time=5.0)
    await _request(emu, "PUT", SETTINGS, {"parity": "even"})
    assert await _tick(emu, freezer, 3) == "RECOGNITION"
    await _request(emu, "PUT", SETTINGS, {"parity": "none"})
    assert await _tick(emu, freezer, 3) == "RECOGNITION"  # 6 s after the first change
    assert await _tick(emu, freezer, 2) == "OK"


@pytest.mark.parametrize(
    "change",
    [
        {"conv_factor": 2.5},
        {"time_offset": 3600},
        {"sync_time_offset_with_ntp": True},
        {"conv_factor": 1000, "time_offset": -60, "sync_time_offset_with_ntp": True},
        {},
        {"baudrate": 115200, "if_type": "auto", "scalers_set": "default"},  # as they are
    ],
)
async def test_time_scaling_and_unchanged_fields_keep_the_link(
    emulator_factory: Any, freezer: FrozenDateTimeFactory, change: dict[str, Any]
) -> None:
    """conv_factor, time_offset, sync_time_offset_with_ntp, or link fields written with the
    values they have: no recognition, the meter keeps reporting at its pace."""
    emu: Emulator = await emulator_factory(report_interval=1.0, recognition_time=5.0)
    async with _listening(emu) as live:
        await _until(lambda: len(live.events) == 1)
        await _request(emu, "PUT", SETTINGS, change)
        assert await _status(emu) == "OK"
        assert emu.recognition_left() == 0
        assert await _tick(emu, freezer, 1.01) == "OK"
        await _until(lambda: len(live.events) == 2)


async def test_posting_the_same_settings_or_custom_scalers_keeps_the_link(
    emulator_factory: Any,
) -> None:
    """A POST that leaves every link field as it is, or a new custom scaler list: no phase."""
    emu: Emulator = await emulator_factory(meter="dlms", recognition_time=60)
    current = await _request(emu, "GET", SETTINGS)
    await _request(emu, "POST", SETTINGS, {**current, "conv_factor": 2})
    await _request(emu, "POST", "/api/v1/meter/scalers/custom", [{"obis": "1.8.0", "scaler": 3}])
    assert emu.meter_status() == "OK"
    # keys: the same key again is no change; another one is (32 zeros clear it: a change too)
    emu.set_recognition_time(0)
    await _request(emu, "PUT", SETTINGS, {"encryption": True, "encryption_key": KEY})
    emu.set_recognition_time(60)
    await _request(emu, "PUT", SETTINGS, {"encryption_key": KEY.lower()})
    assert emu.meter_status() == "OK"
    await _request(emu, "PUT", SETTINGS, {"encryption_key": "0" * 32})
    assert emu.meter_status() == "RECOGNITION"


async def test_no_recognition_phase_by_default(emulator: Emulator) -> None:
    """The fixtures (and EmulatorConfig) default to 0: a link change acts at once."""
    assert emulator.config.recognition_time == 0
    await _request(emulator, "PUT", SETTINGS, {"if_type": "mbus"})
    assert await _status(emulator) == "NOT CONNECTED"
    await _request(emulator, "PUT", SETTINGS, {"if_type": "auto"})
    assert await _status(emulator) == "OK"
    assert emulator.recognition_left() == 0


async def test_forced_status_wins_over_recognition(emulator_factory: Any) -> None:
    """set_meter_status() overrides everything, a recognition phase too."""
    emu: Emulator = await emulator_factory(recognition_time=60)
    await _request(emu, "PUT", SETTINGS, {"parity": "odd"})
    emu.set_meter_status("NO DATA")
    assert await _status(emu) == "NO DATA"
    emu.set_meter_status(None)
    assert await _status(emu) == "RECOGNITION"


async def test_factory_reset_ends_a_recognition_phase(emulator_factory: Any) -> None:
    """/restore puts the factory settings back and reboots: the meter is there at once."""
    emu: Emulator = await emulator_factory(recognition_time=600, reboot_downtime=0.05)
    await _request(emu, "PUT", SETTINGS, {"parity": "odd"})
    assert emu.meter_status() == "RECOGNITION"
    boot_id = emu.boot_id
    async with (
        aiohttp.ClientSession() as session,
        session.post(emu.url + "/api/v1/restore") as resp,
    ):
        assert resp.status == 204
    await _until(lambda: emu.online and emu.boot_id != boot_id)
    assert emu.meter_settings["parity"] == "none"
    assert emu.meter_status() == "OK"


def test_recognition_time_is_checked() -> None:
    """A finite number of seconds, 0 or more; set_recognition_time() checks the same way."""
    assert EmulatorConfig().recognition_time == 0
    assert EmulatorConfig(recognition_time=3).recognition_time == 3.0
    for bad in (-1, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="recognition_time"):
            EmulatorConfig(recognition_time=bad)
    for wrong in ("5", True, None):
        with pytest.raises(TypeError, match="recognition_time"):
            EmulatorConfig(recognition_time=wrong)  # type: ignore[arg-type]
    emu = Emulator()
    emu.set_recognition_time(2.5)
    assert emu.config.recognition_time == 2.5
    with pytest.raises(ValueError, match="recognition_time"):
        emu.set_recognition_time(-0.5)


# ----- the meter's true configuration: scenarios, and a meter or adapter swapped ---------------

DETECT = {"if_type": "auto", "protocol": "auto", "auto_baudrate": True}
SCENARIO_FIXES = [
    ("dsmr5_wrong_settings", "NOT CONNECTED", [(DETECT, "OK")]),
    ("mbus_meter", "NOT CONNECTED", [
        (DETECT, "NO DATA"),  # found, but its baud rate is not detected: it speaks when asked
        ({"auto_baudrate": False, "baudrate": 2400}, "RECOGNITION"),  # 8N1 against its 8E1
        ({"parity": "even"}, "OK"),
    ]),
    ("dlms_key", "KEY REQUIRED", [({"encryption_key": KEY}, "OK")]),
    ("inverted_p1", "NO DATA", [({"rx_invert": True}, "OK")]),
]  # fmt: skip


@pytest.mark.parametrize(("scenario", "status", "fixes"), SCENARIO_FIXES)
async def test_each_scenario_starts_broken_and_talks_once_its_settings_fit(
    emulator_factory: Any, scenario: str, status: str, fixes: list[tuple[dict[str, Any], str]]
) -> None:
    """A scenario is a meter the gateway is set up wrong for: the status it starts with, and
    the fixes that make it talk, with the status after each (the M-Bus meter speaks only when
    asked: detection finds its interface and protocol, not its serial parameters)."""
    emu: Emulator = await emulator_factory(scenario=scenario, meter_key=KEY)
    assert await _status(emu) == status
    for fix, after in fixes:
        await _request(emu, "PUT", SETTINGS, fix)
        assert await _status(emu) == after, fix
    system = await _request(emu, "GET", SYSTEM)
    assert system["meter"]["enc_en"] is (scenario == "dlms_key")


async def test_a_swapped_adapter_or_meter_breaks_the_link_until_the_settings_follow(
    emulator_factory: Any, freezer: FrozenDateTimeFactory
) -> None:
    """``set_meter`` (admin ``/_emulator/meter``) changes what the meter is; the gateway's
    settings stay, so the status follows at once; nonsense is refused with 400.

    On a frozen clock the meter reports only when a change wakes the stream: the event after
    the fix is the one the fix brought (with real time, more came before a busy test saw 2).
    """
    emu: Emulator = await emulator_factory(
        admin=True, meter_key=KEY, meter="dlms", report_interval=1.0
    )
    assert await _status(emu) == "OK"
    async with aiohttp.ClientSession() as session, _listening(emu) as live:
        await _until(lambda: len(live.events) == 1)
        async with session.post(emu.url + "/_emulator/meter", json={"inverted": True}) as resp:
            assert resp.status == 200
            assert (await resp.json())["inverted"] is True
        assert await _status(emu) == "NO DATA"
        assert await emu.push_report() is None  # no data while the line is inverted
        await _request(emu, "PUT", SETTINGS, {"rx_invert": True})
        assert await _status(emu) == "OK"
        await _until(lambda: len(live.events) == 2)  # at once, not a report interval later
        emu.set_meter(encrypted=True)  # the utility turns encryption on
        assert await _status(emu) == "KEY REQUIRED"
        await _request(emu, "PUT", SETTINGS, {"encryption_key": KEY})
        assert await _status(emu) == "OK"
        for bad in ({"colour": "red"}, {"inverted": "yes"}, {"parity": "mark"}, [1]):
            async with session.post(emu.url + "/_emulator/meter", json=bad) as resp:
                assert resp.status == 400, bad
        async with session.get(emu.url + "/_emulator/state") as resp:
            state = await resp.json()
    assert state["meter"] == {
        "inverted": True,
        "encrypted": True,
        "parity": "none",
        "stop_bits": "1",
        "baudrate": 2400,
        "serial_detectable": True,
    }
