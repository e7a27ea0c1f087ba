"""Helpers shared by the integration-core tests (setup, entities, coordinators, diagnostics).

The integration runs inside a real Home Assistant (phcc ``hass``) against the emulator on
127.0.0.1: no mocked client.  Time-dependent behaviour is driven with ``freezer`` and
``async_fire_time_changed``; under a frozen clock the emulator sends a live event when the
stream opens and then only on ``emulator.push_report()``, so values are deterministic.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager, suppress
from typing import Any
from unittest.mock import patch

import aiohttp
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.whatwatt import availability, live
from custom_components.whatwatt.const import DOMAIN
from whatwatt_emulator import Emulator

GATEWAY_TITLE = "whatwatt Go 9F8124"


def make_entry(emulator: Emulator, password: str | None = None, **kwargs: Any) -> MockConfigEntry:
    """Return the config entry the config flow creates for the emulated gateway."""
    data: dict[str, Any] = {CONF_HOST: emulator.host, CONF_PORT: emulator.port}
    if password is not None:
        data[CONF_PASSWORD] = password
    return MockConfigEntry(
        domain=DOMAIN,
        title=GATEWAY_TITLE,
        unique_id=emulator.config.device_id,
        data=data,
        **kwargs,
    )


async def async_setup(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    """Add the entry and set it up; return it loaded."""
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    return entry


async def async_wait_for(
    hass: HomeAssistant, condition: Callable[[], bool], seconds: float = 5.0
) -> None:
    """Let the loop run (real I/O with the emulator) until ``condition()`` holds."""
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.01)
            await hass.async_block_till_done()


FAST_LIVE = {
    "STALE_MIN_SECONDS": 0.4,
    "RETRY_MIN_SECONDS": 0.01,
    "RETRY_MAX_SECONDS": 0.05,
    "TAKEOVER_RETRY_SECONDS": 0.3,
    "REPORT_POLL_MIN_SECONDS": 0.05,
}
"""Live-stream timings shrunk from minutes to fractions of a second (real time, real I/O)."""


@contextmanager
def fast_live() -> Iterator[None]:
    """Run the live coordinator with FAST_LIVE timings."""
    with ExitStack() as stack:
        for name, value in FAST_LIVE.items():
            stack.enter_context(fast(name, value))
        yield


def fast(name: str, value: float) -> ExitStack:
    """Patch a live-stream timing wherever the live modules read it."""
    stack = ExitStack()
    for module in (live, availability):
        if hasattr(module, name):
            stack.enter_context(patch.object(module, name, value))
    return stack


@asynccontextmanager
async def other_live_client(
    emulator: Emulator, password: str | None = None
) -> AsyncIterator[list[int]]:
    """Another app that keeps (re)opening the device's single live stream.

    Yields a list that counts the streams it opened.
    """
    opened: list[int] = []

    async def run() -> None:
        middlewares = () if password is None else (aiohttp.DigestAuthMiddleware("", password),)
        async with aiohttp.ClientSession(middlewares=middlewares) as session:
            while True:
                with suppress(aiohttp.ClientError):
                    async with session.get(f"{emulator.url}/api/v1/live") as response:
                        opened.append(response.status)
                        async for _line in response.content:
                            pass
                await asyncio.sleep(0.02)

    task = asyncio.get_running_loop().create_task(run())
    try:
        yield opened
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
