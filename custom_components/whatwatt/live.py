"""Live measurements of a whatwatt Go: the ``/api/v1/live`` SSE stream, kept up forever.

The stream is the primary source (it works on every licence).  Events are pushed to the
entities as they arrive, with nothing else done per event.  Around it:

* reconnects with exponential backoff (1 s doubling to 60 s), reset by a healthy stream;
* the device serves ONE stream: when another client keeps taking it, back off for minutes and
  tell the user through a repair issue (withdrawn when the stream works again);
* on PLUS/PRO, ``/api/v1/report`` is polled while the stream is down;
* after a reboot (or a link lost to the device) the system information is read again.

Whether the data is current and the device reachable is decided in ``availability.py``.
"""

from __future__ import annotations

import asyncio
from contextlib import aclosing, suppress
from typing import override

from homeassistant.core import HomeAssistant, callback

from .availability import WhatwattLiveAvailability, is_unreachable
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
    DOMAIN,
    FIRST_DATA_TIMEOUT,
    HEALTHY_STREAM_EVENTS,
    LOGGER,
    METER_STATUS_OK,
    REBOOT_TOLERANCE_SECONDS,
    REPORT_POLL_MIN_SECONDS,
    RETRY_MAX_SECONDS,
    RETRY_MIN_SECONDS,
    TAKEOVER_LIMIT,
    TAKEOVER_RETRY_SECONDS,
)
from .coordinator import (
    WhatwattConfigEntry,
    WhatwattMeterSettingsCoordinator,
    WhatwattSystemCoordinator,
)


class WhatwattLiveCoordinator(WhatwattLiveAvailability):
    """Follows the stream (and reports on PLUS/PRO) and hands each reading to the entities."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: WhatwattConfigEntry,
        client: WhatwattClient,
        system: WhatwattSystemCoordinator,
        meter_settings: WhatwattMeterSettingsCoordinator,
    ) -> None:
        """Prepare; ``async_start`` gets the first data and starts the stream."""
        super().__init__(hass, entry, system, meter_settings)
        self.client = client
        self.takeovers = 0
        """Streams lost in a row to another client (reset by a healthy stream)."""
        self._retry = RETRY_MIN_SECONDS
        self._booted: float | None = None
        self._delivered = 0
        self._first_data: asyncio.Future[None] | None = None

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
        stream = self.client.live(stale_after=self.stale_after)
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
        if rebooted or is_unreachable(self._error):
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
        self._async_clear_takeover_issue()

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

    @callback
    @override
    def _async_auth_failed(self, err: WhatwattAuthError) -> None:
        super()._async_auth_failed(err)
        if self._first_data is not None and not self._first_data.done():
            self._first_data.set_result(None)
