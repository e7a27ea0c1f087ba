"""Authentication like curl --anyauth: none, Digest (FW >= 1.10) and Basic (older firmware)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
import itertools
from typing import Any

import aiohttp
from freezegun.api import FrozenDateTimeFactory
import pytest

from custom_components.whatwatt.client import WhatwattAuthError
from whatwatt_emulator import Emulator

from .client_common import client_for

PASSWORD = "Pa55:wörd"
KEY = "00112233445566778899AABBCCDDEEFF"


def trips(emu: Emulator) -> list[tuple[str, str, int]]:
    """What the device saw: (auth scheme carried, method, status) per request."""
    return [(r.auth, r.method, r.status) for r in emu.log]


async def test_unprotected_device_needs_no_credentials(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    """No password on the device: plain requests, no scheme chosen."""
    client = client_for(emulator, session)
    await client.system()
    await client.update_meter_settings(parity="odd")
    assert trips(emulator) == [("none", "GET", 200), ("none", "PUT", 200), ("none", "GET", 200)]
    assert client.auth_scheme is None


async def test_password_given_but_device_unprotected_sends_no_credentials(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    """Like --anyauth, credentials go out only after a challenge."""
    client = client_for(emulator, session, password=PASSWORD)
    await client.system()
    assert trips(emulator) == [("none", "GET", 200)]
    assert client.auth_scheme is None


async def test_digest_costs_one_round_trip_after_the_first_challenge(
    emulator_factory: Any, session: aiohttp.ClientSession
) -> None:
    """First call: challenge + Digest; every later call (GET, PUT with body) is one request."""
    emu = await emulator_factory(password=PASSWORD, firmware="1.10.0")
    client = client_for(emu, session, password=PASSWORD)
    await client.system()
    assert trips(emu) == [("none", "GET", 401), ("digest", "GET", 200)]
    assert client.auth_scheme == "digest"
    emu.log.clear()
    await client.system()
    await client.meter_settings()
    await client.update_meter_settings(encryption_key=KEY)
    assert trips(emu) == [
        ("digest", "GET", 200),
        ("digest", "GET", 200),
        ("digest", "PUT", 200),
        ("digest", "GET", 200),
    ]
    assert emu.meter_settings["encryption_key"] == KEY


async def test_digest_with_qop_auth_only(
    emulator_factory: Any, session: aiohttp.ClientSession
) -> None:
    """A device offering only qop=auth (no body hash) works the same."""
    emu = await emulator_factory(password=PASSWORD, digest_qop="auth")
    client = client_for(emu, session, password=PASSWORD)
    await client.update_meter_settings(parity="even")
    assert trips(emu) == [("none", "PUT", 401), ("digest", "PUT", 200), ("digest", "GET", 200)]


async def test_basic_on_old_firmware(emulator_factory: Any, session: aiohttp.ClientSession) -> None:
    """Firmware before 1.10 challenges with Basic; after that, one request per call."""
    emu = await emulator_factory(password=PASSWORD, firmware="1.9.4")
    client = client_for(emu, session, password=PASSWORD)
    await client.system()
    assert trips(emu) == [("none", "GET", 401), ("basic", "GET", 200)]
    assert client.auth_scheme == "basic"
    emu.log.clear()
    await client.update_meter_settings(parity="odd")
    assert trips(emu) == [("basic", "PUT", 200), ("basic", "GET", 200)]


async def test_stale_nonce_is_retried_once_transparently(
    emulator_factory: Any, session: aiohttp.ClientSession
) -> None:
    """401 stale=true: the same request again with the new nonce; the call succeeds."""
    emu = await emulator_factory(password=PASSWORD)
    client = client_for(emu, session, password=PASSWORD)
    await client.system()
    emu.faults.expire_nonces()
    emu.log.clear()
    await client.update_meter_settings(buffer_size=32)
    assert trips(emu) == [("digest", "PUT", 401), ("digest", "PUT", 200), ("digest", "GET", 200)]
    assert emu.meter_settings["buffer_size"] == 32


async def test_nonce_lifetime_expiry_is_retried(
    emulator_factory: Any, session: aiohttp.ClientSession, freezer: FrozenDateTimeFactory
) -> None:
    """A nonce that timed out on the device costs one extra round trip, not an error.

    Nonces age on the device's monotonic clock: frozen, so that the first call cannot outlive
    its nonce on a busy machine, and moved on past the lifetime for the second."""
    emu = await emulator_factory(password=PASSWORD, nonce_lifetime=0.3)
    client = client_for(emu, session, password=PASSWORD)
    await client.system()
    freezer.tick(timedelta(seconds=0.4))
    emu.log.clear()
    await client.system()
    assert trips(emu) == [("digest", "GET", 401), ("digest", "GET", 200)]


@pytest.mark.parametrize("firmware", ["1.10.0", "1.9.4"])
async def test_wrong_password_raises_auth_error(
    emulator_factory: Any, session: aiohttp.ClientSession, firmware: str
) -> None:
    """A rejected password is an auth error whose message never contains it."""
    emu = await emulator_factory(password=PASSWORD, firmware=firmware)
    client = client_for(emu, session, password="wrong-guess")
    with pytest.raises(WhatwattAuthError) as err:
        await client.system()
    assert "rejected" in str(err.value)
    assert "wrong-guess" not in repr(err.value)
    assert PASSWORD not in repr(err.value)


async def test_missing_password_raises_auth_error(
    emulator_factory: Any, session: aiohttp.ClientSession
) -> None:
    """A protected device and no password: auth error saying a password is needed."""
    emu = await emulator_factory(password=PASSWORD)
    with pytest.raises(WhatwattAuthError, match="requires a password"):
        await client_for(emu, session).system()
    assert trips(emu) == [("none", "GET", 401)]


async def test_password_changed_on_device_raises_auth_error(
    emulator_factory: Any, session: aiohttp.ClientSession
) -> None:
    """The password was changed elsewhere: the next call fails with an auth error."""
    emu = await emulator_factory(password=PASSWORD)
    client = client_for(emu, session, password=PASSWORD)
    await client.system()
    emu.set_password("changed")
    with pytest.raises(WhatwattAuthError):
        await client.system()


async def test_protection_turned_on_later_is_answered_with_credentials(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    """The device got a password after setup: the first challenge is answered, no error."""
    client = client_for(emulator, session, password=PASSWORD)
    await client.system()
    emulator.set_password(PASSWORD)
    emulator.log.clear()
    await client.system()
    assert trips(emulator) == [("none", "GET", 401), ("digest", "GET", 200)]


async def test_firmware_upgrade_from_basic_to_digest_is_followed(
    emulator_factory: Any, session: aiohttp.ClientSession
) -> None:
    """Basic remembered, then the device challenges with Digest: the client switches."""
    emu = await emulator_factory(password=PASSWORD, firmware="1.9.4")
    client = client_for(emu, session, password=PASSWORD)
    await client.system()
    emu.auth.digest = True  # what a firmware update to 1.10 changes
    emu.log.clear()
    await client.system()
    assert trips(emu) == [("basic", "GET", 401), ("none", "GET", 401), ("digest", "GET", 200)]
    assert client.auth_scheme == "digest"


async def test_concurrent_calls_are_serialised_and_all_authorised(
    emulator_factory: Any, session: aiohttp.ClientSession
) -> None:
    """Many calls at once go out one by one, sharing the nonce without a single 401."""
    emu = await emulator_factory(password=PASSWORD)
    client = client_for(emu, session, password=PASSWORD)
    await client.system()
    emu.log.clear()
    emu.faults.latency = 0.05
    await asyncio.gather(*(client.system() for _ in range(4)), client.meter_settings())
    assert len(emu.log) == 5
    assert all(r.authorized and r.status == 200 for r in emu.log)
    # One at a time: each answer comes at least one device latency after the previous one.
    times = [r.time for r in emu.log]
    assert all(b - a >= 0.045 for a, b in itertools.pairwise(times))
