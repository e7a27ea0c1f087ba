"""Number entities for the numeric meter settings (conversion factor, buffer, time offset)."""

from __future__ import annotations

from typing import Any, Final, cast, override

from homeassistant.components.number import NumberEntity, NumberEntityDescription, NumberMode
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .client.meter_settings import SPECS, FieldType
from .coordinator import WhatwattConfigEntry
from .entity import WhatwattSettingEntity, async_add_setting_entities, setting_descriptions

PARALLEL_UPDATES = 1

FLOAT_STEP: Final = 0.001
"""Step of a real-valued setting in the UI (the device takes any value in range)."""


def _describe(**fields: Any) -> NumberEntityDescription:
    """A numeric setting: range, step and unit from its spec, typed in a box."""
    spec = SPECS[fields["key"]]
    return NumberEntityDescription(
        **fields,
        native_min_value=spec.bounds[0],
        native_max_value=spec.bounds[1],
        native_step=1 if spec.type is FieldType.INT else FLOAT_STEP,
        native_unit_of_measurement=spec.unit,
        mode=NumberMode.BOX,
    )


NUMBERS: Final = setting_descriptions(Platform.NUMBER, _describe)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WhatwattConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a number for every numeric setting the gateway reports."""
    async_add_setting_entities(entry, async_add_entities, NUMBERS, WhatwattSettingNumber)


class WhatwattSettingNumber(WhatwattSettingEntity, NumberEntity):
    """A numeric meter setting, typed in a box, with the documented range."""

    @property
    @override
    def native_value(self) -> float | None:
        """Return the device's value."""
        return cast("float | None", self.device_value)

    @override
    async def async_set_native_value(self, value: float) -> None:
        """Set the setting (PUT of this field).

        A fraction for a whole-number setting is refused (translated error), not truncated.
        """
        await self.async_write_setting(value)
