"""Sensors of a whatwatt Go: the meter's live values and the gateway's diagnostics.

Measurement sensors exist only for values the meter actually sends: they are created from the
first measurements at setup, and added later when a value shows up for the first time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, override

from homeassistant.components.sensor import SensorEntity, SensorStateClass
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator

from .client import Measurements
from .coordinator import WhatwattConfigEntry, WhatwattSystemCoordinator
from .entity import WhatwattEntity
from .live import WhatwattLiveCoordinator
from .sensor_descriptions import (
    LIVE_SENSORS,
    SYSTEM_SENSORS,
    WhatwattLiveSensorDescription,
    WhatwattSystemSensorDescription,
)

PARALLEL_UPDATES = 0

type _Value = float | int | str | datetime | None


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WhatwattConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the diagnostics now, and the measurements as the meter reports them."""
    runtime = entry.runtime_data
    system = runtime.system
    async_add_entities(
        WhatwattSystemSensor(entry, system, description)
        for description in SYSTEM_SENSORS
        if description.exists_fn(system.data)
    )

    live = runtime.live
    pending = list(LIVE_SENSORS)

    @callback
    def _async_add_reported() -> None:
        """Add a sensor for every value seen for the first time (a few checks per event)."""
        data: Measurements | None = live.data
        if data is None:
            return
        new = [description for description in pending if description.exists(data)]
        if not new:
            return
        for description in new:
            pending.remove(description)
        async_add_entities(WhatwattLiveSensor(entry, live, description) for description in new)

    _async_add_reported()
    entry.async_on_unload(live.async_add_listener(_async_add_reported))


class _WhatwattSensor[CoordinatorT: DataUpdateCoordinator[Any]](
    WhatwattEntity[CoordinatorT], SensorEntity
):
    """Computes its value once per update; writes a state only when something changed.

    Live events come often and most values repeat (energy counters, tariff): skipping the
    identical writes keeps HA's CPU per event low.
    """

    _written: tuple[_Value, bool] | None = None

    def _compute(self) -> _Value:
        raise NotImplementedError

    @override
    async def async_added_to_hass(self) -> None:
        self._attr_native_value = self._compute()
        await super().async_added_to_hass()
        self._written = (self._attr_native_value, self.available)

    @callback
    @override
    def _handle_coordinator_update(self) -> None:
        value = self._compute()
        available = self.available
        if self._written == (value, available):
            return
        self._attr_native_value = value
        self._written = (value, available)
        self.async_write_ha_state()


class WhatwattLiveSensor(_WhatwattSensor[WhatwattLiveCoordinator]):
    """A value measured by the meter (on the meter's device).

    A ``total_increasing`` counter never drops to 0 or to unknown because one event lacked it
    (or carried a 0): the last good value stays, so the Energy dashboard sees no false reset.
    """

    entity_description: WhatwattLiveSensorDescription

    def __init__(
        self,
        entry: WhatwattConfigEntry,
        coordinator: WhatwattLiveCoordinator,
        description: WhatwattLiveSensorDescription,
    ) -> None:
        """Create the sensor on the meter's device."""
        super().__init__(entry, coordinator, description, meter=True)
        self._counter = description.state_class is SensorStateClass.TOTAL_INCREASING

    @override
    def _compute(self) -> _Value:
        value = self.entity_description.value_fn(self.coordinator.data)
        if self._counter and not value and self._written and self._written[0]:
            return self._written[0]  # keep the last good counter
        return value


class WhatwattSystemSensor(_WhatwattSensor[WhatwattSystemCoordinator]):
    """A value from the system information (mostly diagnostics)."""

    entity_description: WhatwattSystemSensorDescription

    def __init__(
        self,
        entry: WhatwattConfigEntry,
        coordinator: WhatwattSystemCoordinator,
        description: WhatwattSystemSensorDescription,
    ) -> None:
        """Create the sensor on the gateway's or the meter's device."""
        super().__init__(entry, coordinator, description, meter=description.meter)

    @override
    def _compute(self) -> _Value:
        return self.entity_description.value_fn(self.coordinator)
