"""Options flow step "Sub-meters": say what each sub-meter measures, and in which unit.

The gateway does not know whether a bus carries gas, water or heat: the user says it here (or
in the repair issue that asks for it).  The answer is stored in the entry's options, so the
entry reloads and the same entities (same unique ids) get the device class and unit; Home
Assistant's statistics repair then handles a unit change as it expects to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from homeassistant.config_entries import ConfigFlowResult, OptionsFlow
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)
import probatio

from .entity import submeter_of
from .submeters import (
    SubmeterId,
    checked_kind,
    entry_submeter_kind,
    kind_schema,
    with_kind,
)

if TYPE_CHECKING:
    from .coordinator import WhatwattConfigEntry

STEP_SUBMETERS: Final = "submeters"
STEP_SUBMETER: Final = "submeter"
BUS_FIELD: Final = "bus"


class WhatwattSubmeterSteps(OptionsFlow):
    """The sub-meter steps of the options flow (a mixin of ``WhatwattOptionsFlow``)."""

    _bus: int | None = None

    if TYPE_CHECKING:

        def _loaded_entry(self) -> WhatwattConfigEntry: ...

    def _submeters(self) -> dict[int, tuple[SubmeterId, str]]:
        """The sub-meters seen (now, or before: their devices), by bus, with a short text."""
        entry = self._loaded_entry()
        seen: dict[int, tuple[SubmeterId, str]] = {}
        registry = dr.async_get(self.hass)
        for device in dr.async_entries_for_config_entry(registry, entry.entry_id):
            if (submeter := submeter_of(entry, device)) is not None:
                seen[submeter.bus] = (submeter, "-")
        data = entry.runtime_data.live.data
        for volume in data.volumes if data is not None else ():
            if (submeter := SubmeterId.of(volume)) is not None:
                reading = "-" if volume.cumulative is None else f"{volume.cumulative:g}"
                seen[submeter.bus] = (submeter, reading)
        return dict(sorted(seen.items()))

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
        entry = self._loaded_entry()
        options = [
            SelectOptionDict(
                value=str(bus),
                label=_label(submeter, reading, entry, bus),
            )
            for bus, (submeter, reading) in submeters.items()
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
        entry = self._loaded_entry()
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
        submeter, reading = self._submeters().get(
            self._bus, (SubmeterId(bus=self._bus, meter_id=None), "-")
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
                "reading": reading,
            },
        )


def _label(submeter: SubmeterId, reading: str, entry: WhatwattConfigEntry, bus: int) -> str:
    """One line per sub-meter: "Bus 1 · 20000741 · 1234.567 (gas, m³)"."""
    kind = entry_submeter_kind(entry, bus)
    what = f"{kind.medium}, {kind.unit}" if kind.medium is not None else "?"
    return f"Bus {bus} · {submeter.meter_id or '-'} · {reading} ({what})"
