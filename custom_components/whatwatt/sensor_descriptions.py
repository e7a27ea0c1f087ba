"""What the sensors of a whatwatt Go are: one description per value, no logic elsewhere.

The device sends kW, kWh, kvar and kvarh with three decimals.  Power is shown in W and
reactive power in var, converted exactly (``round(kw * 1000, 3)``, no rounding to 10 W);
energy stays in kWh at full resolution.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
    EntityCategory,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfPower,
    UnitOfReactiveEnergy,
    UnitOfReactivePower,
)

from .client import Measurements, SystemInfo
from .const import METER_STATUS
from .coordinator import WhatwattSystemCoordinator

type _Value = float | int | str | datetime | None

PHASES: Final = (1, 2, 3)
TARIFFS: Final = (1, 2)
TARIFF_OPTIONS: Final = ["1", "2", "3", "4"]
METER_INTERFACES: Final = ["none", "p1", "mbus", "ttl", "mep"]
METER_PROTOCOLS: Final = ["dsmr", "dlms", "kmp", "mep", "mbus"]
LICENCES: Final = ["free", "plus", "pro"]


@dataclass(frozen=True, kw_only=True)
class WhatwattLiveSensorDescription(SensorEntityDescription):
    """A value the meter measures; the sensor exists once the meter has sent it."""

    field: str
    """The measurement the sensor shows (it exists once the meter has sent it)."""
    value_fn: Callable[[Measurements], _Value]
    exists_fn: Callable[[Measurements], bool] | None = None
    """Overrides the check on ``field`` (a plain attribute read: it runs per live event while
    sensors are missing)."""

    def exists(self, data: Measurements) -> bool:
        """Return whether the meter reports this value."""
        if self.exists_fn is not None:
            return self.exists_fn(data)
        return getattr(data, self.field) is not None


@dataclass(frozen=True, kw_only=True)
class WhatwattSystemSensorDescription(SensorEntityDescription):
    """A value of the system information."""

    value_fn: Callable[[WhatwattSystemCoordinator], _Value]
    exists_fn: Callable[[SystemInfo], bool] = lambda _: True
    meter: bool = False
    """On the meter's device (else the gateway's)."""


def _kilo(value: float | None) -> float | None:
    """Convert kW to W (kvar to var) exactly: the device's 3 decimals become whole units."""
    return None if value is None else round(value * 1000, 3)


def _net(data: Measurements) -> float | None:
    if data.power_in is None:
        return None
    return round((data.power_in - (data.power_out or 0.0)) * 1000, 3)


def _tariff(data: Measurements) -> str | None:
    return str(data.tariff) if data.tariff in (1, 2, 3, 4) else None


def _option(value: str | None, options: list[str]) -> str | None:
    """Map a device string to an enum option; unknown values are HA's unknown."""
    option = None if value is None else value.lower()
    return option if option in options else None


def _field(name: str) -> Callable[[Measurements], float | None]:
    def read(data: Measurements) -> float | None:
        value: float | None = getattr(data, name)
        return value

    return read


def _kilo_field(name: str) -> Callable[[Measurements], float | None]:
    def read(data: Measurements) -> float | None:
        return _kilo(getattr(data, name))

    return read


def _power(key: str, field: str, **kwargs: object) -> WhatwattLiveSensorDescription:
    return WhatwattLiveSensorDescription(
        key=key,
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        field=field,
        value_fn=_kilo_field(field),
        **kwargs,  # type: ignore[arg-type]
    )


def _reactive(key: str, field: str, **kwargs: object) -> WhatwattLiveSensorDescription:
    return WhatwattLiveSensorDescription(
        key=key,
        device_class=SensorDeviceClass.REACTIVE_POWER,
        native_unit_of_measurement=UnitOfReactivePower.VOLT_AMPERE_REACTIVE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        entity_registry_enabled_default=False,
        field=field,
        value_fn=_kilo_field(field),
        **kwargs,  # type: ignore[arg-type]
    )


def _energy(key: str, field: str, **kwargs: object) -> WhatwattLiveSensorDescription:
    return WhatwattLiveSensorDescription(
        key=key,
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=3,
        field=field,
        value_fn=_field(field),
        **kwargs,  # type: ignore[arg-type]
    )


