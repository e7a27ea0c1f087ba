"""The meter link assistant: which step to offer next, from the meter status and the settings.

Getting a meter to talk to the gateway takes the right interface, protocol and serial
parameters, sometimes an inverted receive line, and the key of an encrypting meter.  The
assistant offers one step at a time, the one that fits the status the gateway reports:

1. a key is missing or wrong: enter the key (and the authentication key if the meter uses one);
2. the meter is not found or not understood: let the gateway detect it (interface type,
   protocol and interface mode back to automatic, automatic baud rate on);
3. connected but no data (or not recognised although detected): switch the receive line's
   inversion, or the serial parameters of a usual meter family;
4. and always: nothing worked, put back the settings from before the assistant started.

Each step changes only the fields it names (``changes``); the flow writes them as one PUT and
checks the link.  Pure: no Home Assistant import.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Final

from .client import MeterSettings
from .client.meter_settings import READABLE_KEYS
from .const import METER_KEY_STATUSES, METER_STATUS_OK, METER_STATUS_RECOGNITION

NO_FRAMES: Final = frozenset({"NO DATA", METER_STATUS_RECOGNITION})
"""Statuses of a meter that is connected but sends nothing the gateway can read."""


class Offer(StrEnum):
    """A step the assistant can offer (also the flow's step and the menu option)."""

    ENTER_KEY = "enter_key"
    DETECT = "detect"
    INVERT_RX = "invert_rx"
    SERIAL = "serial"
    GIVE_UP = "give_up"
    """Nothing worked: the settings from before the assistant, in one PUT."""


SERIAL_FAMILIES: Final[Mapping[str, Mapping[str, Any]]] = {
    "dsmr_4_5": {"auto_baudrate": False, "baudrate": 115200, "parity": "none", "stop_bits": "1"},
    "dsmr_2_3": {"auto_baudrate": False, "baudrate": 9600, "parity": "even", "stop_bits": "1"},
    "mbus": {"auto_baudrate": False, "baudrate": 2400, "parity": "even", "stop_bits": "1"},
}
"""The serial parameters of the usual meter families, used as set (automatic baud rate off):
DSMR 4/5 115200 8N1, DSMR 2/3 9600 7E1 (the data bits are not a setting), M-Bus 2400 8E1."""
DETECTED: Final[Mapping[str, Any]] = {
    "if_type": "auto",
    "protocol": "auto",
    "if_mode": "auto",
    "auto_baudrate": True,
}
"""What the gateway detects by itself when left to: interface, protocol, mode, baud rate."""


def differing(settings: MeterSettings, wanted: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of ``wanted`` the device reports another value for (only those are sent)."""
    return {
        key: value
        for key, value in wanted.items()
        if (now := getattr(settings, key, None)) is not None and now != value
    }


def detect_changes(settings: MeterSettings) -> dict[str, Any]:
    """Interface type, protocol and interface mode back to auto, automatic baud rate on."""
    return differing(settings, DETECTED)


def family_changes(settings: MeterSettings, family: str) -> dict[str, Any]:
    """The serial parameters of ``family`` that differ from the device's."""
    return differing(settings, SERIAL_FAMILIES[family])


def invert_changes(settings: MeterSettings) -> dict[str, Any]:
    """The receive line the other way round."""
    return {} if settings.rx_invert is None else {"rx_invert": not settings.rx_invert}


def restore_changes(settings: MeterSettings, original: MeterSettings) -> dict[str, Any]:
    """The readable settings from before the assistant that differ now.

    One PUT puts them back; keys are write-only and stay as they are.
    """
    return differing(settings, {key: getattr(original, key) for key in READABLE_KEYS})


def offers(status: str | None, settings: MeterSettings) -> list[Offer]:
    """The steps that fit ``status`` now, the likeliest first; ``give_up`` always comes last.

    * A key status: the gateway reads the meter's frames and lacks the key to them.
    * Not connected or not understood (or no status known): detection, while something is
      not detected automatically; after that, the receive line and the serial parameters.
    * Connected but nothing readable: the receive line and the serial parameters, which
      detection does not find; detection too while something is fixed, first when it is the
      interface, protocol or mode (a polled push meter says nothing), last when it is only
      the baud rate (a family fixes the baud rate on purpose).
    Nothing while the status is OK.
    """
    if status == METER_STATUS_OK:
        return []
    if status in METER_KEY_STATUSES:
        return [Offer.ENTER_KEY, Offer.GIVE_UP]
    detect = detect_changes(settings)
    line = [Offer.INVERT_RX] if invert_changes(settings) else []
    line.append(Offer.SERIAL)
    if status not in NO_FRAMES:
        steps = [Offer.DETECT] if detect else line
    elif set(detect) - {"auto_baudrate"}:
        steps = [Offer.DETECT, *line]
    else:
        steps = [*line, Offer.DETECT] if detect else line
    return [*steps, Offer.GIVE_UP]


SHOWN: Final = ("if_type", "protocol", "if_mode", "auto_baudrate", "baudrate", "parity",
                 "stop_bits", "rx_invert", "encryption")  # fmt: skip
"""The settings the assistant shows: interface, protocol and serial, and encryption."""
