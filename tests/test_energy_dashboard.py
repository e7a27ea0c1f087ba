"""The Energy dashboard, complete: prices that follow the meter's tariff, flow rates of the gas
and water meters, and every entity accepted by the dashboard's own validation.

Against the emulator on a frozen clock, Home Assistant in the meter's zone (Europe/Zurich) and
currency (CHF).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNAVAILABLE, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.whatwatt.const import DOMAIN
from custom_components.whatwatt.flow_rate import FlowRate
from custom_components.whatwatt.prices import Prices
from whatwatt_emulator import Emulator
from whatwatt_emulator.pytest_plugin import EmulatorFactory

from .integration_common import async_pass_time
from .settings_common import loaded

ZURICH = ZoneInfo("Europe/Zurich")
IMPORT_PRICE = "sensor.whatwatt_go_9f8124_meter_import_price"
EXPORT_PRICE = "sensor.whatwatt_go_9f8124_meter_export_price"
TARIFF = "sensor.whatwatt_go_9f8124_meter_active_tariff"
GAS_FLOW = "sensor.gas_meter_flow_rate_calculated"
WATER_FLOW = "sensor.water_meter_flow_rate_calculated"


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZURICH)


# --- flow rates, pure --------------------------------------------------------------------


def test_the_flow_of_a_gas_meter_read_every_five_minutes() -> None:
    """0.05 m³ in 5 minutes is 0.6 m³/h; the same reading again changes nothing; a missed
    reading averages over the longer interval (no spike); two silent intervals give 0."""
    flow = FlowRate()
    start = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
    flow.add(start, 100.0)
    assert flow.rate(start) is None
    flow.add(start + timedelta(minutes=5), 100.05)
    assert flow.rate(start + timedelta(minutes=5)) == pytest.approx(0.6)
    flow.add(start + timedelta(minutes=5), 100.05)  # repeated in the next report
    flow.add(start + timedelta(minutes=5, seconds=10), 100.05)  # stamped twice
    assert flow.rate(start + timedelta(minutes=6)) == pytest.approx(0.6)
    flow.add(start + timedelta(minutes=15), 100.15)  # the 10-minute reading was missed
    assert flow.rate(start + timedelta(minutes=15)) == pytest.approx(0.6)
    assert flow.rate(start + timedelta(minutes=24)) == pytest.approx(0.6)
    assert flow.rate(start + timedelta(minutes=25)) == 0  # two of its 5-minute intervals silent
    flow.add(start + timedelta(minutes=40), 100.0)  # a new meter: no rate until the next
    assert flow.rate(start + timedelta(minutes=40)) is None
    flow.add(start + timedelta(minutes=45), 100.1)
    assert flow.rate(start + timedelta(minutes=45)) == pytest.approx(1.2)


def test_a_reading_off_the_schedule_does_not_change_it() -> None:
    """A steady 0.6 m³/h read every 5 minutes, and once 40 s after a reading: the rate stays
    0.6 between the regular readings afterwards (the schedule stays 5 minutes)."""
    flow = FlowRate()
    start = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)

    def read(seconds: float) -> None:
        flow.add(start + timedelta(seconds=seconds), round(100 + 0.6 * seconds / 3600, 6))

    for seconds in range(0, 1800, 300):
        read(seconds)
    read(1500 + 40)  # off the schedule
    for seconds in range(1800, 3600, 300):
        read(seconds)
        assert flow.rate(start + timedelta(seconds=seconds + 299)) == pytest.approx(0.6, abs=1e-4)
    assert flow.interval == 300


# --- prices, pure -------------------------------------------------------------------------


def test_the_import_price_is_the_active_tariffs_or_t1s() -> None:
    """T1 and T2 set: T2 while it runs; T3, an unknown tariff or none take T1; odd stored
    values are not prices."""
    prices = Prices.from_options({"prices": {"import": {"1": 0.31, "2": 0.22}, "export": 0.08}})
    assert prices.import_price(2) == 0.22
    assert prices.import_price(1) == prices.import_price(3) == prices.import_price(None) == 0.31
    assert prices.export == 0.08
    assert Prices.from_options({"prices": prices.as_options()}) == prices
    odd = Prices.from_options({"prices": {"import": {"1": "0.3", "2": -1, "3": 101}}})
    assert odd == Prices()
    assert not odd.has_import
    assert not Prices.from_options({"prices": []}).has_export


# --- against the emulator -----------------------------------------------------------------


@pytest.fixture
async def meter_home(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Home Assistant in the meter's zone and currency; the clock frozen at 21:58 local."""
    await hass.config.async_set_time_zone("Europe/Zurich")
    await hass.config.async_update(currency="CHF")
    freezer.move_to(_at("2026-03-10T21:58:00"))


