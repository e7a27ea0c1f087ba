"""The live SSE stream against the emulated device: events, drops, takeover, silence."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from typing import Any

import aiohttp
from aiohttp import web
import pytest

from custom_components.whatwatt.client import (
    LiveEvent,
    WhatwattAuthError,
    WhatwattClient,
    WhatwattConnectionError,
    WhatwattResponseError,
    WhatwattStreamStale,
    WhatwattStreamTakenOver,
    WhatwattTimeoutError,
)
from whatwatt_emulator import Emulator

from .client_common import client_for, until

PASSWORD = "live-pw"


async def take(client: WhatwattClient, count: int, **kwargs: Any) -> list[LiveEvent]:
    """Read ``count`` events, then close the stream."""
    events: list[LiveEvent] = []
    async with asyncio.timeout(30), aclosing(client.live(**kwargs)) as stream:
        async for event in stream:
            events.append(event)
            if len(events) == count:
                break
    return events


async def test_live_yields_typed_events(emulator: Emulator, session: aiohttp.ClientSession) -> None:
    """Each meter report arrives as a LiveEvent with measurements and uptime in hours."""
    events = await take(client_for(emulator, session), 3)
    assert len(events) == 3
    for event in events:
        assert event.measurements.power_in is not None
        assert event.measurements.voltage_l1 is not None
        assert event.measurements.energy_in is not None
        assert event.uptime_hours is not None
        assert event.uptime_hours < 1  # hours, not seconds: the emulator just started
        assert event.measurements.meter_time is not None
    assert emulator.live_connections == 1


async def test_live_event_matches_what_the_device_pushed(
    emulator_factory: Any, session: aiohttp.ClientSession
) -> None:
    """A report pushed by the device is the next event, value for value."""
    emu = await emulator_factory(report_interval=3600)
    client = client_for(emu, session)
    async with asyncio.timeout(30), aclosing(client.live()) as stream:
        await anext(stream)  # the reading taken when the stream opened
        sent = await emu.push_report()
        event = await anext(stream)
    assert sent is not None
    assert event.raw == sent
    assert event.measurements.power_in == sent.get("P_In")
    assert event.measurements.energy_in == sent.get("E_In")


async def test_drop_after_events_is_a_connection_error_and_reconnect_works(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    """The device cuts an established stream: connection error; a new live() resumes."""
    client = client_for(emulator, session)
    emulator.faults.drop_stream_after(events=2)
    async with asyncio.timeout(30), aclosing(client.live()) as stream:
        await anext(stream)
        await anext(stream)
        with pytest.raises(WhatwattConnectionError) as err:
            await anext(stream)
    assert not isinstance(err.value, WhatwattStreamTakenOver)
    assert len(await take(client, 2)) == 2
    assert emulator.live_connections == 2


async def test_second_client_takes_the_stream_over(
    emulator_factory: Any, session: aiohttp.ClientSession
) -> None:
    """Another client connects before our first event: we learn it is a takeover."""
    emu = await emulator_factory(report_interval=3600)
    emu.set_meter_status("NO DATA")  # no reading is sent on connect: the stream stays silent
    ours = client_for(emu, session)
    stream = ours.live()
    first = asyncio.ensure_future(anext(stream))
    await until(lambda: emu.live_connections == 1)
    other = client_for(emu, session).live()
    other_first = asyncio.ensure_future(anext(other))
    with pytest.raises(WhatwattStreamTakenOver, match="another client"):
        async with asyncio.timeout(30):
            await first
    assert emu.live_connections == 2
    other_first.cancel()
    await asyncio.gather(other_first, return_exceptions=True)
    await other.aclose()
    await stream.aclose()


async def test_silent_stream_is_stale(
    emulator_factory: Any, session: aiohttp.ClientSession
) -> None:
    """No event within stale_after: WhatwattStreamStale (a timeout) to reconnect on."""
    emu = await emulator_factory(report_interval=3600)
    emu.set_meter_status("NO DATA")
    with pytest.raises(WhatwattStreamStale) as err:
        await take(client_for(emu, session), 1, stale_after=0.2)
    assert isinstance(err.value, WhatwattTimeoutError)


@pytest.fixture
async def sse_device(socket_enabled: None) -> AsyncIterator[Callable[[bytes], Awaitable[int]]]:
    """A loopback server that streams the given bytes on /api/v1/live, then ends.

    It stands in for firmware behaviour the emulator does not produce (other event names,
    data lines without a JSON object).
    """
    runners: list[web.AppRunner] = []

    async def start(body: bytes) -> int:
        async def live(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            await response.write(body)
            return response

        app = web.Application()
        app.router.add_get("/api/v1/live", live)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        return int(runner.addresses[0][1])

    yield start
    for runner in runners:
        await runner.cleanup()


async def test_malformed_event_is_a_response_error(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    """Broken JSON in a live event is reported, never turned into zeros."""
    emulator.faults.malformed_event_next(1)
    with pytest.raises(WhatwattResponseError, match="malformed live event"):
        await take(client_for(emulator, session), 1)


async def test_other_event_types_are_skipped(
    sse_device: Callable[[bytes], Awaitable[int]], session: aiohttp.ClientSession
) -> None:
    """Only ``live`` events are measurements; other event names (newer firmware) are ignored."""
    port = await sse_device(
        b'event: status\ndata: {"x": 1}\n\ndata: plain\n\nevent: live\ndata: {"P_In": 1.5}\n\n'
    )
    events = await take(WhatwattClient("127.0.0.1", session, port=port), 1)
    assert [e.measurements.power_in for e in events] == [1.5]


async def test_live_refused_with_503_is_a_response_error(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    """The device answers the stream request with an error status."""
    emulator.faults.fail_next(status=503)
    with pytest.raises(WhatwattResponseError) as err:
        await take(client_for(emulator, session), 1)
    assert err.value.status == 503
    assert emulator.live_connections == 0


async def test_live_with_digest_costs_one_round_trip_after_challenge(
    emulator_factory: Any, session: aiohttp.ClientSession
) -> None:
    """The stream authenticates like any call: preemptive Digest once challenged."""
    emu = await emulator_factory(password=PASSWORD)
    client = client_for(emu, session, password=PASSWORD)
    await client.system()
    emu.log.clear()
    assert len(await take(client, 1)) == 1
    await until(lambda: bool(emu.log))  # the device logs the stream when it ends
    assert [(r.auth, r.path, r.status) for r in emu.log] == [("digest", "/api/v1/live", 200)]


async def test_live_with_wrong_password_is_an_auth_error(
    emulator_factory: Any, session: aiohttp.ClientSession
) -> None:
    """401 on connect raises the auth error, no stream is left open."""
    emu = await emulator_factory(password=PASSWORD)
    with pytest.raises(WhatwattAuthError):
        await take(client_for(emu, session, password="nope"), 1)
    assert emu.live_connections == 0


async def test_live_connect_timeout(emulator: Emulator, session: aiohttp.ClientSession) -> None:
    """A device that does not answer the stream request in time is a timeout."""
    emulator.faults.latency = 0.5
    with pytest.raises(WhatwattTimeoutError):
        await take(client_for(emulator, session, request_timeout=0.1), 1)


async def test_stream_does_not_block_other_calls(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    """While the stream is open, polling calls still go through (lock held only to connect)."""
    client = client_for(emulator, session)
    async with asyncio.timeout(30), aclosing(client.live()) as stream:
        await anext(stream)
        info = await client.system()
        settings = await client.meter_settings()
        await anext(stream)
    assert info.device.id == emulator.config.device_id
    assert settings.baudrate == 115200
