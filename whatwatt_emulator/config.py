"""Configuration of one emulated whatwatt Go."""

from __future__ import annotations

from dataclasses import dataclass
import math
import re
from typing import Final, Literal

from .profiles import SCENARIOS
from .submeters import SubmetersOption, normalise as normalise_submeters

LICENCES: Final = ("FREE", "PLUS", "PRO")
METERS: Final = ("dsmr", "dlms")
DEFAULT_METER_KEY: Final = "0123456789ABCDEF0123456789ABCDEF"
_DEVICE_ID_RE: Final = re.compile(r"[0-9A-F]{12}")
_KEY_RE: Final = re.compile(r"[0-9A-Fa-f]{32}")
_FIRMWARE_RE: Final = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")

Licence = Literal["FREE", "PLUS", "PRO"]
MeterProfile = Literal["dsmr", "dlms"]


def firmware_tuple(firmware: str) -> tuple[int, int, int]:
    """Parse ``"1.10.0"`` into ``(1, 10, 0)``; raise ValueError for anything else."""
    match = _FIRMWARE_RE.fullmatch(firmware)
    if match is None:
        raise ValueError(f"firmware must look like 1.10.0, got {firmware!r}")
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def check_recognition_time(seconds: object) -> float:
    """Return ``seconds`` as a float; raise unless it is a finite number >= 0."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise TypeError("recognition_time must be a number of seconds")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError("recognition_time must be a finite number >= 0")
    return float(seconds)


@dataclass(kw_only=True)
class EmulatorConfig:
    """What the emulated device is: identity, licence, meter, timings and options.

    ``password`` sets the Web UI password at start (with ``system.protection`` on); ``None``
    means an unprotected device.  ``realm`` overrides the Digest realm, which otherwise follows
    ``system.host_name`` (``whatwatt_9F8124`` gives ``whatwatt-9F8124.local``).
    ``meter_key`` is the DLMS encryption key the simulated meter really uses: the gateway
    reads data only when its ``encryption_key`` setting matches it.
    ``recognition_time`` is how many seconds the gateway spends detecting the meter again
    after a meter-settings change that touches the link (serial port, interface, protocol,
    security or ``scalers_set``): ``meter.status`` is ``RECOGNITION`` and no data flows
    meanwhile.  ``0`` means no such phase: the new settings act at once.
    """

    device_id: str = "A842E39F8124"
    password: str | None = None
    firmware: str = "1.10.0"
    licence: str = "FREE"
    meter: str = "dsmr"
    report_interval: float = 1.0
    reboot_downtime: float = 2.0
    recognition_time: float = 0.0
    nonce_lifetime: float = 300.0
    realm: str | None = None
    admin: bool = False
    mdns: bool = False
    meter_key: str = DEFAULT_METER_KEY
    meter_auth_key: str | None = None
    digest_qop: str = "auth,auth-int"
    ethernet_up: bool = True
    log_limit: int = 10_000
    seed: int | None = None
    submeters: SubmetersOption = None
    scenario: str | None = None
    """A meter the gateway is set up wrong for (``profiles.SCENARIOS``): it sets ``meter``."""

    def __post_init__(self) -> None:
        """Normalise and check the values; raise ValueError on nonsense."""
        self.device_id = self.device_id.upper()
        if not _DEVICE_ID_RE.fullmatch(self.device_id):
            raise ValueError("device_id must be 12 hexadecimal digits")
        self.licence = self.licence.upper()
        if self.licence not in LICENCES:
            raise ValueError(f"licence must be one of {', '.join(LICENCES)}")
        self._check_meter()
        firmware_tuple(self.firmware)
        if self.report_interval <= 0:
            raise ValueError("report_interval must be positive")
        if self.reboot_downtime < 0 or self.nonce_lifetime <= 0:
            raise ValueError("reboot_downtime must be >= 0 and nonce_lifetime > 0")
        self.recognition_time = check_recognition_time(self.recognition_time)
        for key in (self.meter_key, self.meter_auth_key):
            if key is not None and not _KEY_RE.fullmatch(key):
                raise ValueError("meter keys must be 32 hexadecimal digits")
        self.meter_key = self.meter_key.upper()
        if self.meter_auth_key is not None:
            self.meter_auth_key = self.meter_auth_key.upper()
        if self.password is not None and len(self.password) > 31:
            raise ValueError("the Web UI password is at most 31 characters")
        qops = {q.strip() for q in self.digest_qop.split(",")}
        if not qops or not qops <= {"auth", "auth-int"}:
            raise ValueError("digest_qop must be auth, auth-int or both")
        if self.log_limit < 1:
            raise ValueError("log_limit must be at least 1")
        self.submeters = normalise_submeters(self.submeters)

    def _check_meter(self) -> None:
        """A scenario sets the meter profile; either must be a known one."""
        if self.scenario is not None:
            if self.scenario not in SCENARIOS:
                raise ValueError(f"scenario must be one of {', '.join(SCENARIOS)}")
            self.meter = SCENARIOS[self.scenario].meter
        if self.meter not in METERS:
            raise ValueError(f"meter must be one of {', '.join(METERS)}")

    @property
    def suffix(self) -> str:
        """Return the last 6 hex digits of the device ID (host and instance names use it)."""
        return self.device_id[-6:]

    @property
    def uses_digest(self) -> bool:
        """Firmware 1.10 and later answer Digest; older firmware answers Basic."""
        return firmware_tuple(self.firmware) >= (1, 10, 0)
