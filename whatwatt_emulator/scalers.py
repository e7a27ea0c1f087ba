"""Meter scalers (``/api/v1/meter/scalers/current`` and ``/custom``) and their effect."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import math
import re
from typing import Any, Final

from .meter_schema import SettingsError
from .profiles import CURRENT_ORDER, LEAVES, LGE570_SCALERS, NATIVE_SCALERS, Profile

_OBIS_RE: Final = re.compile(r"([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})")  # ASCII digits only
MAX_CUSTOM: Final = 64


def _bad(index: int, reason: str, message: str) -> SettingsError:
    return SettingsError(reason, f"Entry {index}: {message}", {"index": index, "reason": reason})


def validate_custom(body: Any) -> list[dict[str, Any]]:
    """Check a POST body: a list of ``{"obis": "C.D.E", "scaler": -6..6}``; raise SettingsError.

    C and D are 0..254, E is 0..255 (255 = every E).  The same OBIS twice is refused.
    """
    if not isinstance(body, list):
        raise SettingsError("invalid_body", "The body must be a JSON array", {})
    if len(body) > MAX_CUSTOM:
        raise SettingsError("too_many", f"At most {MAX_CUSTOM} scalers", {"max": MAX_CUSTOM})
    result: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, item in enumerate(body):
        if not isinstance(item, dict) or set(item) != {"obis", "scaler"}:
            raise _bad(index, "invalid_entry", "expected exactly the keys obis and scaler")
        obis, scaler = item["obis"], item["scaler"]
        match = _OBIS_RE.fullmatch(obis) if isinstance(obis, str) else None
        if match is None:
            raise _bad(index, "invalid_obis", "obis must be C.D.E")
        c, d, e = (int(part) for part in match.groups())
        if c > 254 or d > 254 or e > 255:
            raise _bad(index, "invalid_obis", "obis out of range 0..254.0..254.0..255")
        if isinstance(scaler, float) and math.isfinite(scaler) and scaler.is_integer():
            scaler = int(scaler)
        if isinstance(scaler, bool) or not isinstance(scaler, int):
            raise _bad(index, "invalid_type", "scaler must be an integer")
        if not -6 <= scaler <= 6:
            raise _bad(index, "out_of_range", "scaler must be -6..6")
        canonical = f"{c}.{d}.{e}"
        if canonical in seen:
            raise _bad(index, "duplicate_obis", "the same obis is given twice")
        seen.add(canonical)
        result.append({"obis": canonical, "scaler": scaler})
    return result


def _custom_lookup(custom: Sequence[Mapping[str, Any]], obis: str) -> int | None:
    exact = {entry["obis"]: entry["scaler"] for entry in custom}
    if obis in exact:
        return int(exact[obis])
    c, d, _e = obis.split(".")
    wildcard = exact.get(f"{c}.{d}.255")
    return None if wildcard is None else int(wildcard)


def applied_scaler(scalers_set: str, custom: Sequence[Mapping[str, Any]], obis: str) -> int:
    """Return the scaler the gateway applies to an OBIS code under a scalers_set."""
    native = NATIVE_SCALERS.get(obis, 0)
    if scalers_set == "lge570":
        return LGE570_SCALERS.get(obis, native)
    if scalers_set == "custom":
        override = _custom_lookup(custom, obis)
        return native if override is None else override
    return native


def current(
    profile: Profile, scalers_set: str, custom: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Return the scalers in use (DLMS meters only; ``[]`` for others)."""
    if not profile.dlms:
        return []
    return [
        {"obis": obis, "scaler": applied_scaler(scalers_set, custom, obis)}
        for obis in CURRENT_ORDER
    ]


def factors(
    profile: Profile, scalers_set: str, custom: Sequence[Mapping[str, Any]], conv_factor: float
) -> dict[str, float]:
    """Return leaf -> multiplier: conv_factor on power/energy/current, scaler errors on DLMS.

    A DLMS meter sends raw register values with its own scalers; the gateway multiplies by
    10^(scaler it applies).  A wrong scaler therefore shows up as a power of ten.
    """
    result: dict[str, float] = {}
    for leaf in profile.leaves:
        _path, _key, obis, scaled = LEAVES[leaf]
        factor = conv_factor if scaled else 1.0
        if profile.dlms:
            factor *= 10.0 ** (applied_scaler(scalers_set, custom, obis) - NATIVE_SCALERS[obis])
        result[leaf] = factor
    return result
