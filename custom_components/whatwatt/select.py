"""Select entities for the meter settings with a fixed set of choices (and the baud rate)."""

from __future__ import annotations

from typing import override

from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .client.meter_settings import Kind, SettingSpec
from .coordinator import WhatwattConfigEntry
from .helpers import (
    SELECT_CHOICES,
    WhatwattSettingEntity,
    setting_entities,
)

PARALLEL_UPDATES = 1


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WhatwattConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a select for every choice-type setting the gateway reports."""
    async_add_entities(
        setting_entities(entry, Platform.SELECT, WhatwattSettingSelect, SelectEntityDescription)
    )


class WhatwattSettingSelect(WhatwattSettingEntity, SelectEntity):
    """A meter setting picked from a list.

    Enum settings offer their allowed values as translation keys (labels by translation) and
    send the device its own spelling (``stop_bits`` offers ``1_5`` and sends ``"1.5"``).  A
    numeric setting with common values (the baud rate) offers those, plus the device's own value
    when it is set to something else, so the state is never an option the list does not have.
    """

    def __init__(
        self, entry: WhatwattConfigEntry, spec: SettingSpec, description: SelectEntityDescription
    ) -> None:
        """Show setting ``spec`` as a select."""
        super().__init__(entry, spec, description)
        self._choices = SELECT_CHOICES.get(spec.key)

    @property
    @override
    def options(self) -> list[str]:
        """Return the choices (a numeric setting's own value included)."""
        if self._choices is None:
            return list(self._spec.option_keys)
        values: set[float] = set(self._choices)
        if self.setting is not None:
            values.add(self.setting)
        return [_text(value) for value in sorted(values)]

    @property
    @override
    def current_option(self) -> str | None:
        """Return the device's value (a choice as its translation key)."""
        value = self.setting
        if value is None:
            return None
        if self._spec.kind is Kind.ENUM:
            return self._spec.option_key(value)
        return _text(value)

    @override
    async def async_select_option(self, option: str) -> None:
        """Set the setting to ``option`` (PUT of this field; a number for the baud rate)."""
        if self._spec.kind is Kind.ENUM:
            await self.async_write_setting(self._spec.device_option(option))
        else:
            await self.async_write_setting(int(option))


def _text(value: float) -> str:
    """Show a number as the device does (115200, not 115200.0)."""
    return str(int(value)) if float(value).is_integer() else str(value)
