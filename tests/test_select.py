"""Select entities show and change the choice-type meter settings (and the baud rate)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from homeassistant.components.select import (
    ATTR_OPTION,
    ATTR_OPTIONS,
    DOMAIN as SELECT_DOMAIN,
    SERVICE_SELECT_OPTION,
)
from homeassistant.const import ATTR_ENTITY_ID, STATE_UNAVAILABLE, EntityCategory, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_component import DATA_INSTANCES
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from custom_components.whatwatt.client.meter_settings import SPECS
from custom_components.whatwatt.entity import ENABLED_BY_DEFAULT, STANDARD_BAUDRATES
from whatwatt_emulator import Emulator

from .settings_common import SETTING_ENTITIES, entity_id, loaded, meter_writes

SELECTS = SETTING_ENTITIES[Platform.SELECT]


@pytest.fixture
async def loaded_entry(hass: HomeAssistant, emulator: Emulator) -> AsyncIterator[MockConfigEntry]:
    """The integration with only the select platform."""
    async with loaded(hass, emulator, [Platform.SELECT]) as entry:
        yield entry


async def select(hass: HomeAssistant, entity: str, option: str) -> None:
    """Pick an option as a user or automation does."""
    await hass.services.async_call(
        SELECT_DOMAIN,
        SERVICE_SELECT_OPTION,
        {ATTR_ENTITY_ID: entity, ATTR_OPTION: option},
        blocking=True,
    )


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_select_entities(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    loaded_entry: MockConfigEntry,
) -> None:
    """Every select: name, options, state, unique id, config category."""
    await snapshot_platform(hass, entity_registry, snapshot, loaded_entry.entry_id)


async def test_selects_are_the_choice_settings_and_rare_ones_start_disabled(
    hass: HomeAssistant, entity_registry: er.EntityRegistry, loaded_entry: MockConfigEntry
) -> None:
    """Interface type, protocol and baud rate are on; the rarely touched ones are disabled;
    there is no select for the single-valued acquisition method."""
    entries = er.async_entries_for_config_entry(entity_registry, loaded_entry.entry_id)
    keys = {entry.unique_id.split("_", 1)[1]: entry for entry in entries}
    assert set(keys) == set(SELECTS)
    assert "method" not in keys
    for key, entry in keys.items():
        assert entry.entity_category is EntityCategory.CONFIG
        assert entry.translation_key == key
        expected = None if key in ENABLED_BY_DEFAULT else er.RegistryEntryDisabler.INTEGRATION
        assert entry.disabled_by is expected, key


async def test_select_shows_the_allowed_values_and_the_device_value(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """The options are the documented values; the state is what the device has."""
    state = hass.states.get(entity_id(hass, emulator, Platform.SELECT, "if_type"))
    assert state is not None
    assert state.attributes[ATTR_OPTIONS] == list(SPECS["if_type"].options)
    assert state.state == "auto"


async def test_select_option_puts_only_that_field(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """Choosing an option is one PUT of that one field; the entity shows the read-back."""
    entity = entity_id(hass, emulator, Platform.SELECT, "protocol")
    await select(hass, entity, "dsmr")
    assert meter_writes(emulator) == [("PUT", {"protocol": "dsmr"})]
    assert emulator.meter_settings["protocol"] == "dsmr"
    state = hass.states.get(entity)
    assert state is not None
    assert state.state == "dsmr"


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_select_offers_translation_keys_and_sends_the_device_spelling(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    emulator: Emulator,
) -> None:
    """Stop bits offer 1_5 (a valid translation key) for the device's "1.5", both ways."""
    emulator.store_meter_settings({**emulator.meter_settings, "stop_bits": "1.5"})
    async with loaded(hass, emulator, [Platform.SELECT]):
        entity = entity_id(hass, emulator, Platform.SELECT, "stop_bits")
        state = hass.states.get(entity)
        assert state is not None
        assert state.attributes[ATTR_OPTIONS] == ["1", "1_5", "2"]
        assert state.state == "1_5"
        await select(hass, entity, "2")
        await select(hass, entity, "1_5")
        assert meter_writes(emulator) == [
            ("PUT", {"stop_bits": "2"}),
            ("PUT", {"stop_bits": "1.5"}),
        ]
        assert emulator.meter_settings["stop_bits"] == "1.5"
        state = hass.states.get(entity)
        assert state is not None
        assert state.state == "1_5"


