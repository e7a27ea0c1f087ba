"""Typed models of what the device reports: measurements, live events, reports.

The scalers have their own module, ``scalers.py``, with the rules of the custom list.

Every leaf is optional: ``None`` when the device did not send it (a meter sends only what it
measures), never 0.  Unknown fields from newer firmware are ignored; each top-level model keeps
the object as received in ``raw`` for diagnostics.  Values are in device units (kW, kWh, kvar,
kvarh, V, A); the device has already applied ``conv_factor``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Final

from . import _parse as p

_SECONDS_PER_HOUR: Final = 3600.0


def _m(live: str | None, report: str | None) -> Any:
    """Declare a measurement: its SSE key and its path inside the report's ``report`` object."""
    return field(
        default=None,
        metadata={"live": live, "report": tuple(report.split(".")) if report else None},
    )


_P = "instantaneous_power."


@dataclass(frozen=True, kw_only=True)
class Volume:
    """A sub-meter reading (gas, water, heat) forwarded by the meter."""

    bus: int | None = None
    meter_id: str | None = None
    date_time: datetime | None = None
    """The meter's local time, naive (C21)."""
    cumulative: float | None = None
    """Cumulative counter; the unit depends on the sub-meter."""


@dataclass(frozen=True, kw_only=True)
class Measurements:
    """What the meter measured; the common shape of a live event and a report.

    The field's metadata names its SSE key (streaming page, DIGEST §11) and its path in
    ``/api/v1/report`` (§9.1).  ``rEii`` is read as imported inductive (Q1, 5.8.0) and ``rEic``
    as imported capacitive (Q2, 6.8.0): the quadrant numbers on the streaming page are taken
    as a typo (C7).
    """

    power_in: float | None = _m("P_In", _P + "active.positive.total")
    power_out: float | None = _m("P_Out", _P + "active.negative.total")
    power_in_l1: float | None = _m("P_P1_In", _P + "active.positive.l1")
    power_in_l2: float | None = _m("P_P2_In", _P + "active.positive.l2")
    power_in_l3: float | None = _m("P_P3_In", _P + "active.positive.l3")
    power_out_l1: float | None = _m("P_P1_Out", _P + "active.negative.l1")
    power_out_l2: float | None = _m("P_P2_Out", _P + "active.negative.l2")
    power_out_l3: float | None = _m("P_P3_Out", _P + "active.negative.l3")
    reactive_in: float | None = _m("rP_In", _P + "reactive.positive.total")
    reactive_out: float | None = _m("rP_Out", _P + "reactive.negative.total")
    reactive_in_l1: float | None = _m("rP_P1_In", _P + "reactive.positive.l1")
    reactive_in_l2: float | None = _m("rP_P2_In", _P + "reactive.positive.l2")
    reactive_in_l3: float | None = _m("rP_P3_In", _P + "reactive.positive.l3")
    reactive_out_l1: float | None = _m("rP_P1_Out", _P + "reactive.negative.l1")
    reactive_out_l2: float | None = _m("rP_P2_Out", _P + "reactive.negative.l2")
    reactive_out_l3: float | None = _m("rP_P3_Out", _P + "reactive.negative.l3")
    apparent_power: float | None = _m(None, _P + "apparent.total")
    """kVA; only in the report (the stream has no apparent power)."""
    voltage_l1: float | None = _m("V_P1", "voltage.l1")
    voltage_l2: float | None = _m("V_P2", "voltage.l2")
    voltage_l3: float | None = _m("V_P3", "voltage.l3")
    current_l1: float | None = _m("I_P1", "current.l1")
    current_l2: float | None = _m("I_P2", "current.l2")
    current_l3: float | None = _m("I_P3", "current.l3")
    power_factor: float | None = _m("PF", "power_factor")
    energy_in: float | None = _m("E_In", "energy.active.positive.total")
    energy_in_t1: float | None = _m("E_In_T1", "energy.active.positive.t1")
    energy_in_t2: float | None = _m("E_In_T2", "energy.active.positive.t2")
    energy_out: float | None = _m("E_Out", "energy.active.negative.total")
    energy_out_t1: float | None = _m("E_Out_T1", "energy.active.negative.t1")
    energy_out_t2: float | None = _m("E_Out_T2", "energy.active.negative.t2")
    reactive_energy_in: float | None = _m("rE_In", "energy.reactive.positive.total")
    reactive_energy_out: float | None = _m("rE_Out", "energy.reactive.negative.total")
    reactive_energy_imported_inductive: float | None = _m(
        "rEii", "energy.reactive.imported.inductive.total"
    )
    reactive_energy_imported_capacitive: float | None = _m(
        "rEic", "energy.reactive.imported.capacitive.total"
    )
    reactive_energy_exported_inductive: float | None = _m(
        "rEei", "energy.reactive.exported.inductive.total"
    )
    reactive_energy_exported_capacitive: float | None = _m(
        "rEec", "energy.reactive.exported.capacitive.total"
    )
    max_demand_in: float | None = _m("P_P_In", "max_demand.active.positive.total")
    max_demand_in_t1: float | None = _m("P_P_In_T1", "max_demand.active.positive.t1")
    max_demand_in_t2: float | None = _m("P_P_In_T2", "max_demand.active.positive.t2")
    max_demand_out: float | None = _m(None, "max_demand.active.negative.total")
    max_demand_out_t1: float | None = _m(None, "max_demand.active.negative.t1")
    max_demand_out_t2: float | None = _m(None, "max_demand.active.negative.t2")
    tariff: int | None = None
    """Active tariff (0..4; 0 or absent when the meter does not say, C18)."""
    volumes: tuple[Volume, ...] = ()
    meter_time: datetime | None = None
    """When the meter measured these values, on its own clock (the gateway corrects it with
    ``time_offset``): naive local time from the stream (``Date`` and ``Time``), aware UTC from
    a report (``date_time_utc``)."""

    @classmethod
    def from_live(cls, data: Mapping[str, Any]) -> Measurements:
        """Read the measurements of one SSE ``live`` event."""
        values = {f.name: p.number(data.get(key)) for f in _MEASURED if (key := f.metadata["live"])}
        volumes = tuple(
            Volume(
                bus=p.integer(item.get("Bus")),
                meter_id=p.string(item.get("M_ID")),
                date_time=p.timestamp(item.get("DT")),
                cumulative=p.number(item.get("Cum")),
            )
            for item in p.objects(data.get("Vol"))
        )
        return cls(
            **values,
            tariff=p.integer(data.get("T")),
            volumes=volumes,
            meter_time=_local_time(data.get("Date"), data.get("Time")),
        )

    @classmethod
    def from_report(cls, report: Mapping[str, Any]) -> Measurements:
        """Read the measurements of the ``report`` object of ``/api/v1/report``."""
        values = {
            f.name: p.number(p.dig(report, path))
            for f in _MEASURED
            if (path := f.metadata["report"])
        }
        volumes = tuple(
            Volume(
                bus=p.integer(item.get("bus")),
                meter_id=p.string(item.get("meter_id")),
                date_time=p.timestamp(item.get("date_time")),
                cumulative=p.number(item.get("cumulative")),
            )
            for item in p.objects(report.get("volume"))
        )
        return cls(
            **values,
            tariff=p.integer(report.get("tariff")),
            volumes=volumes,
            meter_time=p.timestamp(report.get("date_time_utc")),
        )


