"""The coordinators of a whatwatt Go, and what a loaded config entry holds.

* ``WhatwattLiveCoordinator``: the latest measurements.  Never polled: the stream runner
  (``live.py``) pushes each event with ``async_set_updated_data`` and reports lost data with
  ``async_set_update_error``.
* ``WhatwattSystemCoordinator``: ``/api/v1/system`` (identity, firmware, Wi-Fi, the meter link
  status).  Its own success says whether the gateway answers (``reachable``), and it alone
  decides whether the device rebooted (``async_note_uptime``).
* ``WhatwattMeterSettingsCoordinator``: ``/api/v1/meter/settings``.
* ``WhatwattDemandCoordinator``: the demand windows (``demand.py``), fed by every live update;
  never polled.

The polls stay slow (the gateway may run on meter power and the vendor asks to call it
sparingly).  Everyone who wants the system read now (the stream runner when data stops or
comes back, the link check) calls ``async_request_refresh``: the coordinator's debouncer reads
at once and then at most once per ``SYSTEM_READ_COOLDOWN``, whoever asks.  Availability and
the "unavailable" / "back" log lines are the coordinators' own (DataUpdateCoordinator).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Concatenate, override

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers.debounce import Debouncer
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
    SYSTEM_READ_COOLDOWN,
)
from .demand import (
    OPTION_DEMAND,
    DemandConfig,
    DemandSnapshot,
    DemandTracker,
    Sample,
    gap_limit,
    sample_time,
)
from .errors import error_translation

if TYPE_CHECKING:
    from .link import WhatwattMeterLink
    from .live import WhatwattLiveStream
    from .store import WhatwattStore


@dataclass(kw_only=True)
class WhatwattRuntimeData:
    """What a loaded config entry holds: client, coordinators, stream runner, link, store."""

    client: WhatwattClient
    system: WhatwattSystemCoordinator
    meter_settings: WhatwattMeterSettingsCoordinator
    live: WhatwattLiveCoordinator
    stream: WhatwattLiveStream
    link: WhatwattMeterLink
    store: WhatwattStore
    demand: WhatwattDemandCoordinator


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
            key, placeholders = error_translation(err, self.config_entry.title)
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


def boot_instant(uptime: float, now: datetime) -> datetime:
    """When a device that has been up ``uptime`` seconds at ``now`` booted (whole seconds)."""
    return (now - timedelta(seconds=uptime)).replace(microsecond=0)


def is_new_boot(known: datetime | None, booted: datetime) -> bool:
    """Tell whether ``booted`` is another boot than ``known``: the one rule for a reboot.

    Boot instants closer than ``REBOOT_TOLERANCE_SECONDS`` are the same boot: the stream
    sends the uptime in hours with two decimals (36 s), the system information in seconds.
    """
    return known is None or abs(booted - known) > timedelta(seconds=REBOOT_TOLERANCE_SECONDS)


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


class _WhatwattPolledCoordinator[DataT](DataUpdateCoordinator[DataT]):
    """A coordinator that reads one part of the device's API through the client."""

    config_entry: WhatwattConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: WhatwattConfigEntry,
        client: WhatwattClient,
        *,
        what: str,
        interval: timedelta,
        debouncer: Debouncer[Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        """Read ``what`` of ``client`` every ``interval``."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{entry.title} {what}",
            update_interval=interval,
            request_refresh_debouncer=debouncer,
        )
        self.client = client


class WhatwattSystemCoordinator(_WhatwattPolledCoordinator[SystemInfo]):
    """``/api/v1/system``: identity, firmware, uptime, Wi-Fi and the meter link status.

    Read every 5 minutes, every minute while the meter link is not OK (so a fixed link shows
    soon), and when asked (``async_request_refresh``: at once, then at most once per 5 s).
    """

    def __init__(
        self, hass: HomeAssistant, entry: WhatwattConfigEntry, client: WhatwattClient
    ) -> None:
        """Poll the system information of ``client``."""
        super().__init__(
            hass,
            entry,
            client,
            what="system",
            interval=SYSTEM_INTERVAL,
            debouncer=Debouncer(hass, LOGGER, cooldown=SYSTEM_READ_COOLDOWN, immediate=True),
        )
        self.boot_time: datetime | None = None
        """When the device booted; moves only when it really rebooted (``is_new_boot``), or
        the device's ``last_reboot`` changed."""
        self._boot_marker: tuple[str | None, str | None] = (None, None)
        self.reachable = True
        """Whether the last read reached the device (False: no answer, or the password is
        rejected)."""
        self.reads = 0
        """Reads started so far; ``data_read`` is the number of the one whose data is current
        (a check ignores a read that began before the change it checks)."""
        self.data_read = 0

    @property
    def meter_status(self) -> str | None:
        """The meter link status as the device spells it (``OK``, ``KEY REQUIRED``, ...)."""
        return None if self.data is None else self.data.meter.status

    @property
    def report_interval(self) -> float | None:
        """Seconds between two meter reports, as the device measured it."""
        return None if self.data is None else self.data.meter.report_interval

    @property
    def license(self) -> str | None:
        """The device's license (``FREE``, ``PLUS``, ``PRO``)."""
        return None if self.data is None else self.data.device.license.type

    @_coordinator_exception_handler
    @override
    async def _async_update_data(self) -> SystemInfo:
        self.reads += 1
        number = self.reads
        try:
            data = await self.client.system()
        except WhatwattError as err:
            self.reachable = not isinstance(err, WhatwattConnectionError | WhatwattAuthError)
            raise
        self.reachable = True
        self.data_read = number
        self._update_boot_time(data)
        status = data.meter.status
        self.update_interval = (
            SYSTEM_INTERVAL if status in (None, METER_STATUS_OK) else SYSTEM_INTERVAL_METER_PROBLEM
        )
        return data

    @callback
    def async_note_uptime(self, uptime: float | None) -> None:
        """A new live stream says how long the device has been up: read it again after a reboot.

        The stream sees a reboot long before the next poll would (its first event after
        reconnecting); reading the system then brings firmware, status and boot time.
        """
        if uptime is None or self.boot_time is None:
            return
        if is_new_boot(self.boot_time, boot_instant(uptime, dt_util.utcnow())):
            self.config_entry.async_create_task(
                self.hass, self.async_request_refresh(), eager_start=False
            )

    def _update_boot_time(self, data: SystemInfo) -> None:
        uptime = data.device.time_since_boot
        marker = (data.device.last_reboot.date, data.device.last_reboot.time)
        if uptime is not None:
            booted = boot_instant(uptime, dt_util.utcnow())
            if (marker != self._boot_marker and any(marker)) or is_new_boot(self.boot_time, booted):
                self.boot_time = booted
        self._boot_marker = marker


class WhatwattMeterSettingsCoordinator(_WhatwattPolledCoordinator[MeterSettings]):
    """``/api/v1/meter/settings``; a write pushes what it read back (``async_set_updated_data``)."""

    def __init__(
        self, hass: HomeAssistant, entry: WhatwattConfigEntry, client: WhatwattClient
    ) -> None:
        """Poll the meter settings rarely: they change only when someone changes them."""
        super().__init__(
            hass, entry, client, what="meter settings", interval=METER_SETTINGS_INTERVAL
        )

    @_coordinator_exception_handler
    @override
    async def _async_update_data(self) -> MeterSettings:
        return await self.client.meter_settings()

    async def async_read(self) -> MeterSettings:
        """Read the settings now, for someone about to change them; raise the client's errors.

        What was read becomes the data (every entity shows it, and a write compares with it):
        someone may have changed the settings outside Home Assistant since the last poll.
        """
        settings = await self.client.meter_settings()
        self.async_set_updated_data(settings)
        return settings

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


class WhatwattDemandCoordinator(DataUpdateCoordinator[DemandSnapshot | None]):
    """Demand windows for capacity tariffs, from the meter's import register and clock.

    Every live update with an import register is a sample for ``DemandTracker``; the snapshot
    it gives is this coordinator's data (None before the first).  The tracker's state (peaks,
    history, the window under way) is kept in the entry's store, per window length, at each
    window change and when the entry unloads.
    """

    config_entry: WhatwattConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: WhatwattConfigEntry,
        *,
        live: WhatwattLiveCoordinator,
        system: WhatwattSystemCoordinator,
        store: WhatwattStore,
    ) -> None:
        """Follow ``live``; restore what ``store`` kept for the configured window length."""
        super().__init__(hass, LOGGER, config_entry=entry, name=f"{entry.title} demand")
        self.config = DemandConfig.from_options(entry.options)
        self.zone = dt_util.get_default_time_zone()
        """The meter's local calendar: the meter sends local time, the gateway's zone is
        taken to be Home Assistant's."""
        self._live = live
        self._system = system
        self._store = store
        kept = store.get(OPTION_DEMAND)
        self._kept: dict[str, Any] = dict(kept) if isinstance(kept, Mapping) else {}
        self.tracker = DemandTracker.from_dict(
            self.config, self.zone, self._kept.get(str(self.config.window_minutes))
        )
        self.data = self.tracker.snapshot()
        self.meter_clock: datetime | None = None
        """The meter's clock at the last report (for diagnostics)."""
        self.meter_clock_trusted = True
        self.live = True
        """Whether the meter's data flows (the window under way follows it)."""
        entry.async_on_unload(live.async_add_listener(self._async_live_updated))
        entry.async_on_unload(self._async_keep)
        # Home Assistant does not unload entries when it stops: keep the window under way
        # then too (the store writes it before Home Assistant ends).
        entry.async_on_unload(
            hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, lambda _event: self._async_keep())
        )

    @override
    async def _async_update_data(self) -> DemandSnapshot | None:
        """Serve a manual refresh from what the live data gave (it is push, not poll)."""
        return self.tracker.snapshot()

    @callback
    def _async_live_updated(self) -> None:
        data = self._live.data
        if self.live != self._live.last_update_success:
            self.live = self._live.last_update_success
            if not self.live:
                self.async_update_listeners()  # the window under way stops following
        if not self.live or data is None or data.energy_in is None:
            return
        now = dt_util.utcnow()
        moment, trusted = sample_time(data.meter_time, now, self.zone, self.tracker.last_time)
        self.meter_clock = data.meter_time
        if trusted != self.meter_clock_trusted:
            self.meter_clock_trusted = trusted
            if not trusted:
                LOGGER.warning(
                    "The clock of the meter behind %s is more than an hour off Home Assistant's"
                    " (meter %s, Home Assistant %s): demand windows follow Home Assistant's"
                    " clock until it is right (check time_offset in the meter settings)",
                    self.config_entry.title,
                    data.meter_time,
                    now,
                )
        before = self.data.window_start if self.data is not None else None
        self.tracker.add(
            Sample(time=moment, energy=data.energy_in, power=data.power_in),
            gap_limit(self._system.report_interval),
        )
        snapshot = self.tracker.snapshot()
        if snapshot is not None and snapshot.window_start != before:
            self._async_keep()
        self.async_set_updated_data(snapshot)

    @callback
    def _async_keep(self) -> None:
        """Put the tracker's state in the store (written within a second, or at unload)."""
        self._kept[str(self.config.window_minutes)] = self.tracker.as_dict()
        self._store.async_set(OPTION_DEMAND, dict(self._kept))
