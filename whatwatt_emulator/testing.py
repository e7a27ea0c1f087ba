"""Small helpers for code that talks to an emulator in tests and benchmarks."""

from __future__ import annotations

from collections.abc import AsyncIterator
import json
from typing import Any

import aiohttp


async def sse_events(response: aiohttp.ClientResponse) -> AsyncIterator[tuple[str, Any]]:
    """Yield ``(event name, parsed data)`` from an SSE response, as a browser would."""
    event = "message"
    data: list[str] = []
    async for raw in response.content:
        line = raw.decode().rstrip("\r\n")
        if not line:
            if data:
                yield event, json.loads("\n".join(data))
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))


async def take_events(response: aiohttp.ClientResponse, count: int) -> list[Any]:
    """Read ``count`` ``live`` events and return their data."""
    result: list[Any] = []
    async for name, data in sse_events(response):
        if name == "live":
            result.append(data)
        if len(result) >= count:
            break
    return result
