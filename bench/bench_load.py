"""Device load: requests per endpoint over a simulated hour, round trips per authenticated call.

2. The integration against one device for an hour of simulated time (freezer +
   async_fire_time_changed drive the polls), side by side with a plain poller of
   ``/api/v1/report`` every 30 s, the vendor docs' example, on a second device.
3. HTTP round trips per API call with Digest auth after the first call, against aiohttp's
   DigestAuthMiddleware(preemptive=False) (curl --digest behaves the same: 2 per call).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
import time
from typing import Any

import aiohttp
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.aiohttp_client import async_create_clientsession
from homeassistant.helpers.event import async_track_time_interval
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.whatwatt.client import WhatwattClient
from whatwatt_emulator import Emulator

from .harness import add_entry
from .results import note, record

PASSWORD = "bench-pw"  # noqa: S105
HOUR = 3600
TICK = 10
BASELINE_INTERVAL = 30
CALLS = 100
LIVE = "/api/v1/live"


def _per_minute(count: int) -> float:
    return count / (HOUR / 60)


def _digest(password: str, *, preemptive: bool) -> aiohttp.DigestAuthMiddleware:
    return aiohttp.DigestAuthMiddleware("", password, preemptive=preemptive)


async def test_device_load_over_an_hour(
    hass: HomeAssistant, emulator_factory: Any, freezer: FrozenDateTimeFactory
) -> None:
    """2: requests per minute by endpoint in steady state, vs polling /report every 30 s."""
    device: Emulator = await emulator_factory(
        device_id="B0B0000000A1", password=PASSWORD, licence="PLUS", report_interval=1.0
    )
    other: Emulator = await emulator_factory(
        device_id="B0B0000000A2", password=PASSWORD, licence="PLUS", report_interval=1.0
    )
    entry = add_entry(hass, device.port, device.config.device_id, PASSWORD)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    session = async_create_clientsession(hass, middlewares=(_digest(PASSWORD, preemptive=False),))
    polls = 0

    async def poll() -> None:
        nonlocal polls
        async with session.get(f"{other.url}/api/v1/report") as response:
            await response.read()
            polls += response.status == 200

    @callback
    def start_poll(_now: Any) -> None:
        hass.async_create_task(poll())

    unsub = async_track_time_interval(hass, start_poll, timedelta(seconds=BASELINE_INTERVAL))
    device.log.clear()
    other.log.clear()
    streams0 = device.live_connections
    sent0 = device.stream.sent if device.stream else 0
    for _ in range(HOUR // TICK):
        freezer.tick(timedelta(seconds=TICK))
        async_fire_time_changed(hass)
        # The loop's clock is frozen too; the coordinators' polls run as background tasks:
        # let their I/O finish (real time, outside the loop's timers) before the next tick.
        for _ in range(4):
            await hass.async_block_till_done()
            await hass.async_add_executor_job(time.sleep, 0.003)
    unsub()
    failed = [r for r in (*device.log, *other.log) if r.status not in (200, 401)]
    assert not failed, f"requests failed during the simulated hour: {failed[:3]}"
    streams = device.live_connections - streams0

    sent = (device.stream.sent if device.stream else 0) - sent0
    ours = Counter(
        f"{r.method} {r.path}{' -> 401 (stale nonce)' if r.status == 401 else ''}"
        for r in device.log
        if r.path != LIVE
    )
    theirs = Counter(f"{r.method} {r.path}" for r in other.log)
    s = "2 device load"
    record(s, "simulated time", f"{HOUR // 60} min ({HOUR // TICK} ticks of {TICK} s)")
    for what, count in sorted(ours.items()):
        record(s, f"integration: {what}", f"{_per_minute(count):.2f}/min ({count}/h)")
    record(s, "integration: SSE connections opened in the hour", f"{streams}")
    record(s, "integration: live events received over the one stream", f"{sent}")
    total = sum(ours.values())
    base = sum(theirs.values())
    record(
        s,
        "non-stream HTTP requests per minute",
        f"{_per_minute(total):.2f}",
        baseline=f"{_per_minute(base):.2f} (report every 30 s)",
        ratio=f"{total / base:.2f}x" if base else "",
        target="<= 1",
        met=_per_minute(total) <= 1.0,
    )
    record(s, "baseline: report polls answered", f"{polls} ({_per_minute(polls):.1f}/min)")
    note(
        "2: the integration's live data comes over one SSE stream (an event per meter report, "
        "usually every 1-10 s); the baseline sees a value only every 30 s. The baseline's "
        "requests include its Digest challenges (preemptive=False: 2 HTTP requests per poll)."
    )
    await hass.config_entries.async_unload(entry.entry_id)


async def _calls(session: aiohttp.ClientSession, url: str, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        async with session.get(url) as response:
            await response.read()
            assert response.status == 200
    return (time.perf_counter() - start) / n


async def test_round_trips_per_call(emulator_factory: Any) -> None:
    """3: after the first call, 1 HTTP request per call (Digest reused), vs 2 without."""
    device: Emulator = await emulator_factory(password=PASSWORD, report_interval=1.0)
    async with aiohttp.ClientSession() as session:
        client = WhatwattClient(device.host, session, password=PASSWORD, port=device.port)
        await client.system()
        device.log.clear()
        start = time.perf_counter()
        for _ in range(CALLS):
            await client.system()
        ours_ms = (time.perf_counter() - start) / CALLS * 1000
        ours = len(device.log) / CALLS
    async with aiohttp.ClientSession(middlewares=(_digest(PASSWORD, preemptive=False),)) as plain:
        url = f"{device.url}/api/v1/system"
        await _calls(plain, url, 1)
        device.log.clear()
        base_ms = await _calls(plain, url, CALLS) * 1000
        base = len(device.log) / CALLS
    s = "3 round trips"
    record(
        s,
        f"HTTP requests per API call (Digest, {CALLS} calls after the first)",
        f"{ours:.2f}",
        baseline=f"{base:.2f} (preemptive=False)",
        ratio=f"{ours / base:.2f}x",
        target="1.0",
        met=ours == 1.0,
    )
    record(
        s,
        "time per GET /api/v1/system over loopback",
        f"{ours_ms:.2f} ms",
        baseline=f"{base_ms:.2f} ms",
        ratio=f"{ours_ms / base_ms:.2f}x",
    )
