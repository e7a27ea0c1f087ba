"""Helpers shared by the integration-core tests (setup, entities, coordinators, diagnostics).

The integration runs inside a real Home Assistant (phcc ``hass``) against the emulator on
127.0.0.1: no mocked client.  Time-dependent behaviour is driven with ``freezer`` and
``async_fire_time_changed``; under a frozen clock the emulator sends a live event when the
stream opens and then only on ``emulator.push_report()``, so values are deterministic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.whatwatt.const import DOMAIN
from whatwatt_emulator import Emulator

GATEWAY_TITLE = "whatwatt Go 9F8124"


def make_entry(emulator: Emulator, password: str | None = None, **kwargs: Any) -> MockConfigEntry:
    """Return the config entry the config flow creates for the emulated gateway."""
    data: dict[str, Any] = {CONF_HOST: emulator.host, CONF_PORT: emulator.port}
    if password is not None:
        data[CONF_PASSWORD] = password
    return MockConfigEntry(
        domain=DOMAIN,
        title=GATEWAY_TITLE,
        unique_id=emulator.config.device_id,
        data=data,
        **kwargs,
    )


async def async_setup(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    """Add the entry and set it up; return it loaded."""
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    return entry


async def async_wait_for(
    hass: HomeAssistant, condition: Callable[[], bool], seconds: float = 5.0
) -> None:
    """Let the loop run (real I/O with the emulator) until ``condition()`` holds."""
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.01)
            await hass.async_block_till_done()
