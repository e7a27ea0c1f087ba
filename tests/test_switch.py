"""Switch entities show and change the on/off meter settings."""

from __future__ import annotations

from collections.abc import AsyncIterator

from homeassistant.components.switch import DOMAIN as SWITCH_DOMAIN
from homeassistant.const import (
    ATTR_ENTITY_ID,
    SERVICE_TURN_OFF,
    SERVICE_TURN_ON,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
    EntityCategory,
    Platform,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from custom_components.whatwatt.entity import ENABLED_BY_DEFAULT
from whatwatt_emulator import Emulator

from .settings_common import SETTING_ENTITIES, entity_id, loaded, meter_writes

SWITCHES = SETTING_ENTITIES[Platform.SWITCH]


@pytest.fixture
async def loaded_entry(hass: HomeAssistant, emulator: Emulator) -> AsyncIterator[MockConfigEntry]:
    """The integration with only the switch platform."""
    async with loaded(hass, emulator, [Platform.SWITCH]) as entry:
        yield entry


async def switch(hass: HomeAssistant, entity: str, service: str) -> None:
    """Turn a switch on or off as a user or automation does."""
    await hass.services.async_call(SWITCH_DOMAIN, service, {ATTR_ENTITY_ID: entity}, blocking=True)


def state_of(hass: HomeAssistant, entity: str) -> str:
    """Return the state of an entity."""
    state = hass.states.get(entity)
    assert state is not None
    return state.state


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_switch_entities(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    loaded_entry: MockConfigEntry,
) -> None:
    """Every switch: name, state, unique id, config category."""
    await snapshot_platform(hass, entity_registry, snapshot, loaded_entry.entry_id)


async def test_switches_are_the_on_off_settings_and_rare_ones_start_disabled(
    hass: HomeAssistant, entity_registry: er.EntityRegistry, loaded_entry: MockConfigEntry
) -> None:
    """Automatic detection and encryption are on; line inversion and NTP start disabled."""
    entries = er.async_entries_for_config_entry(entity_registry, loaded_entry.entry_id)
    keys = {entry.unique_id.split("_", 1)[1]: entry for entry in entries}
    assert set(keys) == set(SWITCHES)
    for key, entry in keys.items():
        assert entry.entity_category is EntityCategory.CONFIG
        expected = None if key in ENABLED_BY_DEFAULT else er.RegistryEntryDisabler.INTEGRATION
        assert entry.disabled_by is expected, key


async def test_switch_turn_off_and_on_put_only_that_field(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """Each change is one PUT of that field; the entity follows the device's read-back."""
    entity = entity_id(hass, emulator, Platform.SWITCH, "auto_baudrate")
    assert state_of(hass, entity) == STATE_ON

    await switch(hass, entity, SERVICE_TURN_OFF)
    assert state_of(hass, entity) == STATE_OFF
    await switch(hass, entity, SERVICE_TURN_ON)
    assert state_of(hass, entity) == STATE_ON

    assert meter_writes(emulator) == [
        ("PUT", {"auto_baudrate": False}),
        ("PUT", {"auto_baudrate": True}),
    ]
    assert emulator.meter_settings["auto_baudrate"] is True


async def test_switch_failure_is_an_error_and_keeps_the_state(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """The connection drops: a translated error, nothing reported as switched."""
    entity = entity_id(hass, emulator, Platform.SWITCH, "encryption")
    emulator.faults.reset_next(count=2)  # aiohttp retries a reused connection once
    with pytest.raises(HomeAssistantError) as err:
        await switch(hass, entity, SERVICE_TURN_ON)
    assert err.value.translation_key == "cannot_connect"
    assert state_of(hass, entity) == STATE_OFF
    assert emulator.meter_settings["encryption"] is False


async def test_switch_with_a_changed_password_starts_reauthentication(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """A rejected password: a translated error and a reauthentication flow."""
    entity = entity_id(hass, emulator, Platform.SWITCH, "encryption")
    emulator.set_password("changed")
    with pytest.raises(HomeAssistantError) as err:
        await switch(hass, entity, SERVICE_TURN_ON)
    await hass.async_block_till_done()
    assert err.value.translation_key == "invalid_auth"
    flows = hass.config_entries.flow.async_progress_by_handler("whatwatt")
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]


async def test_switch_shows_no_state_for_a_value_that_is_not_on_or_off(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """A firmware reporting something other than true/false: not reported, so unavailable,
    not a guess."""
    coordinator = loaded_entry.runtime_data.meter_settings
    data = coordinator.data.as_dict()
    coordinator.async_set_updated_data(type(coordinator.data).from_dict({**data, "encryption": 1}))
    await hass.async_block_till_done()
    state = state_of(hass, entity_id(hass, emulator, Platform.SWITCH, "encryption"))
    assert state == STATE_UNAVAILABLE
