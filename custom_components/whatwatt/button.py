"""Buttons of a whatwatt Go: restart the gateway (there is deliberately no factory reset)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import override

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.components.button.const import ButtonDeviceClass
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .client import WhatwattAuthError, WhatwattClient, WhatwattError
from .const import DOMAIN
from .coordinator import WhatwattConfigEntry, WhatwattSystemCoordinator
from .entity import WhatwattEntity

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class WhatwattButtonDescription(ButtonEntityDescription):
    """A button: what pressing it asks the device to do."""

    press_fn: Callable[[WhatwattClient], Awaitable[None]]


BUTTONS: tuple[WhatwattButtonDescription, ...] = (
    WhatwattButtonDescription(
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

    entity_description: WhatwattButtonDescription

    @override
    async def async_press(self) -> None:
        """Send the command; a device that refuses or does not answer is an error, not done."""
        entry = self.coordinator.config_entry
        try:
            await self.entity_description.press_fn(self.coordinator.client)
        except WhatwattAuthError as err:
            entry.async_start_reauth(self.hass)
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="invalid_auth",
                translation_placeholders={"name": entry.title},
            ) from err
        except WhatwattError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key=f"{self.entity_description.key}_failed",
                translation_placeholders={"name": entry.title, "error": str(err)},
            ) from err
