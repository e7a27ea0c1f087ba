"""The restart button: it really restarts the gateway, and a refusal is an error, not done."""

from __future__ import annotations

from homeassistant.components.button import DOMAIN as BUTTON_DOMAIN, SERVICE_PRESS
from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
import pytest

from custom_components.whatwatt.const import DOMAIN
from tests.integration_common import async_setup, async_wait_for, make_entry
from whatwatt_emulator import Emulator
from whatwatt_emulator.pytest_plugin import EmulatorFactory

RESTART = "button.whatwatt_go_9f8124_restart"


async def _press(hass: HomeAssistant) -> None:
    await hass.services.async_call(
        BUTTON_DOMAIN, SERVICE_PRESS, {ATTR_ENTITY_ID: RESTART}, blocking=True
    )


async def test_restart_reboots_the_gateway(
    hass: HomeAssistant, emulator_factory: EmulatorFactory, entity_registry: er.EntityRegistry
) -> None:
    """Pressing Restart sends POST /api/v1/reboot; the device goes away and comes back."""
    emulator = await emulator_factory(reboot_downtime=0.2)
    await async_setup(hass, make_entry(emulator))
    entity = entity_registry.async_get(RESTART)
    assert entity is not None
    assert entity.entity_category == "config"
    assert entity.original_device_class == "restart"
    await _press(hass)
    assert [r.status for r in emulator.requests("POST", "/api/v1/reboot")] == [204]
    await async_wait_for(hass, lambda: not emulator.online)
    await emulator.wait_online()
    await async_wait_for(hass, lambda: emulator.live_connections >= 2)


async def test_restart_refused_is_an_error(hass: HomeAssistant, emulator: Emulator) -> None:
    """The device answers with an error: the user sees it, translated, with the reason."""
    await async_setup(hass, make_entry(emulator))
    emulator.faults.fail_next(status=503)
    with pytest.raises(HomeAssistantError) as err:
        await _press(hass)
    assert err.value.translation_key == "device_rejected"
    assert err.value.translation_placeholders["name"] == "whatwatt Go 9F8124"
    assert "503" in err.value.translation_placeholders["error"]
    assert emulator.online


async def test_restart_with_rejected_password_asks_for_it(
    hass: HomeAssistant, emulator: Emulator
) -> None:
    """A password set on the device meanwhile: an error, and a reauth flow to fix it."""
    await async_setup(hass, make_entry(emulator))
    emulator.set_password("new")
    with pytest.raises(HomeAssistantError) as err:
        await _press(hass)
    assert err.value.translation_key == "invalid_auth"
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    assert emulator.online
