"""The gas and water readings of sub-meters are valid for the Energy dashboard.

Apart from the other sub-meter tests: the recorder must start before Home Assistant.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
    do_adhoc_statistics,
)
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.whatwatt.const import DOMAIN
from whatwatt_emulator.pytest_plugin import EmulatorFactory

from .integration_common import async_setup, make_entry


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(recorder_mock: Any, enable_custom_integrations: None) -> None:
    """The recorder first (the energy validation reads statistics), then the integration."""


async def test_gas_and_water_are_valid_for_the_energy_dashboard(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    emulator_factory: EmulatorFactory,
) -> None:
    """With gas and water in the energy preferences, Home Assistant's own validation of the
    Energy dashboard finds no problem with either reading."""
    emulator = await emulator_factory(meter="dlms", submeters="gas+water")
    entry_options = {
        "submeters": {
            "1": {"medium": "gas", "unit": "m³"},
            "2": {"medium": "water", "unit": "m³"},
        }
    }
    entry = await async_setup(hass, make_entry(emulator, options=entry_options))
    assert await async_setup_component(hass, "energy", {})
    registry = er.async_get(hass)
    gas, water = (
        registry.async_get_entity_id(
            "sensor", DOMAIN, f"{entry.unique_id}_bus{bus}_{meter_id}_reading"
        )
        for bus, meter_id in ((item["bus"], item["meter_id"]) for item in emulator.submeters())
    )
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": "energy/save_prefs",
            "energy_sources": [
                {"type": "gas", "stat_energy_from": gas},
                {"type": "water", "stat_energy_from": water},
            ],
        }
    )
    assert (await client.receive_json())["success"]
    # The statistics of the last 5 minutes, as the recorder compiles them every 5 minutes.
    await async_wait_recording_done(hass)
    now = dt_util.utcnow()
    start = now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0)
    do_adhoc_statistics(hass, start=start - timedelta(minutes=5))
    do_adhoc_statistics(hass, start=start)
    await async_wait_recording_done(hass)
    await client.send_json_auto_id({"type": "energy/validate"})
    result = (await client.receive_json())["result"]
    assert result["energy_sources"] == [[], []], result
