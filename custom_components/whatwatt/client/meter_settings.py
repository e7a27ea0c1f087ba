"""The meter communication settings of a whatwatt Go (``/api/v1/meter/settings``).

This module is the single source of truth for the 18 fields: their names (exactly as the API
spells them), types, ranges, allowed values, factory defaults and the section a person would
look for them in.  The client validates with it before sending anything; the Home Assistant
options flow, services and setting entities derive their forms, selectors and validation from
``SPECS``.  Nothing else lists these fields.

Source: the vendor page "Meter Communication Settings" (meter-comm.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
import logging
import math
import re
from typing import Any, Final

from .exceptions import InvalidValue, WhatwattValidationError

_LOGGER = logging.getLogger(__name__)

KEY_LENGTH: Final = 32
CLEAR_KEY: Final = "0" * KEY_LENGTH
"""Sending 32 zeros as a key clears it on the device."""
_KEY_RE: Final = re.compile(r"[0-9A-Fa-f]{32}")
OPTION_KEY_RE: Final = re.compile(r"(?!.+[_-]{2})(?![_-])[a-z0-9-_]+(?<![_-])")
"""Home Assistant's rule for translation keys (hassfest ``RE_TRANSLATION_KEY``).

Home Assistant translates a choice by its value, so every option it shows must be such a key.
"""
INT32_MIN: Final = -(2**31)
INT32_MAX: Final = 2**31 - 1


class FieldType(StrEnum):
    """How a field is typed on the wire (and so which check and which selector it gets)."""

    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    ENUM = "enum"
    KEY = "key"


class Section(StrEnum):
    """Groups a person understands; the options flow shows one section each."""

    SERIAL = "serial"
    INTERFACE = "interface"
    SECURITY = "security"
    TIME_SCALING = "time_scaling"


@dataclass(frozen=True, kw_only=True)
class SettingSpec:
    """What the device accepts for one field."""

    key: str
    type: FieldType
    section: Section
    default: Any
    options: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    unit: str | None = None
    """Unit of a numeric field, where the vendor page names one (``s``, ``B`` for bytes)."""
    write_only: bool = False

    def __post_init__(self) -> None:
        """Refuse options that would not give distinct, valid translation keys."""
        keys = self.option_keys
        if len(set(keys)) != len(keys) or not all(map(OPTION_KEY_RE.fullmatch, keys)):
            raise ValueError(f"{self.key}: options {self.options} give keys {keys}")

    @property
    def option_keys(self) -> tuple[str, ...]:
        """The options as Home Assistant offers and translates them (translation keys).

        An option that is a valid key already is its own key; another is lower-cased, with
        each run of other characters one ``_``: ``"1.5"`` is ``1_5``, ``"Passive Push"`` is
        ``passive_push``.  The device is always sent its own spelling (``device_option``).
        """
        return tuple(_option_key(option) for option in self.options)

    def option_key(self, value: str) -> str:
        """Return the translation key of device option ``value`` (another value unchanged)."""
        return _option_key(value) if value in self.options else value

    def device_option(self, value: Any) -> Any:
        """Return the device's spelling of a choice given as its key or as the device spells it.

        Any other value is returned unchanged, for ``validate`` to reject.
        """
        for option, key in zip(self.options, self.option_keys, strict=True):
            if value == key:
                return option
        return value

    @property
    def bounds(self) -> tuple[float, float]:
        """The documented range of a numeric setting (every numeric one has both bounds)."""
        if self.minimum is None or self.maximum is None:
            raise TypeError(f"{self.key} is not numeric")
        return self.minimum, self.maximum

    @property
    def allowed(self) -> str:
        """Describe the accepted values (for error messages)."""
        if self.options:
            return ", ".join(self.options)
        if self.minimum is not None:
            return f"{_number(self.minimum)}..{_number(self.maximum)}"
        if self.type is FieldType.KEY:
            return f"{KEY_LENGTH} hexadecimal characters"
        return self.type.value

    def check(self, value: Any) -> Any:
        """Return ``value`` normalised; raise InvalidValue with the reason it is refused."""
        checks: dict[FieldType, Callable[[Any], Any]] = {
            FieldType.INT: self._check_int,
            FieldType.FLOAT: self._check_float,
            FieldType.BOOL: _check_bool,
            FieldType.ENUM: self._check_enum,
            FieldType.KEY: _check_key,
        }
        return checks[self.type](value)

    def _check_range(self, value: float) -> None:
        if self.minimum is not None and value < self.minimum:
            raise InvalidValue("out_of_range")
        if self.maximum is not None and value > self.maximum:
            raise InvalidValue("out_of_range")

    def _check_int(self, value: Any) -> int:
        # Integral floats are accepted (HA number selectors and YAML give 9600.0).
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidValue("invalid_type")
        if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
            raise InvalidValue("invalid_type")
        self._check_range(value)
        return int(value)

    def _check_float(self, value: Any) -> int | float:
        if not _is_real(value):
            raise InvalidValue("invalid_type")
        self._check_range(value)
        # The device's own examples send 1, not 1.0: keep integral values integral (C4).
        return int(value) if float(value).is_integer() else float(value)

    def _check_enum(self, value: Any) -> str:
        if not isinstance(value, str):
            raise InvalidValue("invalid_type")
        if value not in self.options:
            raise InvalidValue("invalid_option")
        return value


def _option_key(option: str) -> str:
    if OPTION_KEY_RE.fullmatch(option):
        return option
    return re.sub(r"[^a-z0-9]+", "_", option.lower()).strip("_")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    """A finite JSON number (a boolean is not a number)."""
    return _is_int(value) or (isinstance(value, float) and math.isfinite(value))


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


_HAS_KIND: Final[Mapping[FieldType, Callable[[Any], bool]]] = {
    FieldType.INT: _is_int,
    FieldType.FLOAT: _is_real,
    FieldType.BOOL: _is_bool,
    FieldType.ENUM: _is_str,
    FieldType.KEY: _is_str,
}
"""The type a reported value must have for its field's kind (range and options not checked)."""
_mistyped_logged: Final[set[str]] = set()
"""Fields whose wrongly typed value has been logged (once per field per process)."""


