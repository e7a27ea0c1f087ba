"""General device settings (``/api/v1/settings``): table, validation, PUT merge, POST reset."""

from __future__ import annotations

from collections.abc import Mapping
import copy
import ipaddress
import re
from typing import Any, Final

from .meter_schema import SettingsError

_HOST_RE: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_-]{0,29}[A-Za-z0-9])?")
_LABEL_RE: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")

# path -> (kind, default, minimum, maximum, max length)
Spec = tuple[str, Any, int | None, int | None, int | None]
SPECS: Final[Mapping[tuple[str, ...], Spec]] = {
    ("system", "name"): ("str", "", None, None, 31),
    ("system", "host_name"): ("host", "", None, None, 31),  # default filled in per device
    ("system", "protection"): ("bool", False, None, None, None),
    ("system", "password"): ("str", "", None, None, 31),
    ("system", "power_save"): ("bool", False, None, None, None),
    ("system", "p1_wifi_boost"): ("bool", True, None, None, None),
    ("system", "use_dhcp_ntp_server"): ("bool", False, None, None, None),
    ("system", "custom_ntp_server"): ("ntp", "", None, None, 127),
    ("system", "use_custom_ntp_server"): ("bool", False, None, None, None),
    ("services", "cloud", "what_watt"): ("bool", True, None, None, None),
    ("services", "cloud", "solar_manager"): ("bool", False, None, None, None),
    ("services", "cloud", "mystrom"): ("bool", True, None, None, None),
    ("services", "cloud", "stromkonto"): ("bool", False, None, None, None),
    ("services", "local", "solar_manager"): ("bool", False, None, None, None),
    ("services", "broadcast"): ("bool", True, None, None, None),
    ("services", "other_energy_provider"): ("bool", False, None, None, None),
    ("services", "report_interval"): ("uint", 30, 1, 3600, None),
    ("services", "low_power_report"): ("bool", False, None, None, None),
    ("services", "log"): ("bool", False, None, None, None),
    ("services", "meter_proxy"): ("bool", False, None, None, None),
    ("services", "sd", "enable"): ("bool", False, None, None, None),
    ("services", "sd", "frequency"): ("uint", 15, 1, 1440, None),
    ("services", "sd", "recorder_mode"): ("bool", False, None, None, None),
    ("services", "modbus", "enable"): ("bool", False, None, None, None),
    ("services", "modbus", "port"): ("uint", 502, 1, 65535, None),
    ("services", "berry", "auto_run"): ("bool", False, None, None, None),
    ("services", "berry", "run_delay"): ("uint", 300, 60, 86400, None),
}
_ZERO: Final = {"str": "", "host": "", "ntp": "", "bool": False, "uint": 0}
_SECTIONS: Final = {path[:i] for path in SPECS for i in range(1, len(path))}


def _build(values: Mapping[tuple[str, ...], Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path, value in values.items():
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return tree


def default_settings(host_name: str) -> dict[str, Any]:
    """Return the factory settings of a device whose default host name is ``host_name``."""
    flat = {path: spec[1] for path, spec in SPECS.items()}
    flat["system", "host_name"] = host_name
    return _build(flat)


def _zero(spec: Spec) -> Any:
    kind, default, minimum, _maximum, _len = spec
    if kind == "uint" and minimum is not None and minimum > 0:
        return default  # 0 would break the field's own range: the factory value instead
    return _ZERO[kind]


def zero_settings() -> dict[str, Any]:
    """Return what a POST starts from: every field zero, empty or false.

    Numbers whose documented range excludes 0 (report_interval, sd.frequency, modbus.port,
    berry.run_delay) take their factory default instead (README: deviations).
    """
    return _build({path: _zero(spec) for path, spec in SPECS.items()})


def public_view(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Return what GET shows: everything except the write-only password."""
    view = copy.deepcopy(dict(settings))
    view["system"].pop("password", None)
    return view


def _valid_ntp(value: str) -> bool:
    if value == "":
        return True
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        labels = value.rstrip(".").split(".")
        return all(_LABEL_RE.fullmatch(label) for label in labels) and not value[0].isdigit()
    return True


def _check_uint(value: Any, minimum: int | None, maximum: int | None) -> str | None:
    integral = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not integral:
        return "invalid_type"
    assert minimum is not None
    assert maximum is not None
    return None if minimum <= value <= maximum else "out_of_range"


def _check_text(kind: str, value: str, max_len: int | None) -> str | None:
    assert max_len is not None
    checks = (
        (len(value) > max_len, "too_long"),
        (kind == "host" and bool(value) and not _HOST_RE.fullmatch(value), "invalid_host_name"),
        (kind == "ntp" and not _valid_ntp(value), "invalid_ntp_server"),
    )
    return next((error for failed, error in checks if failed), None)


def _check(path: tuple[str, ...], value: Any) -> str | None:
    kind, _default, minimum, maximum, max_len = SPECS[path]
    if kind == "bool":
        return None if isinstance(value, bool) else "invalid_type"
    if kind == "uint":
        return _check_uint(value, minimum, maximum)
    if not isinstance(value, str):
        return "invalid_type"
    return _check_text(kind, value, max_len)


def _flatten(
    body: Mapping[str, Any], prefix: tuple[str, ...], out: dict[tuple[str, ...], Any]
) -> dict[str, str]:
    errors: dict[str, str] = {}
    for key, value in body.items():
        path = (*prefix, key)
        if path in SPECS:
            out[path] = value
        elif path in _SECTIONS:
            if isinstance(value, dict):
                errors.update(_flatten(value, path, out))
            else:
                errors[".".join(path)] = "invalid_type"
        else:
            errors[".".join(path)] = "unknown_field"
    return errors


def _raise(errors: dict[str, str]) -> None:
    first = sorted(errors)[0]
    raise SettingsError(
        errors[first],
        f"Invalid value for '{first}': {errors[first].replace('_', ' ')}",
        {"field": first, "errors": errors},
    )


def merged(
    current: Mapping[str, Any], body: Any, *, replace: bool, ethernet_up: bool
) -> dict[str, Any]:
    """Return the settings after a PUT (merge) or POST (replace), or raise SettingsError.

    Nothing is applied when any field is bad.  The caller stores the result.
    """
    if not isinstance(body, dict):
        raise SettingsError("invalid_body", "The body must be a JSON object", {})
    flat: dict[tuple[str, ...], Any] = {}
    errors = _flatten(body, (), flat)
    for path, value in flat.items():
        if (error := _check(path, value)) is not None:
            errors[".".join(path)] = error
    if flat.get(("system", "power_save")) is True and ethernet_up:
        errors["system.power_save"] = "ethernet_link_up"
    if errors:
        _raise(errors)
    result = zero_settings() if replace else copy.deepcopy(dict(current))
    for path, value in flat.items():
        node = result
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = int(value) if SPECS[path][0] == "uint" else value
    return result
