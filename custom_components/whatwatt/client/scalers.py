"""The meter scalers of a whatwatt Go (``/api/v1/meter/scalers/custom`` and ``/current``).

This module is the single source of truth for a scaler row: its two fields (named as the API
names them), what each accepts, and the reason codes of a rejection.  The client validates a
list with it before sending anything; the Home Assistant side derives the list editor of the
options flow and of the ``set_custom_scalers`` action, and ``services.yaml``, from ``FIELDS``.
Nothing else lists these rules.

The rules (vendor page "Custom Meter Scalers", scalers-custom.md; DIGEST §7.2):

* ``obis``: ``C.D.E``, C and D 0..254, E 0..255; E = 255 is a wildcard for every E
  (``1.8.255`` covers 1.8.0, 1.8.1, ...).  Each part is 1 to 3 digits; spaces around the code
  are ignored.  The code is sent in its canonical form, without leading zeros: ``01.8.0`` is
  sent as ``1.8.0``, so what the device stores and reads back does not depend on how it
  treats leading zeros (the page does not say).
* ``scaler``: an integer -6..6, the power of ten the raw value is multiplied by.  A whole
  number given as a float (``3.0``, what number selectors and templates give) counts.
* No OBIS code twice, compared in canonical form (``01.8.0`` repeats ``1.8.0``).  The page
  does not say; the list maps each code to one scaler, so a repeat would be ambiguous.
* No maximum count: the pages document none.  (The emulator refuses more than 64 rows; that is
  its own choice, not the device's.)  A device that refuses a list answers 400.
* POST replaces the whole list; an empty list clears it.

A rejection is a WhatwattValidationError whose ``field`` names the row as a path
(``scalers.2.obis``: the third row's OBIS code) and whose ``reason`` is one of ``Reason``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
import math
import re
from typing import Any, Final

from . import _parse as p
from .exceptions import InvalidValue, WhatwattValidationError

LIST_FIELD: Final = "scalers"
"""The name of the whole list (the action's field; the root of every row's path)."""
OBIS_LIMITS: Final = (254, 254, 255)
"""The largest C, D and E."""
WILDCARD: Final = 255
"""E = 255 stands for every E."""
SCALER_MIN: Final = -6
SCALER_MAX: Final = 6
_OBIS_RE: Final = re.compile(r"([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})")


class Reason(StrEnum):
    """Why a scaler list was refused; stable codes usable as translation keys."""

    MISSING_FIELD = "missing_field"
    """The list, or a row's ``obis`` or ``scaler``, is not given (or empty)."""
    NOT_A_LIST = "not_a_list"
    """The scalers are not a list."""
    INVALID_ENTRY = "invalid_entry"
    """A row is not an object."""
    EXTRA_FIELD = "extra_field"
    """A row has a field other than ``obis`` and ``scaler``."""
    INVALID_OBIS = "invalid_obis"
    """The OBIS code is not ``C.D.E`` (text, three parts of 1 to 3 digits)."""
    OUT_OF_RANGE = "out_of_range"
    """A part of the OBIS code, or the scaler, is outside its range."""
    INVALID_TYPE = "invalid_type"
    """The scaler is not a whole number."""
    DUPLICATE_OBIS = "duplicate_obis"
    """The OBIS code is already in an earlier row (``allowed`` names that row's field)."""


@dataclass(frozen=True, kw_only=True)
class ScalerField:
    """What the device accepts for one field of a scaler row."""

    key: str
    allowed: str
    """The accepted values, for error messages."""
    example: Any
    check: Callable[[Any], Any]
    """Return the normalised value; raise ``InvalidValue(reason)``."""
    minimum: int | None = None
    """The smallest value of a numeric field (``None``: the field is text)."""
    maximum: int | None = None


