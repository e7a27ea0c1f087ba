"""Which meter setting becomes which entity, and the custom scaler list editor, derived.

The 18 fields are declared once, in ``client/meter_settings.py`` (``SPECS``).  The choices that
are not the device's rules but this integration's (which settings a typical user touches, the
common baud rates) live here as data keyed by field; the platforms build their descriptions
from ``setting_fields``.  The scaler row is declared once, in ``client/scalers.py``
(``FIELDS``); ``scalers_selector_config`` makes the list editor of the options flow and of the
``set_custom_scalers`` action (services.yaml) from it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, TypedDict

from homeassistant.const import EntityCategory, Platform
from homeassistant.helpers.selector import ObjectSelectorConfig, ObjectSelectorField

from .client import MeterSettings, WhatwattClient
from .client.meter_settings import SPECS, Kind, SettingSpec
from .client.scalers import FIELDS as SCALER_FIELDS, LIST_FIELD, ScalerField

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
    set_fn: Callable[[WhatwattClient, Any], Awaitable[MeterSettings]]


def setting_fields(spec: SettingSpec) -> SettingFields:
    """Describe the entity of one setting; it reads and writes its field alone.

    Named by translation, in the config category, enabled by default when a typical user
    touches it.
    """
    key = spec.key

    def value(settings: MeterSettings) -> Any:
        return getattr(settings, key)

    async def write(client: WhatwattClient, value: Any) -> MeterSettings:
        return await client.update_meter_settings(**{key: value})

    return SettingFields(
        key=key,
        translation_key=key,
        entity_category=EntityCategory.CONFIG,
        entity_registry_enabled_default=key in ENABLED_BY_DEFAULT,
        spec=spec,
        value_fn=value,
        set_fn=write,
    )


def setting_specs(platform: Platform) -> tuple[SettingSpec, ...]:
    """Return the settings ``platform`` shows, in the vendor's order."""
    return tuple(spec for spec in SPECS.values() if entity_platform(spec) is platform)


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
