"""Options flow step "Prices": an import price per tariff, and the export (feed-in) price.

Nothing here goes to the device.  The prices are stored in the entry's options, in Home
Assistant's currency per kWh.  A change of values applies at once, without a reload (the live
stream goes on): the price sensors are told.  Setting a price for the first time, or clearing
one, adds or removes its sensor, and the entry reloads for that.
"""

from __future__ import annotations

from typing import Any, Final

from homeassistant.config_entries import ConfigFlowContext, ConfigFlowResult
from homeassistant.const import UnitOfEnergy
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.selector import NumberSelector, NumberSelectorConfig, NumberSelectorMode
import probatio

from .prices import MAX_PRICE, OPTION_PRICES, TARIFFS, Prices, signal_prices
from .settings_flow import ShownNotEnforced, WhatwattFlow

STEP_PRICES: Final = "prices"
EXPORT: Final = "export"


def import_field(tariff: int) -> str:
    """The form field of the import price of ``tariff`` (``import_t1``)."""
    return f"import_t{tariff}"


class _Price(ShownNotEnforced, NumberSelector):
    """A price box; the step checks the value (a clear error, nothing stored)."""


def prices_schema(currency: str) -> probatio.Schema:
    """The form: the import price of each tariff, the export price; all may stay empty."""
    price = _Price(
        NumberSelectorConfig(
            min=0,
            max=MAX_PRICE,
            step="any",
            mode=NumberSelectorMode.BOX,
            unit_of_measurement=f"{currency}/{UnitOfEnergy.KILO_WATT_HOUR}",
        )
    )
    fields = [import_field(tariff) for tariff in TARIFFS] + [EXPORT]
    return probatio.Schema({probatio.Optional(field): price for field in fields})


def checked_prices(user_input: dict[str, Any]) -> Prices | tuple[str, str]:
    """The prices entered, or the field and the form error (a translation key)."""
    values: dict[str, float] = {}
    for field in [import_field(tariff) for tariff in TARIFFS] + [EXPORT]:
        value = user_input.get(field)
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            return field, "price_invalid"
        if not 0 <= value <= MAX_PRICE:
            return field, "price_invalid"
        values[field] = float(value)
    imports = {t: values[import_field(t)] for t in TARIFFS if import_field(t) in values}
    if imports and 1 not in imports:
        return import_field(1), "price_t1_required"
    return Prices(imports=imports, export=values.get(EXPORT))


class WhatwattPriceSteps(WhatwattFlow[ConfigFlowContext, ConfigFlowResult]):
    """The prices step of the options flow."""

    automatic_reload: bool = True

    async def async_step_prices(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show the prices set; store the ones entered."""
        entry = self._entry()
        currency = self.hass.config.currency
        errors: dict[str, str] = {}
        if user_input is not None:
            checked = checked_prices(user_input)
            if isinstance(checked, Prices):
                before = Prices.from_options(entry.options)
                options = {**entry.options, OPTION_PRICES: checked.as_options()}
                if (before.has_import, before.has_export) == (
                    checked.has_import,
                    checked.has_export,
                ):
                    # Only values changed: the sensors take them now, the stream goes on.
                    self.automatic_reload = False
                    self.hass.config_entries.async_update_entry(entry, options=options)
                    async_dispatcher_send(self.hass, signal_prices(entry.entry_id))
                return self.async_create_entry(data=options)
            field, error = checked
            errors[field] = error
        prices = Prices.from_options(entry.options)
        suggested = user_input or {
            **{import_field(t): price for t, price in prices.imports.items()},
            **({EXPORT: prices.export} if prices.export is not None else {}),
        }
        return self.async_show_form(
            step_id=STEP_PRICES,
            data_schema=self.add_suggested_values_to_schema(prices_schema(currency), suggested),
            errors=errors,
            description_placeholders={"currency": currency},
        )
