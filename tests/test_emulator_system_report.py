"""/api/v1/system and /api/v1/report look like the vendor's examples and follow the device."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
import re
import time
from typing import Any

import aiohttp
from freezegun.api import FrozenDateTimeFactory
import pytest

from whatwatt_emulator import Emulator

REFERENCE = Path(__file__).parents[1] / "whatwatt_emulator" / "reference"
SYSTEM_EXAMPLE = json.loads((REFERENCE / "system_example.json").read_text())["example"]
REPORT_EXAMPLES = json.loads((REFERENCE / "report_examples.json").read_text())


def _shape(value: Any) -> Any:
    """Keys and JSON types of a document (numbers are one type: the device writes 0 or 0.5)."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


async def _get(emu: Emulator, path: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(emu.url + path) as resp:
        return resp.status, await resp.json()


@pytest.mark.parametrize("meter", ["dsmr", "dlms"])
async def test_system_has_the_full_shape_of_the_vendor_example(
    emulator_factory: Any, meter: str
) -> None:
    """Every key of the vendor's full example, with the same JSON types, and nothing more."""
    emu: Emulator = await emulator_factory(meter=meter, licence="PLUS")
    status, body = await _get(emu, "/api/v1/system")
    assert status == 200
    assert _shape(body) == _shape(SYSTEM_EXAMPLE)


async def test_system_values_follow_the_device(emulator_factory: Any) -> None:
    """Identity, firmware, licence, uptime and meter identity match the configuration."""
    emu: Emulator = await emulator_factory(
        device_id="ECC9FF5C7F14", licence="PRO", firmware="1.10.2", meter="dlms"
    )
    _, body = await _get(emu, "/api/v1/system")
    device = body["device"]
    assert (device["id"], device["firmware"], device["model"]) == (
        "ECC9FF5C7F14", "1.10.2", "WW_Go_1.2"
    )  # fmt: skip
    assert device["license"] == {"type": "PRO", "activation_date": "2025-09-24T11:05:41Z"}
    assert device["time_since_boot"] < 5
    assert body["wifi"]["mac"] == "ECC9FF5C7F14"
    assert body["ethernet"]["mac"] == "ECC9FF5C7F17"  # as in the vendor example
    assert body["wifi"]["ip"] == "127.0.0.1"
    meter = body["meter"]
    assert meter["status"] == "OK"
    assert (meter["interface"], meter["protocol"]) == ("MBUS", "DLMS")
    assert meter["manufacturer"] == "Landis+Gyr"
    assert meter["type"] == "LGZ1030784855204"
    assert meter["report_interval"] == 0.05
    assert device["plug"]["v_mbus"] > 10


async def test_free_licence_has_no_activation_date(emulator: Emulator) -> None:
    """FREE: licence type only; myStrom (a Plus feature) stays disabled."""
    _, body = await _get(emulator, "/api/v1/system")
    assert body["device"]["license"] == {"type": "FREE"}
    assert body["clouds"]["mystrom"] == {"enabled": False, "status": "DISABLED"}


async def test_system_name_comes_from_settings(emulator: Emulator) -> None:
    """device.name is system.name of /api/v1/settings."""
    emulator.settings["system"]["name"] = "Basement"
    _, body = await _get(emulator, "/api/v1/system")
    assert body["device"]["name"] == "Basement"


async def test_meter_time_applies_time_offset(emulator: Emulator) -> None:
    """meter.date/time are shifted by the time_offset meter setting (seconds)."""
    emulator.store_meter_settings({**emulator.meter_settings, "time_offset": 7200})
    _, body = await _get(emulator, "/api/v1/system")
    device = datetime.fromisoformat(f"{body['device']['date']}T{body['device']['time']}")
    meter = datetime.fromisoformat(f"{body['meter']['date']}T{body['meter']['time']}")
    assert 7199 <= (meter - device).total_seconds() <= 7201


@pytest.mark.parametrize(
    ("changes", "status", "interface"),
    [
        ({"if_type": "mbus"}, "NOT CONNECTED", "NONE"),
        ({"auto_baudrate": False, "baudrate": 9600}, "NO DATA", "NONE"),
        ({"auto_baudrate": False, "baudrate": 115200}, "OK", "P1"),
        ({"protocol": "kmp"}, "NOT RECOGNIZED", "P1"),
        ({"encryption": True}, "OK", "P1"),  # DSMR P1 is not DLMS-encrypted
    ],
)
async def test_dsmr_meter_status_follows_the_settings(
    emulator: Emulator, changes: dict[str, Any], status: str, interface: str
) -> None:
    """A wrong interface, baud rate or protocol loses the meter, as on the device."""
    async with (
        aiohttp.ClientSession() as session,
        session.put(emulator.url + "/api/v1/meter/settings", json=changes),
    ):
        pass
    _, body = await _get(emulator, "/api/v1/system")
    assert (body["meter"]["status"], body["meter"]["interface"]) == (status, interface)


async def test_dlms_key_status_and_enc_en(emulator_factory: Any) -> None:
    """Encryption on: no key = KEY REQUIRED, wrong key = ENCRYPTION KEY, right key = OK."""
    emu: Emulator = await emulator_factory(meter="dlms", licence="PLUS")
    url = emu.url + "/api/v1/meter/settings"
    async with aiohttp.ClientSession() as session:
        for body, expected in (
            ({"encryption": True}, "KEY REQUIRED"),
            ({"encryption_key": "FF" * 16}, "ENCRYPTION KEY"),
            ({"encryption_key": emu.config.meter_key.lower()}, "OK"),
        ):
            async with session.put(url, json=body):
                pass
            _, system = await _get(emu, "/api/v1/system")
            _, report = await _get(emu, "/api/v1/report")
            assert system["meter"]["status"] == expected
            assert report["meter"]["status"] == expected
            assert system["meter"]["enc_en"] is True
            assert ("voltage" in report["report"]) is (expected == "OK")


async def test_dlms_authentication_key_when_the_meter_uses_one(emulator_factory: Any) -> None:
    """A meter that authenticates needs the matching authentication_key too."""
    auth_key = "00112233445566778899AABBCCDDEEFF"
    emu: Emulator = await emulator_factory(meter="dlms", meter_auth_key=auth_key)
    assert emu.meter_status() == "KEY REQUIRED"
    emu.store_meter_settings({**emu.meter_settings, "authentication_key": "1" * 32})
    assert emu.meter_status() == "ENCRYPTION KEY"
    emu.store_meter_settings({**emu.meter_settings, "authentication_key": auth_key})
    assert emu.meter_status() == "OK"
    _, body = await _get(emu, "/api/v1/system")
    assert body["meter"]["auth_en"] is True


async def test_forced_meter_status_shows_everywhere(emulator_factory: Any) -> None:
    """set_meter_status() is what /system and /report say; None goes back to normal."""
    emu: Emulator = await emulator_factory(licence="PLUS")
    emu.set_meter_status("NOT CONNECTED")
    _, system = await _get(emu, "/api/v1/system")
    _, report = await _get(emu, "/api/v1/report")
    assert system["meter"]["status"] == "NOT CONNECTED"
    assert "tariff" not in system["meter"]
    assert report["meter"] == {"status": "NOT CONNECTED"}
    assert set(report["report"]) == {"id"}
    emu.set_meter_status(None)
    assert emu.meter_status() == "OK"


async def test_report_needs_a_plus_licence(emulator: Emulator) -> None:
    """FREE: 404 with {"error":"license_required","message":"License required"}."""
    status, body = await _get(emulator, "/api/v1/report")
    assert status == 404
    assert body == {"error": "license_required", "message": "License required"}


@pytest.mark.parametrize("meter", ["dsmr", "dlms"])
async def test_report_has_the_shape_of_the_vendor_example(
    emulator_factory: Any, meter: str, freezer: FrozenDateTimeFactory
) -> None:
    """Same keys and types as the vendor's example for that meter (L+G MBUS / Ensor P1).

    The Ensor example's gas meter has only ``bus`` and ``meter_id``: one the meter knows but
    has not read yet, which is what a freshly paired sub-meter sends until its first capture
    (a read one adds ``date_time`` and ``cumulative``: tests/test_emulator_submeters.py).
    The clock stands still, so its first capture does not come during the test.
    """
    emu: Emulator = await emulator_factory(meter=meter, licence="PLUS", submeters="none")
    if meter == "dsmr":
        emu.add_submeter(1, "20000741", "gas")
    status, body = await _get(emu, "/api/v1/report")
    assert status == 200
    assert _shape(body) == _shape(REPORT_EXAMPLES[meter])


async def test_report_timestamps_carry_the_local_z_quirk(emulator_factory: Any) -> None:
    """date_time is local time with a Z (C2); _local has the offset; _utc is real UTC."""
    emu: Emulator = await emulator_factory(licence="PLUS")
    _, body = await _get(emu, "/api/v1/report")
    for part in (body["report"], body["system"]):
        local = datetime.fromisoformat(part["date_time_local"])
        utc = datetime.fromisoformat(part["date_time_utc"])
        assert part["date_time"] == local.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert local == utc
        assert part["date_time_utc"].endswith("Z")
        assert abs((utc - datetime.now(UTC)).total_seconds()) < 5
    assert re.fullmatch(r"[0-9A-F]{8}", body["system"]["boot_id"])


async def test_report_ids_rise_and_energy_never_falls(emulator_factory: Any) -> None:
    """Report ids increase; energy registers only increase, tariff registers sum up."""
    emu: Emulator = await emulator_factory(licence="PLUS", report_interval=0.01)
    # The world runs an hour per second, so kWh move visibly and every event is at a new
    # whole second (a meter stamps its registers with the second it captured them at).
    emu.clock.set(speed=3600.0, unlimited=True)
    bodies = []
    for _ in range(10):
        bodies.append((await _get(emu, "/api/v1/report"))[1]["report"])
        await emu.push_report()
    ids = [b["id"] for b in bodies]
    assert ids == sorted(set(ids))
    totals = [b["energy"]["active"]["positive"]["total"] for b in bodies]
    assert totals == sorted(totals)
    assert totals[-1] > totals[0]
    last = bodies[-1]["energy"]["active"]["positive"]
    assert last["total"] == pytest.approx(last["t1"] + last["t2"], abs=0.002)


async def test_report_phases_add_up_and_current_matches_power(emulator_factory: Any) -> None:
    """Total power is the sum of the phases; current = power / voltage."""
    emu: Emulator = await emulator_factory(licence="PLUS", meter="dlms")
    _, body = await _get(emu, "/api/v1/report")
    report = body["report"]
    active = report["instantaneous_power"]["active"]
    phases = sum(active["positive"][p] for p in ("l1", "l2", "l3"))
    assert active["positive"]["total"] == pytest.approx(phases, abs=0.003)
    net = active["positive"]["l1"] - active["negative"]["l1"]
    assert report["current"]["l1"] == pytest.approx(
        abs(net) * 1000 / report["voltage"]["l1"], abs=0.05
    )
    assert "t1" not in report["energy"]["active"]["positive"]
    assert "reactive" in report["energy"]


async def test_conv_factor_scales_power_energy_and_current(emulator_factory: Any) -> None:
    """conv_factor multiplies power, energy and current, not voltage."""
    emu: Emulator = await emulator_factory(licence="PLUS", report_interval=60)
    _, before = await _get(emu, "/api/v1/report")
    emu.store_meter_settings({**emu.meter_settings, "conv_factor": 1000})
    _, after = await _get(emu, "/api/v1/report")
    b, a = before["report"], after["report"]
    assert a["id"] == b["id"]  # the same reading, seen through another factor
    assert a["conv_factor"] == 1000
    assert a["energy"]["active"]["positive"]["total"] == pytest.approx(
        b["energy"]["active"]["positive"]["total"] * 1000, rel=1e-3
    )
    assert a["current"]["l1"] == pytest.approx(b["current"]["l1"] * 1000, rel=1e-2, abs=6)
    assert a["voltage"] == b["voltage"]


async def test_reboot_resets_uptime_and_boot_id(
    emulator_factory: Any, freezer: FrozenDateTimeFactory
) -> None:
    """POST /reboot: 204, offline for the downtime, back with a new boot_id and uptime 0.

    The reboot runs on the loop's clock, frozen here: the device stays offline until the test
    lets time pass, and the uptime is exactly 0 when it is back, however busy the machine."""
    emu: Emulator = await emulator_factory(licence="PLUS", reboot_downtime=0.3)
    _, first = await _get(emu, "/api/v1/report")
    async with aiohttp.ClientSession() as session:
        async with session.post(emu.url + "/api/v1/reboot") as resp:
            assert resp.status == 204
            assert await resp.read() == b""
        freezer.tick(timedelta(seconds=0.15))
        await _real_wait(lambda: not emu.online)
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(emu.url + "/api/v1/system")
    assert not emu.online

    def back() -> bool:
        freezer.tick(timedelta(seconds=0.1))  # time passes until the downtime is over
        return emu.online

    await _real_wait(back)
    _, second = await _get(emu, "/api/v1/report")
    assert second["system"]["boot_id"] != first["system"]["boot_id"]
    assert second["system"]["time_since_boot"] == 0
    assert second["report"]["id"] == 1
    _, system = await _get(emu, "/api/v1/system")
    assert system["device"]["time_since_boot"] == 0


async def _real_wait(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    """Let the loop run until ``condition()``, pausing in real time (the clock is frozen)."""
    deadline = time.clock_gettime(time.CLOCK_MONOTONIC) + seconds
    while not condition():
        assert time.clock_gettime(time.CLOCK_MONOTONIC) < deadline, "condition not met in time"
        await asyncio.get_running_loop().run_in_executor(None, time.sleep, 0.005)


async def test_restore_resets_everything_and_reboots(emulator_factory: Any) -> None:
    """POST /restore: 204, then factory settings (password gone too), custom scalers gone."""
    emu: Emulator = await emulator_factory(password="pw", reboot_downtime=0.05)
    emu.store_meter_settings({**emu.meter_settings, "baudrate": 9600})
    emu.custom_scalers = [{"obis": "1.8.0", "scaler": 3}]
    emu.settings["system"]["name"] = "x"
    async with (
        aiohttp.ClientSession(middlewares=(aiohttp.DigestAuthMiddleware("", "pw"),)) as session,
        session.post(emu.url + "/api/v1/restore") as resp,
    ):
        assert resp.status == 204
    await emu.reboot(wait=True)  # already rebooting: waits for that reboot to finish
    assert emu.meter_settings["baudrate"] == 115200
    assert emu.custom_scalers == []
    assert emu.settings["system"]["name"] == ""
    assert emu.password is None
