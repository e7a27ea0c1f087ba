"""Runtime data and the slow polls of a whatwatt Go: system information and meter settings.

The live measurements come from the SSE stream, see ``live.py``.  The slow polls stay slow (the
gateway may run on meter power and the vendor asks to call it sparingly) and keep quiet while
the live side already knows the device is offline: one place tells the user, not three.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, override

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .client import (
    MeterSettings,
    SystemInfo,
    WhatwattAuthError,
    WhatwattClient,
    WhatwattConnectionError,
    WhatwattError,
)
from .const import (
    DOMAIN,
    ISSUE_METER_KEY,
    ISSUE_STREAM_TAKEN_OVER,
    LOGGER,
    METER_KEY_STATUSES,
    METER_SETTINGS_INTERVAL,
    METER_STATUS_OK,
    REBOOT_TOLERANCE_SECONDS,
    SYSTEM_INTERVAL,
    SYSTEM_INTERVAL_METER_PROBLEM,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .live import WhatwattLiveCoordinator


@dataclass(kw_only=True)
class WhatwattRuntimeData:
    """What a loaded config entry holds: the client and its three coordinators."""

    client: WhatwattClient
    system: WhatwattSystemCoordinator
    meter_settings: WhatwattMeterSettingsCoordinator
    live: WhatwattLiveCoordinator


type WhatwattConfigEntry = ConfigEntry[WhatwattRuntimeData]


@contextmanager
def translate_errors(entry: WhatwattConfigEntry) -> Iterator[None]:
    """Turn client errors into the coordinator's translated errors (auth -> reauth)."""
    try:
        yield
    except WhatwattAuthError as err:
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN,
            translation_key="invalid_auth",
            translation_placeholders={"name": entry.title},
        ) from err
    except WhatwattConnectionError as err:
        raise UpdateFailed(
            translation_domain=DOMAIN,
            translation_key="cannot_connect",
            translation_placeholders={"name": entry.title, "error": str(err)},
        ) from err
    except WhatwattError as err:
        raise UpdateFailed(
            translation_domain=DOMAIN,
            translation_key="device_error",
            translation_placeholders={"name": entry.title, "error": str(err)},
        ) from err


class WhatwattPollCoordinator[DataT](DataUpdateCoordinator[DataT]):
    """A slow poll that defers to the live coordinator about the device being reachable.

    A connection error after the first successful poll keeps the last data and reports the
    failure to the live side, which owns "offline" (its log lines, entity availability and
    reconnects).  While the device is known offline no request is sent at all; the live side
    asks for a refresh as soon as the device is back.
    """

    config_entry: WhatwattConfigEntry
    live: WhatwattLiveCoordinator | None = None
    """Set once the live coordinator exists (after the first polls at setup)."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: WhatwattConfigEntry,
        client: WhatwattClient,
        *,
        what: str,
        interval: timedelta,
        fetch: Callable[[], Awaitable[DataT]],
    ) -> None:
        """Poll ``fetch`` every ``interval``."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{entry.title} {what}",
            update_interval=interval,
        )
        self.client = client
        self._fetch = fetch

    @override
    async def _async_update_data(self) -> DataT:
        live = self.live
        if live is not None and not live.online and self.data is not None:
            return self.data
        try:
            with translate_errors(self.config_entry):
                data = await self._fetch()
        except UpdateFailed as err:
            cause = err.__cause__
            if live is None or self.data is None or not isinstance(cause, WhatwattConnectionError):
                raise
            LOGGER.debug("%s: poll failed, keeping the last data: %s", self.name, cause)
            live.async_connection_failed(cause)
            return self.data
        self._async_handle(data)
        return data

    def _async_handle(self, data: DataT) -> None:
        """React to fresh data before the entities see it."""


class WhatwattSystemCoordinator(WhatwattPollCoordinator[SystemInfo]):
    """``/api/v1/system``: identity, firmware, uptime, Wi-Fi and the meter link status."""

    def __init__(
        self, hass: HomeAssistant, entry: WhatwattConfigEntry, client: WhatwattClient
    ) -> None:
        """Poll the system information every few minutes."""
        super().__init__(
            hass, entry, client, what="system", interval=SYSTEM_INTERVAL, fetch=client.system
        )
        self.boot_time: datetime | None = None
        """When the device booted; moves only when it really rebooted (not per poll): the
        device's ``last_reboot`` changed, or the boot instant moved by more than a minute."""
        self._boot_marker: tuple[str | None, str | None] = (None, None)

    @property
    def meter_status(self) -> str | None:
        """The meter link status as the device spells it (``OK``, ``KEY REQUIRED``, ...)."""
        return None if self.data is None else self.data.meter.status

    @property
    def report_interval(self) -> float | None:
        """Seconds between two meter reports, as the device measured it."""
        return None if self.data is None else self.data.meter.report_interval

    @override
    def _async_handle(self, data: SystemInfo) -> None:
        uptime = data.device.time_since_boot
        reboot = data.device.last_reboot
        marker = (reboot.date, reboot.time)
        if uptime is not None:
            booted = (dt_util.utcnow() - timedelta(seconds=uptime)).replace(microsecond=0)
            if (
                self.boot_time is None
                or (marker != self._boot_marker and any(marker))
                or abs(booted - self.boot_time) > timedelta(seconds=REBOOT_TOLERANCE_SECONDS)
            ):
                self.boot_time = booted
        self._boot_marker = marker
        status = data.meter.status
        self.update_interval = (
            SYSTEM_INTERVAL if status in (None, METER_STATUS_OK) else SYSTEM_INTERVAL_METER_PROBLEM
        )
        self._async_update_key_issue(status)

    def _async_update_key_issue(self, status: str | None) -> None:
        """Ask for the DLMS key while the meter needs one; withdraw the request once it is fine."""
        issue_id = f"{ISSUE_METER_KEY}_{self.config_entry.entry_id}"
        if status in METER_KEY_STATUSES:
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                issue_id,
                is_fixable=False,
                is_persistent=False,
                severity=ir.IssueSeverity.ERROR,
                translation_key=ISSUE_METER_KEY,
                translation_placeholders={
                    "name": self.config_entry.title,
                    "status": str(status),
                    "entry_id": self.config_entry.entry_id,
                },
            )
        elif status is not None:
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)


class WhatwattMeterSettingsCoordinator(WhatwattPollCoordinator[MeterSettings]):
    """``/api/v1/meter/settings``; writers call ``async_request_refresh()`` after a change."""

    def __init__(
        self, hass: HomeAssistant, entry: WhatwattConfigEntry, client: WhatwattClient
    ) -> None:
        """Poll the meter settings rarely: they change only when someone changes them."""
        super().__init__(
            hass,
            entry,
            client,
            what="meter settings",
            interval=METER_SETTINGS_INTERVAL,
            fetch=client.meter_settings,
        )


def issue_ids(entry: WhatwattConfigEntry) -> tuple[str, ...]:
    """Return the ids of the repair issues an entry may raise (withdrawn when it unloads)."""
    return tuple(f"{key}_{entry.entry_id}" for key in (ISSUE_METER_KEY, ISSUE_STREAM_TAKEN_OVER))
