"""Async client for the whatwatt Go local API (no Home Assistant imports).

Typed, small, with its own exceptions and an injected ``aiohttp.ClientSession``::

    client = WhatwattClient("192.168.1.20", session, password="secret")
    info = await client.system()
    async with contextlib.aclosing(client.live(stale_after=60)) as events:
        async for event in events:
            print(event.measurements.power_in)
"""

from __future__ import annotations

from .auth import AuthScheme
from .client import DEFAULT_PORT, WhatwattClient, device_url
from .exceptions import (
    WhatwattAuthError,
    WhatwattConnectionError,
    WhatwattError,
    WhatwattLicenseRequired,
    WhatwattNotApplied,
    WhatwattResponseError,
    WhatwattScalersNotApplied,
    WhatwattSettingNotApplied,
    WhatwattStreamStale,
    WhatwattStreamTakenOver,
    WhatwattTimeoutError,
    WhatwattValidationError,
)
from .meter_settings import MeterSettings
from .models import LiveEvent, Measurements, Report, ReportMeter, ReportSystem, Volume
from .scalers import Scaler
from .system_info import (
    DeviceLicense,
    DevicePlug,
    LastReboot,
    SystemDevice,
    SystemEthernet,
    SystemInfo,
    SystemMeter,
    SystemWifi,
)

__all__ = [
    "DEFAULT_PORT",
    "AuthScheme",
    "DeviceLicense",
    "DevicePlug",
    "LastReboot",
    "LiveEvent",
    "Measurements",
    "MeterSettings",
    "Report",
    "ReportMeter",
    "ReportSystem",
    "Scaler",
    "SystemDevice",
    "SystemEthernet",
    "SystemInfo",
    "SystemMeter",
    "SystemWifi",
    "Volume",
    "WhatwattAuthError",
    "WhatwattClient",
    "WhatwattConnectionError",
    "WhatwattError",
    "WhatwattLicenseRequired",
    "WhatwattNotApplied",
    "WhatwattResponseError",
    "WhatwattScalersNotApplied",
    "WhatwattSettingNotApplied",
    "WhatwattStreamStale",
    "WhatwattStreamTakenOver",
    "WhatwattTimeoutError",
    "WhatwattValidationError",
    "device_url",
]
