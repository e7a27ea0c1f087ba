"""Switch entities for the on/off meter settings."""

from __future__ import annotations

from typing import Any, Final, cast, override

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import WhatwattConfigEntry
from .entity import WhatwattSettingEntity, async_add_setting_entities, setting_descriptions

PARALLEL_UPDATES = 1


SWITCHES: Final = setting_descriptions(Platform.SWITCH, SwitchEntityDescription)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WhatwattConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a switch for every on/off setting the gateway reports."""
    async_add_setting_entities(entry, async_add_entities, SWITCHES, WhatwattSettingSwitch)


class WhatwattSettingSwitch(WhatwattSettingEntity, SwitchEntity):
    """A meter setting that is on or off."""

    @property
    @override
    def is_on(self) -> bool | None:
        """Return the device's value."""
        return cast("bool | None", self.device_value)

    @override
    async def async_turn_on(self, **kwargs: Any) -> None:
        """Turn the setting on (PUT of this field)."""
        await self.async_write_setting(True)

    @override
    async def async_turn_off(self, **kwargs: Any) -> None:
        """Turn the setting off (PUT of this field)."""
        await self.async_write_setting(False)
