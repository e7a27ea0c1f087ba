"""Tolerant readers for device JSON: a missing or mistyped leaf becomes ``None``, never 0.

Newer firmware may add fields and older firmware may leave some out; every model reads its
leaves through these helpers so neither breaks parsing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any


def obj(data: Any, *path: str) -> Mapping[str, Any]:
    """Return the object at ``path`` inside ``data``, or an empty mapping."""
    for key in path:
        data = data.get(key) if isinstance(data, Mapping) else None
    return data if isinstance(data, Mapping) else {}


def dig(data: Any, path: tuple[str, ...]) -> Any:
    """Return the value at ``path`` inside ``data``, or ``None``."""
    *parents, leaf = path
    return obj(data, *parents).get(leaf)


def objects(value: Any) -> list[Mapping[str, Any]]:
    """Return the objects of a JSON array (anything else in it is skipped)."""
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def number(value: Any) -> float | None:
    """Read a JSON number as float (booleans are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def integer(value: Any) -> int | None:
    """Read a JSON number that must be integral (``2.0`` is accepted as 2)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def string(value: Any) -> str | None:
    """Read a JSON string; the device sends ``""`` for "not known", which becomes ``None``."""
    return value if isinstance(value, str) and value else None


def boolean(value: Any) -> bool | None:
    """Read a JSON boolean."""
    return value if isinstance(value, bool) else None


def timestamp(value: Any) -> datetime | None:
    """Read an ISO 8601 timestamp (``Z`` accepted); naive when the device gave no offset."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
