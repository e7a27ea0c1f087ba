"""The link between the gateway and its meter, checked after every change that can cut it.

Every write of meter settings goes through ``WhatwattMeterLink.async_write`` (options flow,
repair flow, actions, setting entities, restore factory defaults).  ``link_risk`` is the one
rule for what a change can do to the link: confirmed before it is sent, checked after, or
neither.  A check watches the coordinators (no polling loop of its own): each meter status
read after the write and each live event go through ``verdict``, a pure function:

* ``ok``: the status is OK and a live event arrived after the write;
* ``lost``: the status settled on something other than OK (RECOGNITION is transitional: the
  same other status twice in a row), or no event came within ``lost_after``;
* ``unreachable``: the gateway itself stopped answering.

During a check the meter status is read at once and then every 5 s (the system
coordinator's debouncer never reads more often, whoever asks); nothing is read after it.

The previous values of the fields the last such change touched are kept in the entry's store
(never a key), so a lost link can be undone in one PUT, also after Home Assistant restarted or
the entry reloaded: a kept change is checked again at setup.  A lost link raises a fixable
repair issue; it withdraws itself, and the kept change is forgotten, once the link is OK.

This module also owns the other link issue, "the meter is not talking to the gateway": the
status has not been OK for ``NOT_TALKING_AFTER`` while no change of ours is in question (at
once for a key status: waiting does not bring a key).  Its fix is the link assistant.  At most
one link issue is shown per entry: while a change of ours is in question, its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum
from typing import Any, Final

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_call_later, async_track_point_in_utc_time
from homeassistant.util import dt as dt_util

from .client import MeterSettings, WhatwattSettingNotApplied
from .client.meter_settings import (
    READABLE_KEYS,
    SECRET_KEYS,
    SPECS,
    Section,
    full_settings,
    validate,
)
from .const import (
    DOMAIN,
    ISSUE_METER_LINK_LOST,
    ISSUE_METER_NOT_TALKING,
    LOGGER,
    METER_KEY_STATUSES,
    METER_STATUS_OK,
    METER_STATUS_RECOGNITION,
    SYSTEM_READ_COOLDOWN,
)
from .coordinator import (
    WhatwattConfigEntry,
    WhatwattLiveCoordinator,
    WhatwattMeterSettingsCoordinator,
    WhatwattSystemCoordinator,
)
from .live import lost_after
from .store import WhatwattStore
from .texts import change_text, meter_status_label

STORE_PART: Final = "link"
LINK_SECTIONS: Final = frozenset({Section.SERIAL, Section.INTERFACE, Section.SECURITY})
"""Sections whose settings make the link to the meter."""
REDETECTING: Final = frozenset({"scalers_set"})
"""Not a link setting, but a change makes the gateway detect the meter again (its scalers)."""
NOT_TALKING_AFTER: Final = timedelta(minutes=10)
"""How long the meter status stays other than OK before the "not talking" issue is raised."""


class LinkRisk(IntEnum):
    """What changing a setting can do to the meter link (``link_risk``)."""

    NONE = 0
    """Time and scaling: the link cannot change.  Not checked."""
    CHECKED = 1
    """The gateway detects the meter again and may not find it: checked after the write."""
    CONFIRMED = 2
    """The gateway may stop reading the meter: the user confirms first, and it is checked."""


def link_risk(key: str, value: Any) -> LinkRisk:
    """Return what setting ``key`` to ``value`` can do to the link: the one rule for it.

    A serial, interface or security setting moved away from its factory default ("detect
    automatically" or "off"), and any key, can leave the gateway unable to read the meter:
    confirmed first, checked after.  The same settings going back to their default cannot
    leave it worse than detection does, and the scaler set makes it detect the meter again:
    checked, not confirmed.  Time and the other scaling settings: nothing.
    """
    spec = SPECS[key]
    if spec.section in LINK_SECTIONS:
        if spec.write_only or value != spec.default:
            return LinkRisk.CONFIRMED
        return LinkRisk.CHECKED
    return LinkRisk.CHECKED if key in REDETECTING else LinkRisk.NONE


class Link(StrEnum):
    """How the link to the meter is after a change."""

    OK = "ok"
    LOST = "lost"
    UNREACHABLE = "unreachable"
    NOT_CHECKED = "not_checked"
    """The change cannot cut the link (``LinkRisk.NONE``): nothing was checked."""


def verdict(
    *,
    status: str | None,
    previous: str | None,
    reachable: bool,
    data_seen: bool,
    overdue: bool,
) -> Link | None:
    """How the link is, from what a check has seen so far; None: keep watching.

    ``status`` is the meter status of the latest read after the change (None: none yet),
    ``previous`` the one before it, ``reachable`` whether the gateway answered that read,
    ``data_seen`` whether a live event came after the change, ``overdue`` whether
    ``lost_after`` has passed since the change.
    """
    if not reachable:
        return Link.UNREACHABLE
    if status == METER_STATUS_OK and data_seen:
        return Link.OK
    if status not in (None, METER_STATUS_OK, METER_STATUS_RECOGNITION) and status == previous:
        return Link.LOST
    return Link.LOST if overdue else None


@dataclass(frozen=True, kw_only=True)
class MeterSettingsChange:
    """What one write changed: the readable fields (old, new) and which keys were sent.

    Kept in the entry's store while its effect on the link is in question: the values of the
    readable fields and the names of the keys, never a key's value (keys are write-only).
    """

    fields: Mapping[str, tuple[Any, Any]]
    keys: tuple[str, ...]

    @property
    def checked(self) -> bool:
        """Whether the change can affect the link (and so is checked after the write)."""
        return bool(self.keys) or any(
            link_risk(key, new) is not LinkRisk.NONE for key, (_old, new) in self.fields.items()
        )

    def undo(self) -> dict[str, Any]:
        """The previous values of exactly the changed readable fields (one PUT)."""
        return {key: old for key, (old, _new) in self.fields.items()}

    def as_dict(self) -> dict[str, Any]:
        """The form kept in the store."""
        return {
            "fields": {key: list(pair) for key, pair in self.fields.items()},
            "keys": [*self.keys],
        }

    @classmethod
    def from_dict(cls, data: Any) -> MeterSettingsChange | None:
        """Read what the store kept (None for anything else: a newer or broken file)."""
        if not isinstance(data, Mapping):
            return None
        fields, keys = data.get("fields"), data.get("keys")
        if not isinstance(fields, Mapping) or not isinstance(keys, list):
            return None
        pairs = {
            key: (pair[0], pair[1])
            for key, pair in fields.items()
            if key in READABLE_KEYS and isinstance(pair, list) and len(pair) == 2
        }
        return cls(fields=pairs, keys=tuple(key for key in keys if key in SECRET_KEYS))


@dataclass(frozen=True, kw_only=True)
class LinkCheck:
    """The outcome of a check, and the meter status as the device spelled it then."""

    link: Link
    meter_status: str | None
    change: MeterSettingsChange | None = None
    """The change that was checked (None when nothing was)."""
    interrupted: bool = False
    """The check stopped before a verdict: a newer change started its own, or the entry
    unloaded (``link`` is then ``not_checked``; a kept change is checked again at setup)."""


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
    check: asyncio.Future[LinkCheck] | None


class _Check:
    """One check of the link, fed by the coordinators' listeners; ends in ``future``."""

    def __init__(
        self, link: WhatwattMeterLink, change: MeterSettingsChange, *, fresh: bool
    ) -> None:
        """Start watching; ``fresh``: the current meter status already counts (after setup)."""
        self._link = link
        self._change = change
        system = link.system
        self.future: asyncio.Future[LinkCheck] = link.hass.loop.create_future()
        self._after = -1 if fresh else system.reads
        """Only reads numbered above this one count (``fresh``: the current data too)."""
        self._status: str | None = None
        self._previous: str | None = None
        self._data_seen = False
        self._next_read: CALLBACK_TYPE | None = None
        self._unsubscribe = [
            system.async_add_listener(self._async_system_updated),
            link.live.async_add_listener(self._async_live_updated),
            async_call_later(link.hass, lost_after(system.report_interval), self._async_overdue),
        ]
        if fresh and system.last_update_success:
            self._async_system_updated()
        else:
            self._async_read()

    @callback
    def _async_read(self, _now: datetime | None = None) -> None:
        self._next_read = None
        # Eagerly: the read is queued at once, before any later request (a next change)
        self._link.entry.async_create_task(
            self._link.hass, self._link.system.async_request_refresh()
        )

    @callback
    def _async_system_updated(self) -> None:
        system = self._link.system
        if system.last_update_success and system.data_read <= self._after:
            return  # a read that began before the change says nothing about it
        self._previous = self._status
        self._status = system.meter_status if system.last_update_success else None
        if not self._async_judge(overdue=False) and self._next_read is None:
            self._next_read = async_call_later(
                self._link.hass, SYSTEM_READ_COOLDOWN, self._async_read
            )

    @callback
    def _async_live_updated(self) -> None:
        if self._link.live.last_update_success:
            self._data_seen = True
            self._async_judge(overdue=False)

    @callback
    def _async_overdue(self, _now: datetime) -> None:
        self._async_judge(overdue=True)

    @callback
    def _async_judge(self, *, overdue: bool) -> bool:
        """Decide if it can; True once the check is over (it stops watching then)."""
        link = verdict(
            status=self._status,
            previous=self._previous,
            reachable=self._link.system.reachable,
            data_seen=self._data_seen,
            overdue=overdue,
        )
        if link is None:
            return False
        self.async_stop()
        self.future.set_result(LinkCheck(link=link, meter_status=self._status, change=self._change))
        return True

    @callback
    def async_stop(self) -> None:
        """Stop watching (over, superseded by a newer change, or the entry unloads)."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        if self._next_read is not None:
            self._next_read()
            self._next_read = None


class WhatwattMeterLink:
    """Writes meter settings, checks the link after a change that can cut it, offers undo."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: WhatwattConfigEntry,
        *,
        meter_settings: WhatwattMeterSettingsCoordinator,
        system: WhatwattSystemCoordinator,
        live: WhatwattLiveCoordinator,
        store: WhatwattStore,
    ) -> None:
        """Follow the system information of ``entry`` for its link issues.

        A change kept from before a restart or reload is checked again at once.
        """
        self.hass = hass
        self.entry = entry
        self.system = system
        self.live = live
        self._meter_settings = meter_settings
        self._store = store
        self.last_change: MeterSettingsChange | None = None
        """The last change that could cut the link, while its outcome matters."""
        self._check: _Check | None = None
        self._unwatch_live: CALLBACK_TYPE | None = None
        """Set exactly while the link issue is up: data flowing again makes the status be read
        at once."""
        self._not_ok_since: datetime | None = None
        """Since when the status has not been OK, with no change of ours in question."""
        self._not_talking_due: CALLBACK_TYPE | None = None
        entry.async_on_unload(system.async_add_listener(self._async_system_updated))
        entry.async_on_unload(self._async_stop)
        if (kept := MeterSettingsChange.from_dict(store.get(STORE_PART))) is not None:
            LOGGER.debug("%s: checking the meter link after a kept change", entry.title)
            self._async_changed(kept, fresh=True)
        self._async_system_updated()

    # Writes -------------------------------------------------------------------------------

    async def async_write(
        self, changes: Mapping[str, Any], *, replace: bool = False, restore: bool = False
    ) -> MeterSettingsWrite:
        """Write meter settings (PUT, or POST if ``replace``) and check the link if needed.

        Returns the settings read back and the check this write started (it runs in the
        background; ``async_outcome`` waits for it).  Raises the client's errors: validation
        before anything is sent, a value not applied after (a check still runs then: the
        other fields may have taken effect).  ``restore``: the settings go back to what they
        were before changes of ours (the link assistant gives up): nothing of ours is in
        question any more, so nothing is checked and a kept change is forgotten.
        """
        sent = full_settings(changes) if replace else validate(changes)
        before = self._meter_settings.data
        if restore:
            self._async_cancel_check()
            self.async_forget()
        try:
            settings = await self._meter_settings.async_write(changes, replace=replace)
        except WhatwattSettingNotApplied as err:
            if not restore:
                self._async_changed(_change(before, err.settings, sent, replace=replace))
            raise
        if restore:
            return MeterSettingsWrite(settings=settings, check=None)
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
            return LinkCheck(link=Link.NOT_CHECKED, meter_status=self.system.meter_status)
        try:
            return await asyncio.shield(write.check)
        except asyncio.CancelledError:
            if not write.check.cancelled():
                raise  # the caller itself is cancelled
            return LinkCheck(
                link=Link.NOT_CHECKED, meter_status=self.system.meter_status, interrupted=True
            )

    @callback
    def async_forget(self) -> None:
        """The link works, or the user keeps the change: forget it, withdraw its issue.

        If the status is still not OK, the "not talking" issue may follow, after its full
        wait: the user has just chosen to deal with the link in another way.
        """
        if self.last_change is not None:
            self._not_ok_since = None if self._not_ok_since is None else dt_util.utcnow()
        self.last_change = None
        self._store.async_set(STORE_PART, None)
        self._async_clear_link_issue()
        self._async_review_not_talking()

    @callback
    def _async_changed(
        self, change: MeterSettingsChange, *, fresh: bool = False
    ) -> asyncio.Future[LinkCheck] | None:
        """Start checking the link after a change that can cut it (the newest check wins)."""
        if not change.checked:
            return None
        self.last_change = change
        self._store.async_set(STORE_PART, change.as_dict())
        self._async_review_not_talking()  # a change of ours is in question now
        self._async_cancel_check()
        check = self._check = _Check(self, change, fresh=fresh)
        check.future.add_done_callback(lambda future: self._async_checked(change, future))
        return check.future

    @callback
    def _async_checked(
        self, change: MeterSettingsChange, future: asyncio.Future[LinkCheck]
    ) -> None:
        if future.cancelled():
            return
        result = future.result()
        LOGGER.debug("%s: meter link after the change: %s", self.entry.title, result)
        if result.link is Link.LOST:
            self._async_raise_link_issue(change, result)
        elif result.link is Link.OK:
            self.async_forget()

    @callback
    def _async_cancel_check(self) -> None:
        if self._check is not None:
            self._check.async_stop()
            self._check.future.cancel()
        self._check = None

    @property
    def not_ok_since(self) -> datetime | None:
        """Since when the meter status has not been OK with no change of ours in question."""
        return self._not_ok_since

    @property
    def checking(self) -> bool:
        """Whether a check is under way."""
        return self._check is not None and not self._check.future.done()

    @callback
    def _async_stop(self) -> None:
        self._async_cancel_check()
        self._async_clear_link_issue()
        self._async_cancel_not_talking()
        ir.async_delete_issue(self.hass, DOMAIN, self._not_talking_issue_id)

    # Repair issues ------------------------------------------------------------------------

    @property
    def _not_talking_issue_id(self) -> str:
        return f"{ISSUE_METER_NOT_TALKING}_{self.entry.entry_id}"

    @property
    def _link_issue_id(self) -> str:
        return f"{ISSUE_METER_LINK_LOST}_{self.entry.entry_id}"

    @callback
    def _async_system_updated(self) -> None:
        """Follow the meter status: withdraw the link issue once OK, time the "not talking"."""
        if not self.system.last_update_success or (status := self.system.meter_status) is None:
            return  # the gateway does not answer: nothing new about the meter
        if status == METER_STATUS_OK:
            self._not_ok_since = None
            if not self.checking:
                self.async_forget()  # the link works: no change of ours is in question any more
        elif self._not_ok_since is None:
            self._not_ok_since = dt_util.utcnow()
        self._async_review_not_talking()

    @callback
    def _async_review_not_talking(self, _now: datetime | None = None) -> None:
        """Raise the "not talking" issue when due, withdraw it when not; time the next look."""
        self._async_cancel_not_talking()
        since, status = self._not_ok_since, self.system.meter_status
        if since is None or status is None or self.last_change is not None:
            ir.async_delete_issue(self.hass, DOMAIN, self._not_talking_issue_id)
            return
        due = since + NOT_TALKING_AFTER
        if status in METER_KEY_STATUSES or dt_util.utcnow() >= due:
            self._async_raise_not_talking_issue(status)
        else:
            self._not_talking_due = async_track_point_in_utc_time(
                self.hass, self._async_review_not_talking, due
            )

    @callback
    def _async_cancel_not_talking(self) -> None:
        if self._not_talking_due is not None:
            self._not_talking_due()
            self._not_talking_due = None

    @callback
    def _async_raise_not_talking_issue(self, status: str) -> None:
        """Offer the link assistant, naming the meter status as the status sensor shows it."""
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            self._not_talking_issue_id,
            is_fixable=True,
            is_persistent=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=ISSUE_METER_NOT_TALKING,
            translation_placeholders={
                "name": self.entry.title,
                "status": meter_status_label(self.hass, status),
            },
            data={"entry_id": self.entry.entry_id},
        )

    @callback
    def _async_raise_link_issue(self, change: MeterSettingsChange, result: LinkCheck) -> None:
        """Tell the user the change lost the link, what it was, and offer to undo it."""
        if self._unwatch_live is None:
            self._unwatch_live = self.live.async_add_listener(self._async_live_while_lost)
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            self._link_issue_id,
            is_fixable=True,
            is_persistent=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=ISSUE_METER_LINK_LOST,
            translation_placeholders={
                "name": self.entry.title,
                "status": meter_status_label(self.hass, result.meter_status),
                "changes": change_text(self.hass, change.fields, change.keys),
            },
            data={"entry_id": self.entry.entry_id},
        )

    @callback
    def _async_clear_link_issue(self) -> None:
        if self._unwatch_live is not None:  # the issue is up
            self._unwatch_live()
            self._unwatch_live = None
            ir.async_delete_issue(self.hass, DOMAIN, self._link_issue_id)

    @callback
    def _async_live_while_lost(self) -> None:
        """Meter data again while the link issue is up (fixed elsewhere?): read the status."""
        if self.live.last_update_success and not self.checking:
            self.entry.async_create_task(
                self.hass, self.system.async_request_refresh(), eager_start=False
            )
