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
import pytest

from whatwatt_emulator import Emulator
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