def _reactive_energy(key: str, field: str) -> WhatwattLiveSensorDescription:
    return WhatwattLiveSensorDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.REACTIVE_ENERGY,
        native_unit_of_measurement=UnitOfReactiveEnergy.KILO_VOLT_AMPERE_REACTIVE_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=3,
        entity_registry_enabled_default=False,
        field=field,
        value_fn=_field(field),
    )


def _phased(
    make: Callable[..., WhatwattLiveSensorDescription], key: str, field: str
) -> tuple[WhatwattLiveSensorDescription, ...]:
    """One sensor per phase: ``<key>_l1`` from ``<field>_l1`` etc., named "... phase N"."""
    return tuple(
        make(
            f"{key}_l{phase}",
            f"{field}_l{phase}",
            translation_key=f"{key}_phase",
            translation_placeholders={"phase": str(phase)},
        )
        for phase in PHASES
    )


def _per_tariff(
    make: Callable[..., WhatwattLiveSensorDescription], key: str, field: str
) -> tuple[WhatwattLiveSensorDescription, ...]:
    """One counter per tariff: ``<key>_t1`` from ``<field>_t1``, named "... tariff N"."""
    return tuple(
        make(
            f"{key}_t{tariff}",
            f"{field}_t{tariff}",
            translation_key=f"{key}_tariff",
            translation_placeholders={"tariff": str(tariff)},
        )
        for tariff in TARIFFS
    )


LIVE_SENSORS: Final[tuple[WhatwattLiveSensorDescription, ...]] = (
    _power("power_import", "power_in", translation_key="power_import"),
    _power("power_export", "power_out", translation_key="power_export"),
    WhatwattLiveSensorDescription(
        key="power_net",
        translation_key="power_net",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        field="power_in",
        value_fn=_net,
    ),
    *_phased(_power, "power_import", "power_in"),
    *_phased(_power, "power_export", "power_out"),
    *(
        WhatwattLiveSensorDescription(
            key=f"voltage_l{phase}",
            translation_key="voltage_phase",
            translation_placeholders={"phase": str(phase)},
            device_class=SensorDeviceClass.VOLTAGE,
            native_unit_of_measurement=UnitOfElectricPotential.VOLT,
            state_class=SensorStateClass.MEASUREMENT,
            suggested_display_precision=1,
            entity_registry_enabled_default=False,
            field=f"voltage_l{phase}",
            value_fn=_field(f"voltage_l{phase}"),
        )
        for phase in PHASES
    ),
    *(
        WhatwattLiveSensorDescription(
            key=f"current_l{phase}",
            translation_key="current_phase",
            translation_placeholders={"phase": str(phase)},
            device_class=SensorDeviceClass.CURRENT,
            native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
            state_class=SensorStateClass.MEASUREMENT,
            suggested_display_precision=2,
            entity_registry_enabled_default=False,
            field=f"current_l{phase}",
            value_fn=_field(f"current_l{phase}"),
        )
        for phase in PHASES
    ),
    WhatwattLiveSensorDescription(
        key="power_factor",
        device_class=SensorDeviceClass.POWER_FACTOR,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=3,
        field="power_factor",
        value_fn=_field("power_factor"),
    ),
    _energy("energy_import", "energy_in", translation_key="energy_import"),
    *_per_tariff(_energy, "energy_import", "energy_in"),
    _energy("energy_export", "energy_out", translation_key="energy_export"),
    *_per_tariff(_energy, "energy_export", "energy_out"),
    WhatwattLiveSensorDescription(
        key="tariff",
        translation_key="tariff",
        device_class=SensorDeviceClass.ENUM,
        options=TARIFF_OPTIONS,
        field="tariff",
        value_fn=_tariff,
        exists_fn=lambda data: _tariff(data) is not None,
    ),
    _reactive("reactive_power_import", "reactive_in", translation_key="reactive_power_import"),
    _reactive("reactive_power_export", "reactive_out", translation_key="reactive_power_export"),
    *_phased(_reactive, "reactive_power_import", "reactive_in"),
    *_phased(_reactive, "reactive_power_export", "reactive_out"),
    WhatwattLiveSensorDescription(
        key="apparent_power",
        device_class=SensorDeviceClass.APPARENT_POWER,
        native_unit_of_measurement="VA",
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        entity_registry_enabled_default=False,
        field="apparent_power",
        value_fn=_kilo_field("apparent_power"),
    ),
    _reactive_energy("reactive_energy_import", "reactive_energy_in"),
    _reactive_energy("reactive_energy_export", "reactive_energy_out"),
    _reactive_energy("reactive_energy_q1", "reactive_energy_imported_inductive"),
    _reactive_energy("reactive_energy_q2", "reactive_energy_imported_capacitive"),
    _reactive_energy("reactive_energy_q3", "reactive_energy_exported_inductive"),
    _reactive_energy("reactive_energy_q4", "reactive_energy_exported_capacitive"),
    _power(
        "max_demand_import",
        "max_demand_in",
        translation_key="max_demand_import",
        entity_registry_enabled_default=False,
    ),
    *(
        _power(
            f"max_demand_import_t{tariff}",
            f"max_demand_in_t{tariff}",
            translation_key="max_demand_import_tariff",
            translation_placeholders={"tariff": str(tariff)},
            entity_registry_enabled_default=False,
        )
        for tariff in TARIFFS
    ),
)


