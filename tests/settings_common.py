"""Fixtures and helpers shared by the meter-settings tests (options flow, actions, entities).

Every test runs the integration against the emulator on 127.0.0.1: what the device received
is read from ``emulator.log``, what it stores from ``emulator.meter_settings``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from unittest.mock import patch

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowManager, FlowResult, FlowResultType
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.whatwatt.const import DOMAIN
from whatwatt_emulator import Emulator, routes

from .integration_common import async_setup, async_wait_for, make_entry

METER_SETTINGS_PATH = "/api/v1/meter/settings"
SETTING_ENTITIES: dict[Platform, tuple[str, ...]] = {
    Platform.SELECT: (
        "baudrate",
        "parity",
        "stop_bits",
        "if_type",
        "protocol",
        "if_mode",
        "scalers_set",
    ),
    Platform.SWITCH: (
        "auto_baudrate",
        "encryption",
        "tx_invert",
        "rx_invert",
        "sync_time_offset_with_ntp",
    ),
    Platform.NUMBER: ("buffer_size", "conv_factor", "time_offset"),
}
"""The setting entities the issue asks for (the platforms themselves derive them from SPECS)."""
KEY = "00112233445566778899AABBCCDDEEFF"
"""A DLMS key typed by a user in tests (never the emulator meter's own key)."""


def meter_writes(emulator: Emulator) -> list[tuple[str, Any]]:
    """Return the (method, body) of every PUT/POST the device got for its meter settings."""
    return [
        (request.method, request.body)
        for request in emulator.log
        if request.path == METER_SETTINGS_PATH and request.method in ("PUT", "POST")
    ]


def arm(emulator: Emulator, fault: dict[str, int]) -> None:
    """Arm one counted fault: ``{"fail_next": status}`` or ``{"reset_next": count}`` and the
    like (the emulator's ``Faults`` method and its count)."""
    name, value = next(iter(fault.items()))
    if name == "fail_next":
        emulator.faults.fail_next(status=value)
    else:
        getattr(emulator.faults, name)(count=value)


def without_reported(monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    """Make the emulated firmware leave meter setting ``key`` out of its answers (older ones)."""
    readable = routes.meter_schema.readable
    monkeypatch.setattr(
        routes.meter_schema,
        "readable",
        lambda values: {k: v for k, v in readable(values).items() if k != key},
    )


@asynccontextmanager
async def loaded(
    hass: HomeAssistant,
    emulator: Emulator,
    platforms: list[Platform],
    entry: MockConfigEntry | None = None,
) -> AsyncIterator[MockConfigEntry]:
    """Set the integration up against the emulator, forwarding only ``platforms``."""
    with patch("custom_components.whatwatt.PLATFORMS", platforms):
        entry = await async_setup(hass, entry or make_entry(emulator))
        emulator.log.clear()
        yield entry
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


def entity_id(hass: HomeAssistant, emulator: Emulator, platform: Platform, key: str) -> str:
    """Return the entity id of setting ``key`` on ``platform`` (found by its unique id)."""
    found = er.async_get(hass).async_get_entity_id(
        platform, DOMAIN, f"{emulator.config.device_id}_{key}"
    )
    assert found is not None, key
    return found


async def async_after_link_check(
    hass: HomeAssistant, result: FlowResult, manager: FlowManager[Any, Any, Any] | None = None
) -> FlowResult:
    """A flow checks the meter link after a change: wait for the check, return the next step.

    The check ends by itself when the link stays OK (the meter's next report); a test of a lost
    link drives the clock instead (``settings_common`` callers pass time before this).
    """
    manager = manager or hass.config_entries.options
    assert result["type"] is FlowResultType.SHOW_PROGRESS, result
    assert result["progress_action"] == "check_link", result
    flow_id, step_id = result["flow_id"], result["step_id"]
    await async_wait_for(hass, lambda: manager.async_get(flow_id)["step_id"] != step_id)
    return await manager.async_configure(flow_id)
