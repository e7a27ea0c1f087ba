"""Helpers shared by the client tests (the `session` fixture is in conftest.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
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


async def until(predicate: Callable[[], bool]) -> None:
    """Wait (at most 5 s) until the emulator's state says so; it exposes state, not events."""
    async with asyncio.timeout(30):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
