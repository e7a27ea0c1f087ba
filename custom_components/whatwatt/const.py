"""Constants of the whatwatt Go integration."""

from __future__ import annotations

from datetime import timedelta
import logging
from typing import Final

DOMAIN: Final = "whatwatt"
LOGGER: Final = logging.getLogger(__package__)

MANUFACTURER: Final = "whatwatt"
DEFAULT_NAME: Final = "whatwatt Go"

ZEROCONF_TYPE_GATEWAY: Final = "100"
"""TXT ``type`` of a whatwatt Go (``_http._tcp`` is generic: anything else is not ours)."""

# Slow polls: the gateway may run on meter power and the vendor asks to call it sparingly.
SYSTEM_INTERVAL: Final = timedelta(minutes=5)
SYSTEM_INTERVAL_METER_PROBLEM: Final = timedelta(minutes=1)
"""While the meter link is not OK (e.g. a DLMS key is missing) look a little more often, so a
fixed problem disappears from the UI within a minute."""
METER_SETTINGS_INTERVAL: Final = timedelta(minutes=10)
SYSTEM_READ_COOLDOWN: Final = 5.0
"""Reads of the system information asked for at once (data stopped, device back, a reboot, the
link check) come at most this often: the system coordinator's debouncer."""
POLL_RETRY_SECONDS: Final = 60.0
"""After a failed poll, the next one comes this soon (not a whole interval later)."""

# Live stream.
STALE_MIN_SECONDS: Final = 30.0
STALE_REPORT_FACTOR: Final = 3.0
DEFAULT_REPORT_INTERVAL: Final = 10.0
"""Live data is lost after max(30 s, 3 x the meter's report interval) without an event
(``live.lost_after``); the report interval is this while the device has not said it."""
RETRY_MIN_SECONDS: Final = 1.0
RETRY_MAX_SECONDS: Final = 60.0
REBOOT_TOLERANCE_SECONDS: Final = 60.0
"""Boot instants (now - uptime) closer than this are the same boot: the stream sends the
uptime in hours with two decimals (36 s), the system information in whole seconds."""
TAKEOVER_LIMIT: Final = 3
"""Consecutive streams lost to another client before backing off longer and telling the user."""
TAKEOVER_RETRY_SECONDS: Final = 300.0
REPORT_POLL_MIN_SECONDS: Final = 10.0
"""Fallback polling of ``/api/v1/report`` (PLUS/PRO) while the stream is down."""
FIRST_DATA_TIMEOUT: Final = 10.0
"""How long setup waits for the first measurements to decide which sensors exist."""
PAID_LICENSES: Final = frozenset({"PLUS", "PRO"})

# Meter link status as the device spells it -> the enum option shown (and translated) in HA.
METER_STATUS: Final[dict[str, str]] = {
    "NOT CONNECTED": "not_connected",
    "NO DATA": "no_data",
    "RECOGNITION": "recognition",
    "OK": "ok",
    "ENCRYPTION KEY": "encryption_key",
    "KEY REQUIRED": "key_required",
    "NOT RECOGNIZED": "not_recognized",
}
METER_STATUS_OK: Final = "OK"
METER_KEY_STATUSES: Final = frozenset({"KEY REQUIRED", "ENCRYPTION KEY"})

ISSUE_METER_NOT_TALKING: Final = "meter_not_talking"
ISSUE_STREAM_TAKEN_OVER: Final = "stream_taken_over"
ISSUE_METER_LINK_LOST: Final = "meter_link_lost"
METER_STATUS_RECOGNITION: Final = "RECOGNITION"
"""Transitional: the gateway is recognising the meter (after a change or a reconnection)."""
