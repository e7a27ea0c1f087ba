"""Emulator parts that are hard to reach over HTTP: nonce bookkeeping, stream edge cases,
the SSE reader helper, the pytest factory's options and the module entry point."""

from __future__ import annotations

import asyncio
import hashlib
import os
import runpy
import signal
import socket
import sys
import threading
import time
from types import SimpleNamespace
from typing import Any
from unittest.mock import AsyncMock, MagicMock

import aiohttp
import pytest

from whatwatt_emulator import Emulator, EmulatorConfig, cli
from whatwatt_emulator.auth import Authenticator, parse_params
from whatwatt_emulator.live import LiveStream, abort_transport
from whatwatt_emulator.system_info import _ip
from whatwatt_emulator.testing import sse_events, take_events


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _answer(challenge: str, password: str, nc: int, cnonce: str = "c") -> str:
    params = parse_params(challenge.partition(" ")[2])
    realm, nonce = params["realm"], params["nonce"]
    ha1 = _md5(f"{_md5(f':{realm}:{password}')}:{nonce}:{cnonce}")
    response = _md5(f"{ha1}:{nonce}:{nc:08x}:{cnonce}:auth:{_md5('GET:/x')}")
    return (
        f'Digest username="", realm="{realm}", nonce="{nonce}", uri="/x", algorithm=MD5-sess, '
        f'response="{response}", opaque="{params["opaque"]}", qop=auth, nc={nc:08x}, '
        f'cnonce="{cnonce}"'
    )


def _check(auth: Authenticator, header: str) -> Any:
    return auth.check(header, password="pw", realm="r", method="GET", uri="/x", body=b"")


def test_a_nonce_used_up_is_answered_stale() -> None:
    """After 4096 uses a nonce is stale: the client must fetch a new one."""
    auth = Authenticator(digest=True, nonce_lifetime=300, qop="auth")
    challenge = auth.challenge("r")
    for nc in range(1, 4097):
        assert _check(auth, _answer(challenge, "pw", nc)).ok
    result = _check(auth, _answer(challenge, "pw", 4097))
    assert (result.ok, result.stale) == (False, True)


def test_old_and_expired_nonces_are_forgotten() -> None:
    """The device keeps a bounded set of nonces: expired ones go when many were issued."""
    auth = Authenticator(digest=True, nonce_lifetime=300, qop="auth")
    for _ in range(70):
        auth.challenge("r")
    auth.expire_nonces()
    auth.challenge("r")
    assert len(auth._nonces) == 1


def test_digest_header_on_basic_firmware_is_refused() -> None:
    """Old firmware does not understand Digest."""
    auth = Authenticator(digest=False, nonce_lifetime=300, qop="auth")
    assert auth.challenge("r") == 'Basic realm="r"'
    assert _check(auth, 'Digest username=""').scheme == "digest"
    assert not _check(auth, 'Digest username=""').ok


def _stream(transport: Any, response: Any = None) -> LiveStream:
    return LiveStream(SimpleNamespace(transport=transport), response)  # type: ignore[arg-type]


async def test_live_stream_write_reports_a_gone_client() -> None:
    """write() is False when the transport is gone or the write fails; wait(0) returns."""
    assert not await _stream(None).write(b"x")
    transport = MagicMock()
    transport.is_closing.return_value = False
    response = MagicMock()
    response.write = AsyncMock(side_effect=ConnectionResetError)
    stream = _stream(transport, response)
    assert not await stream.write(b"x")
    assert stream.closed
    await stream.wait(0)


def test_abort_transport_without_a_socket() -> None:
    """A transport without a socket is still aborted; no transport is a no-op."""
    transport = MagicMock()
    transport.get_extra_info.return_value = None
    abort_transport(SimpleNamespace(transport=transport))  # type: ignore[arg-type]
    transport.abort.assert_called_once()
    abort_transport(SimpleNamespace(transport=None))  # type: ignore[arg-type]


async def test_send_reading_to_a_gone_client_counts_nothing(emulator: Emulator) -> None:
    """A reading for a stream whose client left is not counted as sent."""
    stream = _stream(None)
    reading = emulator.reading()
    assert reading is not None
    await emulator.send_reading(stream, reading)
    assert stream.sent == 0


@pytest.mark.parametrize(
    ("host", "shown"),
    [("10.77.0.2", "10.77.0.2"), ("0.0.0.0", "192.168.99.114"), ("::1", "192.168.99.114")],
)
def test_wifi_ip_shows_the_serving_address(host: str, shown: str) -> None:
    """/system wifi.ip is the address served on, or the vendor example's when unusable."""
    assert _ip(host, "192.168.99.114") == shown