def canonical_obis(value: Any) -> str:
    """Return an OBIS code in canonical form (``01.8.0`` is ``1.8.0``); raise InvalidValue."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidValue(Reason.MISSING_FIELD)
    match = _OBIS_RE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise InvalidValue(Reason.INVALID_OBIS)
    parts = [int(part) for part in match.groups()]
    if any(part > limit for part, limit in zip(parts, OBIS_LIMITS, strict=True)):
        raise InvalidValue(Reason.OUT_OF_RANGE)
    return ".".join(map(str, parts))


def _check_scaler(value: Any) -> int:
    if value is None:
        raise InvalidValue(Reason.MISSING_FIELD)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValue(Reason.INVALID_TYPE)
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise InvalidValue(Reason.INVALID_TYPE)
    if not SCALER_MIN <= value <= SCALER_MAX:
        raise InvalidValue(Reason.OUT_OF_RANGE)
    return int(value)


FIELDS: Final = (
    ScalerField(
        key="obis",
        allowed=f"C.D.E: C and D 0..{OBIS_LIMITS[0]}, E 0..{OBIS_LIMITS[2]} ({WILDCARD}: every E)",
        example="1.8.255",
        check=canonical_obis,
    ),
    ScalerField(
        key="scaler",
        allowed=f"{SCALER_MIN}..{SCALER_MAX}",
        example=3,
        check=_check_scaler,
        minimum=SCALER_MIN,
        maximum=SCALER_MAX,
    ),
)
"""The fields of a scaler row, in API order."""
KEYS: Final = tuple(spec.key for spec in FIELDS)
ROW_ALLOWED: Final = "an object with " + " and ".join(KEYS)
EXAMPLE: Final = [{spec.key: spec.example for spec in FIELDS}]
"""A one-row list (the vendor's own "every positive active energy register" example)."""


@dataclass(frozen=True, kw_only=True)
class Scaler:
    """A power-of-ten scaler for one OBIS code (``C.D.E``): physical = raw x 10^scaler."""

    obis: str
    scaler: int
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def list_from(cls, data: Any) -> list[Scaler]:
        """Read a scaler list; entries without an OBIS code or an integral scaler are skipped."""
        scalers = []
        for item in p.objects(data):
            obis, scaler = p.string(item.get("obis")), p.integer(item.get("scaler"))
            if obis is not None and scaler is not None:
                scalers.append(cls(obis=obis, scaler=scaler, raw=dict(item)))
        return scalers

    def as_dict(self) -> dict[str, Any]:
        """Return the wire form."""
        return {"obis": self.obis, "scaler": self.scaler}


def row_field(index: int, key: str | None = None) -> str:
    """Return the path of row ``index`` (0-based), or of one of its fields."""
    return ".".join(map(str, (LIST_FIELD, index, *(() if key is None else (key,)))))


def validate(rows: Any) -> list[Scaler]:
    """Validate a whole custom scaler list; return it normalised, in the given order.

    ``rows`` is a list of mappings or Scalers.  Raises WhatwattValidationError naming the first
    bad row and field (in list order, then field order) and why.
    """
    if rows is None:
        raise WhatwattValidationError(LIST_FIELD, Reason.MISSING_FIELD, "a list of scalers")
    if isinstance(rows, str | bytes | Mapping) or not isinstance(rows, Iterable):
        raise WhatwattValidationError(LIST_FIELD, Reason.NOT_A_LIST, "a list of scalers")
    checked: list[Scaler] = []
    seen: dict[str, int] = {}
    for index, row in enumerate(rows):
        scaler = _validate_row(index, row.as_dict() if isinstance(row, Scaler) else row)
        if scaler.obis in seen:
            raise WhatwattValidationError(
                row_field(index, "obis"),
                Reason.DUPLICATE_OBIS,
                row_field(seen[scaler.obis], "obis"),
            )
        seen[scaler.obis] = index
        checked.append(scaler)
    return checked


def _validate_row(index: int, row: Any) -> Scaler:
    if not isinstance(row, Mapping):
        raise WhatwattValidationError(row_field(index), Reason.INVALID_ENTRY, ROW_ALLOWED)
    checked: dict[str, Any] = {}
    for spec in FIELDS:  # in field order: the first bad field is the one named
        try:
            checked[spec.key] = spec.check(row.get(spec.key))  # missing: None, refused as such
        except InvalidValue as err:
            raise WhatwattValidationError(
                row_field(index, spec.key), err.reason, spec.allowed
            ) from None
    if extra := next((key for key in row if key not in KEYS), None):
        raise WhatwattValidationError(
            row_field(index, str(extra)), Reason.EXTRA_FIELD, ", ".join(KEYS)
        )
    return Scaler(obis=checked["obis"], scaler=checked["scaler"])


def same_scalers(one: Sequence[Scaler], other: Sequence[Scaler]) -> bool:
    """Tell whether two scaler lists say the same (a list sent and the one read back).

    Order does not matter (the device may keep the rows in its own order); OBIS codes are
    compared in canonical form where they have one (``01.8.0`` is ``1.8.0``).
    """
    return sorted(_pairs(one)) == sorted(_pairs(other))


def _pairs(scalers: Iterable[Scaler]) -> list[tuple[str, int]]:
    pairs = []
    for scaler in scalers:
        try:
            obis = canonical_obis(scaler.obis)
        except InvalidValue:
            obis = scaler.obis
        pairs.append((obis, scaler.scaler))
    return pairs
