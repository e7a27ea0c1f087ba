"""Setting a whatwatt Go up and down in a real Home Assistant, against the emulator."""

from __future__ import annotations

import json
from pathlib import Path
import re
from typing import Any

from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.loader import async_get_integration
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.whatwatt.const import DOMAIN
from custom_components.whatwatt.entity import configuration_url, gateway_name
from custom_components.whatwatt.sensor import LIVE_SENSORS, SYSTEM_SENSORS
from tests.integration_common import async_setup, async_wait_for, make_entry
from whatwatt_emulator import Emulator
from whatwatt_emulator.pytest_plugin import EmulatorFactory


async def test_integration_loads_from_repository(hass: HomeAssistant) -> None:
    """HA resolves our manifest (not phcc's shadow package) and sets the domain up."""
    integration = await async_get_integration(hass, DOMAIN)
    assert integration.file_path.parts[-2:] == ("custom_components", "whatwatt")
    assert str(integration.version) == "0.3.0"
    assert integration.config_flow is True
    assert integration.manifest["zeroconf"] == [{"type": "_http._tcp.local.", "name": "whatwatt*"}]
    assert await async_setup_component(hass, DOMAIN, {})
    assert DOMAIN in hass.config.components


async def test_setup_streams_and_unload_stops(hass: HomeAssistant, emulator: Emulator) -> None:
    """Setup reads system + meter settings once, opens the stream; unload closes it."""
    entry = await async_setup(hass, make_entry(emulator))
    assert len(emulator.requests("GET", "/api/v1/system")) == 1
    assert len(emulator.requests("GET", "/api/v1/meter/settings")) == 1
    assert emulator.live_connections == 1
    assert not emulator.requests("GET", "/api/v1/report")  # FREE: no report polling
    runtime = entry.runtime_data
    assert runtime.live.data is not None
    assert runtime.live.data.power_in is not None

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    await async_wait_for(hass, lambda: emulator.stream is None)
    connections = emulator.live_connections
    await async_wait_for(hass, lambda: emulator.live_connections == connections)


async def test_setup_retries_while_device_is_unreachable(
    hass: HomeAssistant, emulator_factory: EmulatorFactory
) -> None:
    """Device off at startup: setup is retried later (ConfigEntryNotReady), no error."""
    emulator = await emulator_factory()
    entry = make_entry(emulator)
    await emulator.stop()
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert "Cannot connect to whatwatt Go 9F8124" in str(entry.reason)


async def test_setup_with_rejected_password_asks_for_it(
    hass: HomeAssistant, emulator_factory: EmulatorFactory
) -> None:
    """A password changed while HA was off: setup fails with a reauth flow waiting."""
    emulator = await emulator_factory(password="changed")
    entry = make_entry(emulator, password="old")
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]


