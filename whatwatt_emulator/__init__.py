"""A faithful emulator of the whatwatt Go smart-meter gateway's local HTTP API.

Real HTTP, Digest/Basic auth, SSE and mDNS, with fault injection, for tests, the dev loop,
benchmarks and anyone who wants to try the integration without hardware.  No Home Assistant
imports.  See README.md.
"""

from __future__ import annotations

from .config import EmulatorConfig
from .emulator import METER_STATUSES, Emulator
from .faults import Faults
from .log import LoggedRequest

__all__ = ["METER_STATUSES", "Emulator", "EmulatorConfig", "Faults", "LoggedRequest"]
