"""Buttons of a whatwatt Go: restart the gateway (there is deliberately no factory reset)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import override

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.components.button.const import ButtonDeviceClass
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .client import WhatwattClient
from .coordinator import WhatwattConfigEntry, WhatwattSystemCoordinator
from .entity import WhatwattEntity
from .errors import whatwatt_exception_handler

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class WhatwattButtonEntityDescription(ButtonEntityDescription):
    """A button: what pressing it asks the device to do."""

    press_fn: Callable[[WhatwattClient], Awaitable[None]]


BUTTONS: tuple[WhatwattButtonEntityDescription, ...] = (
    WhatwattButtonEntityDescription(
        key="restart",
        device_class=ButtonDeviceClass.RESTART,
        entity_category=EntityCategory.CONFIG,
        press_fn=lambda client: client.reboot(),
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WhatwattConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the buttons of the gateway."""
    async_add_entities(
        WhatwattButton(entry, entry.runtime_data.system, description) for description in BUTTONS
    )


class WhatwattButton(WhatwattEntity[WhatwattSystemCoordinator], ButtonEntity):
    """A button on the gateway."""

    entity_description: WhatwattButtonEntityDescription

    @whatwatt_exception_handler
    @override
    async def async_press(self) -> None:
        """Send the command; a device that refuses or does not answer is an error, not done."""
        await self.entity_description.press_fn(self.coordinator.client)
