"""The whatwatt Go integration: a smart-meter gateway on the local network."""

from __future__ import annotations

import asyncio
from contextlib import suppress

from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.aiohttp_client import async_create_clientsession
from homeassistant.helpers.typing import ConfigType

from .client import DEFAULT_PORT, WhatwattClient
from .const import DOMAIN, FIRST_DATA_TIMEOUT, METER_STATUS_OK
from .coordinator import (
    WhatwattConfigEntry,
    WhatwattDemandCoordinator,
    WhatwattLiveCoordinator,
    WhatwattMeterSettingsCoordinator,
    WhatwattRuntimeData,
    WhatwattSystemCoordinator,
)
from .entity import async_update_devices
from .link import WhatwattMeterLink
from .live import WhatwattLiveStream
from .services import async_setup_services
from .store import WhatwattStore, async_remove as async_remove_store
from .submeters import reported_submeters, submeter_of

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)

PLATFORMS = [Platform.BUTTON, Platform.NUMBER, Platform.SELECT, Platform.SENSOR, Platform.SWITCH]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the services (they exist even while no device is loaded)."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: WhatwattConfigEntry) -> bool:
    """Connect to the gateway, read it once, then follow its live stream."""
    client = WhatwattClient(
        entry.data[CONF_HOST],
        async_create_clientsession(hass),
        password=entry.data.get(CONF_PASSWORD),
        port=entry.data.get(CONF_PORT, DEFAULT_PORT),
    )
    system = WhatwattSystemCoordinator(hass, entry, client)
    await system.async_config_entry_first_refresh()
    if system.data.device.id is not None and system.data.device.id.upper() != entry.unique_id:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="wrong_device",
            translation_placeholders={"host": entry.data[CONF_HOST]},
        )
    meter_settings = WhatwattMeterSettingsCoordinator(hass, entry, client)
    await meter_settings.async_config_entry_first_refresh()

    store = WhatwattStore(hass, entry.entry_id)
    await store.async_load()
    entry.async_on_unload(store.async_flush)

    live = WhatwattLiveCoordinator(hass, entry)
    stream = WhatwattLiveStream(hass, entry, client, live, system)
    entry.runtime_data = WhatwattRuntimeData(
        client=client,
        system=system,
        meter_settings=meter_settings,
        live=live,
        stream=stream,
        link=WhatwattMeterLink(
            hass, entry, meter_settings=meter_settings, system=system, live=live, store=store
        ),
        store=store,
        demand=WhatwattDemandCoordinator(hass, entry, live=live, system=system, store=store),
    )
    # Both devices exist before any entity: the meter's entities refer to the gateway.
    async_update_devices(hass, entry)
    entry.async_on_unload(system.async_add_listener(lambda: async_update_devices(hass, entry)))

    entry.async_create_background_task(
        hass, stream.async_run(), name=f"{DOMAIN} {entry.title} live stream"
    )
    if system.meter_status in (None, METER_STATUS_OK):
        # The sensors that exist are the values the meter sends: wait for the first ones.
        with suppress(TimeoutError):
            async with asyncio.timeout(FIRST_DATA_TIMEOUT):
                await stream.async_wait_first_data()
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: WhatwattConfigEntry) -> bool:
    """Unload the platforms; the stream, the polls, the link check and issues end with it."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: WhatwattConfigEntry) -> None:
    """The entry is deleted: nothing of it stays in Home Assistant's storage."""
    await async_remove_store(hass, entry.entry_id)


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: WhatwattConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Let the user delete a sub-meter's device while the meter no longer reports it.

    The gateway and its meter belong to the entry; a sub-meter that is still in the data
    would come right back.
    """
    submeter = submeter_of(entry, device)
    if submeter is None:
        return False
    return submeter not in reported_submeters(entry.runtime_data.live.data)