async def test_baud_rate_select_offers_standard_rates_and_sends_a_number(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """The baud rate is chosen from the standard rates and sent as an integer."""
    entity = entity_id(hass, emulator, Platform.SELECT, "baudrate")
    state = hass.states.get(entity)
    assert state is not None
    assert state.attributes[ATTR_OPTIONS] == [str(rate) for rate in STANDARD_BAUDRATES]
    assert state.state == "115200"
    await select(hass, entity, "9600")
    assert meter_writes(emulator) == [("PUT", {"baudrate": 9600})]


async def test_baud_rate_select_keeps_a_custom_rate_set_on_the_device(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    emulator: Emulator,
) -> None:
    """A rate set on the device that is not a standard one still shows, as an extra option."""
    emulator.store_meter_settings({**emulator.meter_settings, "baudrate": 14400})
    async with loaded(hass, emulator, [Platform.SELECT]):
        state = hass.states.get(entity_id(hass, emulator, Platform.SELECT, "baudrate"))
        assert state is not None
        assert state.state == "14400"
        assert state.attributes[ATTR_OPTIONS] == [
            "300", "600", "1200", "2400", "4800", "9600", "14400",
            "19200", "38400", "57600", "115200",
        ]  # fmt: skip


async def test_select_option_the_device_refuses_is_an_error(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """A 400 from the device is a translated error and the state stays as it was."""
    entity = entity_id(hass, emulator, Platform.SELECT, "if_type")
    emulator.faults.fail_next(status=400)
    with pytest.raises(HomeAssistantError) as err:
        await select(hass, entity, "p1")
    assert err.value.translation_key == "device_rejected"
    state = hass.states.get(entity)
    assert state is not None
    assert state.state == "auto"


async def test_select_option_not_applied_is_an_error(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The device answers but keeps its value: an error, and the entity shows the truth."""
    store = emulator.store_meter_settings
    monkeypatch.setattr(
        emulator, "store_meter_settings", lambda values: store({**values, "protocol": "auto"})
    )
    entity = entity_id(hass, emulator, Platform.SELECT, "protocol")
    with pytest.raises(HomeAssistantError) as err:
        await select(hass, entity, "kmp")
    assert err.value.translation_key == "setting_not_applied"
    state = hass.states.get(entity)
    assert state is not None
    assert state.state == "auto"


async def test_select_rejects_an_option_it_does_not_offer(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """Home Assistant refuses options outside the list before anything is sent."""
    entity = entity_id(hass, emulator, Platform.SELECT, "if_type")
    with pytest.raises(ServiceValidationError):
        await select(hass, entity, "usb")
    assert emulator.log == []


async def test_select_is_unavailable_when_the_device_stops_reporting_it(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """A setting missing from the device's answer shows as unavailable, not a guess."""
    coordinator = loaded_entry.runtime_data.meter_settings
    coordinator.async_set_updated_data(
        type(coordinator.data).from_dict(
            {k: v for k, v in coordinator.data.as_dict().items() if k != "protocol"}
        )
    )
    await hass.async_block_till_done()
    entity = entity_id(hass, emulator, Platform.SELECT, "protocol")
    state = hass.states.get(entity)
    assert state is not None
    assert state.state == STATE_UNAVAILABLE
    select_entity = hass.data[DATA_INSTANCES][SELECT_DOMAIN].get_entity(entity)
    assert select_entity is not None
    assert select_entity.current_option is None


async def test_baud_rate_select_keeps_its_options_while_unavailable(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, emulator: Emulator
) -> None:
    """Without a reported rate the entity is unavailable but still lists the standard rates."""
    coordinator = loaded_entry.runtime_data.meter_settings
    coordinator.async_set_updated_data(
        type(coordinator.data).from_dict(
            {k: v for k, v in coordinator.data.as_dict().items() if k != "baudrate"}
        )
    )
    await hass.async_block_till_done()
    state = hass.states.get(entity_id(hass, emulator, Platform.SELECT, "baudrate"))
    assert state is not None
    assert state.state == STATE_UNAVAILABLE
    assert state.attributes[ATTR_OPTIONS] == [str(rate) for rate in STANDARD_BAUDRATES]
