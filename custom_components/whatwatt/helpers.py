"""Shared pieces of the meter-settings UI: verified writes, error mapping, entity data.

The options flow, the services and the setting entities all write through
``async_write_meter_settings`` (which checks the device's read-back) and map client errors
through ``async_handle_errors``.  Which platform shows which setting is derived from the spec
(``SPECS`` in ``client/meter_settings.py``); the few choices that are not in the spec live here
as data keyed by field.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
import math
from typing import TYPE_CHECKING, Any, Final

from homeassistant.const import EntityCategory, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.entity import Entity, EntityDescription

from .client.exceptions import (
    WhatwattAuthError,
    WhatwattConnectionError,
    WhatwattError,
    WhatwattResponseError,
    WhatwattValidationError,
)
from .client.meter_settings import SPECS, Kind, MeterSettings, SettingSpec, full_settings, validate
from .const import DOMAIN
from .coordinator import WhatwattMeterSettingsCoordinator
from .entity import WhatwattEntity

if TYPE_CHECKING:
    from .coordinator import WhatwattConfigEntry

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


class SettingNotAppliedError(HomeAssistantError):
    """The device accepted a write but reads a different value back for ``field``."""

    def __init__(self, field: str) -> None:
        """Name the field that did not take effect (never its value: it may be a key)."""
        super().__init__(
            translation_domain=DOMAIN,
            translation_key="setting_not_applied",
            translation_placeholders={"field": field},
        )
        self.field = field


def first_not_applied(sent: Mapping[str, Any], read_back: MeterSettings) -> str | None:
    """Return the first sent readable field whose read-back value differs, else None.

    Keys are write-only: the device never returns them, so they cannot be checked.
    """
    for key, value in sent.items():
        if SPECS[key].write_only:
            continue
        got = getattr(read_back, key)  # typed by its spec, or None (MeterSettings.from_dict)
        if SPECS[key].kind is Kind.FLOAT and got is not None:
            # The device may keep a float32: 0.1 reads back as 0.10000000149.
            if math.isclose(got, value, rel_tol=1e-6):
                continue
        elif got == value:
            continue
        return key
    return None


async def async_write_meter_settings(
    entry: WhatwattConfigEntry, changes: Mapping[str, Any], *, replace: bool = False
) -> MeterSettings:
    """Write meter settings (PUT of ``changes``, or POST if ``replace``) and verify them.

    The settings read back are pushed to the meter-settings coordinator (entities update without
    another request).  Raises the client's errors, or SettingNotAppliedError when the device
    reads back something other than what was written.
    """
    runtime = entry.runtime_data
    if replace:
        sent = full_settings(changes)
        result = await runtime.client.replace_meter_settings(changes)
    else:
        sent = validate(changes)
        result = await runtime.client.update_meter_settings(**changes)
    runtime.meter_settings.async_set_updated_data(result)
    if (field := first_not_applied(sent, result)) is not None:
        raise SettingNotAppliedError(field)
    return result


@asynccontextmanager
async def async_handle_errors(
    hass: HomeAssistant, entry: WhatwattConfigEntry
) -> AsyncIterator[None]:
    """Turn client errors into translated Home Assistant errors (services and entities).

    Invalid input is a ServiceValidationError naming the field; anything the device or the
    network did is a HomeAssistantError.  A rejected password starts re-authentication.
    """
    try:
        yield
    except WhatwattValidationError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key=f"setting_{err.reason}",
            translation_placeholders={"field": err.field, "allowed": err.allowed},
        ) from err
    except WhatwattAuthError as err:
        entry.async_start_reauth(hass)
        raise HomeAssistantError(
            translation_domain=DOMAIN, translation_key="setting_auth_failed"
        ) from err
    except WhatwattResponseError as err:
        said = err.device_message or err.error or str(err)
        if err.status is not None and 400 <= err.status < 500:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="setting_rejected",
                translation_placeholders={"status": str(err.status), "error": said},
            ) from err
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="setting_device_error",
            translation_placeholders={"error": said},
        ) from err
    except WhatwattConnectionError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="setting_cannot_connect",
            translation_placeholders={"error": str(err)},
        ) from err
    except WhatwattError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="setting_unknown_error",
            translation_placeholders={"error": str(err)},
        ) from err


def setting_entities[D: EntityDescription, E: Entity](
    entry: WhatwattConfigEntry,
    platform: Platform,
    entity_cls: Callable[[WhatwattConfigEntry, SettingSpec, D], E],
    description_cls: type[D],
) -> list[E]:
    """Create the entities of ``platform`` for the settings this device reports.

    Each is named by translation, in the config category, enabled by default only when a
    typical user touches it.
    """
    settings = entry.runtime_data.meter_settings.data
    return [
        entity_cls(
            entry,
            spec,
            description_cls(
                key=spec.key,
                translation_key=spec.key,
                entity_category=EntityCategory.CONFIG,
                entity_registry_enabled_default=spec.key in ENABLED_BY_DEFAULT,
            ),
        )
        for spec in SPECS.values()
        if entity_platform(spec) is platform and getattr(settings, spec.key) is not None
    ]


class WhatwattSettingEntity(WhatwattEntity[WhatwattMeterSettingsCoordinator]):
    """An entity showing one meter setting; a change is a PUT of that one field.

    The value read back is pushed to the meter-settings coordinator, so every entity shows
    what the device really has; a failed or ignored write raises a translated error.
    """

    def __init__(
        self, entry: WhatwattConfigEntry, spec: SettingSpec, description: EntityDescription
    ) -> None:
        """Show setting ``spec`` of the gateway of ``entry``."""
        super().__init__(entry, entry.runtime_data.meter_settings, description)
        self._entry = entry
        self._spec = spec

    @property
    def setting(self) -> Any:
        """The setting's value as the device last reported it (None if it did not).

        Of its spec's type (``MeterSettings.from_dict`` drops a value of another type).
        """
        return getattr(self.coordinator.data, self._spec.key)

    @property
    def available(self) -> bool:
        """Unavailable when the device is, or when it stops reporting this setting."""
        return super().available and self.setting is not None

    async def async_write_setting(self, value: Any) -> None:
        """Write the setting (PUT of this one field), verified by reading it back."""
        async with async_handle_errors(self.hass, self._entry):
            await async_write_meter_settings(self._entry, {self._spec.key: value})
