"""Fault injection, the request log, device-wide HTTP rules and the admin endpoints."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from whatwatt_emulator import Emulator, EmulatorConfig, LoggedRequest
from whatwatt_emulator.log import RequestLog

SYSTEM = "/api/v1/system"


def _fresh() -> aiohttp.ClientSession:
    """A session that opens a new connection per request."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))


async def test_json_answers_carry_the_device_headers(emulator: Emulator) -> None:
    """charset, nosniff and no-store, no-cache on every JSON answer (errors too)."""
    async with aiohttp.ClientSession() as session:
        for path in (SYSTEM, "/api/v1/nothing-here", "/api/v1/report"):
            async with session.get(emulator.url + path) as resp:
                assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
                assert resp.headers["X-Content-Type-Options"] == "nosniff"
                assert resp.headers["Cache-Control"] == "no-store, no-cache"


async def test_unknown_routes_and_methods(emulator: Emulator) -> None:
    """Unknown path: 404 JSON; a known path with a wrong method: 405 with Allow."""
    async with aiohttp.ClientSession() as session:
        async with session.get(emulator.url + "/api/v2/system") as resp:
            assert resp.status == 404
            assert (await resp.json())["error"] == "not_found"
        async with session.delete(emulator.url + SYSTEM) as resp:
            assert resp.status == 405
            assert "GET" in resp.headers["Allow"]
        async with session.get(emulator.url + "/_emulator/log") as resp:
            assert resp.status == 404  # admin is off by default


async def test_disallowed_origin_gets_404(emulator: Emulator) -> None:
    """CORS: a browser Origin not on the device's list gets a plain 404; its own name works."""
    async with aiohttp.ClientSession() as session:
        async with session.get(
            emulator.url + SYSTEM, headers={"Origin": "http://evil.example"}
        ) as resp:
            assert resp.status == 404
            assert "Access-Control-Allow-Origin" not in resp.headers
        origin = "http://whatwatt-9F8124.local"
        async with session.get(emulator.url + SYSTEM, headers={"Origin": origin}) as resp:
            assert resp.status == 200
            assert resp.headers["Access-Control-Allow-Origin"] == origin


async def test_too_large_body_is_refused(emulator: Emulator) -> None:
    """Bodies over 8 kB get 413."""
    async with (
        aiohttp.ClientSession() as session,
        session.put(emulator.url + "/api/v1/settings", data=b"{" + b" " * 9000 + b"}") as resp,
    ):
        assert resp.status == 413


async def test_latency_delays_every_answer(emulator: Emulator) -> None:
    """faults.latency adds that many seconds."""
    emulator.faults.latency = 0.2
    loop = asyncio.get_running_loop()
    start = loop.time()
    async with aiohttp.ClientSession() as session, session.get(emulator.url + SYSTEM) as resp:
        assert resp.status == 200
    assert loop.time() - start >= 0.2


@pytest.mark.parametrize("status", [500, 503])
async def test_fail_next_answers_errors_then_recovers(emulator: Emulator, status: int) -> None:
    """fail_next(status, count): that many error answers with a JSON error body, then normal."""
    emulator.faults.fail_next(status=status, count=2)
    async with aiohttp.ClientSession() as session:
        got = []
        for _ in range(3):
            async with session.get(emulator.url + SYSTEM) as resp:
                got.append(resp.status)
                if resp.status != 200:
                    assert set(await resp.json()) == {"error", "message"}
    assert got == [status, status, 200]
    with pytest.raises(ValueError, match="status"):
        emulator.faults.fail_next(status=200)


async def test_malformed_json_next_cuts_the_body(emulator: Emulator) -> None:
    """The next JSON answer is not valid JSON; the one after is fine."""
    emulator.faults.malformed_json_next(1)
    async with aiohttp.ClientSession() as session:
        async with session.get(emulator.url + SYSTEM) as resp:
            assert resp.status == 200
            with pytest.raises(json.JSONDecodeError):
                json.loads(await resp.read())
        async with session.get(emulator.url + SYSTEM) as resp:
            await resp.json()


