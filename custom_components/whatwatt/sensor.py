"""Sensors of a whatwatt Go: the meter's live values and the gateway's diagnostics.

Measurement sensors exist only for values the meter actually sends: they are created from the
first measurements at setup, and added later when a value shows up for the first time.

The device sends kW, kWh, kvar and kvarh with three decimals.  Power is shown in W and
reactive power in var, converted exactly (``round(kw * 1000, 3)``, no rounding to 10 W);
energy stays in kWh at full resolution.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import partial
from typing import Any, Final, override

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
    EntityCategory,
    Platform,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfPower,
    UnitOfReactiveEnergy,
    UnitOfReactivePower,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator

from .client import Measurements, SystemInfo, Volume
from .const import DOMAIN, METER_STATUS
from .coordinator import (
    WhatwattConfigEntry,
    WhatwattDemandCoordinator,
    WhatwattLiveCoordinator,
    WhatwattSystemCoordinator,
)
from .demand import DemandConfig, DemandSnapshot, peaks_text
from .entity import WhatwattEntity, entity_unique_id, submeter_device_info
from .flow_rate import FlowRate
from .prices import Prices, signal_prices
from .submeters import (
    SUBMETER_STALE_SECONDS,
    SubmeterId,
    SubmeterKind,
    async_known_submeters,
    async_update_submeter_issue,
    display_precision,
    entry_submeter_kind,
    meter_clock,
    reading_time,
    reported_submeters,
)

PARALLEL_UPDATES = 0

type _Value = float | int | str | datetime | None
type _Read = Callable[[Measurements], float | None]

TARIFF_OPTIONS: Final = ["1", "2", "3", "4"]
METER_INTERFACES: Final = ["none", "p1", "mbus", "ttl", "mep"]
METER_PROTOCOLS: Final = ["dsmr", "dlms", "kmp", "mep", "mbus"]
LICENSES: Final = ["free", "plus", "pro"]


@dataclass(frozen=True, kw_only=True)
class WhatwattLiveSensorEntityDescription(SensorEntityDescription):
    """A value the meter measures; the sensor exists once the meter has sent it."""

    value_fn: Callable[[Measurements], _Value]
    """The value; None while the meter does not send it (the sensor exists once it does)."""


@dataclass(frozen=True, kw_only=True)
class WhatwattSystemSensorEntityDescription(SensorEntityDescription):
    """A value of the system information (the boot instant needs the coordinator's memory)."""

    value_fn: Callable[[WhatwattSystemCoordinator], _Value]
    """The value; the sensor exists when the device reports it at setup."""
    always: bool = False
    """Exists even while the device reports no value (shown as unknown)."""
    meter: bool = False
    """On the meter's device (else the gateway's)."""


# Live measurements --------------------------------------------------------------------------


def _kilo(read: _Read) -> Callable[[Measurements], float | None]:
    """Convert kW to W (kvar to var) exactly: the device's 3 decimals become whole units."""

    def value(data: Measurements) -> float | None:
        kilo = read(data)
        return None if kilo is None else round(kilo * 1000, 3)

    return value


def _net(data: Measurements) -> float | None:
    if data.power_in is None:
        return None
    return round((data.power_in - (data.power_out or 0.0)) * 1000, 3)


def _tariff(data: Measurements) -> str | None:
    return str(data.tariff) if data.tariff in (1, 2, 3, 4) else None


@dataclass(frozen=True, kw_only=True)
class _Quantity:
    """What kind of value a measured field is: how it is shown, and whether by default."""

    device_class: SensorDeviceClass
    unit: str
    state_class: SensorStateClass
    precision: int
    enabled: bool = True
    kilo: bool = False
    """The device sends kW / kvar: shown in W / var."""


_POWER: Final = _Quantity(
    device_class=SensorDeviceClass.POWER,
    unit=UnitOfPower.WATT,
    state_class=SensorStateClass.MEASUREMENT,
    precision=0,
    kilo=True,
)
_REACTIVE: Final = _Quantity(
    device_class=SensorDeviceClass.REACTIVE_POWER,
    unit=UnitOfReactivePower.VOLT_AMPERE_REACTIVE,
    state_class=SensorStateClass.MEASUREMENT,
    precision=0,
    enabled=False,
    kilo=True,
)
_ENERGY: Final = _Quantity(
    device_class=SensorDeviceClass.ENERGY,
    unit=UnitOfEnergy.KILO_WATT_HOUR,
    state_class=SensorStateClass.TOTAL_INCREASING,
    precision=3,
)
_REACTIVE_ENERGY: Final = _Quantity(
    device_class=SensorDeviceClass.REACTIVE_ENERGY,
    unit=UnitOfReactiveEnergy.KILO_VOLT_AMPERE_REACTIVE_HOUR,
    state_class=SensorStateClass.TOTAL_INCREASING,
    precision=3,
    enabled=False,
)
# Per-phase voltage and current are disabled by default (as HomeWizard does): with the
# recorder on, each enabled sensor adds a state row per meter report.
_VOLTAGE: Final = _Quantity(
    device_class=SensorDeviceClass.VOLTAGE,
    unit=UnitOfElectricPotential.VOLT,
    state_class=SensorStateClass.MEASUREMENT,
    precision=1,
    enabled=False,
)
_CURRENT: Final = _Quantity(
    device_class=SensorDeviceClass.CURRENT,
    unit=UnitOfElectricCurrent.AMPERE,
    state_class=SensorStateClass.MEASUREMENT,
    precision=2,
    enabled=False,
)


def _measured(
    quantity: _Quantity,
    key: str,
    read: _Read,
    *,
    translation_key: str | None = None,
    translation_placeholders: dict[str, str] | None = None,
    enabled: bool | None = None,
) -> WhatwattLiveSensorEntityDescription:
    """Describe the value ``read`` returns, as sensor ``key`` of its ``quantity``."""
    return WhatwattLiveSensorEntityDescription(
        key=key,
        translation_key=translation_key,
        translation_placeholders=translation_placeholders,
        device_class=quantity.device_class,
        native_unit_of_measurement=quantity.unit,
        state_class=quantity.state_class,
        suggested_display_precision=quantity.precision,
        entity_registry_enabled_default=quantity.enabled if enabled is None else enabled,
        value_fn=_kilo(read) if quantity.kilo else read,
    )


def _phases(
    quantity: _Quantity, key: str, reads: tuple[_Read, _Read, _Read]
) -> tuple[WhatwattLiveSensorEntityDescription, ...]:
    """One sensor per phase: ``<key>_l1``..``_l3``, named "... phase N"."""
    return tuple(
        _measured(
            quantity,
            f"{key}_l{phase}",
            read,
            translation_key=f"{key}_phase",
            translation_placeholders={"phase": str(phase)},
        )
        for phase, read in enumerate(reads, start=1)
    )


def _tariffs(
    quantity: _Quantity, key: str, reads: tuple[_Read, _Read], *, enabled: bool | None = None
) -> tuple[WhatwattLiveSensorEntityDescription, ...]:
    """One sensor per tariff: ``<key>_t1``, ``<key>_t2``, named "... tariff N"."""
    return tuple(
        _measured(
            quantity,
            f"{key}_t{tariff}",
            read,
            translation_key=f"{key}_tariff",
            translation_placeholders={"tariff": str(tariff)},
            enabled=enabled,
        )
        for tariff, read in enumerate(reads, start=1)
    )


LIVE_SENSORS: Final[tuple[WhatwattLiveSensorEntityDescription, ...]] = (
    _measured(_POWER, "power_import", lambda m: m.power_in, translation_key="power_import"),
    _measured(_POWER, "power_export", lambda m: m.power_out, translation_key="power_export"),
    WhatwattLiveSensorEntityDescription(
        key="power_net",
        translation_key="power_net",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=_net,
    ),
    *_phases(
        _POWER,
        "power_import",
        (lambda m: m.power_in_l1, lambda m: m.power_in_l2, lambda m: m.power_in_l3),
    ),
    *_phases(
        _POWER,
        "power_export",
        (lambda m: m.power_out_l1, lambda m: m.power_out_l2, lambda m: m.power_out_l3),
    ),
    *_phases(
        _VOLTAGE,
        "voltage",
        (lambda m: m.voltage_l1, lambda m: m.voltage_l2, lambda m: m.voltage_l3),
    ),
    *_phases(
        _CURRENT,
        "current",
        (lambda m: m.current_l1, lambda m: m.current_l2, lambda m: m.current_l3),
    ),
    WhatwattLiveSensorEntityDescription(
        key="power_factor",
        device_class=SensorDeviceClass.POWER_FACTOR,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=3,
        value_fn=lambda m: m.power_factor,
    ),
    _measured(_ENERGY, "energy_import", lambda m: m.energy_in, translation_key="energy_import"),
    *_tariffs(_ENERGY, "energy_import", (lambda m: m.energy_in_t1, lambda m: m.energy_in_t2)),
    _measured(_ENERGY, "energy_export", lambda m: m.energy_out, translation_key="energy_export"),
    *_tariffs(_ENERGY, "energy_export", (lambda m: m.energy_out_t1, lambda m: m.energy_out_t2)),
    WhatwattLiveSensorEntityDescription(
        key="tariff",
        translation_key="tariff",
        device_class=SensorDeviceClass.ENUM,
        options=TARIFF_OPTIONS,
        value_fn=_tariff,
    ),
    _measured(
        _REACTIVE,
        "reactive_power_import",
        lambda m: m.reactive_in,
        translation_key="reactive_power_import",
    ),
    _measured(
        _REACTIVE,
        "reactive_power_export",
        lambda m: m.reactive_out,
        translation_key="reactive_power_export",
    ),
    *_phases(
        _REACTIVE,
        "reactive_power_import",
        (lambda m: m.reactive_in_l1, lambda m: m.reactive_in_l2, lambda m: m.reactive_in_l3),
    ),
    *_phases(
        _REACTIVE,
        "reactive_power_export",
        (lambda m: m.reactive_out_l1, lambda m: m.reactive_out_l2, lambda m: m.reactive_out_l3),
    ),
    WhatwattLiveSensorEntityDescription(
        key="apparent_power",
        device_class=SensorDeviceClass.APPARENT_POWER,
        native_unit_of_measurement="VA",
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        entity_registry_enabled_default=False,
        value_fn=_kilo(lambda m: m.apparent_power),
    ),
    _measured(
        _REACTIVE_ENERGY,
        "reactive_energy_import",
        lambda m: m.reactive_energy_in,
        translation_key="reactive_energy_import",
    ),
    _measured(
        _REACTIVE_ENERGY,
        "reactive_energy_export",
        lambda m: m.reactive_energy_out,
        translation_key="reactive_energy_export",
    ),
    _measured(
        _REACTIVE_ENERGY,
        "reactive_energy_q1",
        lambda m: m.reactive_energy_imported_inductive,
        translation_key="reactive_energy_q1",
    ),
    _measured(
        _REACTIVE_ENERGY,
        "reactive_energy_q2",
        lambda m: m.reactive_energy_imported_capacitive,
        translation_key="reactive_energy_q2",
    ),
    _measured(
        _REACTIVE_ENERGY,
        "reactive_energy_q3",
        lambda m: m.reactive_energy_exported_inductive,
        translation_key="reactive_energy_q3",
    ),
    _measured(
        _REACTIVE_ENERGY,
        "reactive_energy_q4",
        lambda m: m.reactive_energy_exported_capacitive,
        translation_key="reactive_energy_q4",
    ),
    _measured(
        _POWER,
        "max_demand_import",
        lambda m: m.max_demand_in,
        translation_key="max_demand_import",
        enabled=False,
    ),
    *_tariffs(
        _POWER,
        "max_demand_import",
        (lambda m: m.max_demand_in_t1, lambda m: m.max_demand_in_t2),
        enabled=False,
    ),
)


# System information -------------------------------------------------------------------------


def _option(value: str | None, options: list[str]) -> str | None:
    """Map a device string to an enum option; unknown values are HA's unknown."""
    option = None if value is None else value.lower()
    return option if option in options else None


def _diagnostic(
    key: str,
    read: Callable[[SystemInfo], _Value],
    *,
    device_class: SensorDeviceClass | None = None,
    options: list[str] | None = None,
    unit: str | None = None,
    state_class: SensorStateClass | None = None,
    precision: int | None = None,
    enabled: bool = True,
    meter: bool = False,
) -> WhatwattSystemSensorEntityDescription:
    """A diagnostic read straight from the system information; exists when the device has it."""
    return WhatwattSystemSensorEntityDescription(
        key=key,
        translation_key=key,
        entity_category=EntityCategory.DIAGNOSTIC,
        device_class=device_class,
        options=options,
        native_unit_of_measurement=unit,
        state_class=state_class,
        suggested_display_precision=precision,
        entity_registry_enabled_default=enabled,
        meter=meter,
        value_fn=lambda coordinator: read(coordinator.data),
    )


def _plug_voltage(
    key: str, read: Callable[[SystemInfo], float | None], *, enabled: bool
) -> WhatwattSystemSensorEntityDescription:
    return _diagnostic(
        key,
        read,
        device_class=SensorDeviceClass.VOLTAGE,
        unit=UnitOfElectricPotential.VOLT,
        state_class=SensorStateClass.MEASUREMENT,
        precision=2,
        enabled=enabled,
    )


SYSTEM_SENSORS: Final[tuple[WhatwattSystemSensorEntityDescription, ...]] = (
    WhatwattSystemSensorEntityDescription(
        key="meter_status",
        translation_key="meter_status",
        device_class=SensorDeviceClass.ENUM,
        options=list(METER_STATUS.values()),
        entity_category=EntityCategory.DIAGNOSTIC,
        always=True,
        meter=True,
        value_fn=lambda coordinator: METER_STATUS.get(coordinator.data.meter.status or ""),
    ),
    _diagnostic(
        "meter_interface",
        lambda info: _option(info.meter.interface, METER_INTERFACES),
        device_class=SensorDeviceClass.ENUM,
        options=METER_INTERFACES,
        enabled=False,
        meter=True,
    ),
    _diagnostic(
        "meter_protocol",
        lambda info: _option(info.meter.protocol, METER_PROTOCOLS),
        device_class=SensorDeviceClass.ENUM,
        options=METER_PROTOCOLS,
        enabled=False,
        meter=True,
    ),
    _diagnostic(
        "wifi_signal",
        lambda info: info.wifi.signal,
        unit=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
    ),
    _diagnostic(
        "wifi_rssi",
        lambda info: info.wifi.rssi,
        device_class=SensorDeviceClass.SIGNAL_STRENGTH,
        unit=SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
        state_class=SensorStateClass.MEASUREMENT,
        enabled=False,
    ),
    WhatwattSystemSensorEntityDescription(
        key="last_boot",
        translation_key="last_boot",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda coordinator: coordinator.boot_time,
    ),
    _diagnostic(
        "license",
        lambda info: _option(info.device.license.type, LICENSES),
        device_class=SensorDeviceClass.ENUM,
        options=LICENSES,
    ),
    _plug_voltage("supercap_voltage", lambda info: info.device.plug.v_scap, enabled=True),
    _plug_voltage("usb_voltage", lambda info: info.device.plug.v_usb, enabled=False),
    _plug_voltage("mbus_voltage", lambda info: info.device.plug.v_mbus, enabled=False),
    _plug_voltage("p1_voltage", lambda info: info.device.plug.v_p1, enabled=False),
)


# Sub-meters ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class WhatwattSubmeterSensorEntityDescription(SensorEntityDescription):
    """A value of one sub-meter's ``Vol[]`` entry."""

    value_fn: Callable[[Volume], _Value]
    counter: bool = False
    """A counter never goes back to nothing or to 0 (the Energy dashboard would see a reset)."""
    flow: bool = False
    """The flow rate computed from the successive readings (``flow_rate.py``)."""


SUBMETER_SENSORS: Final[tuple[WhatwattSubmeterSensorEntityDescription, ...]] = (
    WhatwattSubmeterSensorEntityDescription(
        key="reading",
        translation_key="submeter_reading",
        state_class=SensorStateClass.TOTAL_INCREASING,
        value_fn=lambda volume: volume.cumulative,
        counter=True,
    ),
    WhatwattSubmeterSensorEntityDescription(
        key="last_reading",
        translation_key="submeter_last_reading",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=reading_time,
    ),
)
"""The reading of each sub-meter (device class and unit by what the user says it measures,
at its own resolution) and the time of that reading."""
SUBMETER_FLOW: Final = WhatwattSubmeterSensorEntityDescription(
    key="flow_rate",
    translation_key="submeter_flow_rate",
    device_class=SensorDeviceClass.VOLUME_FLOW_RATE,
    state_class=SensorStateClass.MEASUREMENT,
    suggested_display_precision=3,
    value_fn=lambda volume: volume.cumulative,
    flow=True,
)
"""The flow of a gas or water sub-meter, calculated from its readings (the Energy dashboard's
power view shows it)."""


# Prices ----------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class WhatwattPriceSensorEntityDescription(SensorEntityDescription):
    """A price per kWh (``prices.py``), on the meter's device, in Home Assistant's currency."""

    price_fn: Callable[[Prices, Measurements | None], float | None]
    exists_fn: Callable[[Prices], bool]
    """Whether the user has set this price (the sensor exists only then)."""


PRICE_SENSORS: Final[tuple[WhatwattPriceSensorEntityDescription, ...]] = (
    WhatwattPriceSensorEntityDescription(
        key="price_import",
        translation_key="price_import",
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=4,
        price_fn=lambda prices, data: prices.import_price(None if data is None else data.tariff),
        exists_fn=lambda prices: prices.has_import,
    ),
    WhatwattPriceSensorEntityDescription(
        key="price_export",
        translation_key="price_export",
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=4,
        price_fn=lambda prices, _data: prices.export,
        exists_fn=lambda prices: prices.has_export,
    ),
)
"""The import price of the tariff running now, and the export (feed-in) price: the Energy
dashboard's "entity with the current price"."""


# Demand windows ------------------------------------------------------------------------------

DEMAND_WRITE_SECONDS: Final = 10.0
"""The demand of the window under way is written at most this often (and when it changes)."""


@dataclass(frozen=True, kw_only=True)
class WhatwattDemandSensorEntityDescription(SensorEntityDescription):
    """A demand figure (``demand.py``), on the meter's device."""

    value_fn: Callable[[DemandSnapshot], _Value]
    attributes_fn: Callable[[DemandSnapshot, DemandConfig, tzinfo], dict[str, Any]] = (
        lambda _snapshot, _config, _zone: {}
    )
    running: bool = False
    """About the window under way: it changes with every report (written at most every 10 s
    and when the window changes) and is unavailable while the meter's data is lost."""


def _watts(value: float | None) -> int | None:
    return None if value is None else round(value)


def _window(snapshot: DemandSnapshot, _config: DemandConfig, zone: tzinfo) -> dict[str, Any]:
    return {
        "window_start": snapshot.window_start.astimezone(zone).isoformat(),
        "window_end": snapshot.window_end.astimezone(zone).isoformat(),
    }


def _month_peaks(snapshot: DemandSnapshot, config: DemandConfig, zone: tzinfo) -> dict[str, Any]:
    if snapshot.month is None or config.peaks == 1:
        return {"peaks_averaged": config.peaks}
    return {"peaks_averaged": config.peaks, "peaks": peaks_text(snapshot.month.days, zone)}


_DEMAND: Final = _Quantity(
    device_class=SensorDeviceClass.POWER,
    unit=UnitOfPower.WATT,
    state_class=SensorStateClass.MEASUREMENT,
    precision=0,
)


def _demand(
    key: str,
    value_fn: Callable[[DemandSnapshot], _Value],
    attributes_fn: Callable[[DemandSnapshot, DemandConfig, tzinfo], dict[str, Any]],
    *,
    running: bool = False,
) -> WhatwattDemandSensorEntityDescription:
    return WhatwattDemandSensorEntityDescription(
        key=key,
        translation_key=key,
        device_class=_DEMAND.device_class,
        native_unit_of_measurement=_DEMAND.unit,
        state_class=_DEMAND.state_class,
        suggested_display_precision=_DEMAND.precision,
        value_fn=value_fn,
        attributes_fn=attributes_fn,
        running=running,
    )


DEMAND_SENSORS: Final[tuple[WhatwattDemandSensorEntityDescription, ...]] = (
    _demand(
        "demand_current",
        lambda s: _watts(s.current),
        lambda s, config, zone: {**_window(s, config, zone), "partial": s.partial},
        running=True,
    ),
    _demand("demand_projected", lambda s: _watts(s.projected), _window, running=True),
    _demand(
        "demand_last_window",
        lambda s: None if s.last_window is None else _watts(s.last_window.demand),
        lambda s, _config, zone: {
            "window_start": None
            if s.last_window is None
            else s.last_window.start.astimezone(zone).isoformat()
        },
    ),
    _demand(
        "demand_monthly_peak",
        lambda s: None if s.month is None else _watts(s.month.demand),
        _month_peaks,
    ),
    WhatwattDemandSensorEntityDescription(
        key="demand_monthly_peak_start",
        translation_key="demand_monthly_peak_start",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda s: None if s.month is None else s.month.start,
    ),
    _demand(
        "demand_basis",
        lambda s: None if s.basis is None else _watts(s.basis.demand),
        lambda s, config, _zone: {
            "months": 0 if s.basis is None else s.basis.months,
            "floor": round(config.floor),
        },
    ),
)
"""Demand windows: the window under way, its projection, the last one, the month's peak and
when it started, and the 12-month capacity basis."""


# Platform -----------------------------------------------------------------------------------


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WhatwattConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the diagnostics now, and the measurements as the meter reports them."""
    runtime = entry.runtime_data
    system = runtime.system
    async_add_entities(
        WhatwattSystemSensor(entry, system, description)
        for description in SYSTEM_SENSORS
        if description.always or description.value_fn(system) is not None
    )

    live = runtime.live
    pending = list(LIVE_SENSORS)

    @callback
    def _async_add_reported() -> None:
        """Add a sensor for every value seen for the first time (a few checks per event)."""
        data: Measurements | None = live.data
        if data is None or not pending:
            return
        new = [d for d in pending if d.value_fn(data) is not None]
        if not new:
            return
        for description in new:
            pending.remove(description)
        async_add_entities(WhatwattLiveSensor(entry, live, description) for description in new)

    _async_add_reported()
    entry.async_on_unload(live.async_add_listener(_async_add_reported))
    _async_setup_submeters(hass, entry, async_add_entities)
    _async_setup_demand(entry, async_add_entities)
    _async_setup_prices(hass, entry, async_add_entities)


@callback
def _async_setup_prices(
    hass: HomeAssistant,
    entry: WhatwattConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """A price sensor for each price set; one no longer set is removed with its entity."""
    prices = Prices.from_options(entry.options)
    registry = er.async_get(hass)
    for description in PRICE_SENSORS:
        if description.exists_fn(prices):
            continue
        unique_id = entity_unique_id(entry, description.key)
        if entity_id := registry.async_get_entity_id(Platform.SENSOR, DOMAIN, unique_id):
            registry.async_remove(entity_id)
    async_add_entities(
        WhatwattPriceSensor(entry, entry.runtime_data.live, description)
        for description in PRICE_SENSORS
        if description.exists_fn(prices)
    )


@callback
def _async_setup_demand(
    entry: WhatwattConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Demand sensors once the meter has reported its import register (they need it)."""
    demand = entry.runtime_data.demand

    @callback
    def _async_add() -> None:
        async_add_entities(
            WhatwattDemandSensor(entry, demand, description) for description in DEMAND_SENSORS
        )

    if demand.data is not None:
        _async_add()
        return

    @callback
    def _async_first() -> None:
        if demand.data is not None:
            remove()
            _async_add()

    remove = demand.async_add_listener(_async_first)


@callback
def _async_setup_submeters(
    hass: HomeAssistant,
    entry: WhatwattConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Sub-meters: known ones at once (unavailable until reported), new ones when they appear."""
    live = entry.runtime_data.live
    added: set[SubmeterId] = set()

    @callback
    def _async_add(submeter: SubmeterId) -> None:
        added.add(submeter)
        kind = entry_submeter_kind(entry, submeter.bus)
        device = submeter_device_info(hass, entry, submeter, kind)
        descriptions = SUBMETER_SENSORS + ((SUBMETER_FLOW,) if kind.flow is not None else ())
        entities = [
            WhatwattSubmeterSensor(
                entry, live, description, submeter=submeter, kind=kind, device=device
            )
            for description in descriptions
        ]
        for entity in entities:
            entity.async_on_remove(partial(_async_removed, submeter, device))
        async_add_entities(entities)
        async_update_submeter_issue(hass, entry, submeter, kind)

    @callback
    def _async_removed(submeter: SubmeterId, device: DeviceInfo) -> None:
        """An entity of ``submeter`` went away: forget the sub-meter if its device is gone.

        The user deleted the device: a report adds it again.  A disabled entity goes away too
        (it is never added), and must not make every report add it again.
        """
        if dr.async_get(hass).async_get_device(identifiers=device["identifiers"]) is None:
            added.discard(submeter)

    for submeter in async_known_submeters(hass, entry):
        _async_add(submeter)

    @callback
    def _async_add_reported() -> None:
        """A sub-meter in the data for the first time (one set lookup per entry and event)."""
        for submeter in reported_submeters(live.data):
            if submeter not in added:
                _async_add(submeter)

    entry.async_on_unload(live.async_add_listener(_async_add_reported))


class _WhatwattSensor[CoordinatorT: DataUpdateCoordinator[Any]](
    WhatwattEntity[CoordinatorT], SensorEntity
):
    """Computes its value once per update and writes its state every time.

    An unchanged value costs no recorder row (Home Assistant stores only changes) but moves
    ``last_reported``, which the integration, derivative and statistics helpers rely on: a
    counter that stays put for hours is still known to be current (BENCHMARKS.md, 6c).
    """

    def _compute(self) -> _Value:
        raise NotImplementedError

    @override
    async def async_added_to_hass(self) -> None:
        self._attr_native_value = self._compute()
        await super().async_added_to_hass()

    @callback
    @override
    def _handle_coordinator_update(self) -> None:
        self._attr_native_value = self._compute()
        self.async_write_ha_state()


class WhatwattLiveSensor(_WhatwattSensor[WhatwattLiveCoordinator]):
    """A value measured by the meter (on the meter's device).

    A ``total_increasing`` counter never drops to 0 or to unknown because one event lacked it
    (or carried a 0): the last good value stays, so the Energy dashboard sees no false reset.
    """

    entity_description: WhatwattLiveSensorEntityDescription

    def __init__(
        self,
        entry: WhatwattConfigEntry,
        coordinator: WhatwattLiveCoordinator,
        description: WhatwattLiveSensorEntityDescription,
    ) -> None:
        """Create the sensor on the meter's device."""
        super().__init__(entry, coordinator, description, meter=True)
        self._counter = description.state_class is SensorStateClass.TOTAL_INCREASING
        self._last_count: float | None = None

    @override
    def _compute(self) -> _Value:
        value = self.entity_description.value_fn(self.coordinator.data)
        if self._counter and not value and self._last_count:
            return self._last_count  # keep the last good counter
        if self._counter and isinstance(value, int | float):
            self._last_count = value
        return value


class WhatwattSystemSensor(_WhatwattSensor[WhatwattSystemCoordinator]):
    """A value from the system information (mostly diagnostics)."""

    entity_description: WhatwattSystemSensorEntityDescription

    def __init__(
        self,
        entry: WhatwattConfigEntry,
        coordinator: WhatwattSystemCoordinator,
        description: WhatwattSystemSensorEntityDescription,
    ) -> None:
        """Create the sensor on the gateway's or the meter's device."""
        super().__init__(entry, coordinator, description, meter=description.meter)

    @override
    def _compute(self) -> _Value:
        return self.entity_description.value_fn(self.coordinator)


class WhatwattSubmeterSensor(WhatwattEntity[WhatwattLiveCoordinator], SensorEntity):
    """A value of one sub-meter, on its own device.

    Sub-meters report every 5 minutes to hourly while the stream carries an event per second:
    the state is written only when the reading, its time or the availability changed.  The
    sub-meter is unavailable when the meter's data stopped, or when it has been missing from
    the data for 15 minutes (its device stays, so its history does).
    """

    entity_description: WhatwattSubmeterSensorEntityDescription

    def __init__(
        self,
        entry: WhatwattConfigEntry,
        coordinator: WhatwattLiveCoordinator,
        description: WhatwattSubmeterSensorEntityDescription,
        *,
        submeter: SubmeterId,
        kind: SubmeterKind,
        device: DeviceInfo,
    ) -> None:
        """Show ``description`` of ``submeter`` on its device, as what ``kind`` says it is."""
        super().__init__(entry, coordinator, description)
        self._attr_unique_id = entity_unique_id(entry, f"{submeter.key}_{description.key}")
        self._attr_device_info = device
        if description.counter:
            self._attr_device_class = kind.device_class
            self._attr_native_unit_of_measurement = kind.unit
            self._attr_suggested_display_precision = display_precision(kind.unit)
        self._flow: FlowRate | None = None
        self._per_hour = 1.0
        if description.flow and kind.flow is not None:
            self._flow = FlowRate()
            self._attr_native_unit_of_measurement, self._per_hour = kind.flow
        self._submeter = submeter
        self._seen: float | None = None
        self._written: tuple[Any, bool] | None = None

    def _volume(self) -> Volume | None:
        data: Measurements | None = self.coordinator.data
        volumes = data.volumes if data is not None else ()
        return next((v for v in volumes if SubmeterId.of(v) == self._submeter), None)

    @property
    @override
    def available(self) -> bool:
        """Available while the meter's data is current and lists this sub-meter."""
        return (
            super().available
            and self._seen is not None
            and self.hass.loop.time() - self._seen < SUBMETER_STALE_SECONDS
        )

    def _update(self) -> None:
        volume = self._volume()
        if volume is None:
            return
        self._seen = self.hass.loop.time()
        if self._flow is not None:
            self._attr_native_value = self._flow_rate(volume)
            return
        value = self.entity_description.value_fn(volume)
        if self.entity_description.counter and not value and self._attr_native_value:
            return  # a missing or transient 0 reading is not a meter reset
        self._attr_native_value = value

    def _flow_rate(self, volume: Volume) -> float | None:
        """The flow now, from the readings so far (the meter's clock says when "now" is)."""
        assert self._flow is not None
        taken, now = reading_time(volume), meter_clock(self.coordinator.data.meter_time)
        if taken is not None and volume.cumulative is not None:
            self._flow.add(taken, volume.cumulative)
        now = now or taken
        rate = None if now is None else self._flow.rate(now)
        return None if rate is None else round(rate * self._per_hour, 6)

    @override
    async def async_added_to_hass(self) -> None:
        self._update()
        await super().async_added_to_hass()
        self._written = (self._attr_native_value, self.available)

    @callback
    @override
    def _handle_coordinator_update(self) -> None:
        self._update()
        state = (self._attr_native_value, self.available)
        if state != self._written:
            self._written = state
            self.async_write_ha_state()


class WhatwattDemandSensor(WhatwattEntity[WhatwattDemandCoordinator], SensorEntity):
    """A demand figure, on the meter's device.

    The window under way changes with every meter report: it is written at most every 10 s
    and at each window change; the others only when they change.  The recorder stores a row per
    written state: the feature adds a few rows per minute, not one per report.
    """

    entity_description: WhatwattDemandSensorEntityDescription

    def __init__(
        self,
        entry: WhatwattConfigEntry,
        coordinator: WhatwattDemandCoordinator,
        description: WhatwattDemandSensorEntityDescription,
    ) -> None:
        """Create the sensor on the meter's device."""
        super().__init__(entry, coordinator, description, meter=True)
        self._written: tuple[Any, ...] | None = None
        self._written_at = 0.0

    @property
    @override
    def available(self) -> bool:
        """The window under way is unavailable while the meter's data is lost."""
        return super().available and (not self.entity_description.running or self.coordinator.live)

    def _state(self) -> tuple[Any, ...]:
        """Value, attributes, window and availability."""
        snapshot = self.coordinator.data
        assert snapshot is not None  # the sensors are added with the first one
        description = self.entity_description
        config, zone = self.coordinator.config, self.coordinator.zone
        return (
            description.value_fn(snapshot),
            description.attributes_fn(snapshot, config, zone),
            snapshot.window_start,
            self.available,
        )

    def _apply(self, state: tuple[Any, ...]) -> None:
        self._attr_native_value, self._attr_extra_state_attributes = state[0], state[1]
        self._written = state
        self._written_at = self.hass.loop.time()

    @override
    async def async_added_to_hass(self) -> None:
        self._apply(self._state())
        await super().async_added_to_hass()

    @callback
    @override
    def _handle_coordinator_update(self) -> None:
        """Write what changed: at a new window, or a change of availability, or 10 s on.

        The window under way is written at most every 10 s; the others change only with it.
        """
        written = self._written
        snapshot = self.coordinator.data
        if (
            written is not None
            and snapshot is not None
            and snapshot.window_start == written[2]
            and written[3] == self.available
            and (
                not self.entity_description.running
                or self.hass.loop.time() - self._written_at < DEMAND_WRITE_SECONDS
            )
        ):
            return
        state = self._state()
        if state != written:
            self._apply(state)
            self.async_write_ha_state()


class WhatwattPriceSensor(WhatwattEntity[WhatwattLiveCoordinator], SensorEntity):
    """A price per kWh, in Home Assistant's currency, on the meter's device.

    The import price follows the meter's active tariff in the same report; both are written
    only when they change.  A price set again in the options applies at once (no reload).
    """

    entity_description: WhatwattPriceSensorEntityDescription

    def __init__(
        self,
        entry: WhatwattConfigEntry,
        coordinator: WhatwattLiveCoordinator,
        description: WhatwattPriceSensorEntityDescription,
    ) -> None:
        """Create the sensor on the meter's device."""
        super().__init__(entry, coordinator, description, meter=True)
        self._entry = entry
        self._prices = Prices.from_options(entry.options)

    @property
    @override
    def available(self) -> bool:
        """A price is known while the data is not: the last tariff's price stays."""
        return True

    def _price(self) -> float | None:
        return self.entity_description.price_fn(self._prices, self.coordinator.data)

    @override
    async def async_added_to_hass(self) -> None:
        self._attr_native_unit_of_measurement = (
            f"{self.hass.config.currency}/{UnitOfEnergy.KILO_WATT_HOUR}"
        )
        self._attr_native_value = self._price()
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass, signal_prices(self._entry.entry_id), self._async_prices_changed
            )
        )

    @callback
    def _async_prices_changed(self) -> None:
        self._prices = Prices.from_options(self._entry.options)
        self._handle_coordinator_update()

    @callback
    @override
    def _handle_coordinator_update(self) -> None:
        price = self._price()
        if price != self._attr_native_value:
            self._attr_native_value = price
            self.async_write_ha_state()