def _system(
    key: str, value_fn: Callable[[SystemInfo], _Value], **kwargs: object
) -> WhatwattSystemSensorDescription:
    """A diagnostic read straight from the system information; exists when the device has it."""
    return WhatwattSystemSensorDescription(
        key=key,
        translation_key=key,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda coordinator: value_fn(coordinator.data),
        exists_fn=lambda info: value_fn(info) is not None,
        **kwargs,  # type: ignore[arg-type]
    )


def _plug_voltage(key: str, field: str, *, enabled: bool) -> WhatwattSystemSensorDescription:
    return _system(
        key,
        lambda info: getattr(info.device.plug, field),
        device_class=SensorDeviceClass.VOLTAGE,
        native_unit_of_measurement=UnitOfElectricPotential.VOLT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        entity_registry_enabled_default=enabled,
    )


SYSTEM_SENSORS: Final[tuple[WhatwattSystemSensorDescription, ...]] = (
    WhatwattSystemSensorDescription(
        key="meter_status",
        translation_key="meter_status",
        device_class=SensorDeviceClass.ENUM,
        options=list(METER_STATUS.values()),
        entity_category=EntityCategory.DIAGNOSTIC,
        meter=True,
        value_fn=lambda coordinator: METER_STATUS.get(coordinator.data.meter.status or ""),
    ),
    _system(
        "meter_interface",
        lambda info: _option(info.meter.interface, METER_INTERFACES),
        device_class=SensorDeviceClass.ENUM,
        options=METER_INTERFACES,
        entity_registry_enabled_default=False,
        meter=True,
    ),
    _system(
        "meter_protocol",
        lambda info: _option(info.meter.protocol, METER_PROTOCOLS),
        device_class=SensorDeviceClass.ENUM,
        options=METER_PROTOCOLS,
        entity_registry_enabled_default=False,
        meter=True,
    ),
    _system(
        "wifi_signal",
        lambda info: info.wifi.signal,
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
    ),
    _system(
        "wifi_rssi",
        lambda info: info.wifi.rssi,
        device_class=SensorDeviceClass.SIGNAL_STRENGTH,
        native_unit_of_measurement=SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
        state_class=SensorStateClass.MEASUREMENT,
        entity_registry_enabled_default=False,
    ),
    WhatwattSystemSensorDescription(
        key="last_boot",
        translation_key="last_boot",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda coordinator: coordinator.boot_time,
        exists_fn=lambda info: info.device.time_since_boot is not None,
    ),
    _system(
        "license",
        lambda info: _option(info.device.licence.type, LICENCES),
        device_class=SensorDeviceClass.ENUM,
        options=LICENCES,
    ),
    _plug_voltage("supercap_voltage", "v_scap", enabled=True),
    _plug_voltage("usb_voltage", "v_usb", enabled=False),
    _plug_voltage("mbus_voltage", "v_mbus", enabled=False),
    _plug_voltage("p1_voltage", "v_p1", enabled=False),
)
