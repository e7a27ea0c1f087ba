"""The live stream of a whatwatt Go (``/api/v1/live``), kept up for as long as the entry is loaded.

A plain runner, not a coordinator: it feeds ``WhatwattLiveCoordinator`` with each event
(``async_set_updated_data``) and tells it when the data is lost (``async_set_update_error``).
Around the stream it owns:

* reconnects with exponential backoff (1 s doubling to 60 s), reset by a healthy stream; a
  meter that starts talking again (its status read turns OK) ends the wait at once, so data
  is back within seconds, not at the next attempt (a link check after a change waits for it);
* the device serves ONE stream: when another client keeps taking it (the client tells,
  ``WhatwattStreamTakenOver``), back off for minutes and tell the user through a repair issue
  (withdrawn when the stream works again);
* staleness: no event for ``lost_after`` (max(30 s, 3 x the meter's report interval)) means the
  data is lost;
* on PLUS/PRO, ``/api/v1/report`` stands in while the stream is down.

It does not decide whether the gateway answers: the system coordinator does, by reading
``/api/v1/system``.  The runner asks it to (``async_request_refresh``, at most once per 5 s)
when the data stops, when data flows again, and when a failed attempt and the coordinator
disagree about whether the device answers.  A new stream's first event tells the coordinator
the device's uptime, which decides whether it rebooted.
"""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from datetime import datetime

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.update_coordinator import UpdateFailed

from .client import (
    Measurements,
    WhatwattAuthError,
    WhatwattClient,
    WhatwattConnectionError,
    WhatwattError,
    WhatwattLicenseRequired,
    WhatwattStreamStale,
    WhatwattStreamTakenOver,
)
from .client.sse import HEALTHY_EVENTS
from .const import (
    DEFAULT_REPORT_INTERVAL,
    DOMAIN,
    ISSUE_STREAM_TAKEN_OVER,
    LOGGER,
    METER_STATUS_OK,
    PAID_LICENSES,
    REPORT_POLL_MIN_SECONDS,
    RETRY_MAX_SECONDS,
    RETRY_MIN_SECONDS,
    STALE_MIN_SECONDS,
    STALE_REPORT_FACTOR,
    TAKEOVER_LIMIT,
    TAKEOVER_RETRY_SECONDS,
)
from .coordinator import WhatwattConfigEntry, WhatwattLiveCoordinator, WhatwattSystemCoordinator
from .errors import error_translation


def lost_after(report_interval: float | None) -> float:
    """Seconds without a meter report after which its data counts as lost.

    max(30 s, 3 x the meter's report interval): a meter that reports every 10 s may miss one
    or two reports without its values turning unavailable.  The link check after a settings
    change waits as long for the first event.
    """
    interval = report_interval or DEFAULT_REPORT_INTERVAL
    return max(STALE_MIN_SECONDS, STALE_REPORT_FACTOR * interval)


def is_unreachable(err: BaseException | None) -> bool:
    """Tell "the device does not answer" from "it answered, but no data came".

    A stream the device ended cleanly (no transport error behind it), one taken over and one
    that stayed silent all prove the device is there.
    """
    return (
        isinstance(err, WhatwattConnectionError)
        and not isinstance(err, WhatwattStreamTakenOver | WhatwattStreamStale)
        and err.__cause__ is not None
    )