async def test_reset_next_drops_the_connection(emulator: Emulator) -> None:
    """reset_next(): connections close without an answer; logged with status 0.

    aiohttp retries an idempotent request once after a dropped connection, so one reset is
    absorbed by the client and two surface as an error.
    """
    emulator.faults.reset_next(1)
    async with _fresh() as session:
        async with session.get(emulator.url + SYSTEM) as resp:
            assert resp.status == 200  # retried transparently
        emulator.faults.reset_next(2)
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(emulator.url + SYSTEM)
    assert [e.status for e in emulator.log] == [0, 200, 0, 0]
    assert emulator.log[0].authorized is False


@pytest.mark.parametrize("applied", [False, True])
async def test_reboot_while_a_put_is_in_flight(emulator_factory: Any, applied: bool) -> None:
    """The PUT gets no answer and the device reboots; the change was saved only if applied."""
    emu: Emulator = await emulator_factory(reboot_downtime=0.2)
    boot_id = emu.boot_id
    emu.faults.reboot_during_next_put(applied=applied)
    async with _fresh() as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.put(emu.url + "/api/v1/meter/settings", json={"baudrate": 9600})
    async with asyncio.timeout(30):
        await emu.wait_online()
    assert emu.boot_id != boot_id
    assert (emu.meter_settings["baudrate"] == 9600) is applied
    assert emu.requests("PUT")[0].status == 0


async def test_log_records_what_the_device_saw(emulator: Emulator) -> None:
    """Method, path, query, parsed body (or text), auth and status, in order."""
    async with aiohttp.ClientSession() as session:
        async with session.get(emulator.url + SYSTEM, params={"a": "1"}):
            pass
        async with session.put(emulator.url + "/api/v1/meter/settings", json={"parity": "odd"}):
            pass
        async with session.put(emulator.url + "/api/v1/meter/settings", data=b"oops"):
            pass
    first, second, third = emulator.log
    assert (first.method, first.path, first.query, first.body) == ("GET", SYSTEM, {"a": "1"}, None)
    assert (second.body, second.status, second.auth) == ({"parity": "odd"}, 200, "none")
    assert (third.body, third.status) == ("oops", 400)
    assert emulator.requests("put") == [second, third]
    assert emulator.requests(path=SYSTEM) == [first]
    assert first.as_dict()["path"] == SYSTEM
    emulator.log.clear()
    assert emulator.requests() == []


def test_log_keeps_only_the_newest_entries() -> None:
    """The log is bounded: the oldest tenth goes when it is full."""
    log = RequestLog(limit=20)
    for i in range(25):
        log.add(LoggedRequest("GET", f"/{i}", {}, None, "none", True, 200, 0.0))
    assert len(log) <= 20
    assert log[-1].path == "/24"


def test_config_is_checked() -> None:
    """Nonsense configuration is refused with a clear message."""
    for bad, match in (
        ({"device_id": "XYZ"}, "device_id"),
        ({"licence": "GOLD"}, "licence"),
        ({"meter": "kamstrup"}, "meter"),
        ({"firmware": "v2"}, "firmware"),
        ({"report_interval": 0}, "report_interval"),
        ({"reboot_downtime": -1}, "reboot_downtime"),
        ({"meter_key": "12"}, "meter keys"),
        ({"password": "x" * 32}, "password"),
        ({"digest_qop": "auth-conf"}, "digest_qop"),
        ({"log_limit": 0}, "log_limit"),
        ({"scenario": "broken_meter"}, "scenario"),
    ):
        with pytest.raises(ValueError, match=match):
            EmulatorConfig(**bad)
    cfg = EmulatorConfig(device_id="a842e39f8124", licence="plus", meter_auth_key="a" * 32)
    assert (cfg.device_id, cfg.licence, cfg.meter_auth_key) == ("A842E39F8124", "PLUS", "A" * 32)
    assert cfg.uses_digest
    assert not EmulatorConfig(firmware="1.9").uses_digest


async def test_start_twice_is_refused(emulator: Emulator) -> None:
    """A running emulator cannot be started again."""
    with pytest.raises(RuntimeError, match="already running"):
        await emulator.start()


