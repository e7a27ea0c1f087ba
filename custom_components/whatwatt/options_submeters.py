"""Options flow step "Sub-meters": say what each sub-meter measures, and in which unit.

The gateway does not know whether a bus carries gas, water or heat: the user says it here (or
in the repair issue that asks for it).  The answer is stored in the entry's options, so the
entry reloads and the same entities (same unique ids) get the device class and unit; Home
Assistant's statistics repair then handles a unit change as it expects to.
"""

from __future__ import annotations

from typing import Any, Final

from homeassistant.config_entries import ConfigFlowContext, ConfigFlowResult
from homeassistant.core import HomeAssistant
from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)
import probatio

from .client import Volume
from .coordinator import WhatwattConfigEntry
from .settings_flow import WhatwattFlow
from .submeters import (
    SubmeterId,
    async_known_submeters,
    checked_kind,
    entry_submeter_kind,
    kind_schema,
    with_kind,
)
from .texts import async_load_texts, text

STEP_SUBMETERS: Final = "submeters"
STEP_SUBMETER: Final = "submeter"
BUS_FIELD: Final = "bus"


class WhatwattSubmeterSteps(WhatwattFlow[ConfigFlowContext, ConfigFlowResult]):
    """The sub-meter steps of the options flow."""

    _bus: int | None = None

    def _submeters(self) -> dict[int, tuple[SubmeterId, Volume | None]]:
        """The sub-meters known, by bus (on one bus, the one in the data now)."""
        known = async_known_submeters(self.hass, self._entry())
        return {submeter.bus: (submeter, volume) for submeter, volume in known.items()}

    async def async_step_submeters(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pick the sub-meter (when there are several); none seen yet: say so."""
        submeters = self._submeters()
        if not submeters:
            return self.async_abort(reason="no_submeters")
        if user_input is not None:
            self._bus = int(user_input[BUS_FIELD])
            return await self.async_step_submeter()
        if len(submeters) == 1:
            self._bus = next(iter(submeters))
            return await self.async_step_submeter()
        entry = self._entry()
        await async_load_texts(self.hass)
        options = [
            SelectOptionDict(value=str(bus), label=_label(self.hass, entry, submeter, volume))
            for bus, (submeter, volume) in submeters.items()
        ]
        return self.async_show_form(
            step_id=STEP_SUBMETERS,
            data_schema=probatio.Schema(
                {
                    probatio.Required(BUS_FIELD): SelectSelector(
                        SelectSelectorConfig(options=options, mode=SelectSelectorMode.LIST)
                    )
                }
            ),
        )

    async def async_step_submeter(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """What the sub-meter on the bus measures, and in which unit; saved in the options."""
        entry = self._entry()
        assert self._bus is not None
        errors: dict[str, str] = {}
        if user_input is not None:
            checked = checked_kind(user_input)
            if isinstance(checked, str):
                errors["base"] = checked
            else:
                medium, unit = checked
                return self.async_create_entry(
                    data=with_kind(entry.options, self._bus, medium, unit)
                )
        submeter, volume = self._submeters().get(
            self._bus, (SubmeterId(bus=self._bus, meter_id=None), None)
        )
        return self.async_show_form(
            step_id=STEP_SUBMETER,
            data_schema=self.add_suggested_values_to_schema(
                kind_schema(entry_submeter_kind(entry, self._bus)), user_input
            ),
            errors=errors,
            description_placeholders={
                "bus": str(self._bus),
                "meter_id": submeter.meter_id or "-",
                "reading": _reading(volume),
            },
        )


def _reading(volume: Volume | None) -> str:
    """The sub-meter's latest reading as a short text (``-`` while none is known)."""
    return "-" if volume is None or volume.cumulative is None else f"{volume.cumulative:g}"


def _label(
    hass: HomeAssistant, entry: WhatwattConfigEntry, submeter: SubmeterId, volume: Volume | None
) -> str:
    """One line per sub-meter, in the user's language: "Bus 1 · 20000741 · 1234.567 (Gas, m³)"."""
    kind = entry_submeter_kind(entry, submeter.bus)
    what = "?"
    if kind.medium is not None:
        medium = text(hass, f"selector.submeter_medium.options.{kind.medium}", kind.medium)
        what = f"{medium}, {kind.unit}" if kind.unit else medium
    return text(
        hass,
        "selector.submeter_label.options.label",
        "Bus {bus} · {meter_id} · {reading} ({what})",
        bus=str(submeter.bus),
        meter_id=submeter.meter_id or "-",
        reading=_reading(volume),
        what=what,
    )
