"""Repair flows: a settings change that cut the meter link; a meter not talking; sub-meters.

The meter-link repair offers what the options flow offers after such a change, with the same
steps (``settings_flow.MeterSettingsSteps``): undo (one PUT of the previous values of exactly
the changed fields, then a new check), enter the key again or clear it, edit the settings, or
keep the change (which closes the issue).  The "not talking" repair is the link assistant of
the options flow (``troubleshoot_flow.TroubleshootSteps``).  The sub-meter question is the
options flow's sub-meter form: the answer goes into the entry's options (which reloads it).
"""

from __future__ import annotations

from typing import Any, cast

from homeassistant.components.repairs import RepairsFlow, RepairsFlowResult
from homeassistant.components.repairs.models import RepairsFlowContext
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import AbortFlow

from .const import ISSUE_METER_NOT_TALKING
from .coordinator import WhatwattConfigEntry
from .settings_flow import STEP_LINK_LOST, STEP_LINK_LOST_KEY, MeterSettingsSteps, WhatwattFlow
from .submeters import (
    ISSUE_SUBMETER_MEDIUM,
    MEDIUM_FIELD,
    checked_kind,
    entry_submeter_kind,
    kind_schema,
    with_kind,
)
from .troubleshoot_flow import TroubleshootSteps


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, str | int | float | None] | None
) -> RepairsFlow:
    """Create the fix flow of a meter-link or a sub-meter issue."""
    assert data is not None
    if issue_id.startswith(ISSUE_SUBMETER_MEDIUM):
        return SubmeterMediumRepairFlow(str(data["entry_id"]), int(str(data["bus"])))
    if issue_id.startswith(ISSUE_METER_NOT_TALKING):
        return MeterNotTalkingRepairFlow(str(data["entry_id"]))
    return MeterLinkRepairFlow(str(data["entry_id"]))


class _EntryRepairFlow(WhatwattFlow[RepairsFlowContext, RepairsFlowResult], RepairsFlow):
    """A repair of the meter link of one config entry; first among the bases of a flow."""

    def __init__(self, entry_id: str) -> None:
        """Fix the issue of config entry ``entry_id``."""
        super().__init__()
        self._entry_id = entry_id

    def _entry(self) -> WhatwattConfigEntry:
        """The entry of the issue; abort when it is not loaded (no device to talk to)."""
        entry = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is None or entry.state is not ConfigEntryState.LOADED:
            raise AbortFlow("not_loaded")
        return cast("WhatwattConfigEntry", entry)

    def _finish(self) -> RepairsFlowResult:
        """The link works again, or the user keeps the change: the issue is closed."""
        return self.async_create_entry(data={})


class MeterLinkRepairFlow(
    _EntryRepairFlow, MeterSettingsSteps[RepairsFlowContext, RepairsFlowResult]
):
    """The link is lost after a change: the same choices as right after it in the options."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> RepairsFlowResult:
        """Say what changed and what the link is now; offer what can be done."""
        runtime = self._entry().runtime_data
        self._current = runtime.meter_settings.data
        change = runtime.link.last_change
        keys = change.keys if change is not None else ()
        return await self._show_link_menu(STEP_LINK_LOST_KEY if keys else STEP_LINK_LOST)

    async def async_step_keep(self, user_input: dict[str, Any] | None = None) -> RepairsFlowResult:
        """The user keeps the change (fixes it another way): forget it, close the issue."""
        self._entry().runtime_data.link.async_forget()
        return self._finish()


class MeterNotTalkingRepairFlow(
    _EntryRepairFlow, TroubleshootSteps[RepairsFlowContext, RepairsFlowResult]
):
    """The meter has not talked to the gateway for a while: the link assistant."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> RepairsFlowResult:
        """Start the assistant: the status, the settings in use, the step that fits."""
        return await self.async_step_troubleshoot()


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