def _reported(spec: SettingSpec, value: Any) -> bool:
    """Tell whether a reported value has its field's type; log the first mismatch per field.

    Only the type is logged, never the value.
    """
    if value is None or _HAS_KIND[spec.type](value):
        return True
    if spec.key not in _mistyped_logged:
        _mistyped_logged.add(spec.key)
        _LOGGER.debug(
            "Meter setting %s reported as %s, expected %s: treated as not reported",
            spec.key,
            type(value).__name__,
            spec.type.value,
        )
    return False


def _number(value: float | None) -> str:
    return str(int(value)) if value is not None and float(value).is_integer() else f"{value}"


def _check_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidValue("invalid_type")
    return value


def _check_key(value: Any) -> str:
    """32 hex digits, upper case; spaces are ignored (keys are often printed in groups)."""
    if not isinstance(value, str):
        raise InvalidValue("invalid_type")
    key = "".join(value.split())
    if not _KEY_RE.fullmatch(key):
        raise InvalidValue("invalid_key")
    return key.upper()


def _setting(spec: SettingSpec) -> Any:
    """Declare a readable field of MeterSettings, carrying its spec."""
    return field(default=None, metadata={"spec": spec})


_S = Section
_T = FieldType


@dataclass(frozen=True, kw_only=True)
class MeterSettings:
    """Meter settings as the device reports them (GET).

    The two DLMS keys are write-only: the device never returns them, so they are not part of
    this model.  A field the firmware did not report is ``None``.
    """

    baudrate: int | None = _setting(
        SettingSpec(key="baudrate", type=_T.INT, section=_S.SERIAL, default=115200,
                    minimum=300, maximum=115200)
    )  # fmt: skip
    parity: str | None = _setting(
        SettingSpec(key="parity", type=_T.ENUM, section=_S.SERIAL, default="none",
                    options=("none", "odd", "even"))
    )  # fmt: skip
    stop_bits: str | None = _setting(
        SettingSpec(key="stop_bits", type=_T.ENUM, section=_S.SERIAL, default="1",
                    options=("1", "1.5", "2"))
    )  # fmt: skip
    buffer_size: int | None = _setting(
        SettingSpec(key="buffer_size", type=_T.INT, section=_S.SERIAL, default=64,
                    minimum=1, maximum=128, unit="B")
    )  # fmt: skip
    method: str | None = _setting(
        SettingSpec(key="method", type=_T.ENUM, section=_S.INTERFACE, default="Passive Push",
                    options=("Passive Push",))
    )  # fmt: skip
    encryption: bool | None = _setting(
        SettingSpec(key="encryption", type=_T.BOOL, section=_S.SECURITY, default=False)
    )
    tx_invert: bool | None = _setting(
        SettingSpec(key="tx_invert", type=_T.BOOL, section=_S.SERIAL, default=False)
    )
    rx_invert: bool | None = _setting(
        SettingSpec(key="rx_invert", type=_T.BOOL, section=_S.SERIAL, default=False)
    )
    auto_baudrate: bool | None = _setting(
        SettingSpec(key="auto_baudrate", type=_T.BOOL, section=_S.SERIAL, default=True)
    )
    if_type: str | None = _setting(
        SettingSpec(key="if_type", type=_T.ENUM, section=_S.INTERFACE, default="auto",
                    options=("auto", "p1", "mbus", "ttl", "mep", "irda", "uart", "p1_adapter",
                             "ttl_push"))
    )  # fmt: skip
    protocol: str | None = _setting(
        SettingSpec(key="protocol", type=_T.ENUM, section=_S.INTERFACE, default="auto",
                    options=("auto", "dsmr", "hdlc", "kmp", "mep", "mbus", "mbtr"))
    )  # fmt: skip
    if_mode: str | None = _setting(
        SettingSpec(key="if_mode", type=_T.ENUM, section=_S.INTERFACE, default="auto",
                    options=("auto", "push", "pull"))
    )  # fmt: skip
    conv_factor: float | None = _setting(
        SettingSpec(key="conv_factor", type=_T.FLOAT, section=_S.TIME_SCALING, default=1,
                    minimum=0.001, maximum=1000)
    )  # fmt: skip
    time_offset: int | None = _setting(
        SettingSpec(key="time_offset", type=_T.INT, section=_S.TIME_SCALING, default=0,
                    minimum=INT32_MIN, maximum=INT32_MAX, unit="s")
    )  # fmt: skip
    sync_time_offset_with_ntp: bool | None = _setting(
        SettingSpec(key="sync_time_offset_with_ntp", type=_T.BOOL, section=_S.TIME_SCALING,
                    default=False)
    )  # fmt: skip
    scalers_set: str | None = _setting(
        SettingSpec(key="scalers_set", type=_T.ENUM, section=_S.TIME_SCALING, default="default",
                    options=("default", "custom", "lge570"))
    )  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MeterSettings:
        """Build from a device answer; unknown fields (newer firmware) are ignored.

        Every value has its field's type (``FieldType``): one of another type (some firmware) is
        treated as not reported, ``None``, and logged once per field at debug level.
        """
        return cls(
            **{
                spec.key: data[spec.key]
                for spec in _READABLE
                if spec.key in data and _reported(spec, data[spec.key])
            }
        )

    def as_dict(self) -> dict[str, Any]:
        """Return the reported fields, in API order, leaving out unreported ones."""
        return {key: value for key in READABLE_KEYS if (value := getattr(self, key)) is not None}


