"""Options flow: the meter settings on the device itself, custom scalers, sub-meters.

The device is the store of its settings: *Edit settings* (``settings_flow.MeterSettingsSteps``,
shared with the repair flow), *Troubleshoot the meter link* (``troubleshoot_flow``, the repair
of a meter not talking) and *Restore factory defaults* write to it, and the flow ends with
the entry's options unchanged, so Home Assistant does not reload the entry.  Only the sub-meter
step stores something in the options (what each sub-meter measures).
"""

from __future__ import annotations

from typing import Any, cast

from homeassistant.config_entries import (
    ConfigEntryState,
    ConfigFlowContext,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.data_entry_flow import AbortFlow

from .coordinator import WhatwattConfigEntry
from .options_demand import STEP_DEMAND, WhatwattDemandSteps
from .options_prices import STEP_PRICES, WhatwattPriceSteps
from .options_scalers import STEP_SCALERS, WhatwattScalersSteps
from .options_submeters import STEP_SUBMETERS, WhatwattSubmeterSteps
from .settings_flow import STEP_EDIT
from .troubleshoot_flow import STEP_TROUBLESHOOT, TroubleshootSteps

STEP_RESTORE = "restore"


class WhatwattOptionsFlow(
    TroubleshootSteps[ConfigFlowContext, ConfigFlowResult],
    WhatwattScalersSteps,
    WhatwattSubmeterSteps,
    WhatwattDemandSteps,
    WhatwattPriceSteps,
    OptionsFlowWithReload,
):
    """Meter settings, link assistant, scalers, sub-meters, demand, prices; or the defaults."""

    def _entry(self) -> WhatwattConfigEntry:
        """Return the config entry; abort the flow if it is not loaded (no device client)."""
        if self.config_entry.state is not ConfigEntryState.LOADED:
            raise AbortFlow("not_loaded")
        return cast("WhatwattConfigEntry", self.config_entry)

    def _finish(self) -> ConfigFlowResult:
        """Finish without touching the options: nothing is stored, nothing reloads."""
        return self.async_create_entry(data=dict(self.config_entry.options))

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Offer the settings, the assistant, scalers, sub-meters, demand, prices, defaults."""
        self._entry()
        return self.async_show_menu(
            step_id="init",
            menu_options=[
                STEP_EDIT,
                STEP_TROUBLESHOOT,
                STEP_SCALERS,
                STEP_SUBMETERS,
                STEP_DEMAND,
                STEP_PRICES,
                STEP_RESTORE,
            ],
        )

    async def async_step_restore(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Replace every setting by its factory default (POST), after confirmation."""
        self._entry()
        if user_input is None:
            return self.async_show_form(step_id=STEP_RESTORE)
        if (err := await self._async_write({}, replace=True)) is None:
            return await self.async_step_check_link()
        errors, placeholders = await self._base_error(err)
        return self.async_show_form(
            step_id=STEP_RESTORE, errors=errors, description_placeholders=placeholders
        )
