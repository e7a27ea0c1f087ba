"""Device faults become the client's exceptions; their messages never carry secrets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
import socket
from typing import Any

import aiohttp
from aiohttp import web
import pytest

from custom_components.whatwatt.client import (
    WhatwattAuthError,
    WhatwattClient,
    WhatwattConnectionError,
    WhatwattError,
    WhatwattLicenseRequired,
    WhatwattResponseError,
    WhatwattTimeoutError,
)
from whatwatt_emulator import Emulator

from .client_common import client_for

PASSWORD = "top-secret-pw"
KEY = "A1B2C3D4E5F60718293A4B5C6D7E8F90"


def assert_no_secret(err: BaseException, *secrets: str) -> None:
    """Neither the message, the repr, the attributes nor the cause show a secret."""
    texts = [str(err), repr(err), repr(vars(err)), repr(err.__cause__), repr(err.__context__)]
    for secret in secrets:
        assert not any(secret.lower() in text.lower() for text in texts), texts


async def test_slow_device_times_out(emulator: Emulator, session: aiohttp.ClientSession) -> None:
    """An answer later than request_timeout is a timeout (also a connection error)."""
    emulator.faults.latency = 0.5
    client = client_for(emulator, session, request_timeout=0.1)
    with pytest.raises(WhatwattTimeoutError, match=r"within 0\.1 s") as err:
        await client.system()
    assert isinstance(err.value, WhatwattConnectionError)


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors_keep_status_and_device_message(
    emulator: Emulator, session: aiohttp.ClientSession, status: int
) -> None:
    """5xx becomes a response error with the device's error key and message."""
    emulator.faults.fail_next(status=status)
    client = client_for(emulator, session)
    with pytest.raises(WhatwattResponseError) as err:
        await client.system()
    assert err.value.status == status
    assert err.value.error in {"internal_error", "service_unavailable"}
    assert err.value.device_message
    assert err.value.device_message in str(err.value)
    assert (await client.system()).device.id  # the next call works again


