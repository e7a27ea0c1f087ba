"""Home Assistant finds and loads the integration from this repository."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.loader import async_get_integration
from homeassistant.setup import async_setup_component

from custom_components.whatwatt.const import DOMAIN


async def test_integration_loads_from_repository(hass: HomeAssistant) -> None:
    """HA resolves our manifest (not phcc's shadow package) and sets the domain up."""
    integration = await async_get_integration(hass, DOMAIN)
    assert integration.file_path.parts[-2:] == ("custom_components", "whatwatt")
    assert str(integration.version) == "0.1.0"
    assert integration.config_flow is True
    assert integration.manifest["zeroconf"] == [{"type": "_http._tcp.local.", "name": "whatwatt*"}]
    assert await async_setup_component(hass, DOMAIN, {})
    assert DOMAIN in hass.config.components
