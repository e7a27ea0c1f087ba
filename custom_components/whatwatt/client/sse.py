"""Server-Sent Events: a parser that follows the WHATWG spec, and the stream reader.

The parser is pure (bytes in, events out) so it can be tested at any chunk boundary.  The
reader adds what the whatwatt device needs on top: silence detection (the device sends no
heartbeat, so a dead link looks like a quiet meter) and telling "another client took the
stream" from "the link dropped" (``HEALTHY_EVENTS``).
"""

from __future__ import annotations

import asyncio
import codecs
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Final, NoReturn, Protocol

import aiohttp

from .exceptions import (
    WhatwattConnectionError,
    WhatwattResponseError,
    WhatwattStreamStale,
    WhatwattStreamTakenOver,
)

MAX_LINE: Final = 65536
"""Longest line accepted (a three-phase live event is about 1.2 kB)."""
_BOM: Final = "\ufeff"
HEALTHY_EVENTS: Final = 3
"""A stream that delivered this many events works.  One the device ends before (closed before
the first event, or ended cleanly after one or two) was taken over by another client: the
device serves one stream, closes the older one when a new client connects, and sends the
current reading to a new client at once, so a client that connects right after us shows up as
our second event.  A transport error after the first event is a dropped link instead."""


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched event."""

    event: str
    """The event type; ``message`` when the stream named none."""
    data: str
    """The data lines joined with ``\\n``."""
    id: str | None = None
    """The last event id seen on the stream, if any."""
    retry: int | None = None
    """The reconnection time (ms) last announced by the stream, if any."""


class SSEParser:
    """Incremental parser: feed it bytes as they arrive, get the completed events."""

    def __init__(self, max_line: int = MAX_LINE) -> None:
        """Start at the beginning of a stream."""
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._max_line = max_line
        self._pending = ""
        self._skip_lf = False
        self._at_start = True
        self._event = ""
        self._data: list[str] = []
        self._last_id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Parse a chunk; return the events it completed (possibly none)."""
        text = self._decoder.decode(chunk)
        if self._at_start and text:
            self._at_start = False
            text = text.removeprefix(_BOM)
        if self._skip_lf and text:
            # A CR ended the previous chunk: a LF starting this one belongs to the same CRLF.
            self._skip_lf = False
            text = text.removeprefix("\n")
        events: list[SSEEvent] = []
        buffer = self._pending + text
        start = 0
        while True:
            cr, lf = buffer.find("\r", start), buffer.find("\n", start)
            if cr < 0 and lf < 0:
                break
            end = lf if cr < 0 or 0 <= lf < cr else cr
            line = buffer[start:end]
            if buffer.startswith("\r\n", end):
                start = end + 2
            else:
                start = end + 1
                self._skip_lf = end == len(buffer) - 1 and buffer[end] == "\r"
            if (event := self._line(line)) is not None:
                events.append(event)
        self._pending = buffer[start:]
        if len(self._pending) > self._max_line:
            raise WhatwattResponseError(f"Live stream line longer than {self._max_line} characters")
        return events

    def _line(self, line: str) -> SSEEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon:
            value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            if "\0" not in value:
                self._last_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> SSEEvent | None:
        event, data = self._event or "message", self._data
        self._event, self._data = "", []
        if not data:
            return None
        return SSEEvent(event=event, data="\n".join(data), id=self._last_id, retry=self._retry)


class ByteStream(Protocol):
    """What the reader needs from a response body (``aiohttp.StreamReader`` has it)."""

    async def readany(self) -> bytes:
        """Return the next available bytes; ``b""`` at the end of the stream."""
        ...  # pragma: no cover


async def read_events(
    stream: ByteStream, *, stale_after: float | None = None, name: str = "device"
) -> AsyncIterator[SSEEvent]:
    """Yield the events of an open SSE response body until it ends.

    Raises WhatwattStreamStale when no event arrived for ``stale_after`` seconds,
    WhatwattStreamTakenOver when another client took the stream (``HEALTHY_EVENTS``), and
    WhatwattConnectionError when it ended otherwise.
    """
    loop = asyncio.get_running_loop()
    parser = SSEParser()
    delivered = 0
    deadline = None if stale_after is None else loop.time() + stale_after
    while True:
        try:
            async with asyncio.timeout_at(deadline):
                chunk = await stream.readany()
        except TimeoutError:
            raise WhatwattStreamStale(f"No live event from {name} for {stale_after:g} s") from None
        except aiohttp.ClientError as err:
            _ended(name, delivered, err)
        if not chunk:
            _ended(name, delivered, None)
        for event in parser.feed(chunk):
            delivered += 1
            if stale_after is not None:
                deadline = loop.time() + stale_after
            yield event


def _ended(name: str, delivered: int, err: aiohttp.ClientError | None) -> NoReturn:
    """Raise the error that says how the stream ended."""
    how = f": {type(err).__name__}" if err is not None else ""
    if not delivered or (err is None and delivered < HEALTHY_EVENTS):
        raise WhatwattStreamTakenOver(
            f"{name} closed the live stream after {delivered} event(s){how}; "
            "another client probably holds it"
        ) from err
    raise WhatwattConnectionError(f"{name} closed the live stream{how}") from err
