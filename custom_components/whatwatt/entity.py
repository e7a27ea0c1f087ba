"""Base entities, and the devices of an entry: the whatwatt Go gateway, its meter, sub-meters.

The setting entities (number, select, switch) are described here once, from ``SPECS``: which
platform shows a setting, whether it is enabled by default, and how it reads and writes its
field; each platform adds only what its kind of entity needs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, TypedDict, override

from homeassistant.const import CONF_HOST, CONF_PORT, EntityCategory, Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity, DataUpdateCoordinator

from .client import DEFAULT_PORT, MeterSettings, device_url
from .client.meter_settings import SPECS, FieldType, SettingSpec
from .const import DEFAULT_NAME, DOMAIN, MANUFACTURER
from .coordinator import WhatwattConfigEntry, WhatwattMeterSettingsCoordinator
from .errors import whatwatt_exception_handler
from .submeters import SubmeterId, SubmeterKind

STANDARD_BAUDRATES: Final = (300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
SELECT_CHOICES: Final[Mapping[str, tuple[int, ...]]] = {"baudrate": STANDARD_BAUDRATES}
"""Numeric settings offered as a list of common values (a select entity), not a number box."""
ENABLED_BY_DEFAULT: Final = frozenset(
    {"if_type", "protocol", "baudrate", "auto_baudrate", "encryption", "conv_factor"}
)
"""Setting entities a typical user touches; the others are created disabled."""


def gateway_name(name: str | None, device_id: str) -> str:
    """Return the name set in the device's Web UI, or "whatwatt Go XXXXXX" (last 6 of its id)."""
    return name or f"{DEFAULT_NAME} {device_id[-6:]}"


def configuration_url(host: str, port: int) -> str:
    """Return the address of the device's Web UI (``http://[fe80::1]:8080/``)."""
    return str(device_url(host, port).with_path("/"))


def gateway_url(entry: WhatwattConfigEntry) -> str:
    """Return the address of the Web UI of the gateway of ``entry``."""
    return configuration_url(entry.data[CONF_HOST], entry.data.get(CONF_PORT, DEFAULT_PORT))


def _device_id(entry: WhatwattConfigEntry) -> str:
    assert entry.unique_id is not None  # every entry is created with the device id
    return entry.unique_id


def entity_unique_id(entry: WhatwattConfigEntry, key: str) -> str:
    """Return the unique id of the entity ``key`` of ``entry``: the device id, then the key.

    A promise to users (their history hangs on it): changed only with a migration.
    """
    return f"{_device_id(entry)}_{key}"


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
        configuration_url=gateway_url(entry),
        manufacturer=MANUFACTURER,
        model=system.device.model,
        name=gateway_name(system.device.name, device_id),
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
        translation_placeholders={"gateway": gateway_name(system.device.name, device_id)},
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
        self._attr_unique_id = entity_unique_id(entry, description.key)
        suffix = "_meter" if meter else ""
        self._attr_device_info = DeviceInfo(identifiers={(DOMAIN, f"{_device_id(entry)}{suffix}")})


def entity_platform(spec: SettingSpec) -> Platform | None:
    """Return the platform that shows a setting as an entity, or None for no entity.

    Keys are write-only (no state to show) and a single-valued enum (``method``) has nothing to
    choose, so neither gets an entity.
    """
    if spec.write_only or (spec.type is FieldType.ENUM and len(spec.options) < 2):
        return None
    if spec.type is FieldType.ENUM or spec.key in SELECT_CHOICES:
        return Platform.SELECT
    if spec.type is FieldType.BOOL:
        return Platform.SWITCH
    return Platform.NUMBER


def setting_descriptions[DescriptionT](
    platform: Platform, describe: Callable[..., DescriptionT]
) -> tuple[DescriptionT, ...]:
    """Describe every setting ``platform`` shows, in the vendor's order.

    ``describe`` gets ``setting_fields`` (as keywords) and adds what its platform needs.
    """
    return tuple(
        describe(**setting_fields(spec))
        for spec in SPECS.values()
        if entity_platform(spec) is platform
    )


class SettingFields(TypedDict):
    """What every setting entity's description holds (``Description(**setting_fields(spec))``).

    The key is the field's: the entity finds its spec by it (``SPECS[key]``).
    """

    key: str
    translation_key: str
    entity_category: EntityCategory
    entity_registry_enabled_default: bool


def setting_fields(spec: SettingSpec) -> SettingFields:
    """Describe the entity of one setting.

    Named by translation, in the config category, enabled by default when a typical user
    touches it.
    """
    return SettingFields(
        key=spec.key,
        translation_key=spec.key,
        entity_category=EntityCategory.CONFIG,
        entity_registry_enabled_default=spec.key in ENABLED_BY_DEFAULT,
    )


class WhatwattSettingEntity(WhatwattEntity[WhatwattMeterSettingsCoordinator]):
    """An entity showing one meter setting; a change writes that field alone.

    The settings read back are shown at once (every entity shows what the device really has);
    a failed or ignored write raises a translated error.  A setting belongs to the gateway: it
    is unavailable while the gateway does not answer (the system coordinator says), and while
    the device does not report it.
    """

    def __init__(self, entry: WhatwattConfigEntry, description: EntityDescription) -> None:
        """Show the setting ``description`` describes (its key is the field's)."""
        super().__init__(entry, entry.runtime_data.meter_settings, description)
        self._spec = SPECS[description.key]
        self._system = entry.runtime_data.system
        self._link = entry.runtime_data.link

    @override
    async def async_added_to_hass(self) -> None:
        """Follow the gateway's availability too."""
        await super().async_added_to_hass()
        self.async_on_remove(self._system.async_add_listener(self._handle_coordinator_update))

    @property
    def device_value(self) -> Any:
        """The setting's value as the device last reported it: of its spec's type, or None."""
        return getattr(self.coordinator.data, self._spec.key)

    @property
    @override
    def available(self) -> bool:
        """Unavailable when the gateway does not answer, or stops reporting this setting."""
        return (
            super().available and self._system.last_update_success and self.device_value is not None
        )

    @whatwatt_exception_handler
    async def async_write_setting(self, value: Any) -> None:
        """Write the setting (PUT of this one field), verified by reading it back.

        A change that can cut the meter link is checked in the background; a lost link raises
        a repair issue.
        """
        await self._link.async_write({self._spec.key: value})


@callback
def async_add_setting_entities(
    entry: WhatwattConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    descriptions: Iterable[EntityDescription],
    entity: Callable[[WhatwattConfigEntry, Any], WhatwattSettingEntity],
) -> None:
    """Add the setting entities of a platform: one per setting the gateway reports."""
    settings: MeterSettings = entry.runtime_data.meter_settings.data
    async_add_entities(
        entity(entry, description)
        for description in descriptions
        if getattr(settings, description.key) is not None
    )
