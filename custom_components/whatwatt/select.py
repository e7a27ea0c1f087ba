"""Select entities for the meter settings with a fixed set of choices (and the baud rate)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, override

from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .client.meter_settings import Kind
from .coordinator import WhatwattConfigEntry
from .entity import WhatwattSettingDescriptionMixin, WhatwattSettingEntity
from .helpers import SELECT_CHOICES, setting_fields, setting_specs

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class WhatwattSettingSelectEntityDescription(
    SelectEntityDescription, WhatwattSettingDescriptionMixin
):
    """A meter setting picked from a list: its options, or common values of a number."""

    choices: tuple[int, ...] | None = None
    """Common values of a numeric setting (the baud rate); None for an enum."""


SELECTS: Final = tuple(
    WhatwattSettingSelectEntityDescription(
        **setting_fields(spec), choices=SELECT_CHOICES.get(spec.key)
    )
    for spec in setting_specs(Platform.SELECT)
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WhatwattConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a select for every choice-type setting the gateway reports."""
    settings = entry.runtime_data.meter_settings.data
    async_add_entities(
        WhatwattSettingSelect(entry, description)
        for description in SELECTS
        if description.value_fn(settings) is not None
    )


class WhatwattSettingSelect(WhatwattSettingEntity, SelectEntity):
    """A meter setting picked from a list.

    Enum settings offer their allowed values as translation keys (labels by translation) and
    send the device its own spelling (``stop_bits`` offers ``1_5`` and sends ``"1.5"``).  A
    numeric setting with common values (the baud rate) offers those, plus the device's own value
    when it is set to something else, so the state is never an option the list does not have.
    """

    entity_description: WhatwattSettingSelectEntityDescription

    @property
    @override
    def options(self) -> list[str]:
        """Return the choices (a numeric setting's own value included)."""
        if self.entity_description.choices is None:
            return list(self.entity_description.spec.option_keys)
        values: set[float] = set(self.entity_description.choices)
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
        if self.entity_description.spec.kind is Kind.ENUM:
            return self.entity_description.spec.option_key(value)
        return _text(value)

    @override
    async def async_select_option(self, option: str) -> None:
        """Set the setting to ``option`` (PUT of this field; a number for the baud rate)."""
        if self.entity_description.spec.kind is Kind.ENUM:
            await self.async_write_setting(self.entity_description.spec.device_option(option))
        else:
            await self.async_write_setting(int(option))


def _text(value: float) -> str:
    """Show a number as the device does (115200, not 115200.0)."""
    return str(int(value)) if float(value).is_integer() else str(value)
