"""The Energy dashboard's own validation accepts every entity the integration gives it.

The recorder runs (the validation reads statistics metadata), so it is set up before Home
Assistant starts, in this module only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
    do_adhoc_statistics,
    get_start_time,
)
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from whatwatt_emulator import Emulator
from whatwatt_emulator.pytest_plugin import EmulatorFactory

from .integration_common import async_pass_time
from .settings_common import loaded
from .test_energy_dashboard import (
    EXPORT_PRICE,
    GAS_FLOW,
    IMPORT_PRICE,
    WATER_FLOW,
    WATER_ON_BUS_2,
    _entry,
)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(recorder_mock: Any, enable_custom_integrations: None) -> None:
    """The recorder first, then Home Assistant with custom integrations."""
    return


@pytest.fixture
async def priced(
    hass: HomeAssistant, emulator_factory: EmulatorFactory, freezer: FrozenDateTimeFactory
) -> AsyncIterator[tuple[MockConfigEntry, Emulator]]:
    """A DSMR meter with gas and water, prices for T1, T2 and feed-in; CHF, Zurich."""
    await hass.config.async_set_time_zone("Europe/Zurich")
    await hass.config.async_update(currency="CHF")
    emulator = await emulator_factory(report_interval=10.0, submeters="gas+water")
    options = {**WATER_ON_BUS_2, "prices": {"import": {"1": 0.31, "2": 0.22}, "export": 0.08}}
    async with loaded(hass, emulator, [Platform.SENSOR], entry=_entry(emulator, options)) as entry:
        yield entry, emulator


@pytest.mark.freeze_time("2026-03-10T20:58:00+00:00")
async def test_the_energy_dashboard_takes_every_entity(
    recorder_mock: Any,
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    priced: tuple[MockConfigEntry, Emulator],
    freezer: FrozenDateTimeFactory,
) -> None:
    """Energy preferences using grid consumption per tariff with the tariff's price, return
    to grid with the export price, the net power for the grid's power view, the gas meter and
    its flow, the water meter and its flow: saved, and the dashboard's validation finds
    nothing wrong with any of them."""

    assert await async_setup_component(hass, "energy", {})
    await async_pass_time(hass, freezer, 10 * 60 + 20, step=10)
    meter = "sensor.whatwatt_go_9f8124_meter"
    grid = {
        "type": "grid",
        "stat_cost": None,
        "entity_energy_price": IMPORT_PRICE,
        "number_energy_price": None,
        "stat_compensation": None,
        "number_energy_price_export": None,
        "cost_adjustment_day": 0,
    }
    prefs = {
        "energy_sources": [
            {  # tariff 1, with the export, its price, and the grid's power view
                **grid,
                "stat_energy_from": f"{meter}_energy_import_tariff_1",
                "stat_energy_to": f"{meter}_energy_export",
                "entity_energy_price_export": EXPORT_PRICE,
                "stat_rate": f"{meter}_net_power",
            },
            {  # tariff 2: the same import price entity follows the tariff
                **grid,
                "stat_energy_from": f"{meter}_energy_import_tariff_2",
                "stat_energy_to": None,
                "entity_energy_price_export": None,
            },
            {
                "type": "gas",
                "stat_energy_from": "sensor.gas_meter_reading",
                "stat_rate": GAS_FLOW,
                "stat_cost": None,
                "entity_energy_price": None,
                "number_energy_price": 1.2,
            },
            {
                "type": "water",
                "stat_energy_from": "sensor.water_meter_reading",
                "stat_rate": WATER_FLOW,
                "stat_cost": None,
                "entity_energy_price": None,
                "number_energy_price": 2.1,
            },
        ],
        "device_consumption": [],
    }
    # The recorder compiles statistics every 5 minutes; a dashboard set up right after a
    # fresh start would say "no statistics yet", which is not about the entities.
    await async_wait_recording_done(hass)
    do_adhoc_statistics(hass, start=get_start_time(dt_util.utcnow()) - timedelta(minutes=5))
    await async_wait_recording_done(hass)
    client = await hass_ws_client(hass)
    await client.send_json_auto_id({"type": "energy/save_prefs", **prefs})
    saved = await client.receive_json()
    assert saved["success"], saved
    await hass.async_block_till_done()
    await client.send_json_auto_id({"type": "energy/validate"})
    validated = await client.receive_json()
    assert validated["success"], validated
    issues = [issue for source in validated["result"]["energy_sources"] for issue in source]
    assert issues == []
