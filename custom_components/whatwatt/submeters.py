"""Sub-meters behind the meter (gas, water, heat on its M-Bus channels): what they are.

The gateway forwards each one as an entry of ``Vol[]`` (live) or ``volume[]`` (report): a bus,
the sub-meter's id, the time of its last reading (local, naive) and a cumulative counter.  It
does not say what is measured, nor in which unit: the user says it per bus (options flow, or
the repair issue that asks for it), stored in the entry's options.  Without that, a P1 (DSMR)
meter's sub-meter is taken for gas in m³ (the P1 standard's M-Bus channel is nearly always
gas); any other is "not set" and gets a reading without a device class.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
import re
from typing import TYPE_CHECKING, Any, Final

from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.const import UnitOfEnergy, UnitOfVolume, UnitOfVolumeFlowRate
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.helpers.selector import (
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)
from homeassistant.util import dt as dt_util
import probatio

from .client import Measurements, Volume
from .const import DOMAIN

if TYPE_CHECKING:
    from .coordinator import WhatwattConfigEntry

OPTION_SUBMETERS: Final = "submeters"
"""``entry.options["submeters"]["<bus>"] = {"medium": "gas", "unit": "m³"}``."""
SUBMETER_STALE_SECONDS: Final = 900.0
"""A sub-meter missing from the meter's data this long is unavailable (its device stays)."""
ISSUE_SUBMETER_MEDIUM: Final = "submeter_medium"


class Medium(StrEnum):
    """What a sub-meter measures."""

    GAS = "gas"
    WATER = "water"
    HEAT = "heat"
    OTHER = "other"


UNITS: Final[Mapping[Medium, tuple[str, ...]]] = {
    Medium.GAS: (
        UnitOfVolume.CUBIC_METERS,
        UnitOfVolume.CUBIC_FEET,
        UnitOfVolume.CENTUM_CUBIC_FEET,
    ),
    Medium.WATER: (UnitOfVolume.CUBIC_METERS, UnitOfVolume.LITERS, UnitOfVolume.GALLONS),
    Medium.HEAT: (
        UnitOfEnergy.KILO_WATT_HOUR,
        UnitOfEnergy.MEGA_WATT_HOUR,
        UnitOfEnergy.GIGA_JOULE,
    ),
    Medium.OTHER: (),
}
"""The units a medium is read in (the first is the default); "other" takes the user's own."""
DEVICE_CLASS: Final[Mapping[Medium, SensorDeviceClass | None]] = {
    Medium.GAS: SensorDeviceClass.GAS,
    Medium.WATER: SensorDeviceClass.WATER,
    Medium.HEAT: SensorDeviceClass.ENERGY,
    Medium.OTHER: None,
}
ALL_UNITS: Final = tuple(dict.fromkeys(unit for units in UNITS.values() for unit in units))
FLOW_UNITS: Final[Mapping[str, tuple[UnitOfVolumeFlowRate, float]]] = {
    UnitOfVolume.CUBIC_METERS: (UnitOfVolumeFlowRate.CUBIC_METERS_PER_HOUR, 1.0),
    UnitOfVolume.LITERS: (UnitOfVolumeFlowRate.LITERS_PER_HOUR, 1.0),
    UnitOfVolume.GALLONS: (UnitOfVolumeFlowRate.GALLONS_PER_HOUR, 1.0),
    UnitOfVolume.CUBIC_FEET: (UnitOfVolumeFlowRate.CUBIC_FEET_PER_MINUTE, 1 / 60),
    UnitOfVolume.CENTUM_CUBIC_FEET: (UnitOfVolumeFlowRate.CUBIC_FEET_PER_MINUTE, 100 / 60),
}
"""The flow rate of a reading in each volume unit: its unit, and the factor from per hour."""
FLOWING: Final = frozenset({Medium.GAS, Medium.WATER})
"""Sub-meters that get a flow rate (the Energy dashboard's gas and water flow)."""


