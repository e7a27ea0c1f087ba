"""Number entities for the numeric meter settings (conversion factor, buffer, time offset)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, override

from homeassistant.components.number import NumberEntity, NumberEntityDescription, NumberMode
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .client.meter_settings import Kind
from .coordinator import WhatwattConfigEntry
from .entity import WhatwattSettingDescriptionMixin, WhatwattSettingEntity
from .helpers import number_range, setting_fields, setting_specs

PARALLEL_UPDATES = 1

FLOAT_STEP: Final = 0.001
"""Step of a real-valued setting in the UI (the device takes any value in range)."""


@dataclass(frozen=True, kw_only=True)
class WhatwattSettingNumberEntityDescription(
    NumberEntityDescription, WhatwattSettingDescriptionMixin
):
    """A numeric meter setting: range, step and unit from its spec."""


NUMBERS: Final = tuple(
    WhatwattSettingNumberEntityDescription(
        **setting_fields(spec),
        native_min_value=number_range(spec)[0],
        native_max_value=number_range(spec)[1],
        native_step=1 if spec.kind is Kind.INT else FLOAT_STEP,
        native_unit_of_measurement=spec.unit,
        mode=NumberMode.BOX,
    )
    for spec in setting_specs(Platform.NUMBER)
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WhatwattConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a number for every numeric setting the gateway reports."""
    settings = entry.runtime_data.meter_settings.data
    async_add_entities(
        WhatwattSettingNumber(entry, description)
        for description in NUMBERS
        if description.value_fn(settings) is not None
    )


class WhatwattSettingNumber(WhatwattSettingEntity, NumberEntity):
    """A numeric meter setting, typed in a box, with the documented range."""

    entity_description: WhatwattSettingNumberEntityDescription

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
