"""/api/v1/live: SSE ``live`` events per meter report, one client at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime, timedelta
import json
import time
from typing import Any

import aiohttp
from freezegun.api import FrozenDateTimeFactory
import pytest

from whatwatt_emulator import Emulator
from whatwatt_emulator.testing import sse_events, take_events

LIVE = "/api/v1/live"
DSMR_KEYS = [
    "P_In", "P_P1_In", "P_P2_In", "P_P3_In", "P_Out", "P_P1_Out", "P_P2_Out", "P_P3_Out",
    "V_P1", "V_P2", "V_P3", "I_P1", "I_P2", "I_P3", "E_In", "E_In_T1", "E_In_T2", "E_Out",
    "E_Out_T1", "E_Out_T2", "T", "Vol", "Date", "Time", "Uptime",
]  # fmt: skip
DLMS_KEYS = [
    "P_In", "P_P1_In", "P_P2_In", "P_P3_In", "P_Out", "P_P1_Out", "P_P2_Out", "P_P3_Out",
    "rP_P1_In", "rP_P2_In", "rP_P3_In", "rP_P1_Out", "rP_P2_Out", "rP_P3_Out", "V_P1", "V_P2",
    "V_P3", "I_P1", "I_P2", "I_P3", "E_In", "E_Out", "rE_In", "rE_Out", "T", "Date", "Time",
    "Uptime",
]  # fmt: skip


async def test_stream_format_is_event_live_with_one_data_line(emulator: Emulator) -> None:
    """Raw wire format: ``event: live``, one ``data:`` line of JSON, a blank line; no retry."""
    async with aiohttp.ClientSession() as session, session.get(emulator.url + LIVE) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/event-stream"
        lines = [await resp.content.readline() for _ in range(6)]
    assert lines[0] == b"event: live\n"
    assert lines[1].startswith(b"data: {")
    assert lines[1].endswith(b"}\n")
    assert lines[2] == b"\n"
    assert lines[3] == b"event: live\n"
    assert not any(line.startswith((b":", b"retry:", b"id:")) for line in lines)
    json.loads(lines[1][6:])


@pytest.mark.parametrize(("meter", "keys"), [("dsmr", DSMR_KEYS), ("dlms", DLMS_KEYS)])
async def test_event_keys_are_those_the_meter_profile_has(
    emulator_factory: Any, meter: str, keys: list[str]
) -> None:
    """dsmr (Ensor P1) has tariff registers and no reactive; dlms (L+G) the other way round."""
    emu: Emulator = await emulator_factory(meter=meter)
    async with aiohttp.ClientSession() as session, session.get(emu.url + LIVE) as resp:
        (event,) = await take_events(resp, 1)
    assert list(event) == keys
    assert event["T"] in (1, 2)
    assert event["Uptime"] < 1  # hours
    if meter == "dsmr":
        (gas,) = event["Vol"]  # the gas meter on M-Bus channel 1, read every 5 minutes
        assert list(gas) == ["Bus", "M_ID", "DT", "Cum"]
        assert (gas["Bus"], gas["M_ID"]) == (1, "20000741")
        dt = datetime.fromisoformat(gas["DT"])  # naive local time of the capture ...
        assert (dt.tzinfo, dt.minute % 5, dt.second) == (None, 0, 0)  # ... on the 5 minutes
        assert gas["Cum"] >= 2417.385  # m³
        assert event["E_In"] == pytest.approx(event["E_In_T1"] + event["E_In_T2"], abs=0.002)


async def test_events_arrive_at_the_report_interval(emulator_factory: Any) -> None:
    """One event per meter report: 5 events at 0.05 s take about 0.2 s, report ids rise."""
    emu: Emulator = await emulator_factory(report_interval=0.05)
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as session, session.get(emu.url + LIVE) as resp:
        start = loop.time()
        events = await take_events(resp, 5)
        elapsed = loop.time() - start
    assert len(events) == 5
    assert 0.15 <= elapsed < 1.5
    assert emu.last_report_id >= 5


async def test_energy_never_decreases_over_events(emulator_factory: Any) -> None:
    """Energy registers integrate power: over a stream they only go up."""
    emu: Emulator = await emulator_factory(report_interval=0.01)
    # The world runs an hour per second, so kWh move visibly and every event is at a new
    # whole second (a meter stamps its registers with the second it captured them at).
    emu.clock.set(speed=3600.0, unlimited=True)
    async with aiohttp.ClientSession() as session, session.get(emu.url + LIVE) as resp:
        events = await take_events(resp, 30)
    for key in ("E_In", "E_In_T1", "E_In_T2", "E_Out"):
        values = [e[key] for e in events]
        assert values == sorted(values), key
    assert events[-1]["E_In"] > events[0]["E_In"]


async def test_a_new_client_ends_the_previous_stream(emulator: Emulator) -> None:
    """Single client: when a second client connects, the first stream ends at once."""
    async with aiohttp.ClientSession() as session:
        first = await session.get(emulator.url + LIVE)
        await take_events(first, 1)
        second = await session.get(emulator.url + LIVE)
        rest = [data async for _name, data in sse_events(first)]  # ends (EOF) right away
        assert len(rest) <= 1
        assert len(await take_events(second, 2)) == 2
        assert emulator.live_connections == 2
        first.release()
        second.release()


async def test_no_events_while_the_meter_needs_a_key(emulator_factory: Any) -> None:
    """DLMS with encryption on and no key: KEY REQUIRED, the stream stays silent."""
    emu: Emulator = await emulator_factory(meter="dlms")
    async with aiohttp.ClientSession() as session:
        async with session.put(emu.url + "/api/v1/meter/settings", json={"encryption": True}):
            pass
        async with session.get(emu.url + LIVE) as resp:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.3):
                    await resp.content.readline()
            assert emu.meter_status() == "KEY REQUIRED"
            async with session.put(
                emu.url + "/api/v1/meter/settings",
                json={"encryption_key": emu.config.meter_key},
            ):
                pass
            async with asyncio.timeout(30):
                assert len(await take_events(resp, 1)) == 1


async def test_push_report_sends_an_event_now(emulator_factory: Any) -> None:
    """push_report() produces a reading at once and the live client gets exactly it."""
    emu: Emulator = await emulator_factory(report_interval=60)
    async with aiohttp.ClientSession() as session, session.get(emu.url + LIVE) as resp:
        (first,) = await take_events(resp, 1)
        pushed = await emu.push_report()
        (second,) = await take_events(resp, 1)
    assert pushed == second
    assert first != second
    assert emu.last_report_id == 2


async def _real_pause(seconds: float) -> None:
    """Let real time pass with the loop running (a frozen clock stops loop timers)."""
    await asyncio.get_running_loop().run_in_executor(None, time.sleep, seconds)


async def _until(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    """Let the loop run until ``condition()``; the limit (real time) is generous."""
    deadline = time.clock_gettime(time.CLOCK_MONOTONIC) + seconds
    while not condition():
        assert time.clock_gettime(time.CLOCK_MONOTONIC) < deadline, "condition not met in time"
        await _real_pause(0.005)


async def test_on_a_frozen_clock_the_meter_reports_only_when_the_clock_moves(
    emulator_factory: Any, freezer: FrozenDateTimeFactory
) -> None:
    """Tests drive time with pytest-freezer: the stream sends the reading of the moment it
    opens, then nothing however much real time passes, one report when the clock moves past
    the next one (the ids in between skipped), and one on push_report()."""
    emu: Emulator = await emulator_factory(report_interval=0.05)
    events: list[Any] = []

    async def read(resp: aiohttp.ClientResponse) -> None:
        async for name, data in sse_events(resp):
            if name == "live":
                events.append(data)

    async with aiohttp.ClientSession() as session, session.get(emu.url + LIVE) as resp:
        reader = asyncio.create_task(read(resp))
        try:
            await _until(lambda: len(events) == 1)
            await _real_pause(0.5)  # ten report intervals of real time
            assert len(events) == 1
            assert emu.last_report_id == 1
            freezer.tick(timedelta(seconds=1))
            await _until(lambda: len(events) == 2)
            await _real_pause(0.5)
            assert len(events) == 2
            assert 20 <= emu.last_report_id <= 21  # a second of reports every 0.05 s
            pushed = await emu.push_report()
            await _until(lambda: len(events) == 3)
            assert events[2] == pushed
        finally:
            reader.cancel()
            with suppress(asyncio.CancelledError):
                await reader


async def test_push_report_without_meter_data_returns_none(emulator: Emulator) -> None:
    """Nothing is produced while the meter status is not OK."""
    emulator.set_meter_status("NO DATA")
    assert await emulator.push_report() is None
    with pytest.raises(ValueError, match="meter status"):
        emulator.set_meter_status("BROKEN")


async def test_stream_is_cut_mid_way_by_the_fault(emulator: Emulator) -> None:
    """drop_stream_after(2): two events, then the connection drops without a clean end."""
    emulator.faults.drop_stream_after(events=2)
    got: list[Any] = []

    async def read_all(resp: aiohttp.ClientResponse) -> None:
        async for _name, data in sse_events(resp):
            got.append(data)

    async with aiohttp.ClientSession() as session, session.get(emulator.url + LIVE) as resp:
        with pytest.raises(aiohttp.ClientPayloadError):
            await read_all(resp)
    assert len(got) == 2
    assert emulator.faults.drop_after_events is None


async def test_stream_can_be_cut_before_the_first_event(emulator: Emulator) -> None:
    """drop_stream_after(0): the stream opens and is cut at once."""
    emulator.faults.drop_stream_after(events=0)
    async with aiohttp.ClientSession() as session, session.get(emulator.url + LIVE) as resp:
        with pytest.raises(aiohttp.ClientPayloadError):
            await resp.content.read()
    with pytest.raises(ValueError, match="events"):
        emulator.faults.drop_stream_after(-1)


async def test_malformed_event_fault_breaks_one_event(emulator: Emulator) -> None:
    """malformed_event_next(): one ``data:`` line that is not valid JSON, then normal ones."""
    emulator.faults.malformed_event_next(1)
    async with aiohttp.ClientSession() as session, session.get(emulator.url + LIVE) as resp:
        lines = [await resp.content.readline() for _ in range(6)]
    data_lines = [line for line in lines if line.startswith(b"data: ")]
    with pytest.raises(json.JSONDecodeError):
        json.loads(data_lines[0][6:])
    json.loads(data_lines[1][6:])


async def test_stopping_the_emulator_ends_the_stream(emulator_factory: Any) -> None:
    """stop() ends an open stream and the server promptly."""
    emu: Emulator = await emulator_factory()
    async with aiohttp.ClientSession() as session, session.get(emu.url + LIVE) as resp:
        await take_events(resp, 1)
        async with asyncio.timeout(30):
            await emu.stop()
        with pytest.raises(aiohttp.ClientPayloadError):
            await resp.content.read()
    assert not emu.online


async def test_client_going_away_frees_the_stream(emulator: Emulator) -> None:
    """When the client disconnects the device notices and forgets the stream."""
    async with aiohttp.ClientSession() as session:
        resp = await session.get(emulator.url + LIVE)
        await take_events(resp, 1)
        resp.close()
    async with asyncio.timeout(30):
        while emulator.stream is not None:  # noqa: ASYNC110 - polling the device from outside
            await asyncio.sleep(0.02)
