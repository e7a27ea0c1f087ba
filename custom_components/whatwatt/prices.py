"""Energy prices that follow the meter's tariff (for the Energy dashboard's "current price").

The user gives an import price per tariff the meter reports (T1..T4) and, optionally, a
feed-in price; the meter says which tariff runs (``T`` in the stream, ``tariff`` in the
report).  The import price is the price of the active tariff; a tariff without a price of its
own, and data without a tariff, take the T1 price.

Pure: no Home Assistant import.  Prices are in the currency Home Assistant is set to, per kWh.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .const import DOMAIN

OPTION_PRICES: Final = "prices"
"""``entry.options["prices"] = {"import": {"1": 0.31, "2": 0.22}, "export": 0.08}``."""
TARIFFS: Final = (1, 2, 3, 4)
MAX_PRICE: Final = 100.0
"""The largest price accepted per kWh (any currency's)."""


def signal_prices(entry_id: str) -> str:
    """The dispatcher signal that an entry's prices changed (they apply without a reload)."""
    return f"{DOMAIN}_{entry_id}_prices"


def _price(value: Any) -> float | None:
    """A price as stored: a number from 0 to MAX_PRICE, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if 0 <= value <= MAX_PRICE else None


@dataclass(frozen=True, kw_only=True)
class Prices:
    """The import price per tariff and the export price (None: not set)."""

    imports: Mapping[int, float] = field(default_factory=dict)
    export: float | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Prices:
        """Read the entry's options; what does not read is not set."""
        stored = options.get(OPTION_PRICES)
        if not isinstance(stored, Mapping):
            return cls()
        imports = stored.get("import")
        return cls(
            imports={
                tariff: price
                for tariff in TARIFFS
                if isinstance(imports, Mapping)
                and (price := _price(imports.get(str(tariff)))) is not None
            },
            export=_price(stored.get("export")),
        )

    def as_options(self) -> dict[str, Any]:
        """The form kept in the entry's options."""
        return {
            "import": {str(tariff): price for tariff, price in sorted(self.imports.items())},
            "export": self.export,
        }

    @property
    def has_import(self) -> bool:
        """Whether there is an import price (T1 is the one every tariff falls back on)."""
        return 1 in self.imports

    @property
    def has_export(self) -> bool:
        """Whether there is an export price."""
        return self.export is not None

    def import_price(self, tariff: int | None) -> float | None:
        """The import price while ``tariff`` runs (T1's for none, or one without a price)."""
        if tariff is not None and tariff in self.imports:
            return self.imports[tariff]
        return self.imports.get(1)
