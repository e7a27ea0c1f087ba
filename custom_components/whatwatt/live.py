"""Live measurements of a whatwatt Go: the ``/api/v1/live`` SSE stream, kept up forever.

The stream is the primary source (it works on every licence).  Events are pushed to the
entities as they arrive, with nothing else done per event.  Around it:

* reconnects with exponential backoff (1 s doubling to 60 s), reset by a healthy stream;
* the device serves ONE stream: when another client keeps taking it, back off for minutes and
  tell the user through a repair issue (withdrawn when the stream works again);
* on PLUS/PRO, ``/api/v1/report`` is polled while the stream is down;
* the data counts as lost after ``stale_after`` without fresh values: the live entities turn
  unavailable, and if the device does not even answer, it is offline (all its entities turn
  unavailable and the slow polls pause).  Each transition is logged once, and once when it
  ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing, suppress
from datetime import datetime
from typing import cast, override

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .client import (
    LiveEvent,
    Measurements,
    WhatwattAuthError,
    WhatwattClient,
    WhatwattConnectionError,
    WhatwattError,
    WhatwattLicenceRequired,
    WhatwattStreamStale,
    WhatwattStreamTakenOver,
)
from .const import (
    DEFAULT_REPORT_INTERVAL,
    DOMAIN,
    FIRST_DATA_TIMEOUT,
    HEALTHY_STREAM_EVENTS,
    ISSUE_STREAM_TAKEN_OVER,
    LOGGER,
    METER_STATUS_OK,
    PAID_LICENCES,
    REBOOT_TOLERANCE_SECONDS,
    REPORT_POLL_MIN_SECONDS,
    RETRY_MAX_SECONDS,
    RETRY_MIN_SECONDS,
    STALE_MIN_SECONDS,
    STALE_REPORT_FACTOR,
    TAKEOVER_LIMIT,
    TAKEOVER_RETRY_SECONDS,
)
from .coordinator import (
    WhatwattConfigEntry,
    WhatwattMeterSettingsCoordinator,
    WhatwattSystemCoordinator,
)


def _is_unreachable(err: BaseException | None) -> bool:
    """Tell "the device does not answer" from "it answered, but no data came".

    A stream the device ended cleanly (no transport error behind it), one taken over and one
    that stayed silent all prove the device is there.
    """
    return (
        isinstance(err, WhatwattConnectionError)
        and not isinstance(err, WhatwattStreamTakenOver | WhatwattStreamStale)
        and err.__cause__ is not None
    )


class WhatwattLiveCoordinator(DataUpdateCoordinator[Measurements]):
    """Holds the latest measurements; fed by the stream (and reports), never by a timer."""

    config_entry: WhatwattConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: WhatwattConfigEntry,
        client: WhatwattClient,
        system: WhatwattSystemCoordinator,
        meter_settings: WhatwattMeterSettingsCoordinator,
    ) -> None:
        """Prepare; ``async_start`` gets the first data and starts the stream."""
        super().__init__(hass, LOGGER, config_entry=entry, name=f"{entry.title} live")
        self.client = client
        self._system = system
        self._meter_settings = meter_settings
        self.online = True
        """False while the device does not answer at all (every entity is unavailable)."""
        self.takeovers = 0
        """Streams lost in a row to another client (reset by a healthy stream)."""
        self._retry = RETRY_MIN_SECONDS
        self._error: Exception | None = None
        self._lost_timer: CALLBACK_TYPE | None = None
        self._takeover_issue = False
        self._reports_refused = False
        self._booted: float | None = None
        self._delivered = 0
        self._first_data: asyncio.Future[None] | None = None

    @property
    def stale_after(self) -> float:
        """Seconds without fresh values after which the data counts as lost."""
        interval = self._system.report_interval or DEFAULT_REPORT_INTERVAL
        return max(STALE_MIN_SECONDS, STALE_REPORT_FACTOR * interval)

    @property
    def polls_reports(self) -> bool:
        """Whether ``/api/v1/report`` can stand in for the stream (PLUS and PRO)."""
        licence = self._system.data.device.licence.type if self._system.data else None
        return not self._reports_refused and licence in PAID_LICENCES

    @property
    def _poll_interval(self) -> float:
        return max(REPORT_POLL_MIN_SECONDS, self._system.report_interval or 0.0)

    async def async_start(self) -> None:
        """Get the first measurements (report or first event), then stream in the background."""
        if self.polls_reports:
            await self._async_poll_report()
        data: Measurements | None = self.data
        self._first_data = self.hass.loop.create_future() if data is None else None
        self.config_entry.async_create_background_task(
            self.hass, self._async_run(), name=f"{DOMAIN} {self.config_entry.title} live stream"
        )
        if self._first_data is not None and self._system.meter_status in (None, METER_STATUS_OK):
            with suppress(TimeoutError):
                async with asyncio.timeout(FIRST_DATA_TIMEOUT):
                    await self._first_data
        self._first_data = None

    @override
    async def async_shutdown(self) -> None:
        """Stop the timers with the entry (the stream task is cancelled by HA)."""
        await super().async_shutdown()
        self._cancel_lost_timer()

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

    # The stream -------------------------------------------------------------------------

    async def _async_run(self) -> None:
        """Keep a stream up for as long as the entry is loaded."""
        while True:
            try:
                await self._async_stream()
            except WhatwattAuthError as err:
                self._async_auth_failed(err)
                return
            except WhatwattStreamStale as err:
                self._error = err
                if not self.online:  # it answered, and then had nothing to say
                    self._async_set_online()
                self._async_lost()
            except WhatwattError as err:
                if self._taken_over(err):
                    self.takeovers += 1
                self._async_failed(err)
            except Exception as err:  # a bug must not end live data for good
                LOGGER.exception(
                    "Unexpected error in the live stream of %s", self.config_entry.title
                )
                self._error = err
                self._async_data_at_risk()
            if not await self._async_wait(self._next_delay()):
                return

    async def _async_stream(self) -> None:
        """Follow one stream until it ends (it always ends with an exception)."""
        self._delivered = delivered = 0
        # The client's live() is an async generator: closing it closes the connection now.
        stream = cast("AsyncGenerator[LiveEvent]", self.client.live(stale_after=self.stale_after))
        try:
            async with aclosing(stream) as events:
                async for event in events:
                    self._async_publish(event.measurements)
                    if not delivered:
                        self._async_first_event(event)
                    delivered += 1
                    if delivered == HEALTHY_STREAM_EVENTS:
                        self._async_healthy()
        finally:
            self._delivered = delivered

    def _taken_over(self, err: WhatwattError) -> bool:
        """Whether another client took the stream (the device serves only one).

        Either the device closed it before the first event, or it ended it cleanly after a
        few: the device sends the current reading to a new client at once, so a client that
        connects right after us shows up as the second.
        """
        if isinstance(err, WhatwattStreamTakenOver):
            return True
        return (
            type(err) is WhatwattConnectionError
            and err.__cause__ is None
            and self._delivered < HEALTHY_STREAM_EVENTS
        )

    @callback
    def _async_publish(self, measurements: Measurements) -> None:
        """Hand fresh values to the entities (the only per-event work)."""
        if self._lost_timer is not None:
            self._cancel_lost_timer()
        if not self.last_update_success or not self.online:
            self._async_back()
        self.async_set_updated_data(measurements)
        if self._first_data is not None and not self._first_data.done():
            self._first_data.set_result(None)

    @callback
    def _async_first_event(self, event: LiveEvent) -> None:
        """A new stream: after a reboot (or a link lost to the device) read the system again.

        A reboot shows as a boot instant (now - uptime) later than the last one; the stream
        sends the uptime in hours with few decimals, hence the generous tolerance.  A stream
        that broke on a transport error may hide a short reboot: read the system then too.
        """
        uptime = event.time_since_boot
        booted = None if uptime is None else self.hass.loop.time() - uptime
        rebooted = (
            booted is not None
            and self._booted is not None
            and booted - self._booted > REBOOT_TOLERANCE_SECONDS
        )
        if rebooted or _is_unreachable(self._error):
            self._error = None
            self.config_entry.async_create_task(
                self.hass, self._system.async_request_refresh(), eager_start=False
            )
        if booted is not None:
            self._booted = booted

    @callback
    def _async_healthy(self) -> None:
        """The stream works: reset the backoff and withdraw the takeover issue."""
        self._retry = RETRY_MIN_SECONDS
        self.takeovers = 0
        if self._takeover_issue:
            self._takeover_issue = False
            ir.async_delete_issue(self.hass, DOMAIN, self._takeover_issue_id)

    def _next_delay(self) -> float:
        """Backoff before the next attempt (minutes once another client keeps the stream)."""
        if self.takeovers >= TAKEOVER_LIMIT:
            self._async_raise_takeover_issue()
            return TAKEOVER_RETRY_SECONDS
        delay = self._retry
        self._retry = min(self._retry * 2, RETRY_MAX_SECONDS)
        return delay

    async def _async_wait(self, delay: float) -> bool:
        """Sleep before reconnecting; on PLUS/PRO poll reports meanwhile. False: stop."""
        remaining = delay
        while remaining > 0:
            interval = self._poll_interval
            if delay < interval or not self.polls_reports:
                await asyncio.sleep(remaining)
                break
            if not await self._async_poll_report():
                return False
            step = min(remaining, interval)
            await asyncio.sleep(step)
            remaining -= step
        return True

    async def _async_poll_report(self) -> bool:
        """Read ``/api/v1/report`` once and publish it. False when the password is rejected."""
        try:
            report = await self.client.report()
        except WhatwattLicenceRequired:
            LOGGER.debug("%s has no licence for reports", self.config_entry.title)
            self._reports_refused = True
        except WhatwattAuthError as err:
            self._async_auth_failed(err)
            return False
        except WhatwattError as err:
            LOGGER.debug("Report from %s failed: %s", self.config_entry.title, err)
            self._async_failed(err)
        else:
            if report.meter.status in (None, METER_STATUS_OK):
                self._async_publish(report.measurements)
                self._async_data_at_risk()  # the stream is still down: only reports keep it
        return True

    # Availability -------------------------------------------------------------------------

    @callback
    def _async_failed(self, err: Exception) -> None:
        """An attempt failed: give the data ``stale_after`` to come back before it is lost."""
        self._error = err
        if _is_unreachable(err):
            self.async_connection_failed(err)
            return
        if not self.online:
            self._async_set_online()
        self._async_data_at_risk()

    @callback
    def _async_data_at_risk(self) -> None:
        """Values stopped coming: they count as lost unless fresh ones come in time."""
        if self.last_update_success and self._lost_timer is None:
            self._start_lost_timer()

    @callback
    def async_connection_failed(self, err: Exception) -> None:
        """The device did not answer (the stream or a slow poll)."""
        self._error = err
        if not self.last_update_success:
            self._async_set_offline()
        else:
            self._async_data_at_risk()

    def _start_lost_timer(self) -> None:
        self._lost_timer = async_call_later(self.hass, self.stale_after, self._async_lost_timer)

    def _cancel_lost_timer(self) -> None:
        if self._lost_timer is not None:
            self._lost_timer()
            self._lost_timer = None

    @callback
    def _async_lost_timer(self, _now: datetime) -> None:
        self._lost_timer = None
        self._async_lost()

    @callback
    def _async_lost(self) -> None:
        """No fresh values for ``stale_after``: the live entities turn unavailable."""
        self._cancel_lost_timer()
        if not self.last_update_success:
            return
        self.last_update_success = False
        self.last_exception = self._error
        if _is_unreachable(self._error):
            self._async_set_offline()
        else:
            LOGGER.warning(
                "No live data from %s for %.0f s (%s); its measurements are unavailable",
                self.config_entry.title,
                self.stale_after,
                self._error,
            )
        self.async_update_listeners()

    @callback
    def _async_set_offline(self) -> None:
        if not self.online:
            return
        self.online = False
        LOGGER.warning(
            "%s is not reachable (%s); its entities are unavailable until it answers again",
            self.config_entry.title,
            self._error,
        )
        self._async_update_companions()

    @callback
    def _async_set_online(self) -> None:
        self.online = True
        LOGGER.info("%s is reachable again", self.config_entry.title)
        self._async_update_companions()
        for coordinator in (self._system, self._meter_settings):
            self.config_entry.async_create_task(
                self.hass, coordinator.async_request_refresh(), eager_start=False
            )

    @callback
    def _async_back(self) -> None:
        """Fresh values after a loss: log it once."""
        if not self.online:
            self._async_set_online()  # reads the system again
            self._error = None
        else:
            LOGGER.info("Live data from %s is back", self.config_entry.title)

    @callback
    def _async_update_companions(self) -> None:
        """Let the slow polls' entities follow the device's reachability."""
        self._system.async_update_listeners()
        self._meter_settings.async_update_listeners()

    @callback
    def _async_auth_failed(self, err: WhatwattAuthError) -> None:
        """The password stopped working: stop, go unavailable and ask the user (reauth)."""
        self._cancel_lost_timer()
        self.last_exception = err
        if self.last_update_success:
            self.last_update_success = False
            LOGGER.warning("%s rejected the password", self.config_entry.title)
            self.async_update_listeners()
        self.config_entry.async_start_reauth(self.hass)
        if self._first_data is not None and not self._first_data.done():
            self._first_data.set_result(None)

    # Repair issue -------------------------------------------------------------------------

    @property
    def _takeover_issue_id(self) -> str:
        return f"{ISSUE_STREAM_TAKEN_OVER}_{self.config_entry.entry_id}"

    @callback
    def _async_raise_takeover_issue(self) -> None:
        if self._takeover_issue:
            return
        self._takeover_issue = True
        LOGGER.warning(
            "Another client keeps taking the live stream of %s; retrying every %.0f s",
            self.config_entry.title,
            TAKEOVER_RETRY_SECONDS,
        )
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            self._takeover_issue_id,
            is_fixable=False,
            is_persistent=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=(
                f"{ISSUE_STREAM_TAKEN_OVER}_polling"
                if self.polls_reports
                else ISSUE_STREAM_TAKEN_OVER
            ),
            translation_placeholders={
                "name": self.config_entry.title,
                "minutes": f"{TAKEOVER_RETRY_SECONDS / 60:.0f}",
            },
        )
