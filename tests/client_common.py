"""Helpers shared by the client tests (the `session` fixture is in conftest.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import time
from typing import Any

import aiohttp

from custom_components.whatwatt.client import WhatwattClient
from whatwatt_emulator import Emulator

SCALERS_CUSTOM = "/api/v1/meter/scalers/custom"


def scaler_posts(emu: Emulator) -> list[Any]:
    """The bodies of every POST of the custom scalers the device got."""
    return [request.body for request in emu.requests("POST", SCALERS_CUSTOM)]


def client_for(emu: Emulator, session: aiohttp.ClientSession, **kwargs: Any) -> WhatwattClient:
    """A client for the given emulator."""
    return WhatwattClient(emu.host, session, port=emu.port, **kwargs)


async def until(predicate: Callable[[], bool], seconds: float = 30.0) -> None:
    """Wait until the emulator's state says so (it exposes state, not events).

    The pauses and the generous limit are real time, so this works on a frozen clock too (the
    loop's own timers stand still there).
    """
    deadline = time.clock_gettime(time.CLOCK_MONOTONIC) + seconds
    while not predicate():
        if time.clock_gettime(time.CLOCK_MONOTONIC) > deadline:
            raise TimeoutError(f"condition not met within {seconds:g} s")
        await asyncio.get_running_loop().run_in_executor(None, time.sleep, 0.01)