class WhatwattLiveStream:
    """Follows the stream (and reports on PLUS/PRO) and hands each reading to the coordinator."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: WhatwattConfigEntry,
        client: WhatwattClient,
        live: WhatwattLiveCoordinator,
        system: WhatwattSystemCoordinator,
    ) -> None:
        """Prepare; ``async_run`` does the work (as the entry's background task)."""
        self._hass = hass
        self._entry = entry
        self._client = client
        self._live = live
        self._system = system
        self.takeovers = 0
        """Streams lost in a row to another client (reset by a healthy stream)."""
        self._retry = RETRY_MIN_SECONDS
        self._error: Exception | None = None
        """Why the last attempt failed (None while the stream works)."""
        self._last_event = hass.loop.time()
        self._lost_timer: CALLBACK_TYPE | None = None
        self._reports_refused = False
        self._first_data = asyncio.Event()
        self._wake = asyncio.Event()
        """Set when the meter talks again: reconnect now instead of after the backoff."""
        self._meter_ok = system.meter_status in (None, METER_STATUS_OK)
        entry.async_on_unload(self._async_stop)
        entry.async_on_unload(system.async_add_listener(self._async_system_updated))

    @property
    def stale_after(self) -> float:
        """Seconds without an event after which the data counts as lost."""
        return lost_after(self._system.report_interval)

    @property
    def polls_reports(self) -> bool:
        """Whether ``/api/v1/report`` can stand in for the stream (PLUS and PRO)."""
        return not self._reports_refused and self._system.license in PAID_LICENSES

    async def async_wait_first_data(self) -> None:
        """Wait for the first measurements, or for the stream to stop (auth)."""
        await self._first_data.wait()

    async def async_run(self) -> None:
        """Keep a stream up for as long as the entry is loaded."""
        if self.polls_reports:
            await self._async_poll_report()  # a rejected password shows on the stream too
        self._start_lost_timer()  # no data at all within the window also counts as lost
        while True:
            try:
                await self._async_stream()
            except WhatwattAuthError as err:
                self._async_auth_failed(err)
                return
            except WhatwattStreamStale as err:
                self._async_lost(err)
            except WhatwattError as err:
                if isinstance(err, WhatwattStreamTakenOver):
                    self._async_taken_over()
                self._async_failed(err)
            except Exception as err:  # a bug must not end live data for good
                LOGGER.exception("Unexpected error in the live stream of %s", self._entry.title)
                self._async_failed(err)
            if not await self._async_wait(self._next_delay()):
                return

    # The stream ---------------------------------------------------------------------------

    async def _async_stream(self) -> None:
        """Follow one stream until it ends (it always ends with an exception)."""
        delivered = 0
        # The client's live() is an async generator: closing it closes the connection now.
        async with aclosing(self._client.live(stale_after=self.stale_after)) as events:
            async for event in events:
                self._async_publish(event.measurements)
                if not delivered:  # a new stream: did the device reboot meanwhile?
                    self._system.async_note_uptime(event.time_since_boot)
                delivered += 1
                if delivered == HEALTHY_EVENTS:
                    self._async_healthy()

    @callback
    def _async_publish(self, measurements: Measurements) -> None:
        """Hand fresh values to the entities (the only per-event work)."""
        self._last_event = self._hass.loop.time()
        if self._lost_timer is not None:
            self._cancel_lost_timer()
        if self._error is not None or not self._live.last_update_success:
            self._async_back()
        self._live.async_set_updated_data(measurements)
        if not self._first_data.is_set():
            self._first_data.set()

    @callback
    def _async_healthy(self) -> None:
        """The stream works: reset the backoff and withdraw the takeover issue."""
        self._retry = RETRY_MIN_SECONDS
        if self.takeovers >= TAKEOVER_LIMIT:
            ir.async_delete_issue(self._hass, DOMAIN, self._takeover_issue_id)
        self.takeovers = 0

    def _next_delay(self) -> float:
        """Backoff before the next attempt (minutes once another client keeps the stream)."""
        if self.takeovers >= TAKEOVER_LIMIT:
            return TAKEOVER_RETRY_SECONDS
        delay = self._retry
        self._retry = min(self._retry * 2, RETRY_MAX_SECONDS)
        return delay

    async def _async_wait(self, delay: float) -> bool:
        """Wait before reconnecting; on PLUS/PRO poll reports meanwhile. False: stop.

        The wait ends early when the meter talks again (``_async_system_updated``).
        """
        self._wake.clear()
        remaining = delay
        while remaining > 0:
            interval = max(REPORT_POLL_MIN_SECONDS, self._system.report_interval or 0.0)
            if delay < interval or not self.polls_reports:
                await self._async_sleep(remaining)
                break
            if not await self._async_poll_report():
                return False
            step = min(remaining, interval)
            if await self._async_sleep(step):
                break
            remaining -= step
        return True

    async def _async_sleep(self, seconds: float) -> bool:
        """Sleep ``seconds``; True when woken early (the meter talks again)."""
        try:
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        except TimeoutError:
            return False
        return True

    @callback
    def _async_system_updated(self) -> None:
        """The meter status turned OK: if the stream waits to reconnect, reconnect now."""
        if not self._system.last_update_success:
            return
        meter_ok = self._system.meter_status == METER_STATUS_OK
        if meter_ok and not self._meter_ok:
            self._wake.set()
        self._meter_ok = meter_ok

    async def _async_poll_report(self) -> bool:
        """Read ``/api/v1/report`` once and publish it. False when the password is rejected."""
        try:
            report = await self._client.report()
        except WhatwattLicenseRequired:
            LOGGER.debug("%s has no license for reports", self._entry.title)
            self._reports_refused = True
        except WhatwattAuthError as err:
            self._async_auth_failed(err)
            return False
        except WhatwattError as err:
            LOGGER.debug("Report from %s failed: %s", self._entry.title, err)
            self._async_failed(err)
        else:
            if report.meter.status in (None, METER_STATUS_OK):
                self._async_publish(report.measurements)
                self._start_lost_timer()  # the stream is still down: only reports keep it
        return True

    # What the data and the device are doing -------------------------------------------------

    @callback
    def _async_failed(self, err: Exception) -> None:
        """An attempt failed: the data counts as lost unless fresh values come in time.

        When the failure says "the device does not answer" and the system coordinator still
        thinks it does (or the other way round), the coordinator reads the device and decides.
        """
        self._error = err
        if is_unreachable(err) == self._system.reachable:
            self._async_check_device()
        self._start_lost_timer()

    @callback
    def _async_lost(self, err: Exception | None = None) -> None:
        """No fresh values for ``stale_after``: the measurements turn unavailable."""
        self._cancel_lost_timer()
        if err is not None:
            self._error = err
        if not self._live.last_update_success:
            return
        if is_unreachable(self._error):
            assert isinstance(self._error, WhatwattError)
            key, placeholders = error_translation(self._error, self._entry.title)
        else:
            key = "live_data_lost"
            placeholders = {"name": self._entry.title, "seconds": f"{self.stale_after:.0f}"}
        self._live.async_set_update_error(
            UpdateFailed(
                translation_domain=DOMAIN,
                translation_key=key,
                translation_placeholders=placeholders,
            )
        )
        self._async_check_device()

    @callback
    def _async_back(self) -> None:
        """Values flow again after a failure: log a recovery once, read the system again."""
        lost = not self._live.last_update_success
        if lost:
            LOGGER.info("Live data from %s is back", self._entry.title)
        if lost or not self._system.reachable or not self._system.last_update_success:
            self._async_check_device()
        self._error = None

    @callback
    def _async_check_device(self) -> None:
        """Ask the system coordinator to read the device (reachable? meter status?)."""
        self._entry.async_create_task(
            self._hass, self._system.async_request_refresh(), eager_start=False
        )

    @callback
    def _async_auth_failed(self, err: WhatwattAuthError) -> None:
        """The password stopped working: stop, go unavailable and ask the user (reauth)."""
        self._cancel_lost_timer()
        key, placeholders = error_translation(err, self._entry.title)
        self._live.async_set_update_error(
            ConfigEntryAuthFailed(
                translation_domain=DOMAIN,
                translation_key=key,
                translation_placeholders=placeholders,
            )
        )
        self._entry.async_start_reauth(self._hass)
        self._first_data.set()

    def _start_lost_timer(self) -> None:
        """Count the data as lost ``stale_after`` after the last event, unless one comes."""
        if self._lost_timer is not None or not self._live.last_update_success:
            return
        due = self._last_event + self.stale_after - self._hass.loop.time()
        self._lost_timer = async_call_later(self._hass, max(due, 0.0), self._async_lost_timer)

    @callback
    def _async_stop(self) -> None:
        """The entry unloads (HA cancels the task): stop the timer, withdraw the issue."""
        self._cancel_lost_timer()
        ir.async_delete_issue(self._hass, DOMAIN, self._takeover_issue_id)

    @callback
    def _cancel_lost_timer(self) -> None:
        if self._lost_timer is not None:
            self._lost_timer()
            self._lost_timer = None

    @callback
    def _async_lost_timer(self, _now: datetime) -> None:
        self._lost_timer = None
        self._async_lost()

    # Repair issue -------------------------------------------------------------------------

    @property
    def _takeover_issue_id(self) -> str:
        return f"{ISSUE_STREAM_TAKEN_OVER}_{self._entry.entry_id}"

    @callback
    def _async_taken_over(self) -> None:
        """Another client took the stream; at the limit, back off and tell the user once."""
        self.takeovers += 1
        if self.takeovers != TAKEOVER_LIMIT:
            return
        LOGGER.warning(
            "Another client keeps taking the live stream of %s; retrying every %.0f s",
            self._entry.title,
            TAKEOVER_RETRY_SECONDS,
        )
        ir.async_create_issue(
            self._hass,
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
                "name": self._entry.title,
                "minutes": f"{TAKEOVER_RETRY_SECONDS / 60:.0f}",
            },
        )
