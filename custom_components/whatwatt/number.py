"""Number entities for the numeric meter settings (conversion factor, buffer, time offset)."""

from __future__ import annotations

from typing import Final, override

from homeassistant.components.number import NumberEntity, NumberEntityDescription, NumberMode
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .client.meter_settings import Kind, SettingSpec
from .coordinator import WhatwattConfigEntry
from .helpers import (
    WhatwattSettingEntity,
    number_range,
    setting_entities,
)

PARALLEL_UPDATES = 1

FLOAT_STEP: Final = 0.001
"""Step of a real-valued setting in the UI (the device takes any value in range)."""


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WhatwattConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a number for every numeric setting the gateway reports."""
    async_add_entities(
        setting_entities(entry, Platform.NUMBER, WhatwattSettingNumber, NumberEntityDescription)
    )


class WhatwattSettingNumber(WhatwattSettingEntity, NumberEntity):
    """A numeric meter setting, typed in a box, with the documented range."""

    _attr_mode = NumberMode.BOX

    def __init__(
        self, entry: WhatwattConfigEntry, spec: SettingSpec, description: NumberEntityDescription
    ) -> None:
        """Show setting ``spec`` as a number with its range, step and unit."""
        super().__init__(entry, spec, description)
        self._attr_native_min_value, self._attr_native_max_value = number_range(spec)
        self._attr_native_step = 1 if spec.kind is Kind.INT else FLOAT_STEP
        self._attr_native_unit_of_measurement = spec.unit

    @property
    @override
    def native_value(self) -> float | None:
        """Return the device's value."""
        value: float | None = self.setting
        return value

    @override
    async def async_set_native_value(self, value: float) -> None:
        """Set the setting (PUT of this field).

        A fraction for a whole-number setting is refused (translated error), not truncated.
        """
        await self.async_write_setting(value)
