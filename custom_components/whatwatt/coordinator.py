"""The coordinators of a whatwatt Go, and what a loaded config entry holds.

* ``WhatwattLiveCoordinator``: the latest measurements.  Never polled: the stream runner
  (``live.py``) pushes each event with ``async_set_updated_data`` and reports lost data with
  ``async_set_update_error``.
* ``WhatwattSystemCoordinator``: ``/api/v1/system`` (identity, firmware, Wi-Fi, the meter link
  status).  Its success decides whether the gateway counts as reachable.
* ``WhatwattMeterSettingsCoordinator``: ``/api/v1/meter/settings``.

The polls stay slow (the gateway may run on meter power and the vendor asks to call it
sparingly); the runner asks the system coordinator for a refresh whenever the data stops or the
device stops answering, and again when it is back.  Availability and the "unavailable" / "back"
log lines are the coordinators' own (DataUpdateCoordinator).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Concatenate, override

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .client import (
    Measurements,
    MeterSettings,
    SystemInfo,
    WhatwattAuthError,
    WhatwattClient,
    WhatwattConnectionError,
    WhatwattError,
    WhatwattSettingNotApplied,
)
from .const import (
    DOMAIN,
    LOGGER,
    METER_SETTINGS_INTERVAL,
    METER_STATUS_OK,
    POLL_RETRY_SECONDS,
    REBOOT_TOLERANCE_SECONDS,
    SYSTEM_INTERVAL,
    SYSTEM_INTERVAL_METER_PROBLEM,
)
from .errors import describe

if TYPE_CHECKING:
    from .link import WhatwattMeterLink
    from .live import WhatwattLiveStream


@dataclass(kw_only=True)
class WhatwattRuntimeData:
    """What a loaded config entry holds: client, coordinators, stream runner and meter link."""

    client: WhatwattClient
    system: WhatwattSystemCoordinator
    meter_settings: WhatwattMeterSettingsCoordinator
    live: WhatwattLiveCoordinator
    stream: WhatwattLiveStream
    link: WhatwattMeterLink


type WhatwattConfigEntry = ConfigEntry[WhatwattRuntimeData]


def _coordinator_exception_handler[CoordinatorT: DataUpdateCoordinator[Any], T, **P](
    func: Callable[Concatenate[CoordinatorT, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[CoordinatorT, P], Coroutine[Any, Any, T]]:
    """Turn client errors into the coordinator's translated errors (auth starts reauth).

    After a connection error the next poll comes in ``POLL_RETRY_SECONDS``, not a whole
    interval later.
    """

    async def handler(self: CoordinatorT, /, *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await func(self, *args, **kwargs)
        except WhatwattError as err:
            assert self.config_entry is not None
            key, placeholders = describe(err, self.config_entry.title)
            if isinstance(err, WhatwattAuthError):
                raise ConfigEntryAuthFailed(
                    translation_domain=DOMAIN,
                    translation_key=key,
                    translation_placeholders=placeholders,
                ) from err
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key=key,
                translation_placeholders=placeholders,
                retry_after=(
                    POLL_RETRY_SECONDS if isinstance(err, WhatwattConnectionError) else None
                ),
            ) from err

    return handler


class WhatwattLiveCoordinator(DataUpdateCoordinator[Measurements]):
    """The latest measurements, pushed by the stream runner; never polled."""

    config_entry: WhatwattConfigEntry

    def __init__(self, hass: HomeAssistant, entry: WhatwattConfigEntry) -> None:
        """Start with no data; the runner brings the first measurements."""
        super().__init__(hass, LOGGER, config_entry=entry, name=f"{entry.title} live")

    @override
    async def _async_update_data(self) -> Measurements:
        """Serve a manual refresh from what the stream delivered (it is push, not poll)."""
        if self.data is None or not self.last_update_success:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="no_live_data",
                translation_placeholders={"name": self.config_entry.title},
            )
        return self.data


class WhatwattSystemCoordinator(DataUpdateCoordinator[SystemInfo]):
    """``/api/v1/system``: identity, firmware, uptime, Wi-Fi and the meter link status.

    Read every 5 minutes, every minute while the meter link is not OK (so a fixed link shows
    soon), and at once when the runner says the data stopped or came back, or while the link is
    checked after a change.
    """

    config_entry: WhatwattConfigEntry

    def __init__(
        self, hass: HomeAssistant, entry: WhatwattConfigEntry, client: WhatwattClient
    ) -> None:
        """Poll the system information of ``client``."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{entry.title} system",
            update_interval=SYSTEM_INTERVAL,
        )
        self.client = client
        self.boot_time: datetime | None = None
        """When the device booted; moves only when it really rebooted (not per poll): the
        device's ``last_reboot`` changed, or the boot instant moved by more than a minute."""
        self._boot_marker: tuple[str | None, str | None] = (None, None)
        self._read_at: float | None = None

    @property
    def meter_status(self) -> str | None:
        """The meter link status as the device spells it (``OK``, ``KEY REQUIRED``, ...)."""
        return None if self.data is None else self.data.meter.status

    @property
    def report_interval(self) -> float | None:
        """Seconds between two meter reports, as the device measured it."""
        return None if self.data is None else self.data.meter.report_interval

    @property
    def licence(self) -> str | None:
        """The device's licence (``FREE``, ``PLUS``, ``PRO``)."""
        return None if self.data is None else self.data.device.licence.type

    @_coordinator_exception_handler
    @override
    async def _async_update_data(self) -> SystemInfo:
        data = await self.client.system()
        self._update_boot_time(data)
        status = data.meter.status
        self.update_interval = (
            SYSTEM_INTERVAL if status in (None, METER_STATUS_OK) else SYSTEM_INTERVAL_METER_PROBLEM
        )
        return data

    async def async_read(self, max_age: float) -> None:
        """Read the system now, unless it was read less than ``max_age`` seconds ago.

        The stream runner (data stopped, device back) and the link check use it, so the
        device is not asked twice in a row for the same thing.
        """
        now = self.hass.loop.time()
        if self._read_at is not None and now - self._read_at < max_age:
            return
        self._read_at = now
        await self.async_refresh()

    def _update_boot_time(self, data: SystemInfo) -> None:
        uptime = data.device.time_since_boot
        marker = (data.device.last_reboot.date, data.device.last_reboot.time)
        if uptime is not None:
            booted = (dt_util.utcnow() - timedelta(seconds=uptime)).replace(microsecond=0)
            if (
                self.boot_time is None
                or (marker != self._boot_marker and any(marker))
                or abs(booted - self.boot_time) > timedelta(seconds=REBOOT_TOLERANCE_SECONDS)
            ):
                self.boot_time = booted
        self._boot_marker = marker


