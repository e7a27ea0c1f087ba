"""Meter settings on the Home Assistant side: entities, words and the scaler editor.

The 18 fields are declared once, in ``client/meter_settings.py`` (``SPECS``).  The choices that
are not the device's rules but this integration's (which settings a typical user touches, the
common baud rates) live here as data keyed by field; the platforms build their descriptions
from ``setting_fields``.  Flows and repair issues name fields, values and the meter status in
the user's language with the ``async_*_label`` functions.
The scaler row is declared once, in ``client/scalers.py`` (``FIELDS``);
``scalers_selector_config`` makes the list editor of the options flow and of the
``set_custom_scalers`` action (services.yaml) from it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, TypedDict

from homeassistant.const import EntityCategory, Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.selector import ObjectSelectorConfig, ObjectSelectorField
from homeassistant.helpers.translation import (
    async_get_cached_translations,
    async_get_translations,
)

from .client import MeterSettings
from .client.meter_settings import SPECS, Kind, SettingSpec
from .client.scalers import FIELDS as SCALER_FIELDS, LIST_FIELD, ScalerField
from .const import DOMAIN, METER_STATUS

STANDARD_BAUDRATES: Final = (300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
SELECT_CHOICES: Final[Mapping[str, tuple[int, ...]]] = {"baudrate": STANDARD_BAUDRATES}
"""Numeric settings offered as a list of common values (a select entity), not a number box."""

ENABLED_BY_DEFAULT: Final = frozenset(
    {"if_type", "protocol", "baudrate", "auto_baudrate", "encryption", "conv_factor"}
)
"""Setting entities a typical user touches; the others are created disabled."""


def entity_platform(spec: SettingSpec) -> Platform | None:
    """Return the platform that shows a setting as an entity, or None for no entity.

    Keys are write-only (no state to show) and a single-valued enum (``method``) has nothing to
    choose, so neither gets an entity.
    """
    if spec.write_only or (spec.kind is Kind.ENUM and len(spec.options) < 2):
        return None
    if spec.kind is Kind.ENUM or spec.key in SELECT_CHOICES:
        return Platform.SELECT
    if spec.kind is Kind.BOOL:
        return Platform.SWITCH
    return Platform.NUMBER


def number_range(spec: SettingSpec) -> tuple[float, float]:
    """Return the documented range of a numeric setting (every one has both bounds)."""
    assert spec.minimum is not None
    assert spec.maximum is not None
    return spec.minimum, spec.maximum


class SettingFields(TypedDict):
    """What every setting entity's description holds (``Description(**setting_fields(spec))``)."""

    key: str
    translation_key: str
    entity_category: EntityCategory
    entity_registry_enabled_default: bool
    spec: SettingSpec
    value_fn: Callable[[MeterSettings], Any]


def setting_fields(spec: SettingSpec) -> SettingFields:
    """Describe the entity of one setting; it shows (and writes) its field alone.

    Named by translation, in the config category, enabled by default when a typical user
    touches it.
    """
    key = spec.key

    def value(settings: MeterSettings) -> Any:
        return getattr(settings, key)

    return SettingFields(
        key=key,
        translation_key=key,
        entity_category=EntityCategory.CONFIG,
        entity_registry_enabled_default=key in ENABLED_BY_DEFAULT,
        spec=spec,
        value_fn=value,
    )


def setting_specs(platform: Platform) -> tuple[SettingSpec, ...]:
    """Return the settings ``platform`` shows, in the vendor's order."""
    return tuple(spec for spec in SPECS.values() if entity_platform(spec) is platform)


TEXT_CATEGORIES: Final = ("options", "selector", "entity")
"""The texts fields, values and the meter status are named with (loaded by async_load_texts)."""


def _texts(hass: HomeAssistant, category: str) -> dict[str, str]:
    return async_get_cached_translations(hass, hass.config.language, category, DOMAIN)


@callback
def setting_label(hass: HomeAssistant, key: str) -> str:
    """Return a field's label in the server's language (the API name if untranslated)."""
    section = SPECS[key].section.value
    texts = _texts(hass, "options")
    return texts.get(f"component.{DOMAIN}.options.step.edit.sections.{section}.data.{key}", key)


@callback
def value_label(hass: HomeAssistant, key: str, value: Any) -> str:
    """Return a field's value as the settings form shows it (choices and on/off translated)."""
    spec = SPECS[key]
    texts = _texts(hass, "selector")
    if spec.kind is Kind.ENUM:
        option = spec.option_key(value)
        return texts.get(f"component.{DOMAIN}.selector.{key}.options.{option}", str(value))
    if spec.kind is Kind.BOOL:
        state = "on" if value else "off"
        return texts.get(f"component.{DOMAIN}.selector.setting_value.options.{state}", state)
    text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    return f"{text} {spec.unit}" if spec.unit else text


@callback
def describe_change(
    hass: HomeAssistant, fields: Mapping[str, tuple[Any, Any]], keys: tuple[str, ...]
) -> str:
    """List a change, one field per line: "- Baud rate: 115200 → 9600"; a key only by name."""
    texts = _texts(hass, "selector")
    changed = texts.get(f"component.{DOMAIN}.selector.setting_value.options.changed", "changed")
    lines = [
        f"- {setting_label(hass, key)}: "
        f"{value_label(hass, key, old)} → {value_label(hass, key, new)}"
        for key, (old, new) in fields.items()
    ]
    lines += [f"- {setting_label(hass, key)}: {changed}" for key in keys]
    return "\n".join(lines)


async def async_load_texts(hass: HomeAssistant) -> None:
    """Load the texts the ``*_label`` functions use, in the server's language."""
    for category in TEXT_CATEGORIES:
        await async_get_translations(hass, hass.config.language, category, [DOMAIN])


@callback
def meter_status_label(hass: HomeAssistant, status: str | None) -> str:
    """Return the meter status as the status sensor shows it ("Encryption key required")."""
    option = METER_STATUS.get(status or "")
    if option is None:
        return status or "-"
    texts = _texts(hass, "entity")
    return texts.get(f"component.{DOMAIN}.entity.sensor.meter_status.state.{option}", option)


@callback
def error_placeholders(hass: HomeAssistant, err: HomeAssistantError) -> dict[str, str]:
    """The placeholders of a translated error, a field named as the settings form names it."""
    placeholders = dict(err.translation_placeholders or {})
    if "field" in placeholders:
        placeholders["field"] = setting_label(hass, placeholders["field"])
    return placeholders


def _scaler_field(spec: ScalerField) -> ObjectSelectorField:
    """A number box for a numeric field of a scaler row (with its range), else a text box."""
    if spec.minimum is None:
        return ObjectSelectorField(required=True, selector={"text": {}})
    number = {"min": spec.minimum, "max": spec.maximum, "step": 1, "mode": "box"}
    return ObjectSelectorField(required=True, selector={"number": number})


def scalers_selector_config() -> ObjectSelectorConfig:
    """Return the list editor of custom scalers: one row per scaler, added, changed, removed.

    Each row is shown by its OBIS code, with its scaler below; the field names are translated
    by ``selector.scalers.fields``.  The selectors show ranges; ``scalers.validate`` enforces
    them, so that a bad row is a translated error naming it.
    """
    return ObjectSelectorConfig(
        multiple=True,
        label_field=SCALER_FIELDS[0].key,
        description_field=SCALER_FIELDS[1].key,
        translation_key=LIST_FIELD,
        fields={spec.key: _scaler_field(spec) for spec in SCALER_FIELDS},
    )
