"""Every client method against the emulated device over loopback."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aiohttp
from freezegun.api import FrozenDateTimeFactory
import pytest

from custom_components.whatwatt.client import (
    MeterSettings,
    WhatwattConnectionError,
    WhatwattLicenseRequired,
    WhatwattValidationError,
)
from custom_components.whatwatt.client.meter_settings import DEFAULTS, full_settings
from whatwatt_emulator import Emulator

from .client_common import client_for, until

KEY = "00112233445566778899AABBCCDDEEFF"


async def test_system_reads_identity_licence_and_meter(
    emulator_factory: Any, session: aiohttp.ClientSession
) -> None:
    """system() returns the device's id, firmware, licence and meter link."""
    emu = await emulator_factory(device_id="A842E39F8124", licence="PLUS", firmware="1.10.2")
    info = await client_for(emu, session).system()
    assert info.device.id == "A842E39F8124"
    assert info.device.firmware == "1.10.2"
    assert info.device.license.type == "PLUS"
    assert info.device.time_since_boot is not None
    assert info.meter.status == "OK"
    assert info.meter.protocol == "DSMR"
    assert info.raw["device"]["id"] == "A842E39F8124"
    assert [(r.method, r.path) for r in emu.log] == [("GET", "/api/v1/system")]


async def test_meter_settings_reads_factory_defaults_without_keys(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    """A fresh device reports the documented defaults; keys are not part of the model."""
    settings = await client_for(emulator, session).meter_settings()
    assert settings == MeterSettings(**DEFAULTS)
    assert not hasattr(settings, "encryption_key")


async def test_update_meter_settings_sends_only_changed_fields(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    """PUT carries exactly the given fields; the result is what the device reads back."""
    client = client_for(emulator, session)
    result = await client.update_meter_settings(if_type="p1", protocol="dsmr", baudrate=9600.0)
    puts = emulator.requests("PUT", "/api/v1/meter/settings")
    assert [r.body for r in puts] == [{"baudrate": 9600, "if_type": "p1", "protocol": "dsmr"}]
    assert (result.if_type, result.protocol, result.baudrate) == ("p1", "dsmr", 9600)
    assert result.parity == "none"  # untouched fields keep their values
    assert [r.method for r in emulator.log] == ["PUT", "GET"]


async def test_update_meter_settings_sends_keys_but_never_reads_them_back(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    """The DLMS key reaches the device; the settings read back do not contain it."""
    client = client_for(emulator, session)
    result = await client.update_meter_settings(encryption=True, encryption_key=KEY.lower())
    assert emulator.meter_settings["encryption_key"] == KEY
    assert result.encryption is True
    assert KEY not in repr(result)
    assert "encryption_key" not in result.as_dict()


async def test_update_meter_settings_with_nothing_writes_nothing(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    """No changes: no PUT, just the current settings."""
    result = await client_for(emulator, session).update_meter_settings()
    assert result.baudrate == 115200
    assert [r.method for r in emulator.log] == ["GET"]


async def test_replace_meter_settings_posts_full_settings(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    """POST sends every readable field (missing ones at their defaults), then reads back."""
    client = client_for(emulator, session)
    await client.update_meter_settings(parity="even", buffer_size=12)
    emulator.log.clear()
    result = await client.replace_meter_settings({"if_type": "mbus", "conv_factor": 2.5})
    posts = emulator.requests("POST", "/api/v1/meter/settings")
    assert [r.body for r in posts] == [full_settings({"if_type": "mbus", "conv_factor": 2.5})]
    assert (result.if_type, result.conv_factor) == ("mbus", 2.5)
    assert (result.parity, result.buffer_size) == ("none", 64)  # back to defaults


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"baudrate": 100}, "baudrate", "out_of_range"),
        ({"parity": "mark"}, "parity", "invalid_option"),
        ({"encryption_key": "XYZ"}, "encryption_key", "invalid_key"),
        ({"colour": "red"}, "colour", "unknown_field"),
        ({"auto_baudrate": "yes"}, "auto_baudrate", "invalid_type"),
    ],
)
async def test_invalid_meter_settings_send_nothing(
    emulator: Emulator,
    session: aiohttp.ClientSession,
    changes: dict[str, Any],
    field: str,
    reason: str,
) -> None:
    """Bad input raises a field-specific error before any request reaches the device."""
    client = client_for(emulator, session)
    with pytest.raises(WhatwattValidationError) as err:
        await client.update_meter_settings(**changes)
    assert (err.value.field, err.value.reason) == (field, reason)
    with pytest.raises(WhatwattValidationError):
        await client.replace_meter_settings(changes)
    assert emulator.log == []


async def test_settings_reads_general_settings_without_password(
    emulator_factory: Any, session: aiohttp.ClientSession
) -> None:
    """settings() returns the nested general settings; the password is never in them."""
    emu = await emulator_factory(password="s3cret")
    settings = await client_for(emu, session, password="s3cret").settings()
    assert settings["services"]["broadcast"] is True
    assert settings["system"]["protection"] is True
    assert "password" not in settings["system"]
    assert "s3cret" not in repr(settings)


async def test_report_on_free_licence_raises_licence_required(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    """FREE answers 404 "License required": a dedicated error, not a missing device."""
    with pytest.raises(WhatwattLicenseRequired) as err:
        await client_for(emulator, session).report()
    assert err.value.status == 404
    assert "License required" in str(err.value)


async def test_report_on_plus_licence_reads_measurements(
    emulator_factory: Any, session: aiohttp.ClientSession
) -> None:
    """PLUS: a report with id, meter, system and the measurements of the meter."""
    emu = await emulator_factory(licence="PLUS")
    report = await client_for(emu, session).report()
    assert report.id is not None
    assert report.meter.status == "OK"
    assert report.meter.protocol == "DSMR"
    assert report.system.id == emu.config.device_id
    assert report.system.boot_id == emu.boot_id
    assert report.date_time_utc is not None
    assert report.date_time_utc.utcoffset() is not None
    m = report.measurements
    assert m.power_in is not None
    assert m.voltage_l1 is not None
    assert m.energy_in is not None


async def test_reboot_posts_and_device_goes_offline(
    emulator_factory: Any, session: aiohttp.ClientSession, freezer: FrozenDateTimeFactory
) -> None:
    """reboot() gets 204; while the device reboots, calls fail with a connection error.

    The emulator's reboot runs on the loop's clock: frozen, the device stays offline until the
    test moves the clock past its downtime, however slow the machine (with a real 0.3 s
    downtime, a stall of the machine between seeing it go and asking it could let the call
    succeed)."""
    emu = await emulator_factory(reboot_downtime=0.3)
    client = client_for(emu, session, request_timeout=2)
    assert await client.reboot() is None
    assert [(r.method, r.path, r.status) for r in emu.log] == [("POST", "/api/v1/reboot", 204)]
    boot_id = emu.boot_id
    freezer.tick(timedelta(seconds=0.1))  # the 204 is out: the device goes down
    await until(lambda: not emu.online)
    with pytest.raises(WhatwattConnectionError):
        await client.system()
    assert not emu.online

    def back() -> bool:
        freezer.tick(timedelta(seconds=0.1))  # time passes until the downtime is over
        return emu.online

    await until(back)
    await client.system()
    assert emu.boot_id != boot_id


async def test_client_talks_to_the_configured_port_and_hides_the_password(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    """repr names the device; it never shows the password."""
    client = client_for(emulator, session, password="hunter2")
    assert repr(client) == f"WhatwattClient('127.0.0.1:{emulator.port}')"
    assert "hunter2" not in repr(client._auth)
    assert client.auth_scheme is None