class WhatwattMeterSettingsCoordinator(DataUpdateCoordinator[MeterSettings]):
    """``/api/v1/meter/settings``; a write pushes what it read back (``async_set_updated_data``)."""

    config_entry: WhatwattConfigEntry

    def __init__(
        self, hass: HomeAssistant, entry: WhatwattConfigEntry, client: WhatwattClient
    ) -> None:
        """Poll the meter settings rarely: they change only when someone changes them."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{entry.title} meter settings",
            update_interval=METER_SETTINGS_INTERVAL,
        )
        self.client = client

    @_coordinator_exception_handler
    @override
    async def _async_update_data(self) -> MeterSettings:
        return await self.client.meter_settings()

    async def async_write(
        self, changes: Mapping[str, Any], *, replace: bool = False
    ) -> MeterSettings:
        """Write settings (PUT of ``changes``, or POST if ``replace``), show what was read back.

        Also when a value was not applied: every entity shows what the device really has.
        Raises the client's errors.  Writers go through ``WhatwattMeterLink.async_write``.
        """
        try:
            if replace:
                settings = await self.client.replace_meter_settings(changes)
            else:
                settings = await self.client.update_meter_settings(**changes)
        except WhatwattSettingNotApplied as err:
            self.async_set_updated_data(err.settings)
            raise
        self.async_set_updated_data(settings)
        return settings
