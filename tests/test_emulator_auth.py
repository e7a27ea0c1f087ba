"""Authentication as the device does it: none, Digest MD5-sess (FW >= 1.10), Basic (older)."""

from __future__ import annotations

from datetime import timedelta
import hashlib
from typing import Any

import aiohttp
from aiohttp import DigestAuthMiddleware, encode_basic_auth
from freezegun.api import FrozenDateTimeFactory
import pytest

from whatwatt_emulator import Emulator
from whatwatt_emulator.auth import parse_params

SYSTEM = "/api/v1/system"


def _digest(password: str) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(middlewares=(DigestAuthMiddleware("", password),))


async def _challenge(emu: Emulator, path: str = SYSTEM) -> tuple[int, dict[str, str], Any]:
    async with aiohttp.ClientSession() as session, session.get(emu.url + path) as resp:
        header = resp.headers.get("WWW-Authenticate", "")
        return (
            resp.status,
            {"scheme": header.split(" ")[0], **parse_params(header)},
            await resp.json(),
        )


async def test_no_password_needs_no_auth(emulator: Emulator) -> None:
    """An unprotected device answers everyone; the log says no auth was used."""
    async with aiohttp.ClientSession() as session, session.get(emulator.url + SYSTEM) as resp:
        assert resp.status == 200
    entry = emulator.requests("GET", SYSTEM)[-1]
    assert (entry.auth, entry.authorized, entry.status) == ("none", True, 200)


async def test_digest_challenge_is_md5_sess_with_realm_opaque_and_qop(
    emulator_factory: Any,
) -> None:
    """401 with a Digest challenge: realm whatwatt-XXXXXX.local, MD5-sess, qop, nonce, opaque."""
    emu: Emulator = await emulator_factory(password="pw", device_id="A842E39F8124")
    status, challenge, body = await _challenge(emu)
    assert status == 401
    assert challenge["scheme"] == "Digest"
    assert challenge["realm"] == "whatwatt-9F8124.local"
    assert challenge["algorithm"] == "MD5-sess"
    assert challenge["qop"] == "auth,auth-int"
    assert challenge["nonce"]
    assert challenge["opaque"]
    assert "stale" not in challenge
    assert body["error"] == "unauthorized"
    assert body["message"]


async def test_digest_with_the_right_password_works_for_get_put_and_sse(
    emulator_factory: Any,
) -> None:
    """aiohttp's DigestAuthMiddleware with an empty user name gets through (auth-int too)."""
    emu: Emulator = await emulator_factory(password="secret", licence="PLUS")
    async with _digest("secret") as session:
        async with session.get(emu.url + SYSTEM) as resp:
            assert resp.status == 200
        async with session.put(emu.url + "/api/v1/meter/settings", json={"baudrate": 9600}) as resp:
            assert resp.status == 200
        async with session.get(emu.url + "/api/v1/live") as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "text/event-stream"
    assert emu.meter_settings["baudrate"] == 9600
    put = emu.requests("PUT")[-1]
    assert (put.auth, put.authorized, put.body) == ("digest", True, {"baudrate": 9600})


@pytest.mark.parametrize("qop", ["auth", "auth-int"])
async def test_digest_with_one_offered_qop(emulator_factory: Any, qop: str) -> None:
    """A device offering only one qop still authenticates a PUT with a body."""
    emu: Emulator = await emulator_factory(password="pw", digest_qop=qop)
    _, challenge, _ = await _challenge(emu)
    assert challenge["qop"] == qop
    async with (
        _digest("pw") as session,
        session.put(emu.url + "/api/v1/settings", json={"system": {"name": "Hall"}}) as resp,
    ):
        assert resp.status == 200
    assert emu.settings["system"]["name"] == "Hall"


async def test_wrong_password_is_refused(emulator_factory: Any) -> None:
    """Digest with a wrong password ends in 401, nothing is changed, the log says so."""
    emu: Emulator = await emulator_factory(password="right")
    async with (
        _digest("wrong") as session,
        session.put(emu.url + "/api/v1/meter/settings", json={"baudrate": 9600}) as resp,
    ):
        assert resp.status == 401
    assert emu.meter_settings["baudrate"] == 115200
    assert emu.requests("PUT")[-1].authorized is False


