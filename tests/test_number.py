"""Number entities show and change the numeric meter settings."""

from __future__ import annotations

from collections.abc import AsyncIterator

from homeassistant.components.number import (
    ATTR_MAX,
    ATTR_MIN,
    ATTR_STEP,
    ATTR_VALUE,
    DOMAIN as NUMBER_DOMAIN,
    SERVICE_SET_VALUE,
)
from homeassistant.const import (
    ATTR_ENTITY_ID,
    ATTR_UNIT_OF_MEASUREMENT,
    STATE_UNAVAILABLE,
    EntityCategory,
    Platform,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from custom_components.whatwatt.client.meter_settings import SPECS
from custom_components.whatwatt.entity import ENABLED_BY_DEFAULT
from whatwatt_emulator import Emulator

from .settings_common import SETTING_ENTITIES, entity_id, loaded, meter_writes

NUMBERS = SETTING_ENTITIES[Platform.NUMBER]


@pytest.fixture
async def loaded_entry(hass: HomeAssistant, emulator: Emulator) -> AsyncIterator[MockConfigEntry]:
    """The integration with only the number platform."""
    async with loaded(hass, emulator, [Platform.NUMBER]) as entry:
        yield entry


async def set_value(hass: HomeAssistant, entity: str, value: float) -> None:
    """Set a number as a user or automation does."""
    await hass.services.async_call(
        NUMBER_DOMAIN,
        SERVICE_SET_VALUE,
        {ATTR_ENTITY_ID: entity, ATTR_VALUE: value},
        blocking=True,
    )


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_number_entities(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    loaded_entry: MockConfigEntry,
) -> None:
    """Every number: name, range, step, unit, state, unique id, config category."""
    await snapshot_platform(hass, entity_registry, snapshot, loaded_entry.entry_id)


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_numbers_have_the_documented_ranges(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """Range from the spec; the time offset in seconds, the buffer in bytes."""
    for key in NUMBERS:
        state = hass.states.get(entity_id(hass, emulator, Platform.NUMBER, key))
        assert state is not None
        assert state.attributes[ATTR_MIN] == SPECS[key].minimum
        assert state.attributes[ATTR_MAX] == SPECS[key].maximum
    offset = hass.states.get(entity_id(hass, emulator, Platform.NUMBER, "time_offset"))
    assert offset is not None
    assert offset.attributes[ATTR_UNIT_OF_MEASUREMENT] == "s"
    assert offset.attributes[ATTR_STEP] == 1
    factor = hass.states.get(entity_id(hass, emulator, Platform.NUMBER, "conv_factor"))
    assert factor is not None
    assert factor.attributes[ATTR_STEP] == 0.001


async def test_numbers_are_the_numeric_settings_and_rare_ones_start_disabled(
    hass: HomeAssistant, entity_registry: er.EntityRegistry, loaded_entry: MockConfigEntry
) -> None:
    """The conversion factor is on; buffer size and time offset start disabled; the baud rate
    is a select, not a number."""
    entries = er.async_entries_for_config_entry(entity_registry, loaded_entry.entry_id)
    keys = {entry.unique_id.split("_", 1)[1]: entry for entry in entries}
    assert set(keys) == set(NUMBERS)
    for key, entry in keys.items():
        assert entry.entity_category is EntityCategory.CONFIG
        expected = None if key in ENABLED_BY_DEFAULT else er.RegistryEntryDisabler.INTEGRATION
        assert entry.disabled_by is expected, key


async def test_number_set_value_puts_only_that_field(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """One PUT of that field (whole values as integers); the entity shows the read-back."""
    entity = entity_id(hass, emulator, Platform.NUMBER, "conv_factor")
    await set_value(hass, entity, 2.5)
    await set_value(hass, entity, 1000)
    assert meter_writes(emulator) == [("PUT", {"conv_factor": 2.5}), ("PUT", {"conv_factor": 1000})]
    state = hass.states.get(entity)
    assert state is not None
    assert float(state.state) == 1000


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_number_refuses_a_fraction_for_a_whole_number_setting(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """1.5 s for the time offset is refused (not truncated to 1), nothing is sent."""
    entity = entity_id(hass, emulator, Platform.NUMBER, "time_offset")
    with pytest.raises(ServiceValidationError) as err:
        await set_value(hass, entity, 1.5)
    assert err.value.translation_key == "setting_invalid_type"
    assert err.value.translation_placeholders == {
        "field": "time_offset",
        "allowed": SPECS["time_offset"].allowed,
    }
    assert emulator.log == []
    await set_value(hass, entity, -3600)
    assert meter_writes(emulator) == [("PUT", {"time_offset": -3600})]


async def test_number_out_of_range_is_refused_before_sending(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """Home Assistant checks the range (from the spec) before anything is sent."""
    entity = entity_id(hass, emulator, Platform.NUMBER, "conv_factor")
    with pytest.raises(ServiceValidationError):
        await set_value(hass, entity, 1001)
    assert emulator.log == []


async def test_number_rejected_by_the_device_is_an_error(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """A 400 is a translated error naming the device's answer; the state is unchanged."""
    entity = entity_id(hass, emulator, Platform.NUMBER, "conv_factor")
    emulator.faults.fail_next(status=400)
    with pytest.raises(HomeAssistantError) as err:
        await set_value(hass, entity, 3)
    assert err.value.translation_key == "device_rejected"
    assert "answered 400" in err.value.translation_placeholders["error"]
    state = hass.states.get(entity)
    assert state is not None
    assert float(state.state) == 1


async def test_number_shows_no_value_for_a_non_number(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """A firmware reporting something that is not a number: not reported, so unavailable,
    not a guess."""
    coordinator = loaded_entry.runtime_data.meter_settings
    data = coordinator.data.as_dict()
    coordinator.async_set_updated_data(
        type(coordinator.data).from_dict({**data, "conv_factor": True})
    )
    await hass.async_block_till_done()
    state = hass.states.get(entity_id(hass, emulator, Platform.NUMBER, "conv_factor"))
    assert state is not None
    assert state.state == STATE_UNAVAILABLE
