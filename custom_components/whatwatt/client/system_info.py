"""Typed model of ``/api/v1/system`` (DIGEST §8): the gateway, its meter link and its network.

Every leaf is optional (``None`` when missing); unknown fields are ignored; ``raw`` keeps each
object as received for diagnostics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from . import _parse as p


@dataclass(frozen=True, kw_only=True)
class DevicePlug:
    """Supply voltages (V) of the gateway."""

    v_usb: float | None = None
    v_mbus: float | None = None
    v_p1: float | None = None
    v_scap: float | None = None
    """Supercap; should stay at or above 4.5 V when powered from M-Bus."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DevicePlug:
        """Build from ``device.plug``."""
        return cls(**{f.name: p.number(data.get(f.name)) for f in fields(cls)})


@dataclass(frozen=True, kw_only=True)
class DeviceLicense:
    """The license of the gateway (``device.license`` on the wire)."""

    type: str | None = None
    """``FREE``, ``PLUS`` or ``PRO``."""
    activation_date: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeviceLicense:
        """Build from ``device.license``."""
        return cls(
            type=p.string(data.get("type")), activation_date=p.string(data.get("activation_date"))
        )


@dataclass(frozen=True, kw_only=True)
class LastReboot:
    """When the gateway last rebooted, local time."""

    date: str | None = None
    time: str | None = None


@dataclass(frozen=True, kw_only=True)
class SystemDevice:
    """The ``device`` object: identity, firmware, uptime, supply, license."""

    name: str | None = None
    id: str | None = None
    model: str | None = None
    firmware: str | None = None
    build: str | None = None
    upgrade_capable: bool | None = None
    time_since_boot: float | None = None
    """Seconds; read from ``time_since_boot`` or, failing that, ``time_since_reboot`` (C1)."""
    last_reboot: LastReboot = field(default_factory=LastReboot)
    plug: DevicePlug = field(default_factory=DevicePlug)
    license: DeviceLicense = field(default_factory=DeviceLicense)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SystemDevice:
        """Build from the ``device`` object."""
        uptime = p.number(data.get("time_since_boot"))
        if uptime is None:
            uptime = p.number(data.get("time_since_reboot"))
        reboot = p.obj(data, "last_reboot")
        return cls(
            name=p.string(data.get("name")),
            id=p.string(data.get("id")),
            model=p.string(data.get("model")),
            firmware=p.string(data.get("firmware")),
            build=p.string(data.get("build")),
            upgrade_capable=p.boolean(data.get("upgrade_capable")),
            time_since_boot=uptime,
            last_reboot=LastReboot(
                date=p.string(reboot.get("date")), time=p.string(reboot.get("time"))
            ),
            plug=DevicePlug.from_dict(p.obj(data, "plug")),
            license=DeviceLicense.from_dict(p.obj(data, "license")),
            raw=dict(data),
        )


@dataclass(frozen=True, kw_only=True)
class SystemMeter:
    """The ``meter`` object: the link to the smart meter as the gateway sees it."""

    status: str | None = None
    """``NOT CONNECTED``, ``NO DATA``, ``RECOGNITION``, ``OK``, ``ENCRYPTION KEY``,
    ``KEY REQUIRED`` or ``NOT RECOGNIZED``."""
    interface: str | None = None
    id: str | None = None
    manufacturer: str | None = None
    type: str | None = None
    model: str | None = None
    protocol: str | None = None
    protocol_version: str | None = None
    report_interval: float | None = None
    """Seconds between meter reports."""
    enc_en: bool | None = None
    auth_en: bool | None = None
    tariff: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SystemMeter:
        """Build from the ``meter`` object."""
        strings = ("status", "interface", "id", "manufacturer", "type", "model", "protocol")
        return cls(
            **{key: p.string(data.get(key)) for key in strings},
            protocol_version=p.string(data.get("protocol_version")),
            report_interval=p.number(data.get("report_interval")),
            enc_en=p.boolean(data.get("enc_en")),
            auth_en=p.boolean(data.get("auth_en")),
            tariff=p.integer(data.get("tariff")),
            raw=dict(data),
        )


@dataclass(frozen=True, kw_only=True)
class SystemWifi:
    """The ``wifi`` object (station mode)."""

    ssid: str | None = None
    bssid: str | None = None
    rssi: int | None = None
    """dBm."""
    signal: int | None = None
    """Percent."""
    mac: str | None = None
    ip: str | None = None
    status: str | None = None
    """``OK``, ``Error``, ``Disabled`` or ``Disconnected``."""
    channel: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SystemWifi:
        """Build from the ``wifi`` object."""
        return cls(
            **{key: p.string(data.get(key)) for key in ("ssid", "bssid", "mac", "ip", "status")},
            rssi=p.integer(data.get("rssi")),
            signal=p.integer(data.get("signal")),
            channel=p.integer(data.get("channel")),
            raw=dict(data),
        )


@dataclass(frozen=True, kw_only=True)
class SystemEthernet:
    """The ``ethernet`` object."""

    mac: str | None = None
    ip: str | None = None
    status: str | None = None
    """``Up`` or ``Down``."""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SystemEthernet:
        """Build from the ``ethernet`` object."""
        return cls(
            **{key: p.string(data.get(key)) for key in ("mac", "ip", "status")}, raw=dict(data)
        )


@dataclass(frozen=True, kw_only=True)
class SystemInfo:
    """The answer of ``/api/v1/system``; works on every license."""

    device: SystemDevice = field(default_factory=SystemDevice)
    meter: SystemMeter = field(default_factory=SystemMeter)
    wifi: SystemWifi = field(default_factory=SystemWifi)
    ethernet: SystemEthernet = field(default_factory=SystemEthernet)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SystemInfo:
        """Build from the JSON object of ``/api/v1/system``."""
        return cls(
            device=SystemDevice.from_dict(p.obj(data, "device")),
            meter=SystemMeter.from_dict(p.obj(data, "meter")),
            wifi=SystemWifi.from_dict(p.obj(data, "wifi")),
            ethernet=SystemEthernet.from_dict(p.obj(data, "ethernet")),
            raw=dict(data),
        )
