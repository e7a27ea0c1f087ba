"""The frozen clock of the integration tests (``integration_common.async_pass_time``).

A step of frozen time must behave as a second of real time does for the device and the
integration: whatever is under way finishes before the clock moves on, however long the machine
takes for it.  "Busy" work here is a task that needs many turns of the loop, as a request, its
answer and the handling of it do on a machine whose cores are taken by something else.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from datetime import datetime

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.event import async_call_later
import pytest

from whatwatt_emulator import Emulator

from .integration_common import async_pass_time, async_settle, async_setup, make_entry

TURNS = 5_000
"""Turns of the loop the busy work takes: far more than a few milliseconds' worth."""


async def _busy(hass: HomeAssistant, finished: list[float]) -> None:
    for _ in range(TURNS):
        await asyncio.sleep(0)
    finished.append(hass.loop.time())


def test_the_frozen_clock_starts_on_a_whole_second(freezer: FrozenDateTimeFactory) -> None:
    """Home Assistant times a poll from the whole second it ended in (plus 0.05 to 0.5 s):
    from a whole second, a poll due in N seconds falls due at exactly the N-th step."""
    assert freezer.time_to_freeze.microsecond == 0


async def test_work_under_way_finishes_before_the_clock_moves(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """A request the test saw the device log, whose answer is not handled yet, completes at
    the instant it was made, not a step later."""
    start = hass.loop.time()
    finished: list[float] = []
    task = hass.loop.create_task(_busy(hass, finished))  # untracked, as a poll is
    await async_pass_time(hass, freezer, 1)
    assert task.done()
    assert finished == [start]


async def test_what_a_step_starts_finishes_in_that_step(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """A timer due in 3 s starts busy work: it is done at the third step, before the fourth."""
    start = hass.loop.time()
    finished: list[float] = []
    tasks: list[asyncio.Task[None]] = []

    @callback
    def _start(_now: datetime) -> None:
        tasks.append(hass.loop.create_task(_busy(hass, finished)))

    async_call_later(hass, 3, _start)
    await async_pass_time(hass, freezer, 5)
    assert finished == [start + 3]


async def test_each_steps_live_event_is_handled_in_that_step(
    hass: HomeAssistant, emulator: Emulator, freezer: FrozenDateTimeFactory
) -> None:
    """The emulated meter reports at each step; the integration has each report when the step
    ends, not one step later."""
    entry = await async_setup(hass, make_entry(emulator))
    received: list[int] = []
    entry.async_on_unload(
        entry.runtime_data.live.async_add_listener(lambda: received.append(emulator.last_report_id))
    )
    for step in range(1, 6):
        await async_pass_time(hass, freezer, 1)
        assert emulator.stream is not None
        assert len(received) == step
        assert received[-1] == emulator.last_report_id


async def test_a_loop_that_never_goes_quiet_is_an_error(hass: HomeAssistant) -> None:
    """Something that keeps the loop busy for ever (a client polling in a tight loop) makes
    settling fail within its limit instead of hanging the test."""

    async def spin() -> None:
        for _ in range(10**9):  # turns of the loop for ever, as far as the test can tell
            await asyncio.sleep(0)

    task = hass.loop.create_task(spin())
    try:
        with pytest.raises(TimeoutError, match=r"did not settle within 0\.2 s"):
            await async_settle(hass, seconds=0.2)
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
