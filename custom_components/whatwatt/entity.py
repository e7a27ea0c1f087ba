"""Base entity and the two devices of an entry: the whatwatt Go gateway and its meter."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import re
from typing import Any, override

from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity, DataUpdateCoordinator

from .client import MeterSettings, SystemInfo
from .client.meter_settings import SettingSpec
from .const import DEFAULT_NAME, DEFAULT_PORT, DOMAIN, MANUFACTURER
from .coordinator import WhatwattConfigEntry, WhatwattMeterSettingsCoordinator
from .errors import whatwatt_exception_handler
from .submeters import SubmeterId, SubmeterKind


def gateway_name(system: SystemInfo, device_id: str) -> str:
    """Return the name set in the device's Web UI, or "whatwatt Go XXXXXX" (last 6 of its id)."""
    return system.device.name or f"{DEFAULT_NAME} {device_id[-6:]}"


def configuration_url(host: str, port: int) -> str:
    """Return the address of the device's Web UI."""
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    return f"http://{host}/" if port == DEFAULT_PORT else f"http://{host}:{port}/"


def _device_id(entry: WhatwattConfigEntry) -> str:
    assert entry.unique_id is not None  # every entry is created with the device id
    return entry.unique_id


def gateway_device_info(entry: WhatwattConfigEntry) -> DeviceInfo:
    """Describe the gateway: identity, firmware and both MAC addresses."""
    system = entry.runtime_data.system.data
    device_id = _device_id(entry)
    return DeviceInfo(
        identifiers={(DOMAIN, device_id)},
        connections={
            (dr.CONNECTION_NETWORK_MAC, dr.format_mac(mac))
            for mac in (system.wifi.mac, system.ethernet.mac)
            if mac
        },
        configuration_url=configuration_url(
            entry.data[CONF_HOST], entry.data.get(CONF_PORT, DEFAULT_PORT)
        ),
        manufacturer=MANUFACTURER,
        model=system.device.model,
        name=gateway_name(system, device_id),
        serial_number=device_id,
        sw_version=system.device.firmware,
    )


def meter_device_info(entry: WhatwattConfigEntry, gateway: dr.DeviceEntry) -> DeviceInfo:
    """Describe the smart meter behind the gateway (what the gateway recognised of it)."""
    system = entry.runtime_data.system.data
    device_id = _device_id(entry)
    meter = system.meter
    return DeviceInfo(
        identifiers={(DOMAIN, f"{device_id}_meter")},
        via_device_id=gateway.id,
        manufacturer=meter.manufacturer,
        model=meter.model or meter.type,
        serial_number=meter.id,
        translation_key="meter",
        translation_placeholders={"gateway": gateway_name(system, device_id)},
    )


def submeter_device_info(
    hass: HomeAssistant, entry: WhatwattConfigEntry, submeter: SubmeterId, kind: SubmeterKind
) -> DeviceInfo:
    """Describe a sub-meter: its own device, linked via the meter, named by its medium."""
    device_id = _device_id(entry)
    medium = kind.medium.value if kind.medium is not None else "unset"
    meter = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, f"{device_id}_meter"), entry.entry_id
    )
    assert meter is not None  # registered at setup, before any entity
    return DeviceInfo(
        identifiers={(DOMAIN, f"{device_id}_{submeter.key}")},
        via_device_id=meter.id,
        serial_number=submeter.meter_id,
        translation_key=f"submeter_{medium}",
        translation_placeholders={"bus": str(submeter.bus)},
    )


def submeter_of(entry: WhatwattConfigEntry, device: dr.DeviceEntry) -> SubmeterId | None:
    """The sub-meter a device of the entry stands for (None for the gateway and the meter)."""
    pattern = re.compile(rf"{re.escape(_device_id(entry))}_bus(\d+)(?:_(.+))?")
    for domain, identifier in device.identifiers:
        if domain == DOMAIN and (match := pattern.fullmatch(identifier)):
            return SubmeterId(bus=int(match[1]), meter_id=match[2])
    return None


@callback
def async_update_devices(hass: HomeAssistant, entry: WhatwattConfigEntry) -> None:
    """Register both devices, or bring them up to date (new firmware, a meter recognised).

    Entities only link to these devices by identifier, so this is the one place that
    describes them.
    """
    registry = dr.async_get(hass)
    gateway = registry.async_get_or_create(
        config_entry_id=entry.entry_id, **gateway_device_info(entry)
    )
    registry.async_get_or_create(
        config_entry_id=entry.entry_id, **meter_device_info(entry, gateway)
    )


class WhatwattEntity[CoordinatorT: DataUpdateCoordinator[Any]](CoordinatorEntity[CoordinatorT]):
    """An entity of a whatwatt Go: unique id ``<device id>_<key>``, named by translation.

    Unavailable when its coordinator failed (the coordinator decides and logs it).
    ``meter=True`` puts the entity on the meter's device instead of the gateway's.
    """

    _attr_has_entity_name = True

    def __init__(
        self,
        entry: WhatwattConfigEntry,
        coordinator: CoordinatorT,
        description: EntityDescription,
        *,
        meter: bool = False,
    ) -> None:
        """Bind the entity to its coordinator, description and device."""
        super().__init__(coordinator)
        self.entity_description = description
        self._attr_unique_id = f"{_device_id(entry)}_{description.key}"
        suffix = "_meter" if meter else ""
        self._attr_device_info = DeviceInfo(identifiers={(DOMAIN, f"{_device_id(entry)}{suffix}")})


@dataclass(frozen=True, kw_only=True)
class WhatwattSettingDescriptionMixin:
    """What a setting entity's description adds: its field, and how to read it."""

    spec: SettingSpec
    """The field in the schema (``client/meter_settings.py``): range, options, unit."""
    value_fn: Callable[[MeterSettings], Any]
    """The field's value as the device reports it (None when it does not)."""


class WhatwattSettingEntity(WhatwattEntity[WhatwattMeterSettingsCoordinator]):
    """An entity showing one meter setting; a change writes that field alone.

    The settings read back are shown at once (every entity shows what the device really has);
    a failed or ignored write raises a translated error.  A setting belongs to the gateway: it
    is unavailable while the gateway does not answer (the system coordinator says), and while
    the device does not report it.
    """

    def __init__(self, entry: WhatwattConfigEntry, description: EntityDescription) -> None:
        """Show the setting ``description`` describes (a platform's setting description)."""
        super().__init__(entry, entry.runtime_data.meter_settings, description)
        assert isinstance(description, WhatwattSettingDescriptionMixin)
        self._setting = description
        self._system = entry.runtime_data.system
        self._link = entry.runtime_data.link

    @override
    async def async_added_to_hass(self) -> None:
        """Follow the gateway's availability too."""
        await super().async_added_to_hass()
        self.async_on_remove(self._system.async_add_listener(self._handle_coordinator_update))

    @property
    def setting(self) -> Any:
        """The value as the device last reported it: of its spec's type, or None."""
        return self._setting.value_fn(self.coordinator.data)

    @property
    @override
    def available(self) -> bool:
        """Unavailable when the gateway does not answer, or stops reporting this setting."""
        return super().available and self._system.last_update_success and self.setting is not None

    @whatwatt_exception_handler
    async def async_write_setting(self, value: Any) -> None:
        """Write the setting (PUT of this one field), verified by reading it back.

        A change that can cut the meter link is checked in the background; a lost link raises
        a repair issue.
        """
        await self._link.async_write({self._setting.spec.key: value})