KEY_SPECS: Final = (
    SettingSpec(key="encryption_key", type=FieldType.KEY, section=Section.SECURITY,
                default=None, write_only=True),
    SettingSpec(key="authentication_key", type=FieldType.KEY, section=Section.SECURITY,
                default=None, write_only=True),
)  # fmt: skip
"""The DLMS keys: write-only, never read back, never stored by a client."""

_READABLE: Final = tuple(f.metadata["spec"] for f in fields(MeterSettings))
SPECS: Final[Mapping[str, SettingSpec]] = {
    spec.key: spec for spec in (*_READABLE[:6], *KEY_SPECS, *_READABLE[6:])
}
"""All 18 fields in the order of the vendor page."""
READABLE_KEYS: Final = tuple(spec.key for spec in _READABLE)
SECRET_KEYS: Final = tuple(spec.key for spec in KEY_SPECS)
DEFAULTS: Final[Mapping[str, Any]] = {spec.key: spec.default for spec in _READABLE}
"""Factory defaults of the readable fields (what POST resets missing fields to)."""


def validate(values: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a subset of meter settings; return the normalised values in API order.

    Raises WhatwattValidationError naming the first bad field (in API order).  Nothing
    about the rejected value is put in the error: it may be a key.
    """
    unknown = sorted(set(values) - set(SPECS))
    if unknown:
        raise WhatwattValidationError(unknown[0], "unknown_field", ", ".join(SPECS))
    checked: dict[str, Any] = {}
    for key, spec in SPECS.items():
        if key in values:
            try:
                checked[key] = spec.check(values[key])
            except InvalidValue as err:
                raise WhatwattValidationError(key, err.reason, spec.allowed) from None
    return checked


def not_applied(sent: Mapping[str, Any], read_back: MeterSettings) -> str | None:
    """Return the first sent readable field that reads back different, else None.

    Keys are write-only: the device never returns them, so they cannot be checked.  A real
    number may come back as the device's float32 (0.1 reads back as 0.10000000149).
    """
    for key, value in sent.items():
        spec = SPECS[key]
        if spec.write_only:
            continue
        got = getattr(read_back, key)
        if spec.type is FieldType.FLOAT and got is not None:
            if math.isclose(got, value, rel_tol=1e-6):
                continue
        elif got == value:
            continue
        return key
    return None


def full_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """Validate values for a full replace (POST): missing readable fields get their defaults."""
    return validate({**DEFAULTS, **values})