class _Lines:
    def __init__(self, lines: list[bytes]) -> None:
        self.content = self._iterate(lines)

    @staticmethod
    async def _iterate(lines: list[bytes]) -> Any:
        for line in lines:
            yield line


async def test_sse_reader_handles_names_multiline_data_and_comments() -> None:
    """The helper parses like a browser: default name, joined data lines, comments ignored."""
    lines = [b": hello\n", b"data: 1\n", b"\n", b"event: live\n", b"data: [2,\n", b"data: 3]\n",
             b"\n", b"\n", b"id: 7\n"]  # fmt: skip
    got = [item async for item in sse_events(_Lines(lines))]  # type: ignore[arg-type]
    assert got == [("message", 1), ("live", [2, 3])]
    # take_events keeps only ``live`` events and stops at the end of the stream
    assert await take_events(_Lines(lines), 5) == [[2, 3]]  # type: ignore[arg-type]


async def test_factory_takes_a_config_or_options(emulator_factory: Any) -> None:
    """A ready EmulatorConfig is used as given; mixing it with options is an error."""
    emu: Emulator = await emulator_factory(EmulatorConfig(device_id="ECC9FF5C7F14"))
    assert emu.config.device_id == "ECC9FF5C7F14"
    assert emu.config.report_interval == 1.0  # the config's own value, not the fixture default
    with pytest.raises(TypeError, match="either"):
        await emulator_factory(EmulatorConfig(), licence="PLUS")


async def test_reboot_returns_once_offline(emulator_factory: Any) -> None:
    """await reboot() returns when the device went offline; wait_online() when it is back."""
    emu: Emulator = await emulator_factory(reboot_downtime=0.2)
    await emu.reboot()
    assert not emu.online
    async with asyncio.timeout(30):
        await emu.wait_online()
    assert emu.online


async def test_meter_status_change_wakes_the_stream(emulator_factory: Any) -> None:
    """A forced status stops events at once; clearing it lets them flow again."""
    emu: Emulator = await emulator_factory(report_interval=0.05)
    async with aiohttp.ClientSession() as session, session.get(emu.url + "/api/v1/live") as resp:
        await resp.content.readline()
        emu.set_meter_status("NO DATA")
        sent = emu.stream.sent if emu.stream else 0
        await asyncio.sleep(0.2)
        assert emu.stream is not None
        assert emu.stream.sent == sent
        emu.set_meter_status(None)
        async with asyncio.timeout(30):
            while emu.stream.sent == sent:  # noqa: ASYNC110 - watching the device from outside
                await asyncio.sleep(0.01)


async def test_settings_change_does_not_make_an_extra_event(emulator_factory: Any) -> None:
    """A meter-settings change shows in the next meter report, not as an extra event."""
    emu: Emulator = await emulator_factory(report_interval=60)
    async with aiohttp.ClientSession() as session, session.get(emu.url + "/api/v1/live") as resp:
        assert len(await take_events(resp, 1)) == 1
        async with session.put(emu.url + "/api/v1/meter/settings", json={"conv_factor": 2}) as put:
            assert put.status == 200
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await resp.content.readline()
        assert emu.stream is not None
        assert emu.stream.sent == 1


async def test_stop_during_a_reboot(emulator_factory: Any) -> None:
    """stop() while rebooting ends the reboot: the device stays off and cannot reboot."""
    emu: Emulator = await emulator_factory(reboot_downtime=30)
    await emu.reboot()
    async with asyncio.timeout(30):
        await emu.stop()
    assert not emu.online
    with pytest.raises(RuntimeError, match="not running"):
        await emu.reboot()


async def test_wps_answers_204(emulator: Emulator) -> None:
    """POST /api/v1/wifi/wps starts WPS: 204."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(emulator.url + "/api/v1/wifi/wps") as resp,
    ):
        assert resp.status == 204


def test_module_entry_point_prints_help(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``python -m whatwatt_emulator --help`` documents the options."""
    monkeypatch.setattr(sys, "argv", ["whatwatt_emulator", "--help"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("whatwatt_emulator", run_name="__main__")
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--host", "--port", "--password", "--licence", "--mdns", "--admin"):
        assert option in out
    assert "--recognition-time SECONDS" in out
    assert "RECOGNITION" in out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_cli_main_stops_cleanly_on_sigint(socket_enabled: None) -> None:
    """main() serves until SIGINT, then stops and returns 0."""
    port = _free_port()

    def interrupt_when_up() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=interrupt_when_up)
    thread.start()
    try:
        assert cli.main(["--port", str(port)]) == 0
    finally:
        thread.join()