WATER_ON_BUS_2 = {"submeters": {"2": {"medium": "water", "unit": "m³"}}}
"""A DSMR meter's sub-meters start as gas: the user says the one on bus 2 is water."""


def _entry(emulator: Emulator, options: dict[str, Any] | None = None) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title="whatwatt Go 9F8124",
        unique_id=emulator.config.device_id,
        data={"host": emulator.host, "port": emulator.port},
        options=options or {},
    )


@pytest.fixture
async def emulator(emulator_factory: EmulatorFactory, meter_home: None) -> Emulator:
    """A DSMR meter with its gas meter (every 5 min) and a water meter (every 15 min)."""
    return await emulator_factory(report_interval=10.0, submeters="gas+water")


@pytest.fixture
async def priced(
    hass: HomeAssistant, emulator: Emulator
) -> AsyncIterator[tuple[MockConfigEntry, Emulator]]:
    """Prices for T1 and T2 and for feed-in; the sub-meter on bus 2 measures water."""
    entry = _entry(emulator, {**WATER_ON_BUS_2, "prices": {"import": {"1": 0.31, "2": 0.22},
                                                          "export": 0.08}})  # fmt: skip
    async with loaded(hass, emulator, [Platform.SENSOR], entry=entry) as entry:
        yield entry, emulator


async def test_the_import_price_follows_the_tariff_in_the_same_report(
    hass: HomeAssistant, priced: tuple[MockConfigEntry, Emulator], freezer: FrozenDateTimeFactory
) -> None:
    """The meter switches to its night tariff (T2) at 22:00: the report that says so changes
    the import price; both prices are in CHF/kWh."""
    prices_seen: list[tuple[str, str]] = []
    for _ in range(24):
        await async_pass_time(hass, freezer, 10, step=10)
        tariff, price = hass.states.get(TARIFF), hass.states.get(IMPORT_PRICE)
        assert tariff is not None
        assert price is not None
        prices_seen.append((tariff.state, price.state))
    assert ("1", "0.31") in prices_seen
    assert ("2", "0.22") in prices_seen
    assert set(prices_seen) == {("1", "0.31"), ("2", "0.22")}
    assert hass.states.get(IMPORT_PRICE).attributes["unit_of_measurement"] == "CHF/kWh"  # type: ignore[union-attr]
    assert hass.states.get(EXPORT_PRICE).state == "0.08"  # type: ignore[union-attr]


async def test_without_prices_there_are_no_price_sensors(
    hass: HomeAssistant, emulator: Emulator
) -> None:
    """No price set: no price sensor."""
    async with loaded(hass, emulator, [Platform.SENSOR]):
        assert hass.states.get(IMPORT_PRICE) is None
        assert hass.states.get(EXPORT_PRICE) is None


