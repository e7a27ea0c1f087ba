"""Repair flows: undo a settings change that cut the meter link; say what a sub-meter is.

Undo is the same single PUT the options flow sends (the previous values of exactly the fields
the change touched), followed by a new check of the link.  The sub-meter question is the
options flow's sub-meter form: the answer goes into the entry's options (which reloads it).
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from homeassistant.components.repairs import RepairsFlow, RepairsFlowResult
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import AbortFlow
from homeassistant.exceptions import HomeAssistantError

from .const import DOMAIN
from .coordinator import WhatwattConfigEntry
from .errors import translated_errors
from .helpers import async_load_texts, describe_change, error_placeholders, meter_status_label
from .link import Link, LinkCheck, WhatwattMeterLink
from .submeters import (
    ISSUE_SUBMETER_MEDIUM,
    MEDIUM_FIELD,
    checked_kind,
    entry_submeter_kind,
    kind_schema,
    with_kind,
)

STEP_UNDO = "undo"


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, str | int | float | None] | None
) -> RepairsFlow:
    """Create the fix flow of a meter-link or a sub-meter issue."""
    assert data is not None
    if issue_id.startswith(ISSUE_SUBMETER_MEDIUM):
        return SubmeterMediumRepairFlow(str(data["entry_id"]), int(str(data["bus"])))
    return MeterLinkRepairFlow(str(data["entry_id"]))


class MeterLinkRepairFlow(RepairsFlow):
    """Offer to undo the change that cut the link, or to leave it ("I will fix it myself")."""

    def __init__(self, entry_id: str) -> None:
        """Fix the issue of config entry ``entry_id``."""
        self._entry_id = entry_id
        self._check_task: asyncio.Task[LinkCheck] | None = None
        self._check: LinkCheck | None = None

    def _entry(self) -> WhatwattConfigEntry:
        """The entry of the issue; abort when it is not loaded (no device to talk to)."""
        entry = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is None or entry.state is not ConfigEntryState.LOADED:
            raise AbortFlow("not_loaded")
        return cast("WhatwattConfigEntry", entry)

    def _link(self) -> WhatwattMeterLink:
        return self._entry().runtime_data.link

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> RepairsFlowResult:
        """Say what changed, offer undo (when there is something to put back) or dismiss."""
        entry = self._entry()
        await async_load_texts(self.hass)
        link = entry.runtime_data.link
        change = link.last_change
        fields = change.fields if change is not None else {}
        keys = change.keys if change is not None else ()
        return self.async_show_menu(
            step_id="init",
            menu_options=([STEP_UNDO] if fields else []) + ["dismiss"],
            description_placeholders={
                "name": entry.title,
                "status": meter_status_label(self.hass, entry.runtime_data.system.meter_status),
                "changes": describe_change(self.hass, fields, keys),
            },
        )

    async def async_step_undo(self, user_input: dict[str, Any] | None = None) -> RepairsFlowResult:
        """Put the previous values back (one PUT), then check the link again."""
        link = self._link()
        if self._check_task is None:
            try:
                with translated_errors(self.hass, self._entry()):
                    write = await link.async_undo()
            except HomeAssistantError as err:
                return self.async_abort(
                    reason=str(err.translation_key),
                    description_placeholders=error_placeholders(self.hass, err),
                )
            self._check_task = self._entry().async_create_background_task(
                self.hass, link.async_outcome(write), name=f"{DOMAIN} link check outcome"
            )
        if not self._check_task.done():
            return self.async_show_progress(
                step_id=STEP_UNDO, progress_action="check_link", progress_task=self._check_task
            )
        self._check = self._check_task.result()
        ok = self._check.link in (Link.OK, Link.NOT_CHECKED)
        return self.async_show_progress_done(next_step_id="undone" if ok else "still_lost")

    async def async_step_undone(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """The meter talks to the gateway again."""
        return self.async_create_entry(data={})

    async def async_step_still_lost(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """Undo did not bring the link back."""
        status = self._check.meter_status if self._check is not None else None
        return self.async_abort(
            reason="still_lost",
            description_placeholders={"status": meter_status_label(self.hass, status)},
        )

    async def async_step_dismiss(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """The user fixes it another way: forget the change, close the issue."""
        self._link().async_forget()
        return self.async_create_entry(data={})


class SubmeterMediumRepairFlow(RepairsFlow):
    """Ask what the sub-meter on a bus measures, and in which unit (one short form)."""

    def __init__(self, entry_id: str, bus: int) -> None:
        """Ask about the sub-meter on ``bus`` of config entry ``entry_id``."""
        self._entry_id = entry_id
        self._bus = bus

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> RepairsFlowResult:
        """The form; the answer is stored in the entry's options (the entry reloads)."""
        entry = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is None or entry.state is not ConfigEntryState.LOADED:
            return self.async_abort(reason="not_loaded")
        errors: dict[str, str] = {}
        if user_input is not None and MEDIUM_FIELD in user_input:  # not the issue id at start
            checked = checked_kind(user_input)
            if isinstance(checked, str):
                errors["base"] = checked
            else:
                medium, unit = checked
                self.hass.config_entries.async_update_entry(
                    entry, options=with_kind(entry.options, self._bus, medium, unit)
                )
                self.hass.config_entries.async_schedule_reload(entry.entry_id)
                return self.async_create_entry(data={})
        kind = entry_submeter_kind(cast("WhatwattConfigEntry", entry), self._bus)
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(kind_schema(kind), user_input),
            errors=errors,
            description_placeholders={"name": entry.title, "bus": str(self._bus)},
        )
