"""Whether a whatwatt Go's live data is current, and whether the device answers at all.

The state machine under the live coordinator (``live.py``), kept apart from the stream loop:

* the data counts as lost after ``stale_after`` without fresh values: the measurements turn
  unavailable (one warning; one info when values come back);
* if the device does not even answer, it is offline: every entity of the entry turns
  unavailable and the slow polls pause (one warning; one info when it answers again, and the
  slow polls are read at once);
* a rejected password stops everything and asks the user (reauth);
* the repair issue for a stream that another client keeps taking.
"""

from __future__ import annotations

from datetime import datetime
from typing import override

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .client import (
    Measurements,
    WhatwattAuthError,
    WhatwattConnectionError,
    WhatwattStreamStale,
    WhatwattStreamTakenOver,
)
from .const import (
    DEFAULT_REPORT_INTERVAL,
    DOMAIN,
    ISSUE_STREAM_TAKEN_OVER,
    LOGGER,
    PAID_LICENCES,
    STALE_MIN_SECONDS,
    STALE_REPORT_FACTOR,
    TAKEOVER_RETRY_SECONDS,
)
from .coordinator import (
    WhatwattConfigEntry,
    WhatwattMeterSettingsCoordinator,
    WhatwattSystemCoordinator,
)


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


class WhatwattLiveAvailability(DataUpdateCoordinator[Measurements]):
    """The latest measurements, and how current they are; fed by ``live.py``, never polled."""

    config_entry: WhatwattConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: WhatwattConfigEntry,
        system: WhatwattSystemCoordinator,
        meter_settings: WhatwattMeterSettingsCoordinator,
    ) -> None:
        """Start as online, with no data yet."""
        super().__init__(hass, LOGGER, config_entry=entry, name=f"{entry.title} live")
        self._system = system
        self._meter_settings = meter_settings
        self.online = True
        """False while the device does not answer at all (every entity is unavailable)."""
        self._error: Exception | None = None
        self._lost_timer: CALLBACK_TYPE | None = None
        self._takeover_issue = False
        self._reports_refused = False

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

    # Availability -------------------------------------------------------------------------

    @callback
    def _async_failed(self, err: Exception) -> None:
        """An attempt failed: give the data ``stale_after`` to come back before it is lost."""
        self._error = err
        if is_unreachable(err):
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
        if is_unreachable(self._error):
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

    # Repair issue -------------------------------------------------------------------------

    @property
    def _takeover_issue_id(self) -> str:
        return f"{ISSUE_STREAM_TAKEN_OVER}_{self.config_entry.entry_id}"

    @callback
    def _async_clear_takeover_issue(self) -> None:
        if self._takeover_issue:
            self._takeover_issue = False
            ir.async_delete_issue(self.hass, DOMAIN, self._takeover_issue_id)

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