async def test_expired_nonce_is_answered_stale_and_the_client_recovers(
    emulator_factory: Any,
) -> None:
    """After expire_nonces() the next request gets 401 stale=true; a retry gets through."""
    emu: Emulator = await emulator_factory(password="pw")
    async with _digest("pw") as session:
        async with session.get(emu.url + SYSTEM) as resp:
            assert resp.status == 200
        emu.log.clear()
        emu.faults.expire_nonces()
        async with session.get(emu.url + SYSTEM) as resp:
            assert resp.status == 200
    assert [e.status for e in emu.log] == [401, 200]


async def test_nonce_lifetime_runs_out(
    emulator_factory: Any, freezer: FrozenDateTimeFactory
) -> None:
    """A nonce older than nonce_lifetime is stale (with the right password).

    The device ages nonces on the monotonic clock; frozen, the first handshake cannot outlive
    its nonce on a busy machine, and the nonce is exactly 0.25 s old for the second request."""
    emu: Emulator = await emulator_factory(password="pw", nonce_lifetime=0.2)
    async with _digest("pw") as session:
        async with session.get(emu.url + SYSTEM) as resp:
            assert resp.status == 200
        freezer.tick(timedelta(seconds=0.25))
        emu.log.clear()
        async with session.get(emu.url + SYSTEM) as resp:
            assert resp.status == 200  # the middleware retried once with the new nonce
    assert emu.log[0].status == 401


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _authorization(
    challenge: dict[str, str], password: str, *, nc: str = "00000001", user: str = "",
    uri: str = SYSTEM, cnonce: str = "abc", algorithm: str = "MD5-sess", qop: str = "auth",
) -> str:  # fmt: skip
    realm, nonce = challenge["realm"], challenge["nonce"]
    ha1 = _md5(f"{_md5(f'{user}:{realm}:{password}')}:{nonce}:{cnonce}")
    ha2 = _md5(f"GET:{uri}")
    response = _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return (
        f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
        f'algorithm={algorithm}, response="{response}", opaque="{challenge["opaque"]}", '
        f'qop={qop}, nc={nc}, cnonce="{cnonce}"'
    )


async def _get(emu: Emulator, authorization: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(emu.url + SYSTEM, headers={"Authorization": authorization}) as resp,
    ):
        return resp.status, resp.headers.get("WWW-Authenticate", "")


async def test_replayed_nc_is_refused(emulator_factory: Any) -> None:
    """The same nonce/cnonce/nc twice is a replay: the second one gets 401 (not stale)."""
    emu: Emulator = await emulator_factory(password="pw")
    _, challenge, _ = await _challenge(emu)
    header = _authorization(challenge, "pw")
    assert (await _get(emu, header))[0] == 200
    status, www = await _get(emu, header)
    assert status == 401
    assert "stale" not in www
    assert (await _get(emu, _authorization(challenge, "pw", nc="00000002")))[0] == 200


@pytest.mark.parametrize(
    "change",
    [
        {"user": "admin"},
        {"uri": "/api/v1/settings"},
        {"algorithm": "MD5"},
        {"nc": "1"},
        {"cnonce": ""},
        {"qop": "auth-conf"},
    ],
)
async def test_digest_fields_are_checked(emulator_factory: Any, change: dict[str, str]) -> None:
    """User must be empty; uri, algorithm, nc (8 hex), cnonce and qop must be right."""
    emu: Emulator = await emulator_factory(password="pw")
    _, challenge, _ = await _challenge(emu)
    assert (await _get(emu, _authorization(challenge, "pw", **change)))[0] == 401


async def test_wrong_opaque_or_realm_is_refused(emulator_factory: Any) -> None:
    """A digest made for another opaque or realm does not pass."""
    emu: Emulator = await emulator_factory(password="pw")
    _, challenge, _ = await _challenge(emu)
    for key in ("opaque", "realm"):
        forged = {**challenge, key: "other"}
        assert (await _get(emu, _authorization(forged, "pw")))[0] == 401