async def test_admin_endpoints_drive_the_device(emulator_factory: Any) -> None:
    """With admin=True, /_emulator/ reads the log and state and arms faults over HTTP."""
    emu: Emulator = await emulator_factory(admin=True, password="pw", reboot_downtime=0.05)
    admin = emu.url + "/_emulator"
    async with aiohttp.ClientSession() as session:
        async with session.get(emu.url + SYSTEM) as resp:
            assert resp.status == 401
        async with session.get(admin + "/log") as resp:
            log = await resp.json()
        assert [(e["path"], e["status"], e["auth"]) for e in log] == [(SYSTEM, 401, "none")]
        async with session.delete(admin + "/log") as resp:
            assert resp.status == 204
        assert emu.log == []
        for name, body in (
            ("latency", {"seconds": 0.01}),
            ("fail_next", {"status": 500, "count": 2}),
            ("malformed_json_next", {"count": 1}),
            ("malformed_event_next", {"count": 1}),
            ("reset_next", {"count": 1}),
            ("drop_stream_after", {"events": 3}),
            ("reboot_during_next_put", {"applied": True}),
            ("expire_nonces", {}),
        ):
            async with session.post(f"{admin}/faults/{name}", json=body) as resp:
                assert resp.status == 200, name
        state = emu.faults.state()
        assert state["fail_next"] == {"status": 500, "count": 2}
        assert state["drop_stream_after"] == 3
        assert emu.faults.expire_requested
        async with session.post(admin + "/faults/clear") as resp:
            assert (await resp.json())["fail_next"]["count"] == 0
        async with session.post(admin + "/faults/unknown", json={}) as resp:
            assert resp.status == 404
        async with session.post(admin + "/faults/fail_next", json={"status": 200}) as resp:
            assert resp.status == 400
        async with session.post(admin + "/faults/latency", json=[1]) as resp:
            assert resp.status == 400
        async with session.post(admin + "/password", json={"password": None}) as resp:
            assert resp.status == 204
        assert emu.password is None
        async with session.post(admin + "/meter_status", json={"status": "NO DATA"}) as resp:
            assert resp.status == 204
        async with session.post(admin + "/meter_status", json={"status": "bad"}) as resp:
            assert resp.status == 400
        async with session.post(admin + "/push_report") as resp:
            assert await resp.json() is None  # NO DATA: nothing produced
        async with session.get(admin + "/state") as resp:
            state = await resp.json()
        assert state["meter_status"] == "NO DATA"
        assert state["online"] is True
        assert state["mdns_interfaces"] == []
        async with session.post(admin + "/reboot") as resp:
            assert resp.status == 204
    async with asyncio.timeout(30):
        await asyncio.sleep(0.1)
        await emu.wait_online()


async def test_admin_recognition_time(emulator_factory: Any) -> None:
    """/_emulator/state shows recognition_time and what is left of a phase;
    POST /_emulator/recognition_time changes it for the link changes to come."""
    emu: Emulator = await emulator_factory(admin=True)
    admin = emu.url + "/_emulator"
    async with aiohttp.ClientSession() as session:
        async with session.get(admin + "/state") as resp:
            state = await resp.json()
        assert (state["recognition_time"], state["recognition_left"]) == (0, 0)
        async with session.post(admin + "/recognition_time", json={"seconds": 30}) as resp:
            assert resp.status == 204
        assert emu.config.recognition_time == 30
        async with session.put(emu.url + "/api/v1/meter/settings", json={"parity": "odd"}):
            pass
        async with session.get(admin + "/state") as resp:
            state = await resp.json()
        assert state["meter_status"] == "RECOGNITION"
        assert state["recognition_time"] == 30
        assert 0 < state["recognition_left"] <= 30
        for body in ({"seconds": -1}, {"seconds": "5"}, {"seconds": True}, {}, [5]):
            async with session.post(admin + "/recognition_time", json=body) as resp:
                assert resp.status == 400, body
                assert (await resp.json())["error"] == "invalid_recognition_time"
        for raw in (b'{"seconds": NaN}', b'{"seconds": Infinity}', b"{"):
            async with session.post(admin + "/recognition_time", data=raw) as resp:
                assert resp.status == 400, raw
        assert emu.config.recognition_time == 30
        async with session.post(admin + "/recognition_time", json={"seconds": 0}) as resp:
            assert resp.status == 204
    assert emu.config.recognition_time == 0
    assert emu.meter_status() == "RECOGNITION"  # the running phase keeps its length