async def test_failed_write_is_not_reported_as_done(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    """A 503 on the PUT raises; no read-back is presented as success."""
    emulator.faults.fail_next(status=503)
    with pytest.raises(WhatwattResponseError):
        await client_for(emulator, session).update_meter_settings(parity="odd")
    assert [r.method for r in emulator.log] == ["PUT"]
    assert emulator.meter_settings["parity"] == "none"


async def test_malformed_json_is_a_response_error(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    """A truncated JSON answer is reported, not half-parsed."""
    emulator.faults.malformed_json_next()
    with pytest.raises(WhatwattResponseError, match="malformed JSON") as err:
        await client_for(emulator, session).system()
    assert err.value.status == 200


async def test_malformed_json_after_a_write_still_reads_back(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    """The PUT answer body is not trusted (C6); the read-back decides."""
    emulator.faults.malformed_json_next()
    result = await client_for(emulator, session).update_meter_settings(parity="even")
    assert result.parity == "even"


async def test_connection_reset_is_a_connection_error(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    """The device drops the TCP connection without an answer."""
    emulator.faults.reset_next(count=2)  # aiohttp retries an idempotent GET once by itself
    with pytest.raises(WhatwattConnectionError):
        await client_for(emulator, session).system()


async def test_reset_during_a_replace_is_not_retried(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    """A POST whose connection drops raises; it is not sent twice, nothing is read back."""
    emulator.faults.reset_next(count=1)
    with pytest.raises(WhatwattConnectionError):
        await client_for(emulator, session).replace_meter_settings({"parity": "odd"})
    assert [(r.method, r.status) for r in emulator.log] == [("POST", 0)]


async def test_reset_during_an_update_raises_when_it_persists(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    """PUT is idempotent, so aiohttp resends it once; a second drop reaches the caller."""
    emulator.faults.reset_next(count=2)
    with pytest.raises(WhatwattConnectionError):
        await client_for(emulator, session).update_meter_settings(parity="odd")
    assert [(r.method, r.status) for r in emulator.log] == [("PUT", 0), ("PUT", 0)]
    assert emulator.meter_settings["parity"] == "none"


async def test_reboot_during_a_write_is_a_connection_error(
    emulator_factory: Any, session: aiohttp.ClientSession
) -> None:
    """The device reboots instead of answering the PUT: the write is not reported as done."""
    emu = await emulator_factory(reboot_downtime=0.1)
    emu.faults.reboot_during_next_put()
    with pytest.raises(WhatwattConnectionError):
        await client_for(emu, session).update_meter_settings(parity="odd")


async def test_refused_connection_is_a_connection_error(
    socket_enabled: None, session: aiohttp.ClientSession
) -> None:
    """Nothing listens on the port: connection error naming the device."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = WhatwattClient("127.0.0.1", session, port=port)
    with pytest.raises(WhatwattConnectionError, match=f"127.0.0.1:{port}") as err:
        await client.system()
    assert not isinstance(err.value, WhatwattTimeoutError)


async def test_unknown_host_is_a_connection_error(session: aiohttp.ClientSession) -> None:
    """A name that does not resolve is a connection error, not a crash.

    ``.invalid`` never resolves (RFC 6761); a resolver that fails at once stands in for DNS
    so the test never leaves loopback.
    """

    class FailingResolver(aiohttp.abc.AbstractResolver):
        async def resolve(self, host: str, port: int = 0, family: int = 0) -> Any:
            raise OSError(-2, "Name or service not known")

        async def close(self) -> None:
            return None

    connector = aiohttp.TCPConnector(resolver=FailingResolver())
    async with aiohttp.ClientSession(connector=connector) as dns_session:
        client = WhatwattClient("whatwatt-9f8124.invalid", dns_session)
        with pytest.raises(WhatwattConnectionError, match=r"whatwatt-9f8124\.invalid"):
            await client.system()


async def test_all_errors_share_one_base(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    """Callers can catch WhatwattError for anything the client raises."""
    for exc in (
        WhatwattConnectionError,
        WhatwattTimeoutError,
        WhatwattAuthError,
        WhatwattResponseError,
        WhatwattLicenseRequired,
    ):
        assert issubclass(exc, WhatwattError)


async def test_errors_around_keys_and_password_never_show_them(
    emulator_factory: Any, session: aiohttp.ClientSession
) -> None:
    """A failing write with a DLMS key on a protected device: no secret in the error."""
    emu = await emulator_factory(password=PASSWORD)
    client = client_for(emu, session, password=PASSWORD)
    emu.faults.fail_next(status=500)
    with pytest.raises(WhatwattResponseError) as err:
        await client.update_meter_settings(encryption_key=KEY)
    assert_no_secret(err.value, PASSWORD, KEY)
    emu.faults.reset_next(count=1)
    with pytest.raises(WhatwattConnectionError) as err2:
        await client.replace_meter_settings({"authentication_key": KEY})
    assert_no_secret(err2.value, PASSWORD, KEY)
    emu.set_password("other")
    with pytest.raises(WhatwattAuthError) as err3:
        await client.replace_meter_settings({"encryption_key": KEY})
    assert_no_secret(err3.value, PASSWORD, KEY)


EchoHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def echo_device(socket_enabled: None) -> AsyncIterator[Callable[[EchoHandler], Any]]:
    """A loopback server whose answers a test writes (for device behaviour the emulator lacks)."""
    runners: list[web.AppRunner] = []

    async def start(handler: EchoHandler) -> int:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        return int(runner.addresses[0][1])

    yield start
    for runner in runners:
        await runner.cleanup()


async def test_device_echoing_a_secret_is_scrubbed(
    echo_device: Callable[[EchoHandler], Any], session: aiohttp.ClientSession
) -> None:
    """Should a firmware quote the rejected key or the password, the error blanks it out."""

    async def echo(request: web.Request) -> web.Response:
        body = await request.text()
        message = f"rejected {body} ({KEY.lower()})"
        return web.json_response({"error": f"bad {PASSWORD}", "message": message}, status=400)

    port = await echo_device(echo)
    client = WhatwattClient("127.0.0.1", session, password=PASSWORD, port=port)
    with pytest.raises(WhatwattResponseError) as err:
        await client.update_meter_settings(encryption_key=KEY.lower())
    assert_no_secret(err.value, PASSWORD, KEY)
    assert "***" in str(err.value)


@pytest.mark.parametrize(
    ("status", "body", "content_type", "expected"),
    [
        (400, "plain words", "text/plain", "plain words"),
        (404, "", "text/plain", "answered 404"),
        (400, "[1, 2]", "application/json", "[1, 2]"),
        (302, "", "text/plain", "answered 302"),
    ],
)
async def test_odd_error_bodies_are_reported(
    echo_device: Callable[[EchoHandler], Any],
    session: aiohttp.ClientSession,
    status: int,
    body: str,
    content_type: str,
    expected: str,
) -> None:
    """Text, empty or non-object error bodies and redirects all become a response error."""

    async def answer(request: web.Request) -> web.Response:
        return web.Response(
            status=status,
            text=body,
            content_type=content_type,
            headers={"Location": "http://127.0.0.2/"} if status == 302 else None,
        )

    port = await echo_device(answer)
    with pytest.raises(WhatwattResponseError, match=expected) as err:
        await WhatwattClient("127.0.0.1", session, port=port).system()
    assert err.value.status == status


async def test_non_object_answer_is_a_response_error(
    echo_device: Callable[[EchoHandler], Any], session: aiohttp.ClientSession
) -> None:
    """/system answering a JSON array (or nothing) is not a device we understand."""

    async def answer(request: web.Request) -> web.Response:
        return web.json_response([1, 2, 3])

    port = await echo_device(answer)
    with pytest.raises(WhatwattResponseError, match="list instead of an object"):
        await WhatwattClient("127.0.0.1", session, port=port).system()


async def test_settings_never_return_a_password_even_if_firmware_sends_it(
    echo_device: Callable[[EchoHandler], Any], session: aiohttp.ClientSession
) -> None:
    """A firmware that leaks system.password in GET /settings: the client drops it."""

    async def answer(request: web.Request) -> web.Response:
        return web.json_response({"system": {"name": "x", "password": PASSWORD}, "services": {}})

    port = await echo_device(answer)
    settings = await WhatwattClient("127.0.0.1", session, port=port).settings()
    assert settings == {"system": {"name": "x"}, "services": {}}
