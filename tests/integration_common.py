"""Helpers shared by the integration-core tests (setup, entities, coordinators, diagnostics).

The integration runs inside a real Home Assistant (phcc ``hass``) against the emulator on
127.0.0.1: no mocked client.  Time-dependent behaviour is driven with ``freezer`` and
``async_fire_time_changed`` (``async_pass_time``).  The emulator runs on the same loop and the
same frozen clock: its meter reports when the stream opens, when a test moves the clock on (at
most one report per step: its report timer fires), and on ``emulator.push_report()``.

``async_pass_time`` moves the clock only once the loop has nothing left to do at the current
instant (``async_settle``), before its first step and after each: every request started so far
is answered and handled, every live event sent is read.  Without that, a poll whose request the
emulator had logged (a test waited for it) but whose answer the integration had not handled yet
completed a step later, and the coordinator timed its next poll from there: on a busy machine
the poll due after ten minutes came a second late (``test_polls_keep_their_pace``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from datetime import timedelta
import time
from typing import Any, Final

import aiohttp
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

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


def _real_time() -> float:
    """Seconds on a clock the ``freezer`` does not stop (it freezes the loop's clock)."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


async def async_wait_for(
    hass: HomeAssistant, condition: Callable[[], bool], seconds: float = 30.0
) -> None:
    """Let the loop run (real I/O with the emulator) until ``condition()`` holds.

    Works with a frozen clock too: the pauses between two looks are real (a worker thread
    sleeps), not loop timers.  The limit is generous (a busy CI machine); a healthy run takes
    milliseconds.
    """
    deadline = _real_time() + seconds
    while True:
        await hass.async_block_till_done()
        if condition():
            return
        if _real_time() > deadline:
            raise TimeoutError(f"condition not met within {seconds:g} s")
        await hass.loop.run_in_executor(None, time.sleep, 0.005)


QUIET_SPINS: Final = 3
"""Loop iterations in a row with nothing to run before the loop counts as quiet."""


async def _async_quiet(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether the loop has had nothing to run for ``QUIET_SPINS`` iterations in a row.

    Each ``sleep(0)`` is one loop iteration: the selector is polled (a socket with data, a
    connect that completed, a worker thread's result) and what became ready is queued behind
    us.  Home Assistant's own helpers read the loop's queues the same way
    (``get_scheduled_timer_handles``).
    """
    for _ in range(QUIET_SPINS):
        await asyncio.sleep(0)
        if loop._ready:  # type: ignore[attr-defined]
            return False
    return True


async def async_settle(hass: HomeAssistant, *, block: bool = True, seconds: float = 30.0) -> None:
    """Run the loop until nothing is left to do at this (frozen) instant.

    Quiet means: the tasks Home Assistant tracks are done (``block``), and the loop has had no
    callback, no socket event and no thread result to handle, also after a real pause (the
    kernel's loopback, worker threads).  Then every request to the emulator started so far is
    answered and handled, and every live event it sent is read, whatever the machine's load.
    Timers do not count: on a frozen clock they wait for the test.  The limit is generous; a
    loop that never goes quiet (something polling in a busy loop) is an error.
    """
    deadline = _real_time() + seconds
    while True:
        if block:
            await hass.async_block_till_done()
        if await _async_quiet(hass.loop):
            await hass.loop.run_in_executor(None, time.sleep, 0.001)
            if await _async_quiet(hass.loop):
                return
        if _real_time() > deadline:
            raise TimeoutError(f"the loop did not settle within {seconds:g} s")


async def async_pass_time(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    seconds: float,
    step: float = 1.0,
    *,
    block: bool = True,
) -> None:
    """Move the frozen clock on by ``seconds`` and run what falls due on the way (backoff,
    staleness, polls, the emulated meter's reports), one ``step`` at a time as real time
    would.  What is under way is finished before the clock moves (``async_settle``): what the
    test started, and then each step's requests and live events, before the next step.

    ``block=False`` while a task Home Assistant tracks (an action call) itself waits for time
    to pass: ``async_block_till_done`` would wait for it forever.
    """
    await async_settle(hass, block=block)
    left = seconds
    while left > 0:
        tick = min(step, left)
        left -= tick
        freezer.tick(timedelta(seconds=tick))
        async_fire_time_changed(hass)
        await async_settle(hass, block=block)


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
        async with aiohttp.ClientSession(
            middlewares=middlewares, timeout=aiohttp.ClientTimeout(total=None)
        ) as session:
            while True:
                try:
                    async with session.get(f"{emulator.url}/api/v1/live") as response:
                        opened.append(response.status)
                        async for _line in response.content:
                            pass
                except aiohttp.ClientError:
                    # the device is away: a real pause (a frozen clock stops loop timers)
                    await asyncio.get_running_loop().run_in_executor(None, time.sleep, 0.02)
                else:
                    await asyncio.sleep(0)  # taken back from it: at once, as a real app would

    task = asyncio.get_running_loop().create_task(run())
    try:
        yield opened
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
