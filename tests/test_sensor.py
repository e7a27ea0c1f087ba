"""Sensors: what exists for a DSMR and a DLMS meter, exact values, Energy-dashboard safety."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNKNOWN, Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import snapshot_platform
from syrupy.assertion import SnapshotAssertion

from custom_components.whatwatt.client import Measurements, SystemInfo
from custom_components.whatwatt.sensor import LIVE_SENSORS
from tests.integration_common import async_setup, make_entry
from whatwatt_emulator import Emulator
from whatwatt_emulator.pytest_plugin import EmulatorFactory

METER = "sensor.whatwatt_go_9f8124_meter"
GATEWAY = "sensor.whatwatt_go_9f8124"


@pytest.fixture(autouse=True)
def sensors_only(freezer: FrozenDateTimeFactory) -> Iterator[None]:
    """Load only the sensor platform; time stands still (the emulator's meter sends its
    current reading when the stream opens, then nothing unless a test pushes one)."""
    with patch("custom_components.whatwatt.PLATFORMS", [Platform.SENSOR]):
        yield


def _state(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state


@pytest.mark.freeze_time("2026-11-24 12:00:00+00:00")
@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize(
    ("meter", "licence"), [("dsmr", "FREE"), ("dlms", "PLUS")], ids=["dsmr", "dlms"]
)
async def test_sensors(
    hass: HomeAssistant,
    emulator_factory: EmulatorFactory,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    meter: str,
    licence: str,
) -> None:
    """Every sensor a DSMR (P1) and a DLMS (M-Bus) meter get, with their first values."""
    emulator = await emulator_factory(meter=meter, licence=licence, report_interval=1.0)
    entry = await async_setup(hass, make_entry(emulator))
    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)


async def test_measurements_belong_to_the_meter_diagnostics_to_the_gateway(
    hass: HomeAssistant, emulator: Emulator, entity_registry: er.EntityRegistry
) -> None:
    """Measurements and the meter link sit on the meter's device, the rest on the gateway."""
    entry = await async_setup(hass, make_entry(emulator))
    devices = {
        entity.unique_id.removeprefix("A842E39F8124_"): entity.device_id
        for entity in er.async_entries_for_config_entry(entity_registry, entry.entry_id)
    }
    assert devices["power_import"] == devices["energy_import"] == devices["meter_status"]
    assert devices["wifi_signal"] == devices["last_boot"] != devices["power_import"]


async def test_only_reported_values_get_sensors_and_new_ones_appear(
    hass: HomeAssistant, emulator: Emulator, entity_registry: er.EntityRegistry
) -> None:
    """No sensor for what the meter never sent; one appears when a value first shows up."""
    entry = await async_setup(hass, make_entry(emulator))
    live = entry.runtime_data.live
    assert hass.states.get(f"{METER}_reactive_power_import") is None
    assert not entity_registry.async_get_entity_id(
        "sensor", "whatwatt", "A842E39F8124_power_factor"
    )
    live.async_set_updated_data(Measurements(power_in=1.0, power_factor=0.97))
    await hass.async_block_till_done()
    assert _state(hass, f"{METER}_power_factor") == "0.97"
    assert (
        entity_registry.async_get_entity_id(
            "sensor", "whatwatt", "A842E39F8124_reactive_power_import"
        )
        is None
    )
    live.async_set_updated_data(Measurements(power_in=1.0, reactive_in=0.25))
    await hass.async_block_till_done()
    entity_id = entity_registry.async_get_entity_id(
        "sensor", "whatwatt", "A842E39F8124_reactive_power_import"
    )
    assert entity_id is not None  # registered, disabled by default
    entity = entity_registry.async_get(entity_id)
    assert entity is not None
    assert entity.disabled_by is er.RegistryEntryDisabler.INTEGRATION


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_power_in_exact_watts(hass: HomeAssistant, emulator: Emulator) -> None:
    """kW with 3 decimals becomes exact W; net power is import minus export."""
    entry = await async_setup(hass, make_entry(emulator))
    entry.runtime_data.live.async_set_updated_data(
        Measurements(power_in=0.036, power_out=1.234, power_in_l1=0.007, voltage_l1=231.7)
    )
    await hass.async_block_till_done()
    assert _state(hass, f"{METER}_power_import") == "36.0"
    assert _state(hass, f"{METER}_power_export") == "1234.0"
    assert _state(hass, f"{METER}_net_power") == "-1198.0"
    assert _state(hass, f"{METER}_power_import_phase_1") == "7.0"
    assert _state(hass, f"{METER}_voltage_phase_1") == "231.7"
    entry.runtime_data.live.async_set_updated_data(Measurements(power_in=2.5))
    await hass.async_block_till_done()
    assert _state(hass, f"{METER}_net_power") == "2500.0"  # no export reported: import only
    entry.runtime_data.live.async_set_updated_data(Measurements())
    await hass.async_block_till_done()
    assert _state(hass, f"{METER}_net_power") == STATE_UNKNOWN


