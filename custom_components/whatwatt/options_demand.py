"""Options flow step "Demand": the window of the demand sensors, the peaks averaged, a floor.

Nothing here goes to the device: the demand windows are computed by the integration
(``demand.py``).  The choice is stored in the entry's options, so the entry reloads; the
history of each window length is kept apart, so switching back finds it again.
"""

from __future__ import annotations

from typing import Any, Final

from homeassistant.config_entries import ConfigFlowContext, ConfigFlowResult
from homeassistant.const import UnitOfPower
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)
import probatio

from .demand import MAX_PEAKS, OPTION_DEMAND, WINDOW_MINUTES, DemandConfig
from .settings_flow import ShownNotEnforced, WhatwattFlow

STEP_DEMAND: Final = "demand"
WINDOW: Final = "window"
PEAKS: Final = "peaks"
FLOOR: Final = "floor"
FLOOR_MAX_KW: Final = 100.0
"""The largest floor offered (kW); Flanders uses 2.5."""
W_PER_KW: Final = 1000


class _Select(ShownNotEnforced, SelectSelector):
    """The window lengths."""


class _Number(ShownNotEnforced, NumberSelector):
    """Peaks averaged, and the floor in kW."""


def demand_schema() -> probatio.Schema:
    """The form: window (15 or 60 min), peaks averaged (1 to 5), floor (kW)."""
    return probatio.Schema(
        {
            probatio.Required(WINDOW): _Select(
                SelectSelectorConfig(
                    options=[str(minutes) for minutes in WINDOW_MINUTES],
                    translation_key="demand_window",
                    mode=SelectSelectorMode.LIST,
                )
            ),
            probatio.Required(PEAKS): _Number(
                NumberSelectorConfig(min=1, max=MAX_PEAKS, step=1, mode=NumberSelectorMode.SLIDER)
            ),
            probatio.Required(FLOOR): _Number(
                NumberSelectorConfig(
                    min=0,
                    max=FLOOR_MAX_KW,
                    step=0.1,
                    mode=NumberSelectorMode.BOX,
                    unit_of_measurement=UnitOfPower.KILO_WATT,
                )
            ),
        }
    )


def checked_demand(user_input: dict[str, Any]) -> DemandConfig | tuple[str, str]:
    """The choice entered, or the field and the form error (a translation key)."""
    window = user_input.get(WINDOW)
    if not isinstance(window, str) or not window.isdigit() or int(window) not in WINDOW_MINUTES:
        return WINDOW, "demand_window_invalid"
    peaks = user_input.get(PEAKS)
    if isinstance(peaks, bool) or not isinstance(peaks, int | float) or peaks % 1:
        return PEAKS, "demand_peaks_invalid"
    if not 1 <= peaks <= MAX_PEAKS:
        return PEAKS, "demand_peaks_invalid"
    floor = user_input.get(FLOOR)
    if isinstance(floor, bool) or not isinstance(floor, int | float):
        return FLOOR, "demand_floor_invalid"
    if not 0 <= floor <= FLOOR_MAX_KW:
        return FLOOR, "demand_floor_invalid"
    return DemandConfig(window_minutes=int(window), peaks=int(peaks), floor=floor * W_PER_KW)


class WhatwattDemandSteps(WhatwattFlow[ConfigFlowContext, ConfigFlowResult]):
    """The demand step of the options flow."""

    async def async_step_demand(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show the choice in use; store the one entered (the entry reloads)."""
        entry = self._entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            checked = checked_demand(user_input)
            if isinstance(checked, DemandConfig):
                return self.async_create_entry(
                    data={**entry.options, OPTION_DEMAND: checked.as_options()}
                )
            field, error = checked
            errors[field] = error
        config = DemandConfig.from_options(entry.options)
        suggested = user_input or {
            WINDOW: str(config.window_minutes),
            PEAKS: config.peaks,
            FLOOR: config.floor / W_PER_KW,
        }
        return self.async_show_form(
            step_id=STEP_DEMAND,
            data_schema=self.add_suggested_values_to_schema(demand_schema(), suggested),
            errors=errors,
        )
