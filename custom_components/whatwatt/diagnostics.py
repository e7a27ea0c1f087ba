"""Diagnostics download of a whatwatt Go, with every secret and identifier redacted.

Contains what the device reports (system information, general and meter settings, the scalers
in use and the custom ones), the state of the live connection and of every entity.  What cannot
be read is named by the error's type instead.  Removed: the Web UI password and DLMS keys, MAC
addresses, SSID/BSSID, IP addresses, host names, names, the device id and the meter's serials.
Entities are listed by key, not by entity id (which carries the device name).
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import asdict
import json
import re
from typing import Any, Final

from homeassistant.components.diagnostics import REDACTED, async_redact_data
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util

from .client import Scaler, WhatwattError
from .client.meter_settings import SECRET_KEYS
from .coordinator import WhatwattConfigEntry, WhatwattDemandCoordinator
from .sensor import SUBMETER_FLOW, SUBMETER_SENSORS
from .submeters import async_known_submeters, entry_submeter_kind

TO_REDACT = {
    CONF_HOST,
    CONF_PASSWORD,
    *SECRET_KEYS,
    "bssid",
    "dns",
    "gateway",
    "host_name",
    "id",
    "ip",
    "logical_name",
    "mac",
    "meter_id",
    "name",
    "serial",
    "serial_number",
    "ssid",
    "custom_ntp_server",
    "url",
    "username",
}
METER_SERIALS = ("id", "type", "model", "logical_name")
"""In the meter object these are serial numbers (the type and model often equal the id)."""
_SUBMETER_ID: Final = re.compile(
    rf"^(bus\d+_)[^_]+(_(?:{'|'.join(d.key for d in (*SUBMETER_SENSORS, SUBMETER_FLOW))}))$"
)
"""The sub-meter id inside a sub-meter entity's key (``bus1_20000741_reading``)."""


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: WhatwattConfigEntry
) -> dict[str, Any]:
    """Return diagnostics for a config entry."""
    runtime = entry.runtime_data
    client = runtime.client
    settings = await _or_error(client.settings())
    scalers = {
        "current": await _or_error(_as_dicts(client.current_scalers())),
        "custom": await _or_error(_as_dicts(client.custom_scalers())),
    }

    system = async_redact_data(runtime.system.data.raw, TO_REDACT)
    if isinstance(meter := system.get("meter"), dict):
        for key in METER_SERIALS:
            if key in meter:
                meter[key] = REDACTED

    live, stream = runtime.live, runtime.stream
    return {
        "entry": {
            "data": async_redact_data(dict(entry.data), TO_REDACT | {CONF_PORT}),
            "options": async_redact_data(dict(entry.options), TO_REDACT),
        },
        "auth_scheme": runtime.client.auth_scheme,
        "system": system,
        "settings": async_redact_data(settings, TO_REDACT),
        "meter_settings": async_redact_data(runtime.meter_settings.data.as_dict(), TO_REDACT),
        "scalers": scalers,
        "coordinators": {
            name: {
                "last_update_success": coordinator.last_update_success,
                "last_error": _error(coordinator.last_exception),
            }
            for name, coordinator in (
                ("system", runtime.system),
                ("meter_settings", runtime.meter_settings),
                ("live", live),
            )
        },
        "live": {
            "stale_after": stream.stale_after,
            "polls_reports": stream.polls_reports,
            "streams_taken_over": stream.takeovers,
            "measurements": (
                None
                if live.data is None
                else async_redact_data(
                    json.loads(json.dumps(asdict(live.data), default=str)), TO_REDACT
                )
            ),
        },
        "meter_link": {
            "checking": runtime.link.checking,
            "last_change": (
                None if runtime.link.last_change is None else runtime.link.last_change.as_dict()
            ),
            "not_ok_since": (
                None if runtime.link.not_ok_since is None else runtime.link.not_ok_since.isoformat()
            ),
        },
        "demand": _demand(runtime.demand),
        "submeters": _submeters(hass, entry),
        "entities": _entities(hass, entry),
    }


async def _or_error(read: Awaitable[Any]) -> Any:
    """Return what the device answers, or the type of the error that stopped it."""
    try:
        return await read
    except WhatwattError as err:
        return {"error": type(err).__name__}


async def _as_dicts(read: Awaitable[list[Scaler]]) -> list[dict[str, Any]]:
    """A scaler list as the device API spells it."""
    return [scaler.as_dict() for scaler in await read]


def _error(err: BaseException | None) -> str | None:
    """Name the last error by its type (its text may carry addresses)."""
    return None if err is None else type(err).__name__


def _demand(demand: WhatwattDemandCoordinator) -> dict[str, Any]:
    """The demand windows: the choice, both clocks, the window under way, peaks kept."""
    snapshot = demand.data
    tracker = demand.tracker
    return {
        "config": demand.config.as_options(),
        "zone": str(demand.zone),
        "clocks": {
            "meter": None if demand.meter_clock is None else demand.meter_clock.isoformat(),
            "home_assistant": dt_util.utcnow().isoformat(),
            "meter_clock_used": demand.meter_clock_trusted,
            "last_sample": None if tracker.last_time is None else tracker.last_time.isoformat(),
        },
        "snapshot": None
        if snapshot is None
        else json.loads(json.dumps(asdict(snapshot), default=str)),
        "daily_peaks_kept": tracker.days_kept,
    }


def _submeters(hass: HomeAssistant, entry: WhatwattConfigEntry) -> list[dict[str, Any]]:
    """Every sub-meter known (a device) or reported now: bus, kind, reading (ids redacted)."""
    return [
        {
            "bus": submeter.bus,
            "meter_id": None if submeter.meter_id is None else REDACTED,
            "medium": (kind := entry_submeter_kind(entry, submeter.bus)).medium,
            "unit": kind.unit,
            "reported": volume is not None,
            "cumulative": None if volume is None else volume.cumulative,
            "date_time": None if volume is None else str(volume.date_time),
        }
        for submeter, volume in async_known_submeters(hass, entry).items()
    ]


def _entities(hass: HomeAssistant, entry: WhatwattConfigEntry) -> list[dict[str, Any]]:
    """Return every entity of the entry by key, with its state (no names, no entity ids).

    A sub-meter's key carries its id (a serial): redacted.
    """
    prefix = f"{entry.unique_id}_"
    entities = []
    for entity in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id):
        state = hass.states.get(entity.entity_id)
        entities.append(
            {
                "platform": entity.domain,
                "key": _SUBMETER_ID.sub(rf"\1{REDACTED}\2", entity.unique_id.removeprefix(prefix)),
                "disabled": entity.disabled_by is not None,
                "state": None if state is None else state.state,
                "attributes": (
                    None
                    if state is None
                    else {k: v for k, v in state.attributes.items() if k != "friendly_name"}
                ),
            }
        )
    return sorted(entities, key=lambda item: (item["platform"], item["key"]))
