"""The ``/api/v1/system`` answer, shaped like the vendor's full example (system-info.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import ipaddress
from typing import Any, Final

from .config import EmulatorConfig
from .meter import local_now
from .profiles import Profile

MODEL: Final = "WW_Go_1.2"
BUILD: Final = "11b8102-68dfd692"
ACTIVATION_DATE: Final = "2025-09-24T11:05:41Z"


@dataclass(frozen=True, kw_only=True)
class SystemState:
    """What /system reports that is not configuration."""

    now: float  # the world's time (the gateway's NTP clock)
    meter_now: float  # the meter's time as the gateway reports it (time_offset applied)
    encrypted: bool  # the meter's data are encrypted
    authenticated: bool  # the meter authenticates its data
    boot_wall: float
    uptime: float
    meter_status: str
    tariff: int | None
    host: str


def _ethernet_mac(device_id: str) -> str:
    return f"{(int(device_id, 16) + 3) % (1 << 48):012X}"


def _ip(host: str, fallback: str) -> str:
    try:
        address = ipaddress.IPv4Address(host)
    except ValueError:
        return fallback
    return fallback if address.is_unspecified else str(address)


def _meter(
    cfg: EmulatorConfig, profile: Profile, state: SystemState, meter_settings: Mapping[str, Any]
) -> dict[str, Any]:
    status = state.meter_status
    connected = status not in ("NOT CONNECTED", "NO DATA")
    known = status in ("OK", "KEY REQUIRED", "ENCRYPTION KEY")
    meter_time = local_now(state.meter_now)
    meter: dict[str, Any] = {
        "status": status,
        "interface": profile.interface if connected else "NONE",
        "id": profile.meter_id if known else "",
        "manufacturer": profile.vendor if known else "",
        "type": profile.logical_name if known else "",
        "model": profile.model if known else "",
        "protocol": profile.protocol if connected else "",
        "protocol_version": profile.protocol_version if known else "",
        "report_interval": round(cfg.report_interval, 3) if status == "OK" else 0,
        "enc_en": state.encrypted or bool(meter_settings["encryption"]),
        "auth_en": state.authenticated,
    }
    if status == "OK" and state.tariff is not None:
        meter["tariff"] = state.tariff
        meter["date"] = meter_time.strftime("%Y-%m-%d")
        meter["time"] = meter_time.strftime("%H:%M:%S")
    return meter


def build(
    cfg: EmulatorConfig,
    profile: Profile,
    state: SystemState,
    settings: Mapping[str, Any],
    meter_settings: Mapping[str, Any],
) -> dict[str, Any]:
    """Return the /system object for the current state."""
    now = local_now(state.now)
    boot = local_now(state.boot_wall)
    cloud = settings["services"]["cloud"]
    licence: dict[str, Any] = {"type": cfg.licence}
    if cfg.licence != "FREE":
        licence["activation_date"] = ACTIVATION_DATE
    mystrom = bool(cloud["mystrom"]) and cfg.licence != "FREE"
    return {
        "device": {
            "name": settings["system"]["name"],
            "id": cfg.device_id,
            "model": MODEL,
            "firmware": cfg.firmware,
            "build": BUILD,
            "upgrade_capable": True,
            "date": now.strftime("%Y-%m-%d"),
            "time": now.strftime("%H:%M:%S"),
            "time_since_boot": int(state.uptime),
            "last_reboot": {"date": boot.strftime("%Y-%m-%d"), "time": boot.strftime("%H:%M:%S")},
            "plug": dict(profile.plug),
            "license": licence,
        },
        "clouds": {
            "whatwatt": {
                "enabled": cloud["what_watt"],
                "connected": cloud["what_watt"],
                "registered": True,
            },
            "mystrom": {"enabled": mystrom, "status": "CONNECTED" if mystrom else "DISABLED"},
            "solar_manager": {
                "enabled": cloud["solar_manager"],
                "connected": cloud["solar_manager"],
            },
            "mqtc": {"enabled": False, "connected": False},
            "stromkonto": {"enabled": cloud["stromkonto"], "connected": cloud["stromkonto"]},
        },
        "services": {"berry": {"execution_status": {"state": "IDLE"}}},
        "meter": _meter(cfg, profile, state, meter_settings),
        "wifi": {
            "ssid": "sjj",
            "bssid": "DC15C84FBAB6",
            "channel": 13,
            "ht": "20",
            "rssi": -29,
            "signal": 100,
            "auth_mode": "WPA2-WPA3",
            "pairwise_cipher": "CCMP",
            "group_cipher": "CCMP",
            "phy": "bgn",
            "wps": False,
            "country": "CH",
            "mac": cfg.device_id,
            "ip": _ip(state.host, "192.168.99.114"),
            "mask": "255.255.255.0",
            "gateway": "192.168.99.1",
            "dns": "192.168.0.1",
            "status": "OK",
            "mode": "STA",
        },
        "ethernet": {
            "mac": _ethernet_mac(cfg.device_id),
            "status": "Up" if cfg.ethernet_up else "Down",
            "ip": "192.168.0.40" if cfg.ethernet_up else "0.0.0.0",  # noqa: S104
            "mask": "255.255.255.0",
            "gateway": "192.168.0.1",
            "dns": "192.168.0.1",
        },
        "sd_card": {"installed": True, "type": "SDHC/SDXC", "size": 7618, "speed": 20},
    }