@dataclass(frozen=True, kw_only=True)
class SubmeterKind:
    """What the user says a sub-meter is (``medium`` None: not set yet)."""

    medium: Medium | None
    unit: str | None

    @property
    def device_class(self) -> SensorDeviceClass | None:
        """The reading's device class (none while the medium is not set, or "other")."""
        return None if self.medium is None else DEVICE_CLASS[self.medium]

    @property
    def flow(self) -> tuple[UnitOfVolumeFlowRate, float] | None:
        """The unit of the flow rate and its factor from per hour (None: no flow rate)."""
        if self.medium not in FLOWING or self.unit is None:
            return None
        return FLOW_UNITS.get(self.unit)


@dataclass(frozen=True, kw_only=True)
class SubmeterId:
    """A sub-meter: its bus, and its own id when the gateway reports one."""

    bus: int
    meter_id: str | None

    @property
    def key(self) -> str:
        """Part of unique ids: ``bus1`` or ``bus1_20000741`` (stable for the same meter)."""
        return f"bus{self.bus}" if self.meter_id is None else f"bus{self.bus}_{self.meter_id}"

    @classmethod
    def of(cls, volume: Volume) -> SubmeterId | None:
        """The sub-meter a ``Vol[]`` entry is about (None without a bus)."""
        return None if volume.bus is None else cls(bus=volume.bus, meter_id=volume.meter_id)


def reported_submeters(data: Measurements | None) -> dict[SubmeterId, Volume]:
    """The sub-meters in the meter's latest data, with their entries."""
    volumes = data.volumes if data is not None else ()
    return {submeter: v for v in volumes if (submeter := SubmeterId.of(v)) is not None}


def submeter_of(entry: WhatwattConfigEntry, device: dr.DeviceEntry) -> SubmeterId | None:
    """The sub-meter a device of the entry stands for (None for the gateway and the meter)."""
    pattern = re.compile(rf"{re.escape(str(entry.unique_id))}_bus(\d+)(?:_(.+))?")
    for domain, identifier in device.identifiers:
        if domain == DOMAIN and (match := pattern.fullmatch(identifier)):
            return SubmeterId(bus=int(match[1]), meter_id=match[2])
    return None


@callback
def async_known_submeters(
    hass: HomeAssistant, entry: WhatwattConfigEntry
) -> dict[SubmeterId, Volume | None]:
    """Every sub-meter of the entry, the one definition of which sub-meters exist.

    Those in the latest data, with their entries, and those seen before (their devices), with
    None.  Ordered by bus; on one bus, a reported one last.
    """
    known: dict[SubmeterId, Volume | None] = {
        submeter: None
        for device in dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
        if (submeter := submeter_of(entry, device)) is not None
    }
    known |= reported_submeters(entry.runtime_data.live.data)
    return dict(sorted(known.items(), key=lambda item: (item[0].bus, item[1] is not None)))


def submeter_kind(options: Mapping[str, Any], bus: int, *, dsmr: bool) -> SubmeterKind:
    """What the sub-meter on ``bus`` is: as the user set it, else the default."""
    stored = options.get(OPTION_SUBMETERS, {}).get(str(bus))
    if isinstance(stored, Mapping) and stored.get("medium") in set(Medium):
        return SubmeterKind(medium=Medium(stored["medium"]), unit=stored.get("unit") or None)
    if dsmr:
        return SubmeterKind(medium=Medium.GAS, unit=UnitOfVolume.CUBIC_METERS)
    return SubmeterKind(medium=None, unit=None)


def with_kind(
    options: Mapping[str, Any], bus: int, medium: Medium, unit: str | None
) -> dict[str, Any]:
    """Return the entry's options with the sub-meter on ``bus`` set to ``medium``/``unit``."""
    submeters = dict(options.get(OPTION_SUBMETERS, {}))
    submeters[str(bus)] = {"medium": medium.value, "unit": unit or ""}
    return {**options, OPTION_SUBMETERS: submeters}