_MEASURED: Final = tuple(f for f in fields(Measurements) if "live" in f.metadata)


def _local_time(day: Any, clock: Any) -> datetime | None:
    """``Date`` and ``Time`` of a live event as one naive local time (None if either is bad)."""
    if not isinstance(day, str) or not isinstance(clock, str):
        return None
    moment = p.timestamp(f"{day}T{clock}")
    return moment if moment is not None and moment.tzinfo is None else None


@dataclass(frozen=True, kw_only=True)
class LiveEvent:
    """One SSE ``live`` event from ``/api/v1/live``."""

    measurements: Measurements = field(default_factory=Measurements)
    uptime_hours: float | None = None
    """Device uptime; the stream sends hours (C20)."""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def time_since_boot(self) -> float | None:
        """Device uptime in seconds (the unit ``/api/v1/system`` and the report use)."""
        return None if self.uptime_hours is None else self.uptime_hours * _SECONDS_PER_HOUR

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LiveEvent:
        """Build from the JSON object of a ``live`` event."""
        return cls(
            measurements=Measurements.from_live(data),
            uptime_hours=p.number(data.get("Uptime")),
            raw=dict(data),
        )


@dataclass(frozen=True, kw_only=True)
class ReportMeter:
    """The ``meter`` object of a report: who sent the values and whether the link is OK."""

    status: str | None = None
    """``OK`` when the values can be trusted; else e.g. ``NO DATA``, ``KEY REQUIRED``."""
    interface: str | None = None
    protocol: str | None = None
    protocol_version: str | None = None
    logical_name: str | None = None
    vendor: str | None = None
    model: str | None = None
    id: str | None = None
    prefix: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReportMeter:
        """Build from the report's ``meter`` object."""
        return cls(**{f.name: p.string(data.get(f.name)) for f in fields(cls)})


@dataclass(frozen=True, kw_only=True)
class ReportSystem:
    """The ``system`` object of a report."""

    id: str | None = None
    boot_id: str | None = None
    """Random per boot: a change means the device rebooted."""
    time_since_boot: float | None = None
    """Seconds."""
    date_time_utc: datetime | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReportSystem:
        """Build from the report's ``system`` object."""
        return cls(
            id=p.string(data.get("id")),
            boot_id=p.string(data.get("boot_id")),
            time_since_boot=p.number(data.get("time_since_boot")),
            date_time_utc=p.timestamp(data.get("date_time_utc")),
        )


@dataclass(frozen=True, kw_only=True)
class Report:
    """The answer of ``/api/v1/report`` (PLUS/PRO license)."""

    id: int | None = None
    """Incremental report id since boot."""
    interval: float | None = None
    """Seconds since the previous meter reading."""
    date_time_utc: datetime | None = None
    """When the meter sent the values (UTC; the plain ``date_time`` is local with a Z, C2)."""
    conv_factor: float | None = None
    measurements: Measurements = field(default_factory=Measurements)
    meter: ReportMeter = field(default_factory=ReportMeter)
    system: ReportSystem = field(default_factory=ReportSystem)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Report:
        """Build from the JSON object of ``/api/v1/report``."""
        report = p.obj(data, "report")
        return cls(
            id=p.integer(report.get("id")),
            interval=p.number(report.get("interval")),
            date_time_utc=p.timestamp(report.get("date_time_utc")),
            conv_factor=p.number(report.get("conv_factor")),
            measurements=Measurements.from_report(report),
            meter=ReportMeter.from_dict(p.obj(data, "meter")),
            system=ReportSystem.from_dict(p.obj(data, "system")),
            raw=dict(data),
        )
