"""Actions: the meter settings (get, set by PUT, replace by POST) and the custom scalers.

The custom scaler list is read (get) or replaced as a whole by one POST (set).

The fields come from ``SPECS``.  The DLMS keys are not accepted here: Home Assistant records
the data of every action call (recorder events, automation traces), so a key passed to an
action would be stored in Home Assistant.  Keys are set in the options flow, which stores
nothing.

The action schemas accept any value and leave every check to ``meter_settings.validate`` in
the handler: when a schema rejects a call, Home Assistant logs the call's data, and that must
never include a key (even one passed by mistake).  Bad input becomes a translated
ServiceValidationError naming the field; device and network failures a HomeAssistantError.

A choice is taken as the device spells it (``"1.5"``, ``"Passive Push"``, as the vendor documents
it) or as its translation key (``1_5``, ``passive_push``, what the action's selector sends); the
device is always sent its own spelling.  The response mirrors the device API: its own spelling.

The custom scalers are checked the same way, in the handler, by ``scalers.validate``: a bad row
becomes a translated ServiceValidationError naming the row (``scalers.2.obis``) and the reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from homeassistant.const import ATTR_CONFIG_ENTRY_ID
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.service import async_get_config_entry, async_register_admin_service
import probatio

from .client import Scaler
from .client.meter_settings import SECRET_KEYS, SPECS
from .client.scalers import LIST_FIELD, validate as validate_scalers
from .const import DOMAIN, METER_STATUS
from .errors import translated_errors

if TYPE_CHECKING:
    from .coordinator import WhatwattConfigEntry

SERVICE_GET: Final = "get_meter_settings"
SERVICE_SET: Final = "set_meter_settings"
SERVICE_REPLACE: Final = "replace_meter_settings"
SERVICE_GET_SCALERS: Final = "get_custom_scalers"
SERVICE_SET_SCALERS: Final = "set_custom_scalers"

ATTR_VERIFY_LINK: Final = "verify_link"
"""Wait for the meter-link check after the write and return its outcome."""
SERVICE_FIELDS: Final = tuple(key for key, spec in SPECS.items() if not spec.write_only)
"""The settings an action takes (and documents in services.yaml): all but the DLMS keys."""

SETTINGS_SCHEMA: Final = probatio.Schema(
    {probatio.Optional(key): object for key in (ATTR_CONFIG_ENTRY_ID, ATTR_VERIFY_LINK, *SPECS)},
    extra=probatio.ALLOW_EXTRA,
)
"""Shape only: the values, unknown fields and keys are checked in the handler (see above)."""
ENTRY_SCHEMA: Final = probatio.Schema(
    {probatio.Optional(ATTR_CONFIG_ENTRY_ID): object}, extra=probatio.ALLOW_EXTRA
)
"""The read actions: any other field is refused in the handler, with a translated error."""
SCALERS_SCHEMA: Final = probatio.Schema(
    {probatio.Optional(ATTR_CONFIG_ENTRY_ID): object, probatio.Optional(LIST_FIELD): object}
)
"""Shape only: the list is checked in the handler (``scalers.validate``), row by row."""


def _entry(hass: HomeAssistant, call: ServiceCall) -> WhatwattConfigEntry:
    """Resolve the target device: the given entry, or the only one if none is given."""
    entry_id = call.data.get(ATTR_CONFIG_ENTRY_ID)
    if entry_id is not None and not isinstance(entry_id, str):
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="setting_entry_id_invalid"
        )
    entry: WhatwattConfigEntry = async_get_config_entry(hass, DOMAIN, entry_id)
    return entry


def _no_fields(call: ServiceCall) -> None:
    """Refuse any field but config_entry_id (a read action takes none)."""
    if set(call.data) - {ATTR_CONFIG_ENTRY_ID}:
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="setting_get_takes_no_fields"
        )


def _scalers_response(scalers: list[Scaler]) -> ServiceResponse:
    """The custom scalers as the device API spells them."""
    return {LIST_FIELD: [scaler.as_dict() for scaler in scalers]}


def _settings(call: ServiceCall) -> dict[str, Any]:
    """Return the settings given to a write action, choices as the device spells them.

    The DLMS keys are refused.
    """
    values = {
        key: SPECS[key].device_option(value) if key in SPECS else value
        for key, value in call.data.items()
        if key not in (ATTR_CONFIG_ENTRY_ID, ATTR_VERIFY_LINK)
    }
    if secret := next((key for key in values if key in SECRET_KEYS), None):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="setting_key_not_accepted",
            translation_placeholders={"field": secret},
        )
    return values


def _verify_link(call: ServiceCall) -> bool:
    """Whether the action waits for the link check (``verify_link: true``)."""
    verify = call.data.get(ATTR_VERIFY_LINK, False)
    if not isinstance(verify, bool):
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="verify_link_invalid"
        )
    return verify


async def _async_write(
    hass: HomeAssistant, call: ServiceCall, values: dict[str, Any], *, replace: bool
) -> ServiceResponse:
    """Write, return the settings read back (and, with ``verify_link``, how the link is)."""
    entry = _entry(hass, call)
    verify = _verify_link(call)
    link = entry.runtime_data.link
    with translated_errors(hass, entry):
        write = await link.async_write(values, replace=replace)
    response: dict[str, Any] = write.settings.as_dict()
    if verify:
        check = await link.async_outcome(write)
        response["link"] = check.link.value
        response["meter_status"] = METER_STATUS.get(check.meter_status or "")
    return response


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the meter-settings actions (once, in async_setup)."""

    async def _async_get(call: ServiceCall) -> ServiceResponse:
        """Read the settings from the device now."""
        entry = _entry(hass, call)
        _no_fields(call)
        with translated_errors(hass, entry):
            settings = await entry.runtime_data.meter_settings.async_read()
        return settings.as_dict()

    async def _async_set(call: ServiceCall) -> ServiceResponse:
        """Change only the given settings (PUT); return the settings read back."""
        values = _settings(call)
        if not values:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="setting_none_given",
                translation_placeholders={"fields": ", ".join(SERVICE_FIELDS)},
            )
        return await _async_write(hass, call, values, replace=False)

    async def _async_replace(call: ServiceCall) -> ServiceResponse:
        """Replace all settings (POST; missing ones get their factory defaults)."""
        return await _async_write(hass, call, _settings(call), replace=True)

    async def _async_get_scalers(call: ServiceCall) -> ServiceResponse:
        """Read the custom scaler list from the device now."""
        entry = _entry(hass, call)
        _no_fields(call)
        with translated_errors(hass, entry):
            scalers = await entry.runtime_data.client.custom_scalers()
        return _scalers_response(scalers)

    async def _async_set_scalers(call: ServiceCall) -> ServiceResponse:
        """Replace the custom scaler list (one POST); return the list read back."""
        entry = _entry(hass, call)
        with translated_errors(hass, entry):
            rows = validate_scalers(call.data.get(LIST_FIELD))
            scalers = await entry.runtime_data.client.set_custom_scalers(rows)
        return _scalers_response(scalers)

    hass.services.async_register(
        DOMAIN,
        SERVICE_GET,
        _async_get,
        schema=ENTRY_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
    async_register_admin_service(
        hass,
        DOMAIN,
        SERVICE_SET,
        _async_set,
        schema=SETTINGS_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    async_register_admin_service(
        hass,
        DOMAIN,
        SERVICE_REPLACE,
        _async_replace,
        schema=SETTINGS_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_GET_SCALERS,
        _async_get_scalers,
        schema=ENTRY_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
    async_register_admin_service(
        hass,
        DOMAIN,
        SERVICE_SET_SCALERS,
        _async_set_scalers,
        schema=SCALERS_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
