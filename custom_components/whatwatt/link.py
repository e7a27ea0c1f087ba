"""The link between the gateway and its meter, checked after every change that can cut it.

Every write of meter settings goes through ``WhatwattMeterLink.async_write`` (options flow,
actions, setting entities, restore factory defaults).  When a write changed a serial,
interface or security field, a DLMS key, or the scaler set, the link is checked: the meter
status (``/api/v1/system``, read at most once per 5 s during the check and not after it) and
the live stream tell whether the meter still talks to the gateway:

* ``ok``: the status is OK and a live event arrived after the write;
* ``lost``: the status settled on something other than OK (RECOGNITION is transitional: the
  same other status twice in a row), or no event came within max(30 s, 3 x report interval);
* ``unreachable``: the gateway itself stopped answering.

The previous values of the fields the last change touched are kept in memory (never stored,
never a key), so a lost link can be undone in one PUT.  A lost link that nothing undoes raises
a fixable repair issue; it withdraws itself once the meter status is OK again.  This module
also owns the older "the meter needs a DLMS key" issue: at most one issue about the link is
shown per entry, the most specific one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from .client import (
    MeterSettings,
    WhatwattAuthError,
    WhatwattConnectionError,
    WhatwattSettingNotApplied,
)
from .client.meter_settings import (
    READABLE_KEYS,
    SECRET_KEYS,
    SPECS,
    Section,
    full_settings,
    validate,
)
from .const import (
    DEFAULT_REPORT_INTERVAL,
    DOMAIN,
    ISSUE_METER_KEY,
    ISSUE_METER_LINK_LOST,
    LOGGER,
    METER_KEY_STATUSES,
    METER_STATUS_OK,
    METER_STATUS_RECOGNITION,
    SYSTEM_READ_MIN_AGE,
)
from .coordinator import (
    WhatwattConfigEntry,
    WhatwattLiveCoordinator,
    WhatwattMeterSettingsCoordinator,
    WhatwattSystemCoordinator,
)
from .helpers import describe_change, meter_status_label

CHECK_POLL_SECONDS: Final = SYSTEM_READ_MIN_AGE
"""The meter status is read at most this often during a check."""
CHECK_MIN_SECONDS: Final = 30.0
CHECK_REPORT_FACTOR: Final = 3.0
"""No live event within max(30 s, 3 x the meter's report interval) means the link is lost."""
LINK_SECTIONS: Final = frozenset({Section.SERIAL, Section.INTERFACE, Section.SECURITY})
LINK_FIELDS: Final = frozenset(
    key for key, spec in SPECS.items() if spec.section in LINK_SECTIONS
) | {"scalers_set"}
"""Fields whose change can cut the link to the meter (a wrong value and the data stop)."""


class Link(StrEnum):
    """How the link to the meter is after a change."""

    OK = "ok"
    LOST = "lost"
    UNREACHABLE = "unreachable"
    NOT_CHECKED = "not_checked"
    """The change cannot cut the link (time or scaling fields only): nothing was checked."""


@dataclass(frozen=True, kw_only=True)
class LinkCheck:
    """The outcome of a check, and the meter status as the device spelled it then."""

    link: Link
    meter_status: str | None


@dataclass(frozen=True, kw_only=True)
class MeterSettingsChange:
    """What one write changed: the readable fields (old, new) and which keys were sent.

    Memory only: never stored, and a key's value is never here (keys are write-only).
    """

    fields: Mapping[str, tuple[Any, Any]]
    keys: tuple[str, ...]

    @property
    def cuts_link(self) -> bool:
        """Whether the change can cut the link (and is checked)."""
        return bool(self.keys) or not LINK_FIELDS.isdisjoint(self.fields)

    def undo(self) -> dict[str, Any]:
        """The previous values of exactly the changed readable fields (one PUT)."""
        return {key: old for key, (old, _new) in self.fields.items()}


def _change(
    before: MeterSettings | None, after: MeterSettings, sent: Mapping[str, Any], *, replace: bool
) -> MeterSettingsChange:
    fields = {
        key: (old, new)
        for key in READABLE_KEYS
        if key in sent
        and (old := getattr(before, key, None)) is not None
        and (new := getattr(after, key)) != old
    }
    # A POST resets what it does not carry: the device forgets both keys.
    keys = SECRET_KEYS if replace else tuple(key for key in SECRET_KEYS if key in sent)
    return MeterSettingsChange(fields=fields, keys=keys)


@dataclass(frozen=True, kw_only=True)
class MeterSettingsWrite:
    """A write done: the settings read back, and the link check it started (if any)."""

    settings: MeterSettings
    check: asyncio.Task[LinkCheck] | None


class WhatwattMeterLink:
    """Writes meter settings, checks the link after a change that can cut it, offers undo."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: WhatwattConfigEntry,
        meter_settings: WhatwattMeterSettingsCoordinator,
        system: WhatwattSystemCoordinator,
        live: WhatwattLiveCoordinator,
    ) -> None:
        """Follow the system information of ``entry`` for its link issues."""
        self._hass = hass
        self._entry = entry
        self._meter_settings = meter_settings
        self._system = system
        self._live = live
        self.last_change: MeterSettingsChange | None = None
        """The last change that could cut the link, while its outcome matters."""
        self._check: asyncio.Task[LinkCheck] | None = None
        self._unwatch_live: CALLBACK_TYPE | None = None
        """Set exactly while the link issue is up: data flowing again makes the status be read
        at once."""
        entry.async_on_unload(system.async_add_listener(self._async_system_updated))
        entry.async_on_unload(self._async_stop)
        self._async_system_updated()

    # Writes -------------------------------------------------------------------------------

    async def async_write(
        self, changes: Mapping[str, Any], *, replace: bool = False
    ) -> MeterSettingsWrite:
        """Write meter settings (PUT, or POST if ``replace``) and check the link if needed.

        Returns the settings read back and the check this write started (it runs in the
        background; ``async_outcome`` waits for it).  Raises the client's errors: validation
        before anything is sent, a value not applied after (a check still runs then: the
        other fields may have taken effect).
        """
        sent = full_settings(changes) if replace else validate(changes)
        before = self._meter_settings.data
        try:
            settings = await self._meter_settings.async_write(changes, replace=replace)
        except WhatwattSettingNotApplied as err:
            self._async_changed(_change(before, err.settings, sent, replace=replace))
            raise
        check = self._async_changed(_change(before, settings, sent, replace=replace))
        return MeterSettingsWrite(settings=settings, check=check)

    async def async_undo(self) -> MeterSettingsWrite:
        """Put back the previous values of the fields the last change touched (one PUT)."""
        change = self.last_change
        if change is None or not change.fields:
            raise RuntimeError("nothing to undo")  # the callers offer undo only when possible
        return await self.async_write(change.undo())

    async def async_outcome(self, write: MeterSettingsWrite) -> LinkCheck:
        """Wait for the check a write started, and return how the link is.

        A change that cannot cut the link is not checked.  A check that stopped because a
        newer change started its own (or the entry unloaded) reports not checked either.
        """
        if write.check is None:
            return LinkCheck(link=Link.NOT_CHECKED, meter_status=self._system.meter_status)
        try:
            return await asyncio.shield(write.check)
        except asyncio.CancelledError:
            if not write.check.cancelled():
                raise  # the caller itself is cancelled
            return LinkCheck(link=Link.NOT_CHECKED, meter_status=self._system.meter_status)

    @callback
    def async_forget(self) -> None:
        """The user keeps the change as it is: forget it and withdraw its issue."""
        self.last_change = None
        self._async_clear_link_issue()

    @callback
    def _async_changed(self, change: MeterSettingsChange) -> asyncio.Task[LinkCheck] | None:
        """Start checking the link after a change that can cut it (the newest check wins)."""
        if not change.cuts_link:
            return None
        self.last_change = change
        self._async_cancel_check()
        self._check = self._entry.async_create_background_task(
            self._hass, self._async_check(change), name=f"{DOMAIN} {self._entry.title} link check"
        )
        return self._check

    # The check ----------------------------------------------------------------------------

    async def _async_check(self, change: MeterSettingsChange) -> LinkCheck:
        """Watch the meter status and the live data until the link is OK, lost or unknown."""
        loop = asyncio.get_running_loop()
        interval = self._system.report_interval or DEFAULT_REPORT_INTERVAL
        deadline = loop.time() + max(CHECK_MIN_SECONDS, CHECK_REPORT_FACTOR * interval)
        event = asyncio.Event()

        @callback
        def _async_live_updated() -> None:
            if self._live.last_update_success:
                event.set()

        unsubscribe = self._live.async_add_listener(_async_live_updated)
        try:
            result = await self._async_watch(deadline, event)
        finally:
            unsubscribe()
        LOGGER.debug("%s: meter link after the change: %s", self._entry.title, result)
        if result.link is Link.LOST:
            self._async_raise_link_issue(change, result)
        elif result.link is Link.OK:
            self.last_change = None
            self._async_clear_link_issue()
        return result

    async def _async_watch(self, deadline: float, event: asyncio.Event) -> LinkCheck:
        loop = asyncio.get_running_loop()
        previous: str | None = None
        max_age = 0.0  # what was read before the write says nothing about the new settings
        while True:
            await self._system.async_read(max_age=max_age)
            max_age = CHECK_POLL_SECONDS
            if not self._system.last_update_success and isinstance(
                getattr(self._system.last_exception, "__cause__", None),
                WhatwattConnectionError | WhatwattAuthError,
            ):
                return LinkCheck(link=Link.UNREACHABLE, meter_status=None)
            status = self._system.meter_status
            if status == METER_STATUS_OK and event.is_set():
                return LinkCheck(link=Link.OK, meter_status=status)
            if status in (None, METER_STATUS_OK, METER_STATUS_RECOGNITION):
                previous = None
            elif status == previous:
                return LinkCheck(link=Link.LOST, meter_status=status)
            else:
                previous = status
            remaining = deadline - loop.time()
            if remaining <= 0:
                return LinkCheck(link=Link.LOST, meter_status=status)
            wait = min(CHECK_POLL_SECONDS, remaining)
            if status != METER_STATUS_OK:
                await asyncio.sleep(wait)
                continue
            with suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await event.wait()
            if event.is_set():  # the status was OK at the last read, and data came
                return LinkCheck(link=Link.OK, meter_status=status)

    @callback
    def _async_cancel_check(self) -> None:
        if self._check is not None and not self._check.done():
            self._check.cancel()
        self._check = None

    @callback
    def _async_stop(self) -> None:
        self._async_cancel_check()
        self._async_clear_link_issue()
        ir.async_delete_issue(self._hass, DOMAIN, self._key_issue_id)

    # Repair issues ------------------------------------------------------------------------

    @property
    def _key_issue_id(self) -> str:
        return f"{ISSUE_METER_KEY}_{self._entry.entry_id}"

    @property
    def _link_issue_id(self) -> str:
        return f"{ISSUE_METER_LINK_LOST}_{self._entry.entry_id}"

    @callback
    def _async_system_updated(self) -> None:
        """Follow the meter status: withdraw the link issue once OK, ask for a missing key."""
        if not self._system.last_update_success or (status := self._system.meter_status) is None:
            return
        checking = self._check is not None and not self._check.done()
        if status == METER_STATUS_OK and not checking:
            self.async_forget()  # the link works: no change of ours is in question any more
        if status in METER_KEY_STATUSES and self.last_change is None:
            self._async_raise_key_issue(status)
        else:
            ir.async_delete_issue(self._hass, DOMAIN, self._key_issue_id)

    @callback
    def _async_raise_key_issue(self, status: str) -> None:
        """Ask for the DLMS key, naming the meter status as the status sensor shows it."""
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            self._key_issue_id,
            is_fixable=False,
            is_persistent=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=ISSUE_METER_KEY,
            translation_placeholders={
                "name": self._entry.title,
                "status": meter_status_label(self._hass, status),
                "entry_id": self._entry.entry_id,
            },
        )

    @callback
    def _async_raise_link_issue(self, change: MeterSettingsChange, result: LinkCheck) -> None:
        """Tell the user the change lost the link, what it was, and offer to undo it."""
        if self._unwatch_live is None:
            self._unwatch_live = self._live.async_add_listener(self._async_live_while_lost)
        ir.async_delete_issue(self._hass, DOMAIN, self._key_issue_id)  # the more specific one
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            self._link_issue_id,
            is_fixable=True,
            is_persistent=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=ISSUE_METER_LINK_LOST,
            translation_placeholders={
                "name": self._entry.title,
                "status": meter_status_label(self._hass, result.meter_status),
                "changes": describe_change(self._hass, change.fields, change.keys),
            },
            data={"entry_id": self._entry.entry_id},
        )

    @callback
    def _async_clear_link_issue(self) -> None:
        if self._unwatch_live is not None:  # the issue is up
            self._unwatch_live()
            self._unwatch_live = None
            ir.async_delete_issue(self._hass, DOMAIN, self._link_issue_id)

    @callback
    def _async_live_while_lost(self) -> None:
        """Meter data again while the link issue is up (fixed elsewhere?): read the status."""
        if self._live.last_update_success and (self._check is None or self._check.done()):
            self._entry.async_create_task(
                self._hass,
                self._system.async_read(max_age=CHECK_POLL_SECONDS),
                eager_start=False,
            )