async def test_unknown_nonce_with_right_password_is_stale(emulator_factory: Any) -> None:
    """A nonce the device never issued (e.g. from before a reboot) gets stale=true."""
    emu: Emulator = await emulator_factory(password="pw")
    _, challenge, _ = await _challenge(emu)
    status, www = await _get(emu, _authorization({**challenge, "nonce": "f" * 32}, "pw"))
    assert status == 401
    assert "stale=true" in www


@pytest.mark.parametrize("scheme", ["Bearer abc", "Basic Og=="])
async def test_other_schemes_are_refused_by_digest_firmware(
    emulator_factory: Any, scheme: str
) -> None:
    """FW >= 1.10 only takes Digest; the log names only none/digest/basic."""
    emu: Emulator = await emulator_factory(password="pw")
    assert (await _get(emu, scheme))[0] == 401
    assert emu.log[-1].auth == ("basic" if scheme.startswith("Basic") else "none")


async def test_old_firmware_answers_basic(emulator_factory: Any) -> None:
    """FW < 1.10: Basic challenge, Basic base64(":pw") works, Digest does not."""
    emu: Emulator = await emulator_factory(password="pw", firmware="1.9.4")
    status, challenge, _ = await _challenge(emu)
    assert status == 401
    assert challenge["scheme"] == "Basic"
    assert challenge["realm"] == "whatwatt-9F8124.local"
    assert (await _get(emu, encode_basic_auth("", "pw")))[0] == 200
    assert emu.log[-1].auth == "basic"
    assert (await _get(emu, encode_basic_auth("", "nope")))[0] == 401
    assert (await _get(emu, encode_basic_auth("admin", "pw")))[0] == 401
    assert (await _get(emu, "Basic %%%"))[0] == 401
    assert (await _get(emu, 'Digest username=""'))[0] == 401


async def test_password_change_on_the_device_switches_auth_at_once(emulator_factory: Any) -> None:
    """set_password(): the old password stops working, the new one works, None opens it."""
    emu: Emulator = await emulator_factory(password="old")
    emu.set_password("new")
    async with _digest("old") as session, session.get(emu.url + SYSTEM) as resp:
        assert resp.status == 401
    async with _digest("new") as session, session.get(emu.url + SYSTEM) as resp:
        assert resp.status == 200
    emu.set_password(None)
    async with aiohttp.ClientSession() as session, session.get(emu.url + SYSTEM) as resp:
        assert resp.status == 200


async def test_settings_protection_and_password_switch_auth(emulator: Emulator) -> None:
    """PUT /settings with protection+password protects the device for the next request."""
    async with aiohttp.ClientSession() as session:
        async with session.put(
            emulator.url + "/api/v1/settings",
            json={"system": {"protection": True, "password": "pw"}},
        ) as resp:
            assert resp.status == 200
            assert "password" not in (await resp.json())["system"]
        async with session.get(emulator.url + SYSTEM) as resp:
            assert resp.status == 401
    async with (
        _digest("pw") as session,
        session.put(
            emulator.url + "/api/v1/settings", json={"system": {"protection": False}}
        ) as resp,
    ):
        assert resp.status == 200
    async with aiohttp.ClientSession() as session, session.get(emulator.url + SYSTEM) as resp:
        assert resp.status == 200


async def test_protection_without_password_needs_no_auth(emulator: Emulator) -> None:
    """Auth is enforced only when protection is on AND a password is set."""
    emulator.settings["system"]["protection"] = True
    async with aiohttp.ClientSession() as session, session.get(emulator.url + SYSTEM) as resp:
        assert resp.status == 200


async def test_realm_follows_host_name_or_config(emulator_factory: Any) -> None:
    """Realm = host name as whatwatt-XXXXXX.local; a configured realm wins."""
    emu: Emulator = await emulator_factory(password="pw")
    emu.settings["system"]["host_name"] = "meter_cellar"
    assert (await _challenge(emu))[1]["realm"] == "meter-cellar.local"
    emu.settings["system"]["host_name"] = ""
    assert (await _challenge(emu))[1]["realm"] == "whatwatt-9F8124.local"
    other: Emulator = await emulator_factory(password="pw", realm="custom.realm")
    assert (await _challenge(other))[1]["realm"] == "custom.realm"
    async with _digest("pw") as session, session.get(other.url + SYSTEM) as resp:
        assert resp.status == 200
