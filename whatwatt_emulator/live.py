"""The single live SSE stream the device allows."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct

from aiohttp import web

SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-store, no-cache",
    "X-Content-Type-Options": "nosniff",
}


def abort_transport(request: web.BaseRequest) -> None:
    """Drop the TCP connection at once, with a reset (no answer, no clean end)."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


class LiveStream:
    """One open ``/api/v1/live`` response."""

    def __init__(self, request: web.BaseRequest, response: web.StreamResponse) -> None:
        """Wrap a prepared response."""
        self.request = request
        self.response = response
        self.last_id = -1
        self.sent = 0
        self.closed = False
        self.cut = False
        self._wake = asyncio.Event()

    def close(self) -> None:
        """End the stream cleanly (another client took over, or the device stops)."""
        self.closed = True
        self._wake.set()

    def cut_off(self) -> None:
        """Drop the connection mid-stream (a fault)."""
        self.closed = True
        self.cut = True
        abort_transport(self.request)
        self._wake.set()

    @property
    def gone(self) -> bool:
        """Return True when the stream ended or the client went away."""
        transport = self.request.transport
        return self.closed or transport is None or transport.is_closing()

    async def wait(self, delay: float) -> None:
        """Sleep until ``delay`` passed or someone woke the stream."""
        if delay <= 0:
            return
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._wake.wait()

    def wake(self) -> None:
        """Make the stream look at the meter now."""
        self._wake.set()

    async def write(self, payload: bytes) -> bool:
        """Send bytes; return False when the client is gone."""
        if self.gone:
            return False
        try:
            await self.response.write(payload)
        except ConnectionError, RuntimeError:
            self.closed = True
            return False
        return True