async def test_setup_refuses_another_device_at_the_address(
    hass: HomeAssistant, emulator: Emulator
) -> None:
    """The address now answers with a different gateway: retry, never mix two devices."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="0123456789AB",
        data={CONF_HOST: emulator.host, CONF_PORT: emulator.port},
    )
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert emulator.live_connections == 0


async def test_gateway_and_meter_devices(
    hass: HomeAssistant, emulator: Emulator, device_registry: dr.DeviceRegistry
) -> None:
    """Gateway: whatwatt, firmware, both MACs, Web UI link; the meter hangs off it."""
    entry = await async_setup(hass, make_entry(emulator))
    gateway = device_registry.async_get_device_by_identifier(
        (DOMAIN, "A842E39F8124"), entry.entry_id
    )
    assert gateway is not None
    assert gateway.name == "whatwatt Go 9F8124"
    assert gateway.manufacturer == "whatwatt"
    assert gateway.model == "WW_Go_1.2"
    assert gateway.sw_version == "1.10.0"
    assert gateway.serial_number == "A842E39F8124"
    assert gateway.configuration_url == f"http://127.0.0.1:{emulator.port}/"
    assert gateway.connections == {
        (dr.CONNECTION_NETWORK_MAC, "a8:42:e3:9f:81:24"),
        (dr.CONNECTION_NETWORK_MAC, "a8:42:e3:9f:81:27"),
    }
    meter = device_registry.async_get_device_by_identifier(
        (DOMAIN, "A842E39F8124_meter"), entry.entry_id
    )
    assert meter is not None
    assert meter.name == "whatwatt Go 9F8124 meter"
    assert meter.via_device_id == gateway.id
    assert meter.manufacturer == "Ensor"
    assert meter.serial_number == "1ESR0012084367"
    gas = device_registry.async_get_device_by_identifier(
        (DOMAIN, "A842E39F8124_bus1_20000741"), entry.entry_id
    )
    assert gas is not None  # the P1 meter's gas meter, a device of its own behind the meter
    assert gas.via_device_id == meter.id
    assert {d.id for d in dr.async_entries_for_config_entry(device_registry, entry.entry_id)} == {
        gateway.id,
        meter.id,
        gas.id,
    }


async def test_devices_follow_firmware_update_and_meter_change(
    hass: HomeAssistant, emulator: Emulator, device_registry: dr.DeviceRegistry
) -> None:
    """A firmware update or a newly recognised meter shows in the devices at the next poll."""
    entry = await async_setup(hass, make_entry(emulator))
    emulator.config.firmware = "1.11.2"
    emulator.set_meter_status("RECOGNITION")
    await entry.runtime_data.system.async_refresh()
    await hass.async_block_till_done()
    gateway = device_registry.async_get_device_by_identifier(
        (DOMAIN, "A842E39F8124"), entry.entry_id
    )
    meter = device_registry.async_get_device_by_identifier(
        (DOMAIN, "A842E39F8124_meter"), entry.entry_id
    )
    assert gateway is not None
    assert meter is not None
    assert gateway.sw_version == "1.11.2"
    assert meter.manufacturer is None  # not recognised (yet): nothing is made up
    assert meter.serial_number is None


async def test_unload_withdraws_repair_issues(
    hass: HomeAssistant, emulator: Emulator, issue_registry: ir.IssueRegistry
) -> None:
    """Issues belong to a loaded entry: removing or unloading it takes them away."""
    emulator.set_meter_status("KEY REQUIRED")
    entry = await async_setup(hass, make_entry(emulator))
    assert issue_registry.async_get_issue(DOMAIN, f"meter_not_talking_{entry.entry_id}")
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert not issue_registry.async_get_issue(DOMAIN, f"meter_not_talking_{entry.entry_id}")


def test_web_ui_address() -> None:
    """The device page links to its Web UI; IPv6 in brackets, port only when not 80."""
    assert configuration_url("192.0.2.1", 80) == "http://192.0.2.1/"
    # host names are case-insensitive: yarl writes them in lower case
    assert configuration_url("whatwatt-9F8124.local", 8080) == "http://whatwatt-9f8124.local:8080/"
    assert configuration_url("fe80::1", 80) == "http://[fe80::1]/"
    assert configuration_url("fe80::1", 8080) == "http://[fe80::1]:8080/"


def test_the_gateway_is_named_as_in_its_web_ui_or_by_its_id() -> None:
    """One rule for the gateway's name (the entry title, the device, the discovery card)."""
    assert gateway_name("Basement meter", "A842E39F8124") == "Basement meter"
    assert gateway_name(None, "A842E39F8124") == "whatwatt Go 9F8124"


TRANSLATIONS = Path(__file__).parent.parent / "custom_components" / "whatwatt" / "translations"


def _leaves(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    leaves: dict[str, str] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            leaves.update(_leaves(value, f"{prefix}{key}."))
        else:
            leaves[f"{prefix}{key}"] = value
    return leaves


@pytest.mark.parametrize(
    "language", sorted(path.stem for path in TRANSLATIONS.glob("*.json") if path.stem != "en")
)
def test_every_language_is_complete(language: str) -> None:
    """Every translation file (German, French, Italian, Dutch, any added later) has exactly the
    English keys, each with a text and the same placeholders."""
    english = _leaves(json.loads((TRANSLATIONS / "en.json").read_text()))
    other = _leaves(json.loads((TRANSLATIONS / f"{language}.json").read_text()))
    assert set(other) == set(english)
    for key, text in english.items():
        assert set(re.findall(r"{(\w+)}", other[key])) == set(re.findall(r"{(\w+)}", text)), key
        assert other[key].strip(), key


def test_every_sensor_and_state_has_a_name() -> None:
    """Each sensor's name and each enum option is translated; icons refer to real keys."""
    english = json.loads((TRANSLATIONS / "en.json").read_text())["entity"]["sensor"]
    for description in (*LIVE_SENSORS, *SYSTEM_SENSORS):
        if description.translation_key is None:
            assert description.device_class is not None  # named after its device class
            continue
        names = english[description.translation_key]
        assert names["name"]
        for option in description.options or ():
            assert names["state"][option]
    icons = json.loads((TRANSLATIONS.parent / "icons.json").read_text())["entity"]["sensor"]
    assert set(icons) <= set(english)
    for key, icon in icons.items():
        assert set(icon.get("state", {})) <= set(english[key].get("state", {}))
