"""The SSE parser and stream reader, without a device: bytes in, events out."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import timedelta
import itertools

import aiohttp
from freezegun.api import FrozenDateTimeFactory
from hypothesis import given, strategies as st
import pytest

from custom_components.whatwatt.client import (
    WhatwattConnectionError,
    WhatwattResponseError,
    WhatwattStreamStale,
    WhatwattStreamTakenOver,
)
from custom_components.whatwatt.client.sse import HEALTHY_EVENTS, SSEEvent, SSEParser, read_events

LIVE = (
    b'event: live\ndata: {"P_In":0.036,"V_P1":230.1,"Date":"2024-08-24","Uptime":71.05}\n\n'
    b'event: live\ndata: {"P_In":0.5,"\xc3\xa9":"caf\xc3\xa9"}\n\n'
)
EXPECTED = [
    SSEEvent(event="live", data='{"P_In":0.036,"V_P1":230.1,"Date":"2024-08-24","Uptime":71.05}'),
    SSEEvent(event="live", data='{"P_In":0.5,"é":"café"}'),
]


def parse(chunks: Iterable[bytes]) -> list[SSEEvent]:
    parser = SSEParser()
    return [event for chunk in chunks for event in parser.feed(chunk)]


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))
def test_events_survive_any_chunk_boundary(cuts: list[int]) -> None:
    """Events come out the same however the network splits the bytes (incl. inside UTF-8)."""
    assert parse(split(LIVE, cuts)) == EXPECTED


@given(
    st.lists(st.integers(min_value=0, max_value=10_000), max_size=40),
    st.sampled_from([b"\n", b"\r\n", b"\r"]),
)
def test_every_line_ending_and_split_gives_the_same_events(cuts: list[int], eol: bytes) -> None:
    """LF, CRLF and lone CR all end lines, even when a CRLF is split across two reads."""
    stream = LIVE.replace(b"\n", eol)
    assert parse(split(stream, cuts)) == EXPECTED


def test_one_byte_at_a_time() -> None:
    """The worst case of partial reads still yields complete events."""
    stream = LIVE.replace(b"\n", b"\r\n")
    assert parse(stream[i : i + 1] for i in range(len(stream))) == EXPECTED


def test_multi_line_data_is_joined_with_newlines() -> None:
    """Several data lines form one data value joined with LF; no trailing LF."""
    assert parse([b"data: first\ndata:second\ndata\ndata:  two spaces\n\n"]) == [
        SSEEvent(event="message", data="first\nsecond\n\n two spaces")
    ]


def test_comments_and_unknown_fields_are_ignored() -> None:
    """Lines starting with a colon are comments; unknown field names are dropped."""
    stream = b": keep-alive\n:\nfoo: bar\nevent: live\n: in between\ndata: x\n\n"
    assert parse([stream]) == [SSEEvent(event="live", data="x")]


def test_a_comment_alone_dispatches_nothing() -> None:
    """A blank line after only comments or an event name is not an event."""
    assert parse([b": ping\n\nevent: live\n\n\n\n"]) == []


def test_event_type_does_not_leak_into_the_next_event() -> None:
    """The event name is reset after each dispatch."""
    assert parse([b"event: live\ndata: 1\n\ndata: 2\n\n"]) == [
        SSEEvent(event="live", data="1"),
        SSEEvent(event="message", data="2"),
    ]


def test_id_and_retry_fields() -> None:
    """The last id persists across events; retry takes digits only; ids with NUL are ignored."""
    stream = b"id: 7\nretry: 1500\ndata: a\n\nretry: soon\nid: bad\x00\ndata: b\n\nid\ndata: c\n\n"
    assert parse([stream]) == [
        SSEEvent(event="message", data="a", id="7", retry=1500),
        SSEEvent(event="message", data="b", id="7", retry=1500),
        SSEEvent(event="message", data="c", id="", retry=1500),
    ]


def test_only_one_leading_space_is_removed() -> None:
    """``data:  x`` keeps the second space; a field without colon has an empty value."""
    assert parse([b"event:live\ndata:  x\n\n"]) == [SSEEvent(event="live", data=" x")]


def test_leading_byte_order_mark_is_skipped_even_when_split() -> None:
    """A UTF-8 BOM at the start of the stream is not part of the first field name."""
    assert parse([b"\xef", b"\xbb", b"\xbfdata: x\n\n"]) == [SSEEvent(event="message", data="x")]


def test_incomplete_event_at_end_is_not_dispatched() -> None:
    """An event without its terminating blank line never comes out."""
    assert parse([b"event: live\ndata: x\n"]) == []


def test_runaway_line_is_refused() -> None:
    """A line without end cannot grow the buffer without bound."""
    parser = SSEParser(max_line=16)
    parser.feed(b"data: 0123456789")
    with pytest.raises(WhatwattResponseError, match="longer than 16"):
        parser.feed(b"abcdef")


class FakeStream:
    """A response body that hands out prepared chunks, then an ending."""

    def __init__(self, chunks: list[bytes], end: BaseException | None = None) -> None:
        self._chunks = chunks
        self._end = end

    async def readany(self) -> bytes:
        if self._chunks:
            return self._chunks.pop(0)
        if self._end is not None:
            raise self._end
        return b""


class SilentStream:
    """A response body that never sends anything."""

    async def readany(self) -> bytes:
        await asyncio.sleep(3600)
        return b""  # pragma: no cover


async def collect(stream: object, stale_after: float | None = None) -> list[SSEEvent]:
    return [
        event
        async for event in read_events(stream, stale_after=stale_after, name="dev")  # type: ignore[arg-type]
    ]


async def test_stream_closed_before_first_event_is_a_takeover() -> None:
    """The device closes the older stream when another client connects: say so."""
    with pytest.raises(WhatwattStreamTakenOver, match="another client"):
        await collect(FakeStream([b": hello\n\n"]))


async def test_stream_reset_before_first_event_is_a_takeover() -> None:
    """A reset right after connecting counts as a takeover too."""
    end = aiohttp.ServerDisconnectedError()
    with pytest.raises(WhatwattStreamTakenOver, match="ServerDisconnectedError"):
        await collect(FakeStream([], end))


async def test_stream_ending_after_events_is_a_connection_error() -> None:
    """Events were delivered, then the link dropped: the caller reconnects."""
    stream = FakeStream([b"data: 1\n\n", b"data: 2\n\n"], aiohttp.ClientPayloadError("x"))
    events = read_events(stream, name="dev")
    assert (await anext(events)).data == "1"
    assert (await anext(events)).data == "2"
    with pytest.raises(WhatwattConnectionError) as err:
        await anext(events)
    assert not isinstance(err.value, WhatwattStreamTakenOver)


@pytest.mark.parametrize(("events", "taken_over"), [(1, True), (2, True), (3, False)])
async def test_a_clean_end_after_one_or_two_events_is_a_takeover(
    events: int, taken_over: bool
) -> None:
    """The device sends a new client the current reading at once and closes our stream
    cleanly: one that connects right after us shows up as our second event.  A stream that
    delivered HEALTHY_EVENTS (3) before a clean end just ended."""
    stream = FakeStream([b"data: x\n\n"] * events)
    with pytest.raises(WhatwattConnectionError) as err:
        await collect(stream)
    assert isinstance(err.value, WhatwattStreamTakenOver) is taken_over
    assert HEALTHY_EVENTS == 3


async def test_silence_raises_stale() -> None:
    """No event for stale_after seconds raises WhatwattStreamStale."""
    with pytest.raises(WhatwattStreamStale, match=r"0\.05 s"):
        await collect(SilentStream(), stale_after=0.05)


async def _after(freezer: FrozenDateTimeFactory, seconds: float) -> None:
    """Let ``seconds`` pass on the frozen clock, then let the loop run what fell due.

    The gaps between chunks are exact: on a busy machine a real ``sleep(0.03)`` may take
    longer than the 0.1 s the reader allows, and the stream looked stale when it was not.
    """
    freezer.tick(timedelta(seconds=seconds))
    await asyncio.sleep(0)


async def test_bytes_without_an_event_do_not_reset_the_silence_timer(
    freezer: FrozenDateTimeFactory,
) -> None:
    """Comments trickling in are not events: the stream is still stale."""

    class Trickle:
        async def readany(self) -> bytes:
            await _after(freezer, 0.01)
            return b": tick\n"

    with pytest.raises(WhatwattStreamStale):
        await collect(Trickle(), stale_after=0.1)


async def test_each_event_resets_the_silence_timer(freezer: FrozenDateTimeFactory) -> None:
    """Events arriving faster than stale_after keep the stream alive: six events 0.03 s apart
    span 0.18 s, with 0.1 s allowed between two."""

    class Steady:
        def __init__(self) -> None:
            self.left = 6

        async def readany(self) -> bytes:
            await _after(freezer, 0.03)
            self.left -= 1
            return b"data: x\n\n" if self.left >= 0 else b""

    with pytest.raises(WhatwattConnectionError) as err:
        await collect(Steady(), stale_after=0.1)
    assert not isinstance(err.value, WhatwattStreamStale)