async def test_prices_set_in_the_options_apply_at_once_without_a_reload(
    hass: HomeAssistant,
    emulator: Emulator,
    freezer: FrozenDateTimeFactory,
    entity_registry: er.EntityRegistry,
) -> None:
    """Options → Energy prices: the first prices add their sensors (the entry reloads); a
    new value applies at once with the live stream going on (no reload); clearing the export
    price removes its sensor; a T2 price without T1 is refused on its field."""
    async with loaded(hass, emulator, [Platform.SENSOR]) as entry:
        manager = hass.config_entries.options

        async def prices(**values: Any) -> dict[str, Any]:
            flow = await manager.async_init(entry.entry_id)
            flow = await manager.async_configure(flow["flow_id"], {"next_step_id": "prices"})
            assert flow["description_placeholders"] == {"currency": "CHF"}
            return await manager.async_configure(flow["flow_id"], values)

        refused = await prices(import_t2=0.2)
        assert refused["errors"] == {"import_t1": "price_t1_required"}
        for bad in (150, -0.1, True, "0.3"):  # out of range, or not a number
            refused = await prices(import_t1=0.3, export=bad)
            assert refused["errors"] == {"export": "price_invalid"}, bad
        assert "prices" not in entry.options  # nothing stored from a refused form
        await prices(import_t1=0.3, export=0.1)
        await hass.async_block_till_done()
        assert hass.states.get(IMPORT_PRICE).state == "0.3"  # type: ignore[union-attr]
        runtime, streams = entry.runtime_data, emulator.live_connections
        await prices(import_t1=0.35, export=0.12)
        await hass.async_block_till_done()
        assert hass.states.get(IMPORT_PRICE).state == "0.35"  # type: ignore[union-attr]
        assert hass.states.get(EXPORT_PRICE).state == "0.12"  # type: ignore[union-attr]
        assert entry.runtime_data is runtime
        assert emulator.live_connections == streams
        await prices(import_t1=0.35)
        await hass.async_block_till_done()
        assert hass.states.get(EXPORT_PRICE) is None
        assert entity_registry.async_get(EXPORT_PRICE) is None
        assert entry.options["prices"] == {"import": {"1": 0.35}, "export": None}


@pytest.mark.parametrize(
    ("meter", "bus", "entity_id", "minutes", "per_hour"),
    [("dsmr", 1, GAS_FLOW, 5, 0.42), ("dlms", 2, WATER_FLOW, 15, 0.09)],
    ids=["dsmr-gas", "mbus-water"],
)
async def test_the_flow_rate_of_a_sub_meter(
    hass: HomeAssistant,
    emulator_factory: EmulatorFactory,
    meter_home: None,
    freezer: FrozenDateTimeFactory,
    meter: str,
    bus: int,
    entity_id: str,
    minutes: int,
    per_hour: float,
) -> None:
    """A DSMR gas meter read every 5 minutes, an M-Bus water meter every 15: a steady flow
    shows as itself from the second reading on (to the register's litre); a reading the meter
    missed gives no spike; when the readings stop, the flow is 0 after two of their intervals
    (the sub-meter stays available)."""
    emulator = await emulator_factory(report_interval=10.0, meter=meter, submeters="gas+water")
    emulator.set_submeter_flow(bus, per_hour)
    litre = 0.0011 / (minutes / 60)  # what one litre more or less in an interval makes
    async with loaded(hass, emulator, [Platform.SENSOR], entry=_entry(emulator, WATER_ON_BUS_2)):
        interval = minutes * 60
        await async_pass_time(hass, freezer, 2 * interval + 10, step=10)
        state = hass.states.get(entity_id)
        assert state is not None
        assert state.attributes["unit_of_measurement"] == "m³/h"
        assert state.attributes["state_class"] == "measurement"
        assert float(state.state) == pytest.approx(per_hour, abs=litre)
        emulator.set_submeter_flow(bus, per_hour, silent=True)  # one reading missed
        await async_pass_time(hass, freezer, interval, step=10)
        emulator.set_submeter_flow(bus, per_hour)
        seen: set[float] = set()
        for _ in range(int(interval / 10) + 2):
            await async_pass_time(hass, freezer, 10, step=10)
            seen.add(float(hass.states.get(entity_id).state))  # type: ignore[union-attr]
        assert all(value == pytest.approx(per_hour, abs=litre) for value in seen), seen
        emulator.set_submeter_flow(bus, per_hour, silent=True)
        await async_pass_time(hass, freezer, 2 * interval + 20, step=10)
        assert float(hass.states.get(entity_id).state) == 0  # type: ignore[union-attr]
        assert hass.states.get(entity_id).state != STATE_UNAVAILABLE  # type: ignore[union-attr]
