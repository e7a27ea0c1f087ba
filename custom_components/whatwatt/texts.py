"""Texts put together at run time, in the server's language, from the translation files.

Flows and repair issues name fields, values, sub-meters and the meter status the way the rest
of the UI does.  One mechanism: ``async_load_texts`` loads this integration's translations once
per language (Home Assistant caches them), then every ``*_label`` / ``text`` call reads them
synchronously.  A text missing in a language falls back to the given default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.translation import (
    async_get_cached_translations,
    async_get_translations,
)

from .client.meter_settings import SPECS, FieldType
from .const import DOMAIN, METER_STATUS

CATEGORIES: Final = ("options", "selector", "entity")
"""The categories texts are taken from (loaded by ``async_load_texts``)."""


async def async_load_texts(hass: HomeAssistant) -> None:
    """Load the texts the functions below read, in the server's language."""
    for category in CATEGORIES:
        await async_get_translations(hass, hass.config.language, category, [DOMAIN])


@callback
def text(hass: HomeAssistant, path: str, default: str, **placeholders: str) -> str:
    """Return this integration's text at ``path`` (``selector.x.options.y``), filled in.

    ``path`` starts with its category; ``default`` stands in where the language lacks it.
    """
    category = path.split(".", 1)[0]
    texts = async_get_cached_translations(hass, hass.config.language, category, DOMAIN)
    found = texts.get(f"component.{DOMAIN}.{path}", default)
    return found.format(**placeholders) if placeholders else found


@callback
def setting_label(hass: HomeAssistant, key: str) -> str:
    """Return a field's label as the settings form shows it (the API name if untranslated)."""
    section = SPECS[key].section.value
    return text(hass, f"options.step.edit.sections.{section}.data.{key}", key)


@callback
def value_label(hass: HomeAssistant, key: str, value: Any) -> str:
    """Return a field's value as the settings form shows it (choices and on/off translated)."""
    spec = SPECS[key]
    if spec.type is FieldType.ENUM:
        return text(hass, f"selector.{key}.options.{spec.option_key(value)}", str(value))
    if spec.type is FieldType.BOOL:
        state = "on" if value else "off"
        return text(hass, f"selector.setting_value.options.{state}", state)
    number = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    return f"{number} {spec.unit}" if spec.unit else number


@callback
def change_text(
    hass: HomeAssistant, fields: Mapping[str, tuple[Any, Any]], keys: tuple[str, ...]
) -> str:
    """List a change, one field per line: "- Baud rate: 115200 → 9600"; a key only by name."""
    changed = text(hass, "selector.setting_value.options.changed", "changed")
    lines = [
        f"- {setting_label(hass, key)}: "
        f"{value_label(hass, key, old)} → {value_label(hass, key, new)}"
        for key, (old, new) in fields.items()
    ]
    lines += [f"- {setting_label(hass, key)}: {changed}" for key in keys]
    return "\n".join(lines)


@callback
def settings_text(hass: HomeAssistant, settings: Any, keys: tuple[str, ...]) -> str:
    """List settings as the form names them, one per line: "- Interface type: Automatic"."""
    return "\n".join(
        f"- {setting_label(hass, key)}: {value_label(hass, key, value)}"
        for key in keys
        if (value := getattr(settings, key, None)) is not None
    )


@callback
def meter_status_label(hass: HomeAssistant, status: str | None) -> str:
    """Return the meter status as the status sensor shows it ("Encryption key required")."""
    option = METER_STATUS.get(status or "")
    if option is None:
        return status or "-"
    return text(hass, f"entity.sensor.meter_status.state.{option}", option)


@callback
def error_placeholders(hass: HomeAssistant, err: HomeAssistantError) -> dict[str, str]:
    """The placeholders of a translated error, a field named as the settings form names it."""
    placeholders = dict(err.translation_placeholders or {})
    if placeholders.get("field") in SPECS:
        placeholders["field"] = setting_label(hass, placeholders["field"])
    return placeholders
