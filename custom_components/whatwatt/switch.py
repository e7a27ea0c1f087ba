"""Switch entities for the on/off meter settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, override

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import WhatwattConfigEntry
from .entity import WhatwattSettingDescriptionMixin, WhatwattSettingEntity
from .helpers import setting_fields, setting_specs

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class WhatwattSettingSwitchEntityDescription(
    SwitchEntityDescription, WhatwattSettingDescriptionMixin
):
    """An on/off meter setting."""


SWITCHES: Final = tuple(
    WhatwattSettingSwitchEntityDescription(**setting_fields(spec))
    for spec in setting_specs(Platform.SWITCH)
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WhatwattConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a switch for every on/off setting the gateway reports."""
    settings = entry.runtime_data.meter_settings.data
    async_add_entities(
        WhatwattSettingSwitch(entry, description)
        for description in SWITCHES
        if description.value_fn(settings) is not None
    )


class WhatwattSettingSwitch(WhatwattSettingEntity, SwitchEntity):
    """A meter setting that is on or off."""

    entity_description: WhatwattSettingSwitchEntityDescription

    @property
    @override
    def is_on(self) -> bool | None:
        """Return the device's value."""
        value: bool | None = self.setting
        return value

    @override
    async def async_turn_on(self, **kwargs: Any) -> None:
        """Turn the setting on (PUT of this field)."""
        await self.async_write_setting(True)

    @override
    async def async_turn_off(self, **kwargs: Any) -> None:
        """Turn the setting off (PUT of this field)."""
        await self.async_write_setting(False)
