"""Diagnostics download: everything useful for a bug report, nothing private."""

from __future__ import annotations

from collections.abc import Iterator
import json
from unittest.mock import AsyncMock, patch

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion

from custom_components.whatwatt.client import SystemInfo
from tests.integration_common import async_setup, make_entry
from whatwatt_emulator import routes
from whatwatt_emulator.pytest_plugin import EmulatorFactory

PASSWORD = "Tr0ub4dor&3"


@pytest.fixture(autouse=True)
def platforms() -> Iterator[None]:
    """Sensors and the button (the settings entities have their own tests)."""
    with patch("custom_components.whatwatt.PLATFORMS", [Platform.BUTTON, Platform.SENSOR]):
        yield


@pytest.mark.freeze_time("2026-11-24 12:00:00+00:00")
async def test_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    emulator_factory: EmulatorFactory,
    snapshot: SnapshotAssertion,
) -> None:
    """System, settings, meter settings, scalers, live state and entities, redacted."""
    emulator = await emulator_factory(password=PASSWORD, licence="PLUS", report_interval=1.0)
    emulator.settings["system"]["name"] = "Flat 3B"
    emulator.custom_scalers = [{"obis": "1.8.255", "scaler": 3}]
    entry = await async_setup(hass, make_entry(emulator, password=PASSWORD))
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diagnostics == snapshot

    dumped = json.dumps(diagnostics)
    system = emulator.requests("GET", "/api/v1/system")
    assert system
    for secret in (
        PASSWORD,
        "A842E39F8124",  # device id = Wi-Fi MAC
        "A842E39F8127",  # Ethernet MAC
        "DC15C84FBAB6",  # BSSID
        '"sjj"',  # SSID
        "127.0.0.1",
        "192.168.",
        "Flat 3B",
        "whatwatt_9F8124",  # host name
        "1ESR0012084367",  # meter id
        "ESR51030712084367",  # meter logical name
        "20000741",  # sub-meter id
        str(emulator.port),
    ):
        assert secret not in dumped, secret


async def test_diagnostics_without_general_settings(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, emulator_factory: EmulatorFactory
) -> None:
    """The general settings cannot be read: the download still works and says why."""
    emulator = await emulator_factory()
    entry = await async_setup(hass, make_entry(emulator))
    emulator.faults.fail_next(status=500)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diagnostics["settings"] == {"error": "WhatwattResponseError"}
    assert diagnostics["system"]["device"]["model"] == "WW_Go_1.2"


async def test_diagnostics_with_the_scalers_of_a_dlms_meter(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, emulator_factory: EmulatorFactory
) -> None:
    """Both lists, as the device API spells them: the scalers in use and the custom ones."""
    emulator = await emulator_factory(meter="dlms")
    emulator.custom_scalers = [{"obis": "31.7.255", "scaler": -3}]
    entry = await async_setup(hass, make_entry(emulator))
    scalers = (await get_diagnostics_for_config_entry(hass, hass_client, entry))["scalers"]
    assert scalers["custom"] == [{"obis": "31.7.255", "scaler": -3}]
    assert {"obis": "31.7.0", "scaler": -2} in scalers["current"]


@pytest.mark.parametrize("broken", ["current", "custom"])
async def test_diagnostics_when_a_scaler_list_cannot_be_read(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    emulator_factory: EmulatorFactory,
    monkeypatch: pytest.MonkeyPatch,
    broken: str,
) -> None:
    """One list cannot be read (here: the device answers an object): the download still works
    and names the error's type in its place; the other list is there."""
    emulator = await emulator_factory(meter="dlms")
    entry = await async_setup(hass, make_entry(emulator))
    if broken == "current":
        monkeypatch.setattr(routes.scalers, "current", lambda *args: {"obis": "1.8.0"})
    else:
        emulator.custom_scalers = {"obis": "1.8.0"}  # type: ignore[assignment]
    scalers = (await get_diagnostics_for_config_entry(hass, hass_client, entry))["scalers"]
    assert scalers[broken] == {"error": "WhatwattResponseError"}
    (other,) = set(scalers) - {broken}
    assert isinstance(scalers[other], list)


async def test_diagnostics_of_a_sparse_system_answer(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, emulator_factory: EmulatorFactory
) -> None:
    """Older firmware answers /system with less (no meter object, no uptime): still works,
    and nothing that was known (the last boot) is thrown away."""
    emulator = await emulator_factory()
    entry = await async_setup(hass, make_entry(emulator))
    system = entry.runtime_data.system
    boot_time = system.boot_time
    sparse = SystemInfo.from_dict({"device": {"id": "A842E39F8124", "model": "WW_Go_1.0"}})
    with patch.object(system.client, "system", AsyncMock(return_value=sparse)):
        await system.async_refresh()
    assert system.boot_time == boot_time
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diagnostics["system"] == {"device": {"id": "**REDACTED**", "model": "WW_Go_1.0"}}