def display_precision(unit: str | None) -> int | None:
    """Decimals to show: the sub-meter's own resolution (m³ and kWh with 3, litres whole)."""
    if unit is None or unit not in ALL_UNITS:
        return None
    precision: dict[str, int] = {UnitOfVolume.LITERS: 0, UnitOfVolume.GALLONS: 1}
    return precision.get(unit, 3)


def unit_fits(medium: Medium, unit: str | None) -> bool:
    """Whether ``unit`` is one a ``medium`` is measured in ("other": any, or none)."""
    return medium is Medium.OTHER or unit in UNITS[medium]


def meter_clock(moment: datetime | None) -> datetime | None:
    """A time on the meter's clock, aware: the device sends local time (C21)."""
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt_util.get_default_time_zone())


def reading_time(volume: Volume) -> datetime | None:
    """The time of the sub-meter's last reading, aware."""
    return meter_clock(volume.date_time)


def entry_submeter_kind(entry: WhatwattConfigEntry, bus: int) -> SubmeterKind:
    """What the sub-meter on ``bus`` of a loaded entry is (DSMR: gas by default)."""
    protocol = entry.runtime_data.system.data.meter.protocol or ""
    return submeter_kind(entry.options, bus, dsmr=protocol.upper() == "DSMR")


def submeter_issue_id(entry_id: str, bus: int) -> str:
    """The id of the repair issue asking for the medium of the sub-meter on ``bus``."""
    return f"{ISSUE_SUBMETER_MEDIUM}_{entry_id}_{bus}"


@callback
def async_update_submeter_issue(
    hass: HomeAssistant, entry: WhatwattConfigEntry, submeter: SubmeterId, kind: SubmeterKind
) -> None:
    """Ask what a sub-meter measures while nobody said it; the question goes with the entry."""
    issue_id = submeter_issue_id(entry.entry_id, submeter.bus)
    if kind.medium is not None:
        ir.async_delete_issue(hass, DOMAIN, issue_id)
        return
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        is_fixable=True,
        is_persistent=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key=ISSUE_SUBMETER_MEDIUM,
        translation_placeholders={"name": entry.title, "bus": str(submeter.bus)},
        data={"entry_id": entry.entry_id, "bus": submeter.bus},
    )
    entry.async_on_unload(lambda: ir.async_delete_issue(hass, DOMAIN, issue_id))


MEDIUM_FIELD: Final = "medium"
UNIT_FIELD: Final = "unit"


def kind_schema(kind: SubmeterKind) -> probatio.Schema:
    """The form that asks what a sub-meter measures and in which unit (options and repair).

    The unit list offers every unit of every medium (and takes any text, for "other"); a
    unit that does not fit the medium is refused by ``checked_kind`` with a translated error.
    """
    medium = kind.medium or Medium.GAS
    unit = kind.unit or (UNITS[medium][0] if UNITS[medium] else "")
    return probatio.Schema(
        {
            probatio.Required(MEDIUM_FIELD, default=medium.value): SelectSelector(
                SelectSelectorConfig(
                    options=[m.value for m in Medium],
                    translation_key="submeter_medium",
                    mode=SelectSelectorMode.LIST,
                )
            ),
            probatio.Optional(UNIT_FIELD, default=unit): SelectSelector(
                SelectSelectorConfig(
                    options=list(ALL_UNITS),
                    custom_value=True,
                    mode=SelectSelectorMode.DROPDOWN,
                )
            ),
        }
    )


def checked_kind(user_input: Mapping[str, Any]) -> tuple[Medium, str | None] | str:
    """Return the medium and unit entered, or the form error (a translation key)."""
    medium = Medium(user_input[MEDIUM_FIELD])
    unit = str(user_input.get(UNIT_FIELD) or "").strip() or None
    if medium is not Medium.OTHER and unit is None:
        return "unit_required"
    if not unit_fits(medium, unit):
        return "unit_not_for_medium"
    return medium, unit
