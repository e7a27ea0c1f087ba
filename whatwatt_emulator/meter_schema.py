"""The device's own table of the 18 meter-communication settings (``/api/v1/meter/settings``).

This is the firmware side: an independent implementation of the vendor page "Meter
Communication Settings".  tests/test_emulator_schema_crosscheck.py compares it with the
integration's ``custom_components/whatwatt/client/meter_settings.py`` so the two cannot drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import math
import re
from typing import Any, Final

INT32_MIN: Final = -(2**31)
INT32_MAX: Final = 2**31 - 1
CLEAR_KEY: Final = "0" * 32
_HEX32: Final = re.compile(r"[0-9A-Fa-f]{32}")


@dataclass(frozen=True, kw_only=True)
class Field:
    """One setting: wire type, factory default and what is accepted."""

    name: str
    kind: str  # "uint" | "int" | "real" | "bool" | "enum" | "key"
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    options: tuple[str, ...] = ()

    @property
    def write_only(self) -> bool:
        """Keys are accepted but never returned by GET."""
        return self.kind == "key"

    @property
    def allowed(self) -> str:
        """Describe what is accepted, for the error body."""
        if self.options:
            return ", ".join(self.options)
        if self.kind == "key":
            return "32 hexadecimal characters"
        if self.kind == "bool":
            return "true, false"
        return f"{_fmt(self.minimum)}..{_fmt(self.maximum)}"

    def check(self, value: Any) -> tuple[str | None, Any]:
        """Return ``(error, normalised value)``; error is None when the value is accepted."""
        if self.kind == "bool":
            return (None, value) if isinstance(value, bool) else ("invalid_type", None)
        if self.kind in ("enum", "key"):
            return self._check_text(value)
        return self._check_number(value)

    def _check_text(self, value: Any) -> tuple[str | None, Any]:
        if not isinstance(value, str):
            return "invalid_type", None
        if self.kind == "key":
            return (None, value.upper()) if _HEX32.fullmatch(value) else ("invalid_key", None)
        return (None, value) if value in self.options else ("invalid_option", None)

    def _check_number(self, value: Any) -> tuple[str | None, Any]:
        integral = isinstance(value, int) or (
            isinstance(value, float) and math.isfinite(value) and value.is_integer()
        )
        finite = integral or (isinstance(value, float) and math.isfinite(value))
        if isinstance(value, bool) or not finite or (self.kind != "real" and not integral):
            return "invalid_type", None
        assert self.minimum is not None
        assert self.maximum is not None
        if not self.minimum <= value <= self.maximum:
            return "out_of_range", None
        # Integral values are written as integers: the device shows 1, not 1.0 (DIGEST C4).
        return None, int(value) if integral else value


def _fmt(value: float | None) -> str:
    return str(int(value)) if value is not None and float(value).is_integer() else str(value)


FIELDS: Final[Mapping[str, Field]] = {
    f.name: f
    for f in (
        Field(name="baudrate", kind="uint", default=115200, minimum=300, maximum=115200),
        Field(name="parity", kind="enum", default="none", options=("none", "odd", "even")),
        Field(name="stop_bits", kind="enum", default="1", options=("1", "1.5", "2")),
        Field(name="buffer_size", kind="uint", default=64, minimum=1, maximum=128),
        Field(name="method", kind="enum", default="Passive Push", options=("Passive Push",)),
        Field(name="encryption", kind="bool", default=False),
        Field(name="encryption_key", kind="key", default=""),
        Field(name="authentication_key", kind="key", default=""),
        Field(name="tx_invert", kind="bool", default=False),
        Field(name="rx_invert", kind="bool", default=False),
        Field(name="auto_baudrate", kind="bool", default=True),
        Field(
            name="if_type",
            kind="enum",
            default="auto",
            options=("auto", "p1", "mbus", "ttl", "mep", "irda", "uart", "p1_adapter", "ttl_push"),
        ),
        Field(
            name="protocol",
            kind="enum",
            default="auto",
            options=("auto", "dsmr", "hdlc", "kmp", "mep", "mbus", "mbtr"),
        ),
        Field(name="if_mode", kind="enum", default="auto", options=("auto", "push", "pull")),
        Field(name="conv_factor", kind="real", default=1, minimum=0.001, maximum=1000),
        Field(name="time_offset", kind="int", default=0, minimum=INT32_MIN, maximum=INT32_MAX),
        Field(name="sync_time_offset_with_ntp", kind="bool", default=False),
        Field(
            name="scalers_set",
            kind="enum",
            default="default",
            options=("default", "custom", "lge570"),
        ),
    )
}
"""All 18 fields in the order of the vendor page."""

SECRET_FIELDS: Final = tuple(name for name, f in FIELDS.items() if f.write_only)
READABLE_FIELDS: Final = tuple(name for name, f in FIELDS.items() if not f.write_only)
TIME_AND_SCALING_FIELDS: Final = ("conv_factor", "time_offset", "sync_time_offset_with_ntp")
"""Fields the gateway applies to the readings it already gets: a change keeps the link."""
LINK_FIELDS: Final = tuple(name for name in FIELDS if name not in TIME_AND_SCALING_FIELDS)
"""Serial port (baudrate, parity, stop_bits, buffer_size, auto_baudrate, tx/rx_invert),
interface and protocol (if_type, protocol, if_mode, method), security (encryption and both
keys) and scalers_set: the gateway reads the meter differently, so a change makes it detect
the meter again (its scalers too: scalers-current.md calls them what the device "determined
at the detection stage", overridden by the scalers_set)."""


def defaults() -> dict[str, Any]:
    """Return the factory settings (keys empty)."""
    return {name: f.default for name, f in FIELDS.items()}


class SettingsError(ValueError):
    """A request body the device rejects; carries the JSON error body."""

    def __init__(self, error: str, message: str, details: dict[str, Any]) -> None:
        """Keep the parts of the error body."""
        super().__init__(message)
        self.error = error
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        """Return ``{"error", "message", "details"}``."""
        return {"error": self.error, "message": self.message, "details": self.details}


def validate(body: Any) -> dict[str, Any]:
    """Check a PUT/POST body; return the normalised values or raise SettingsError.

    Every field is checked before anything is applied, so a body with one bad field changes
    nothing.  The error names fields and reasons only, never the rejected values (keys).
    """
    if not isinstance(body, dict):
        raise SettingsError("invalid_body", "The body must be a JSON object", {})
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name, value in body.items():
        spec = FIELDS.get(name)
        if spec is None:
            errors[name] = "unknown_field"
            continue
        error, normalised = spec.check(value)
        if error is None:
            values[name] = normalised
        else:
            errors[name] = error
    if errors:
        first = next((n for n in FIELDS if n in errors), min(errors))
        reason = errors[first]
        allowed = FIELDS[first].allowed if first in FIELDS else ", ".join(FIELDS)
        raise SettingsError(
            reason,
            f"Invalid value for '{first}': {reason.replace('_', ' ')} (allowed: {allowed})",
            {"field": first, "allowed": allowed, "errors": errors},
        )
    return values


def readable(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Return what GET shows: the 16 readable fields, never the keys."""
    return {name: settings[name] for name in READABLE_FIELDS}


def link_changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Return True when a field that makes the gateway detect the meter again has changed."""
    return any(before[name] != after[name] for name in LINK_FIELDS)


def apply_keys(values: dict[str, Any]) -> dict[str, Any]:
    """Turn a key of 32 zeros into "no key" (the documented way to clear it)."""
    for name in SECRET_FIELDS:
        if values.get(name) == CLEAR_KEY:
            values[name] = ""
    return values