async def test_energy_counter_never_drops_to_zero_or_unknown(
    hass: HomeAssistant, emulator: Emulator
) -> None:
    """An event without the counter, or with 0, keeps the last good value (no false reset
    in the Energy dashboard); a real new value is taken."""
    entry = await async_setup(hass, make_entry(emulator))
    live = entry.runtime_data.live
    energy = f"{METER}_energy_import"
    live.async_set_updated_data(Measurements(energy_in=1234.567))
    await hass.async_block_till_done()
    assert _state(hass, energy) == "1234.567"
    for missing in (Measurements(), Measurements(energy_in=0.0)):
        live.async_set_updated_data(missing)
        await hass.async_block_till_done()
        assert _state(hass, energy) == "1234.567"
    live.async_set_updated_data(Measurements(energy_in=1234.568))
    await hass.async_block_till_done()
    assert _state(hass, energy) == "1234.568"


async def test_repeated_values_are_reported_not_stored_again(
    hass: HomeAssistant, emulator: Emulator
) -> None:
    """An event that changes nothing still reports every sensor as current (last_reported
    moves: the integration and statistics helpers rely on it), and only a changed value is
    a new state (the only thing the recorder stores)."""
    entry = await async_setup(hass, make_entry(emulator))
    live = entry.runtime_data.live
    live.async_set_updated_data(Measurements(power_in=1.0, energy_in=5.0))
    await hass.async_block_till_done()
    events: dict[str, list[str]] = {"state_changed": [], "state_reported": []}
    for event_type, seen in events.items():
        hass.bus.async_listen(
            event_type,
            callback(lambda e, seen=seen: seen.append(e.data["entity_id"])),
            event_filter=callback(lambda _: True),
        )
    live.async_set_updated_data(Measurements(power_in=1.0, energy_in=5.0))
    await hass.async_block_till_done()
    assert events["state_changed"] == []
    assert f"{METER}_energy_import" in events["state_reported"]
    assert f"{METER}_power_import" in events["state_reported"]
    events["state_reported"].clear()
    live.async_set_updated_data(Measurements(power_in=1.1, energy_in=5.0))
    await hass.async_block_till_done()
    assert events["state_changed"] == [f"{METER}_power_import", f"{METER}_net_power"]
    assert f"{METER}_energy_import" in events["state_reported"]


async def test_unknown_device_values_are_unknown_not_errors(
    hass: HomeAssistant, emulator: Emulator
) -> None:
    """A status, interface or licence newer firmware may invent is shown as unknown."""
    entry = await async_setup(hass, make_entry(emulator))
    entry.runtime_data.system.async_set_updated_data(
        SystemInfo.from_dict(
            {
                "device": {"license": {"type": "ULTRA"}, "time_since_boot": 5},
                "meter": {"status": "SLEEPING", "interface": "USB", "tariff": 7},
                "wifi": {"signal": 50},
            }
        )
    )
    entry.runtime_data.live.async_set_updated_data(Measurements(power_in=1.0, tariff=0))
    await hass.async_block_till_done()
    assert _state(hass, f"{GATEWAY}_license") == STATE_UNKNOWN
    assert _state(hass, f"{METER}_status") == STATE_UNKNOWN
    assert _state(hass, f"{METER}_active_tariff") == STATE_UNKNOWN


@pytest.mark.freeze_time("2026-11-24 12:00:00+00:00")
async def test_last_boot_moves_only_on_a_reboot(
    hass: HomeAssistant, emulator_factory: EmulatorFactory, freezer: FrozenDateTimeFactory
) -> None:
    """Last boot is computed once per boot: later polls (uptime grown) do not move it."""
    emulator = await emulator_factory(reboot_downtime=0, report_interval=1000)
    entry = await async_setup(hass, make_entry(emulator))
    last_boot = f"{GATEWAY}_last_boot"
    assert _state(hass, last_boot) == "2026-11-24T12:00:00+00:00"
    system = entry.runtime_data.system
    for _ in range(3):
        freezer.tick(timedelta(minutes=5, milliseconds=700))
        await system.async_refresh()
        await hass.async_block_till_done()
        assert _state(hass, last_boot) == "2026-11-24T12:00:00+00:00"
    await emulator.reboot(wait=True)
    await system.async_refresh()
    await hass.async_block_till_done()
    assert _state(hass, last_boot) == "2026-11-24T12:15:02+00:00"


def test_each_measurement_sensor_reads_a_real_field() -> None:
    """Every live sensor names a measurement that exists; none exists without data."""
    measured = set(Measurements.__dataclass_fields__) - {"tariff", "volumes", "meter_time"}
    full = Measurements(**dict.fromkeys(measured, 1.0), tariff=1)
    for description in LIVE_SENSORS:
        assert description.value_fn(Measurements()) is None, description.key
        assert description.value_fn(full) is not None, description.key
