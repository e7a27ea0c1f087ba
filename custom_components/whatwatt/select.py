"""Select entities for the meter settings with a fixed set of choices (and the baud rate)."""

from __future__ import annotations

from typing import Final, override

from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .client.meter_settings import FieldType
from .coordinator import WhatwattConfigEntry
from .entity import (
    SELECT_CHOICES,
    WhatwattSettingEntity,
    async_add_setting_entities,
    setting_descriptions,
)

PARALLEL_UPDATES = 1


SELECTS: Final = setting_descriptions(Platform.SELECT, SelectEntityDescription)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WhatwattConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a select for every choice-type setting the gateway reports."""
    async_add_setting_entities(entry, async_add_entities, SELECTS, WhatwattSettingSelect)


class WhatwattSettingSelect(WhatwattSettingEntity, SelectEntity):
    """A meter setting picked from a list.

    Enum settings offer their allowed values as translation keys (labels by translation) and
    send the device its own spelling (``stop_bits`` offers ``1_5`` and sends ``"1.5"``).  A
    numeric setting with common values (the baud rate) offers those, plus the device's own value
    when it is set to something else, so the state is never an option the list does not have.
    """

    @property
    @override
    def options(self) -> list[str]:
        """Return the choices (a numeric setting's own value included)."""
        choices = SELECT_CHOICES.get(self._spec.key)
        if choices is None:
            return list(self._spec.option_keys)
        values: set[float] = set(choices)
        if self.device_value is not None:
            values.add(self.device_value)
        return [_text(value) for value in sorted(values)]

    @property
    @override
    def current_option(self) -> str | None:
        """Return the device's value (a choice as its translation key)."""
        value = self.device_value
        if value is None:
            return None
        if self._spec.type is FieldType.ENUM:
            return self._spec.option_key(value)
        return _text(value)

    @override
    async def async_select_option(self, option: str) -> None:
        """Set the setting to ``option`` (PUT of this field; a number for the baud rate)."""
        if self._spec.type is FieldType.ENUM:
            await self.async_write_setting(self._spec.device_option(option))
        else:
            await self.async_write_setting(int(option))


def _text(value: float) -> str:
    """Show a number as the device does (115200, not 115200.0)."""
    return str(int(value)) if float(value).is_integer() else str(value)
